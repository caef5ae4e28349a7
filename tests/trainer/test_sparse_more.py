"""Sparse COO tensors, second part: ``sparse @ sparse``, ``dense @ sparse``, elementwise products, index dtypes,
``zero_grad(set_to_none=False)``, ``EmbeddingBag(sparse=True)`` and sparse ``Adagrad``, against PyTorch on the same
float64 inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import trainer
from tests.trainer.test_ops_parity import assert_forward_and_gradients_match_torch, assert_raises_like_torch
from tests.trainer.test_sparse import INDICES, VALUES, _same, _same_sparse, _sparse
from trainer.sparse_coo_array import SparseLayoutError

pytestmark = [pytest.mark.filterwarnings("ignore:Sparse invariant checks"),  # PyTorch's notices, not problems
              pytest.mark.filterwarnings("ignore:Sparse CSR tensor support is in beta")]

OTHER_INDICES = [[1, 3, 0, 1, 2], [0, 3, 1, 0, 2]]  # (1, 0) twice as well
OTHER_VALUES = np.array([10.0, 20.0, 30.0, 40.0, 50.0])


def _other(lib, values=OTHER_VALUES, **kwargs):
    return _sparse(lib, values, OTHER_INDICES, **kwargs)


def _both(fn):
    return fn(trainer), fn(torch)


def _same_grads(ours, theirs):
    """Gradients of sparse leaves: the same layout, the same entries where sparse, the same matrix."""
    assert ours.is_sparse == theirs.is_sparse
    if theirs.is_sparse:
        _same(ours._indices(), theirs._indices())
    _same(ours.to_dense(), theirs.to_dense())


# ----------------------------------------------------------------- sparse @ sparse
@pytest.mark.parametrize("product", ["@", "mm", "sparse.mm", "matmul"])
@pytest.mark.parametrize("coalesced", [False, True])
def test_sparse_sparse_product_is_coalesced_sparse_like_torch(product, coalesced):
    def run(lib):
        a, b = _sparse(lib), _other(lib).t()
        if coalesced:
            a, b = a.coalesce(), b.coalesce()
        return {"@": lambda: a @ b, "mm": lambda: lib.mm(a, b), "sparse.mm": lambda: lib.sparse.mm(a, b),
                "matmul": lambda: lib.matmul(a, b)}[product]()

    _same_sparse(*_both(run))


def test_sparse_sparse_product_keeps_cancelled_and_handles_empty_like_torch():
    def cancelled(lib):
        row = lib.sparse_coo_tensor(lib.tensor([[0, 0], [0, 1]]), lib.tensor([1.0, 1.0]), (1, 2))
        column = lib.sparse_coo_tensor(lib.tensor([[0, 1], [0, 0]]), lib.tensor([1.0, -1.0]), (2, 1))
        return row @ column

    _same_sparse(*_both(cancelled))

    def empty(lib):
        nothing = lib.sparse_coo_tensor(lib.zeros(2, 0, dtype=lib.int64), lib.zeros(0, dtype=lib.float64), (4, 3))
        return _sparse(lib) @ nothing, nothing.t() @ _sparse(lib)

    for ours, theirs in zip(*_both(empty)):
        _same_sparse(ours, theirs)
        assert ours.shape == theirs.shape


def test_sparse_sparse_product_gradients_of_values_match_torch():
    def fn(lib, v, w):
        out = lib.sparse.mm(_sparse(lib, v), _other(lib, w).t())
        assert out.is_sparse and out.is_coalesced()
        return out.to_dense()

    assert_forward_and_gradients_match_torch(fn, [VALUES, OTHER_VALUES])


@pytest.mark.parametrize("loss", ["sparse upstream", "dense upstream", "values"])
def test_sparse_sparse_product_gradients_of_sparse_leaves_match_torch(loss):
    dense = np.random.default_rng(0).standard_normal((4, 4))

    def run(lib):
        a, b = _sparse(lib, requires_grad=True), _other(lib, requires_grad=True)
        out = a @ b
        if loss == "sparse upstream":
            (out.to_dense() ** 2).sum().backward()
        elif loss == "dense upstream":
            ((lib.tensor(dense) + out) ** 2).sum().backward()
        else:
            (out.values() * lib.arange(out._nnz(), dtype=lib.float64)).sum().backward()
        return a.grad, b.grad

    for ours, theirs in zip(*_both(run)):
        _same_grads(ours, theirs)


def test_load_cora_renormalisation_matches_torch():
    rng = np.random.default_rng(1)
    edges = rng.integers(0, 6, (2, 12)).astype(np.int32)

    def renormalised(lib):
        adj = lib.sparse_coo_tensor(edges, lib.ones(12), (6, 6), dtype=lib.int64)
        adj = lib.eye(6) + adj
        degree = lib.diag(lib.sqrt(1 / lib.sum(adj, dim=1))).to_sparse()
        return degree @ adj @ degree, (degree @ adj.to_sparse() @ degree)

    (ours_dense, ours_sparse), (theirs_dense, theirs_sparse) = _both(renormalised)
    assert ours_dense.layout is trainer.strided and theirs_dense.layout is torch.strided
    np.testing.assert_allclose(ours_dense.numpy(), theirs_dense.numpy(), rtol=1e-6)
    assert ours_sparse.is_sparse and ours_sparse.is_coalesced()
    _same(ours_sparse._indices(), theirs_sparse._indices())
    np.testing.assert_allclose(ours_sparse._values().numpy(), theirs_sparse._values().numpy(), rtol=1e-6)


# ----------------------------------------------------------------- dense @ sparse
def _dense_sparse_cases():
    return [lambda lib, v, d: d @ _sparse(lib, v), lambda lib, v, d: lib.mm(d, _sparse(lib, v)),
            lambda lib, v, d: lib.matmul(d, _sparse(lib, v)), lambda lib, v, d: lib.sparse.mm(d, _sparse(lib, v)),
            lambda lib, v, d: d[0] @ _sparse(lib, v), lambda lib, v, d: d.reshape(3, 1, 4) @ _sparse(lib, v).t()]


@pytest.mark.parametrize("case", range(6))
def test_dense_sparse_products_values_and_gradients(case):
    d = np.random.default_rng(case).standard_normal((3, 4))
    assert_forward_and_gradients_match_torch(_dense_sparse_cases()[case], [VALUES, d])


def test_dense_sparse_product_gives_a_sparse_leaf_a_dense_gradient_as_torch():
    d = np.random.default_rng(2).standard_normal((3, 4))

    def run(lib):
        s = _sparse(lib, requires_grad=True)
        ((lib.tensor(d) @ s) ** 2).sum().backward()
        return s.grad

    ours, theirs = _both(run)
    assert not ours.is_sparse and not theirs.is_sparse
    _same(ours, theirs)


# ----------------------------------------------------------------- elementwise products
@pytest.mark.parametrize("case", ["s*t", "t*s", "sc*t", "s*tc", "sc*tc", "s*d", "sc*d", "d*s", "mul(d,s)",
                                  "s.mul(d)", "s*row", "hybrid*d", "s*d32"])
def test_elementwise_products_match_torch(case):
    dense = np.arange(16.0).reshape(4, 4) - 5

    def run(lib):
        s, t, d = _sparse(lib), _other(lib), lib.tensor(dense)
        hybrid = lib.sparse_coo_tensor(lib.tensor([[0, 2, 0]]), lib.tensor(dense[:3, :3]), (3, 3))
        return {"s*t": lambda: s * t, "t*s": lambda: t * s, "sc*t": lambda: s.coalesce() * t,
                "s*tc": lambda: s * t.coalesce(), "sc*tc": lambda: s.coalesce() * t.coalesce(), "s*d": lambda: s * d,
                "sc*d": lambda: s.coalesce() * d, "d*s": lambda: d * s, "mul(d,s)": lambda: lib.mul(d, s),
                "s.mul(d)": lambda: s.mul(d), "s*row": lambda: s * d[1],
                "hybrid*d": lambda: hybrid * d[:3, :3], "s*d32": lambda: s * d.float()}[case]()

    ours, theirs = _both(run)
    _same_sparse(ours, theirs)
    assert ours.dtype is trainer.float64


@pytest.mark.parametrize("coalesce", [False, True])
def test_sparse_sparse_elementwise_gradients_match_torch(coalesce):
    def run(lib):
        a, b = _sparse(lib, requires_grad=True), _other(lib, requires_grad=True)
        out = a.coalesce() * b.coalesce() if coalesce else a * b
        (out.to_dense() ** 2).sum().backward()
        return a.grad, b.grad

    for ours, theirs in zip(*_both(run)):
        _same_grads(ours, theirs)

    def fn(lib, v, w):
        return (_sparse(lib, v) * _other(lib, w)).to_dense()

    assert_forward_and_gradients_match_torch(fn, [VALUES, OTHER_VALUES])


def test_sparse_dense_elementwise_gradients_match_torch():
    dense = np.random.default_rng(3).standard_normal((4, 4))
    upstream = np.random.default_rng(4).standard_normal((4, 4))

    def run(lib):
        v, d = lib.tensor(VALUES, requires_grad=True), lib.tensor(dense, requires_grad=True)
        s = _sparse(lib, requires_grad=True)
        out = (_sparse(lib, v) * d).to_dense() + (d * _sparse(lib, v).coalesce()).to_dense() + (d * s).to_dense()
        (out * lib.tensor(upstream)).sum().backward()
        return out, v.grad, d.grad, s.grad

    (*ours, ours_leaf), (*theirs, theirs_leaf) = _both(run)
    for o, t in zip(ours, theirs):  # PyTorch gives d a sparse gradient, trainer a dense one: the same matrix
        _same(o.to_dense(), t.to_dense())
    _same_grads(ours_leaf, theirs_leaf)


# ----------------------------------------------------------------- construction
@pytest.mark.parametrize("index_type", ["int32", "int16", "uint8", "numpy int32", "float"])
def test_indices_of_any_type_become_int64_as_in_torch(index_type):
    def run(lib):
        indices = np.array(INDICES, dtype=np.int32) if index_type == "numpy int32" else lib.tensor(INDICES).to(
            getattr(lib, "float32" if index_type == "float" else index_type))
        return lib.sparse_coo_tensor(indices, lib.tensor(VALUES), (4, 4))

    ours, theirs = _both(run)
    assert ours._indices().dtype is trainer.int64
    _same_sparse(ours, theirs)


def test_dtype_argument_converts_the_values_as_in_torch():
    for dtype in ("int64", "float32"):
        def run(lib, dtype=dtype):
            return lib.sparse_coo_tensor(np.array(INDICES, dtype=np.int32), lib.ones(5) * 1.5, (4, 4),
                                         dtype=getattr(lib, dtype))

        ours, theirs = _both(run)
        assert ours.dtype is getattr(trainer, dtype)
        _same_sparse(ours, theirs)


# ----------------------------------------------------------------- zero_grad, EmbeddingBag, Adagrad
@pytest.mark.parametrize("owner", ["module", "optimizer"])
def test_zero_grad_without_none_empties_a_sparse_gradient_like_torch(owner):
    def run(lib):
        emb = lib.nn.Embedding(5, 2, sparse=True)
        emb(lib.tensor([1, 3, 1])).sum().backward()
        grad = emb.weight.grad
        (emb if owner == "module" else lib.optim.SGD(emb.parameters(), lr=0.1)).zero_grad(set_to_none=False)
        assert emb.weight.grad is grad
        zeroed = (grad._nnz(), grad.is_coalesced(), tuple(grad.shape))
        (emb(lib.tensor([2])) * 2).sum().backward()
        return zeroed, emb.weight.grad

    (ours_zeroed, ours), (theirs_zeroed, theirs) = _both(run)
    assert ours_zeroed == theirs_zeroed == (0, True, (5, 2))
    _same(ours.coalesce()._indices(), theirs.coalesce()._indices())
    _same(ours.to_dense(), theirs.to_dense())


@pytest.mark.parametrize("options", [{"mode": "sum"}, {"mode": "mean", "padding_idx": 2},
                                     {"mode": "sum", "weighted": True}, {"mode": "mean", "include_last_offset": True},
                                     {"mode": "sum", "two_d": True}])
def test_embedding_bag_sparse_gradient_matches_torch(options):
    rng = np.random.default_rng(4)
    weight, psw = rng.standard_normal((6, 3)), rng.random(8)
    flat, offsets = np.array([1, 2, 4, 4, 5, 2, 0, 4]), np.array([0, 3, 3, 5])

    def run(lib):
        kwargs = {k: v for k, v in options.items() if k not in ("weighted", "two_d")}
        bag = lib.nn.EmbeddingBag(6, 3, sparse=True, _weight=lib.tensor(weight), **kwargs)
        per_sample = lib.tensor(psw, requires_grad=True) if options.get("weighted") else None
        if options.get("two_d"):
            out = bag(lib.tensor(flat.reshape(2, 4)))
        else:
            ends = [len(flat)] if options.get("include_last_offset") else []
            out = bag(lib.tensor(flat), lib.tensor([*offsets, *ends]), per_sample_weights=per_sample)
        (out ** 2).sum().backward()
        return out, bag.weight.grad, per_sample

    (ours, ours_grad, ours_psw), (theirs, theirs_grad, theirs_psw) = _both(run)
    _same(ours, theirs)
    _same_sparse(ours_grad, theirs_grad)
    if theirs_psw is not None:
        _same(ours_psw.grad, theirs_psw.grad)


def test_embedding_bag_sparse_refusals_match_torch():
    def max_mode(lib):
        lib.nn.EmbeddingBag(4, 2, mode="max", sparse=True)(lib.tensor([[0, 1]]))

    assert_raises_like_torch(max_mode, ValueError, "max mode does not support sparse weights")

    def by_frequency(lib):
        bag = lib.nn.EmbeddingBag(4, 2, sparse=True, scale_grad_by_freq=True)
        bag(lib.tensor([[0, 1, 1]])).sum().backward()

    assert_raises_like_torch(by_frequency, RuntimeError, "scale_grad_by_freq not supported with sparse gradients")


@pytest.mark.parametrize("options", [{}, {"lr_decay": 0.1, "initial_accumulator_value": 0.5},
                                     {"maximize": True, "eps": 1e-3}])
def test_adagrad_with_sparse_gradients_trains_like_torch(options):
    rng = np.random.default_rng(5)
    weight = rng.standard_normal((10, 4))
    batches = [rng.integers(0, 10, size=(3, 4)) for _ in range(3)]
    target = rng.standard_normal(4)

    def train(lib):
        emb = lib.nn.Embedding(10, 4, sparse=True, padding_idx=0, _weight=lib.tensor(weight))
        opt = lib.optim.Adagrad(emb.parameters(), lr=0.1, **options)
        for batch in batches:
            opt.zero_grad()
            ((emb(lib.tensor(batch)) - lib.tensor(target)) ** 2).sum().backward()
            opt.step()
        return emb.weight, opt.state[emb.weight]["sum"]

    (ours, ours_sum), (theirs, theirs_sum) = _both(train)
    _same(ours, theirs)
    _same(ours_sum, theirs_sum)

    def with_weight_decay(lib):
        emb = lib.nn.Embedding(5, 2, sparse=True)
        emb(lib.tensor([1, 3])).sum().backward()
        lib.optim.Adagrad(emb.parameters(), weight_decay=0.1).step()

    assert_raises_like_torch(with_weight_decay, RuntimeError,
                             "weight_decay option is not compatible with sparse gradients")


# ----------------------------------------------------------------- errors
def test_bad_products_raise_like_torch():
    assert_raises_like_torch(lambda lib: _sparse(lib) @ _sparse(lib, size=(5, 4)), RuntimeError,
                             "mat1 and mat2 shapes cannot be multiplied \\(4x4 and 5x4\\)")
    assert_raises_like_torch(lambda lib: _sparse(lib) @ _sparse(lib).float(), RuntimeError,
                             "mat1 dtype Double does not match mat2 dtype Float")
    assert_raises_like_torch(lambda lib: _sparse(lib, lib.tensor([1, 2, 3, 4, 5])) @ _sparse(
        lib, lib.tensor([1, 2, 3, 4, 5])), NotImplementedError, "\"sparse_matmul\" not implemented for 'Long'")
    assert_raises_like_torch(lambda lib: lib.sparse_coo_tensor(lib.tensor([[0, 1]]), lib.ones(2, 4), (4, 4))
                             @ lib.sparse_coo_tensor(lib.tensor([[0, 1]]), lib.ones(2, 4), (4, 4)),
                             RuntimeError, "scalar values expected, got 1D values")
    assert_raises_like_torch(lambda lib: lib.ones(3, 5, dtype=lib.float64) @ _sparse(lib), RuntimeError,
                             "Expected dim 0 size 4, got 5")
    assert_raises_like_torch(lambda lib: lib.ones(3, 4) @ _sparse(lib), RuntimeError,
                             "expected scalar type Double but found Float")
    assert_raises_like_torch(lambda lib: _sparse(lib) * _sparse(lib, size=(5, 4)), RuntimeError,
                             "equal dimensionality, number of sparse dimensions, and shape of sparse dimensions")
    assert_raises_like_torch(lambda lib: lib.sparse.addmm(lib.ones(4, 4, dtype=lib.float64), _sparse(lib),
                                                          _sparse(lib)), RuntimeError, "addmm_sparse_dense: expected")
    # PyTorch broadcasts a sparse tensor up to a bigger dense operand; trainer refuses clearly
    with pytest.raises(SparseLayoutError, match="does not broadcast to it"):
        _sparse(trainer) * trainer.ones(2, 4, 4, dtype=trainer.float64)
