"""Sparse COO tensors (``trainer.sparse_coo_tensor``, ``trainer.sparse``, ``nn.Embedding(sparse=True)``,
``optim.SparseAdam``) against PyTorch on the same float64 inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import trainer
from tests.trainer.test_ops_parity import assert_forward_and_gradients_match_torch, assert_raises_like_torch
from trainer.sparse_coo_array import SparseLayoutError

pytestmark = pytest.mark.filterwarnings("ignore:Sparse invariant checks")  # PyTorch's notice, not a problem

INDICES = [[1, 0, 1, 2, 3], [0, 2, 0, 1, 3]]  # (1, 0) twice: uncoalesced
VALUES = np.array([1.0, 2.0, 3.0, 4.0, -5.0])


def _sparse(lib, values=VALUES, indices=INDICES, size=(4, 4), **kwargs):
    values = values if isinstance(values, (torch.Tensor, trainer.Tensor)) else lib.tensor(values)
    return lib.sparse_coo_tensor(lib.tensor(indices), values, size, **kwargs)


def _same(ours, theirs):
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-12, atol=1e-12)


def _same_sparse(ours, theirs):
    assert ours.is_sparse and theirs.is_sparse
    assert tuple(ours.shape) == tuple(theirs.shape)
    _same(ours._indices(), theirs._indices())
    _same(ours._values(), theirs._values())
    assert ours.is_coalesced() == theirs.is_coalesced()


# ----------------------------------------------------------------- construction and conversions
def test_construction_attributes_and_coalesce_match_torch():
    ours, theirs = _sparse(trainer), _sparse(torch)
    _same_sparse(ours, theirs)
    assert ours.layout is trainer.sparse_coo and trainer.ones(2).layout is trainer.strided
    assert ours.is_sparse and not trainer.ones(2).is_sparse
    assert (ours._nnz(), ours.sparse_dim(), ours.dense_dim(), ours.numel(), ours.dim()) == (5, 2, 0, 16, 2)
    assert ours.dtype is trainer.float64 and ours.device == trainer.device("cpu")
    _same_sparse(ours.coalesce(), theirs.coalesce())
    _same(ours.coalesce().indices(), theirs.coalesce().indices())
    _same(ours.to_dense(), theirs.to_dense())
    inferred = trainer.sparse_coo_tensor(trainer.tensor(INDICES), trainer.tensor(VALUES))
    assert tuple(inferred.shape) == (4, 4)
    assert "layout=trainer.sparse_coo" in repr(ours) and "nnz=5" in repr(ours)


def test_hybrid_values_and_to_sparse_and_sparse_mask_match_torch():
    rng = np.random.default_rng(0)
    values = rng.standard_normal((3, 2))
    ours = _sparse(trainer, values, [[2, 0, 2]], (3, 2))
    theirs = _sparse(torch, values, [[2, 0, 2]], (3, 2))
    _same_sparse(ours.coalesce(), theirs.coalesce())
    _same(ours.to_dense(), theirs.to_dense())
    dense = np.array([[0.0, 1.5, 0.0], [2.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    _same_sparse(trainer.tensor(dense).to_sparse(), torch.tensor(dense).to_sparse())
    _same_sparse(trainer.tensor(dense).to_sparse(1), torch.tensor(dense).to_sparse(1))
    full = rng.standard_normal((4, 4))
    for coalesced in (False, True):
        mask_ours, mask_theirs = _sparse(trainer), _sparse(torch)
        if coalesced:
            mask_ours, mask_theirs = mask_ours.coalesce(), mask_theirs.coalesce()
        _same_sparse(trainer.tensor(full).sparse_mask(mask_ours), torch.tensor(full).sparse_mask(mask_theirs))


def test_operators_match_torch():
    ours, theirs = _sparse(trainer), _sparse(torch)
    for op in (lambda s: s * 2.5, lambda s: 3 * s, lambda s: s / 2, lambda s: -s, lambda s: s.t(),
               lambda s: s.coalesce() + s.coalesce() * 2, lambda s: s.coalesce() * 2):
        _same_sparse(op(ours), op(theirs))
        _same(op(ours).to_dense(), op(theirs).to_dense())
    # with an uncoalesced operand PyTorch merges some entries; trainer keeps all: the same matrix
    for op in (lambda s: s + s * 2, lambda s: s - s.coalesce()):
        assert not op(ours).is_coalesced() and not op(theirs).is_coalesced()
        _same(op(ours).to_dense(), op(theirs).to_dense())
    dense = np.arange(16.0).reshape(4, 4)
    _same(trainer.tensor(dense) + ours, torch.tensor(dense) + theirs)


# ----------------------------------------------------------------- products, sums, softmax: values and gradients
def _mm_cases():
    return [lambda lib, v, d: lib.sparse.mm(_sparse(lib, v), d), lambda lib, v, d: lib.spmm(_sparse(lib, v), d),
            lambda lib, v, d: _sparse(lib, v) @ d, lambda lib, v, d: lib.mm(_sparse(lib, v), d),
            lambda lib, v, d: lib.sparse.addmm(d[:, :1], _sparse(lib, v), d, beta=0.5, alpha=2.0),
            lambda lib, v, d: lib.sparse.mm(_sparse(lib, v).t(), d)]


@pytest.mark.parametrize("case", range(6))
def test_sparse_dense_products_values_and_gradients(case):
    d = np.random.default_rng(case).standard_normal((4, 3))
    assert_forward_and_gradients_match_torch(_mm_cases()[case], [VALUES, d])


def test_gradient_of_a_sparse_leaf_is_sparse_as_in_torch():
    d = np.random.default_rng(1).standard_normal((4, 3))
    for fn in (lambda lib, s: lib.sparse.mm(s, lib.tensor(d)).sum(),
               lambda lib, s: (s.to_dense() ** 2).sum(),
               lambda lib, s: lib.sparse.sum(s * 3),
               lambda lib, s: lib.sparse.softmax(s, 1).to_dense()[1].sum() + s.coalesce().values()[0]):
        ours, theirs = _sparse(trainer, requires_grad=True), _sparse(torch, requires_grad=True)
        fn(trainer, ours).backward()
        fn(torch, theirs).backward()
        assert ours.grad.is_sparse
        _same(ours.grad._indices(), theirs.grad._indices())
        _same(ours.grad.to_dense(), theirs.grad.to_dense())


@pytest.mark.parametrize("dim", [None, 0, 1, (0, 1), (1, 2), 2, -1])
def test_sparse_sum_values_and_gradients(dim):
    values = np.random.default_rng(2).standard_normal((5, 2))

    def fn(lib, v):
        out = lib.sparse.sum(_sparse(lib, v, size=(4, 4, 2)), dim)
        return out.to_dense() if out.is_sparse else out

    assert_forward_and_gradients_match_torch(fn, [values])


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dim", [0, 1, 2])
def test_sparse_softmax_values_and_gradients(name, dim):
    values = np.random.default_rng(3).standard_normal((5, 2)) * 3

    def fn(lib, v):
        out = getattr(lib.sparse, name)(_sparse(lib, v, size=(4, 4, 2)), dim)
        assert out.is_sparse and out.is_coalesced()
        return out.to_dense() if name == "softmax" else out.coalesce().values()

    assert_forward_and_gradients_match_torch(fn, [values])


# ----------------------------------------------------------------- training
def test_two_layer_gcn_trains_like_torch():
    rng = np.random.default_rng(4)
    n, features, hidden, classes = 12, 5, 8, 3
    edges = rng.integers(0, n, size=(2, 30))
    edges = np.concatenate([edges, edges[::-1], np.stack([np.arange(n)] * 2)], axis=1)
    degree = np.bincount(edges[0], minlength=n).astype(np.float64)
    weights = 1 / np.sqrt(degree[edges[0]] * degree[edges[1]])
    x, labels = rng.standard_normal((n, features)), rng.integers(0, classes, n)
    w1, w2 = rng.standard_normal((features, hidden)) * 0.5, rng.standard_normal((hidden, classes)) * 0.5

    def train(lib):
        adj = lib.sparse_coo_tensor(lib.tensor(edges), lib.tensor(weights), (n, n))
        params = [lib.tensor(w1, requires_grad=True), lib.tensor(w2, requires_grad=True)]
        opt = lib.optim.Adam(params, lr=0.05)
        for _ in range(5):
            opt.zero_grad()
            h = lib.relu(lib.spmm(adj, lib.tensor(x) @ params[0]))
            out = lib.sparse.mm(adj, h @ params[1])
            loss = lib.nn.functional.cross_entropy(out, lib.tensor(labels))
            loss.backward()
            opt.step()
        return params, loss

    (o1, o2), ours_loss = train(trainer)
    (t1, t2), theirs_loss = train(torch)
    _same(ours_loss, theirs_loss)
    np.testing.assert_allclose(o1.detach().numpy(), t1.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(o2.detach().numpy(), t2.detach().numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("optimizer", ["SparseAdam", "SGD", "SGD-momentum"])
def test_sparse_embedding_with_sparse_optimizers_matches_torch(optimizer):
    rng = np.random.default_rng(5)
    weight = rng.standard_normal((10, 4))
    batches = [rng.integers(0, 10, size=(3, 4)) for _ in range(3)]
    target = rng.standard_normal(4)

    def train(lib):
        emb = lib.nn.Embedding(10, 4, sparse=True, padding_idx=0, _weight=lib.tensor(weight))
        if optimizer == "SparseAdam":
            opt = lib.optim.SparseAdam(emb.parameters(), lr=0.1)
        else:
            opt = lib.optim.SGD(emb.parameters(), lr=0.1, momentum=0.9 if optimizer == "SGD-momentum" else 0)
        grads = []
        for batch in batches:
            opt.zero_grad()
            ((emb(lib.tensor(batch)) - lib.tensor(target)) ** 2).sum().backward()
            grads.append(emb.weight.grad)
            opt.step()
        return emb.weight, grads

    ours, ours_grads = train(trainer)
    theirs, theirs_grads = train(torch)
    for o, t in zip(ours_grads, theirs_grads):
        _same_sparse(o, t)
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-12, atol=1e-12)


# ----------------------------------------------------------------- errors
def test_bad_arguments_raise_like_torch():
    def idx(lib):
        return lib.tensor(INDICES)

    assert_raises_like_torch(lambda lib: lib.sparse_coo_tensor(idx(lib), lib.tensor(VALUES[:3]), (4, 4)),
                             RuntimeError, "indices and values must have same nnz")
    assert_raises_like_torch(lambda lib: lib.sparse_coo_tensor(idx(lib), lib.tensor(VALUES), (2, 2),
                                                               check_invariants=True),
                             RuntimeError, "size is inconsistent with indices: for dim 0, size is 2 but found index 3")
    assert_raises_like_torch(lambda lib: lib.sparse_coo_tensor(-idx(lib), lib.tensor(VALUES), (4, 4),
                                                               check_invariants=True),
                             RuntimeError, "found negative index -3 for dim 0")
    assert_raises_like_torch(lambda lib: lib.sparse_coo_tensor(idx(lib), lib.tensor(VALUES), (4, 4, 4)),
                             RuntimeError, "len\\(size\\) == sparse_dim \\+ dense_dim")
    assert_raises_like_torch(lambda lib: _sparse(lib).values(), RuntimeError,
                             "Cannot get values on an uncoalesced tensor, please call .coalesce\\(\\) first")
    assert_raises_like_torch(lambda lib: _sparse(lib).indices(), RuntimeError, "Cannot get indices")
    assert_raises_like_torch(lambda lib: lib.sparse.mm(_sparse(lib), lib.ones(3, 2, dtype=lib.float64)),
                             RuntimeError, "Expected dim 0 size 4, got 3")
    assert_raises_like_torch(lambda lib: _sparse(lib) + lib.ones(4, 4, dtype=lib.float64), RuntimeError,
                             "add\\(sparse, dense\\) is not supported")


def test_dense_only_ops_refuse_sparse_tensors_clearly():
    s = _sparse(trainer)
    for op in (lambda: s.exp(), lambda: s.reshape(16), lambda: s[0], lambda: trainer.relu(s), lambda: s.numpy(),
               lambda: trainer.cat([s, s]), lambda: s.mean()):
        with pytest.raises(SparseLayoutError, match="not supported for sparse tensors.*call .to_dense\\(\\) first"):
            op()
    with pytest.raises(NotImplementedError, match="sparse"):
        trainer.save({"adj": s}, "/dev/null")


def test_dense_optimizers_refuse_sparse_gradients_like_torch():
    for name, message in (("Adam", "Adam does not support sparse gradients, please consider SparseAdam instead"),
                          ("AdamW", "Adam does not support sparse gradients"),
                          ("RMSprop", "RMSprop does not support sparse gradients")):
        def step(lib, name=name):
            emb = lib.nn.Embedding(5, 2, sparse=True)
            emb(lib.tensor([1, 3])).sum().backward()
            getattr(lib.optim, name)(emb.parameters()).step()

        assert_raises_like_torch(step, RuntimeError, message)

    def sgd_with_weight_decay(lib):
        emb = lib.nn.Embedding(5, 2, sparse=True)
        emb(lib.tensor([1, 3])).sum().backward()
        lib.optim.SGD(emb.parameters(), lr=0.1, weight_decay=0.1).step()

    assert_raises_like_torch(sgd_with_weight_decay, RuntimeError, "add\\(sparse, dense\\) is not supported")

    def sparse_adam_with_dense_grad(lib):
        emb = lib.nn.Embedding(5, 2)
        emb(lib.tensor([1, 3])).sum().backward()
        lib.optim.SparseAdam(emb.parameters()).step()

    assert_raises_like_torch(sparse_adam_with_dense_grad, RuntimeError, "SparseAdam does not support dense gradients")
