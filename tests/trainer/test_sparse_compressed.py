"""Sparse compressed tensors (CSR, CSC, BSR, BSC: ``trainer.sparse_csr_tensor`` & co., ``to_sparse_csr`` & co.,
their products, sums and transposes) against PyTorch on the same float64 inputs."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
import torch

import trainer
from tests.trainer.test_ops_parity import assert_forward_and_gradients_match_torch, assert_raises_like_torch

pytestmark = [pytest.mark.filterwarnings("ignore:Sparse (CSR|CSC|BSR|BSC) tensor support is in beta"),
              pytest.mark.filterwarnings("ignore:Sparse invariant checks")]  # PyTorch's notices

DENSE = np.array([[0.0, 1.5, 0.0, 0.0, 2.0, 0.0],
                  [0.0, 0.0, 0.0, 0.0, -1.0, 3.0],
                  [4.0, 0.0, 0.0, 0.0, 0.0, 0.0],
                  [0.0, 0.0, 0.0, 0.0, 0.0, 5.0]])
LAYOUTS = ["sparse_csr", "sparse_csc", "sparse_bsr", "sparse_bsc"]
BLOCKSIZE = (2, 3)


def _to_layout(t, name, blocksize=BLOCKSIZE):
    if name in ("sparse_bsr", "sparse_bsc"):
        return getattr(t, f"to_{name}")(blocksize)
    return t.to_sparse() if name == "sparse_coo" else getattr(t, f"to_{name}")()


def _same_array(ours, theirs):
    assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
    assert tuple(ours.shape) == tuple(theirs.shape)
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-12, atol=1e-12)


def _same_compressed(ours, theirs):
    """The same layout, size, index arrays (values and dtypes) and values."""
    assert str(ours.layout).split(".")[-1] == str(theirs.layout).split(".")[-1]
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert ours._nnz() == theirs._nnz()
    assert (ours.sparse_dim(), ours.dense_dim()) == (theirs.sparse_dim(), theirs.dense_dim())
    names = ("crow_indices", "col_indices") if theirs.layout in (torch.sparse_csr, torch.sparse_bsr) else (
        "ccol_indices", "row_indices")
    for name in names:
        _same_array(getattr(ours, name)(), getattr(theirs, name)())
    _same_array(ours.values(), theirs.values())


def _same_sparse(ours, theirs):
    if theirs.layout is torch.sparse_coo:
        assert ours.layout is trainer.sparse_coo and ours.is_coalesced() == theirs.is_coalesced()
        _same_array(ours._indices(), theirs._indices())
        _same_array(ours._values(), theirs._values())
    else:
        _same_compressed(ours, theirs)


# ----------------------------------------------------------------- conversions
@pytest.mark.parametrize("dtype", ["float64", "float32", "int64"])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_dense_to_each_layout_and_back_matches_torch(layout, dtype):
    ours = _to_layout(trainer.tensor(DENSE.astype(dtype)), layout)
    theirs = _to_layout(torch.tensor(DENSE.astype(dtype)), layout)
    _same_compressed(ours, theirs)
    assert ours.layout is getattr(trainer, layout) and not ours.is_sparse
    assert ours.is_sparse_csr == (layout == "sparse_csr") and not trainer.ones(2).is_sparse_csr
    assert (ours.numel(), ours.dim(), ours.dtype) == (24, 2, getattr(trainer, dtype))
    _same_array(ours.to_dense(), theirs.to_dense())


@pytest.mark.parametrize("target", ["sparse_coo", *LAYOUTS])
@pytest.mark.parametrize("source", ["sparse_coo", *LAYOUTS])
def test_conversions_between_sparse_layouts_match_torch(source, target):
    ours = _to_layout(trainer.tensor(DENSE), source)
    theirs = _to_layout(torch.tensor(DENSE), source)
    if source in ("sparse_bsr", "sparse_bsc") and target in ("sparse_csr", "sparse_csc"):
        assert_raises_like_torch(lambda lib: _to_layout(ours if lib is trainer else theirs, target), RuntimeError,
                                 f"sparse_compressed_to_{target}: expected SparseCsr or SparseCsc layout but got "
                                 f"Sparse{source[7:].capitalize()}")
        return
    _same_sparse(_to_layout(ours, target), _to_layout(theirs, target))


def test_hybrid_values_and_uncoalesced_coo_convert_like_torch():
    rng = np.random.default_rng(0)
    dense = rng.standard_normal((4, 3, 2)) * (rng.random((4, 3, 1)) < 0.5)
    _same_compressed(trainer.tensor(dense).to_sparse_csr(dense_dim=1), torch.tensor(dense).to_sparse_csr(dense_dim=1))
    _same_compressed(trainer.tensor(dense).to_sparse_bsc((2, 1), dense_dim=1),
                     torch.tensor(dense).to_sparse_bsc((2, 1), dense_dim=1))
    indices, values = [[1, 0, 1, 3], [2, 0, 2, 1]], [1.0, 2.0, 3.0, 4.0]  # (1, 2) twice: summed
    for layout in LAYOUTS:
        ours = _to_layout(trainer.sparse_coo_tensor(trainer.tensor(indices), trainer.tensor(values), (4, 6)), layout)
        theirs = _to_layout(torch.sparse_coo_tensor(torch.tensor(indices), torch.tensor(values), (4, 6)), layout)
        _same_compressed(ours, theirs)


def test_conversion_errors_match_torch():
    def bsr_not_divisible(lib):
        return lib.tensor(DENSE).to_sparse_bsr((3, 2))

    assert_raises_like_torch(bsr_not_divisible, RuntimeError,
                             r"dense_to_sparse_bsr: tensor sparse size \(4,6\) must be divisible by given blocksize "
                             r"\(3,2\)")
    assert_raises_like_torch(lambda lib: lib.tensor(DENSE).to_sparse_csr(dense_dim=1), RuntimeError,
                             r"dense_to_sparse_csr: dense_dim argument must be in \[0,0\] range, but 1 is given")
    assert_raises_like_torch(lambda lib: lib.tensor(DENSE).to_sparse_bsr((2, 3)).to_sparse_bsr((1, 1)), RuntimeError,
                             r"to_sparse_bsr: conversion from SparseBsr to SparseBsr with blocksize changed from "
                             r"\[2, 3\] to \[1, 1\] is not supported")
    assert_raises_like_torch(lambda lib: lib.tensor(DENSE).to_sparse_csr().to_dense(dtype=lib.float32), RuntimeError,
                             "dtype argument is not supported by sparse_csr_to_dense")
    assert_raises_like_torch(lambda lib: lib.tensor(DENSE).to_sparse_csr().ccol_indices(), RuntimeError,
                             "ccol_indices expected sparse column compressed tensor layout but got SparseCsr")
    assert_raises_like_torch(lambda lib: lib.tensor(DENSE).to_sparse_csc().crow_indices(), RuntimeError,
                             "crow_indices expected sparse row compressed tensor layout but got SparseCsc")
    with pytest.raises(RuntimeError, match="batch dimensions are not supported"):  # PyTorch makes a batched CSR
        trainer.zeros(2, 3, 4).to_sparse_csr()


# ----------------------------------------------------------------- printing
@pytest.mark.parametrize("layout", LAYOUTS)
def test_printing_matches_torch(layout):
    for dtype in ("float64", "float32", "int64"):
        ours = _to_layout(trainer.tensor(DENSE.astype(dtype)), layout)
        theirs = _to_layout(torch.tensor(DENSE.astype(dtype)), layout)
        assert repr(ours) == repr(theirs).replace("torch.", "trainer.")
    empty = (trainer.zeros(2, 3, dtype=trainer.float64), torch.zeros(2, 3, dtype=torch.float64))
    if layout in ("sparse_csr", "sparse_csc"):
        assert repr(_to_layout(empty[0], layout)) == repr(_to_layout(empty[1], layout)).replace("torch.", "trainer.")
    leaf = (_to_layout(trainer.tensor(DENSE), layout).requires_grad_(),
            _to_layout(torch.tensor(DENSE), layout).requires_grad_())
    assert repr(leaf[0]) == repr(leaf[1]).replace("torch.", "trainer.")


# ----------------------------------------------------------------- constructors and invariants
T_CROW, T_COL, T_VALUES = [0, 2, 2, 4], [1, 3, 0, 2], [1.0, 2.0, 3.0, 4.0]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_constructors_match_torch(layout):
    block = layout in ("sparse_bsr", "sparse_bsc")
    values = np.arange(4 * (6 if block else 1), dtype=np.float64).reshape((4, 2, 3) if block else (4,))
    for size in (None, (3 * 2, 5 * 3) if block and layout == "sparse_bsr" else (5 * 2, 3 * 3) if block else
                 (3, 5) if layout == "sparse_csr" else (5, 3)):
        sizes = () if size is None else (size,)
        ours = getattr(trainer, f"{layout}_tensor")(trainer.tensor(T_CROW), trainer.tensor(T_COL),
                                                    trainer.tensor(values), *sizes, check_invariants=True)
        theirs = getattr(torch, f"{layout}_tensor")(torch.tensor(T_CROW), torch.tensor(T_COL), torch.tensor(values),
                                                   *sizes, check_invariants=True)
        _same_compressed(ours, theirs)
        _same_array(ours.to_dense(), theirs.to_dense())
        generic = trainer.sparse_compressed_tensor(trainer.tensor(T_CROW), trainer.tensor(T_COL),
                                                   trainer.tensor(values), *sizes, layout=getattr(trainer, layout))
        _same_compressed(generic, theirs)
    from_lists = (trainer.sparse_csr_tensor([0, 1, 2], [1, 0], [1, 2], (2, 2), dtype=trainer.float64,
                                            requires_grad=True),
                  torch.sparse_csr_tensor([0, 1, 2], [1, 0], [1, 2], (2, 2), dtype=torch.float64, requires_grad=True))
    _same_compressed(*from_lists)
    assert from_lists[0].requires_grad and from_lists[0].is_leaf


@pytest.mark.parametrize(("crow", "col", "size", "message"), [
    ([1, 2, 2, 4], T_COL, (3, 4), r"`crow_indices\[..., 0\] == 0` is not satisfied."),
    ([0, 2, 2, 3], T_COL, (3, 4), r"`crow_indices\[..., -1\] == nnz` is not satisfied."),
    ([0, 2, 2, 4], [1, 4, 0, 2], (3, 4), r"`0 <= col_indices < ncols` is not satisfied."),
    ([0, 2, 2, 4], [1, -1, 0, 2], (3, 4), r"`0 <= col_indices < ncols` is not satisfied."),
    ([0, 2, 2, 4], [1, 0, 0, 5], (3, 4), r"`0 <= col_indices < ncols` is not satisfied."),
    ([0, 2, 2, 4], [3, 1, 0, 2], (3, 4), r"`col_indices\[..., crow_indices\[..., i - 1\]:crow_indices\[..., i\]\] "
                                         r"for all i = 1, ..., nrows are sorted and distinct"),
    ([0, 2, 2, 4], [1, 1, 0, 2], (3, 4), "are sorted and distinct along the last dimension values"),
    ([0, 3, 2, 4], T_COL, (3, 4), "are sorted and distinct along the last dimension values"),
    ([0, 2, 1, 4], [0, 1, 2, 3], (3, 4), r"`0 <= crow_indices\[..., 1:\] - crow_indices\[..., :-1\] <= ncols`"),
    ([0, 3, 3, 3], [0, 1, 1], (3, 2), r"`0 <= crow_indices\[..., 1:\] - crow_indices\[..., :-1\] <= ncols`"),
    ([0, 2, 4], T_COL, (3, 4), r"crow_indices.shape\[-1\] must be equal to the number of rows \+ 1 \(=4\), but got 3"),
    (T_CROW, T_COL, (4,), r"tensor dimensionality must be sum of batch, base, and dense dimensionalities \(=0 \+ 2 "
                          r"\+ 0\) but got 1"),
])
def test_invariant_checks_raise_torch_messages(crow, col, size, message):
    def build(lib):
        return lib.sparse_csr_tensor(lib.tensor(crow), lib.tensor(col), lib.ones(len(col), dtype=lib.float64),
                                     size, check_invariants=True)

    assert_raises_like_torch(build, RuntimeError, message)


def test_check_sparse_tensor_invariants_switch_matches_torch():
    def build(lib, **kwargs):
        return lib.sparse_csr_tensor(lib.tensor([1, 2, 2, 4]), lib.tensor(T_COL), lib.tensor(T_VALUES), (3, 4),
                                     **kwargs)

    for lib in (torch, trainer):
        switch = lib.sparse.check_sparse_tensor_invariants
        assert not switch.is_enabled()
        build(lib)  # unchecked by default
        with switch():
            assert switch.is_enabled()
            with pytest.raises(RuntimeError, match=r"`crow_indices\[..., 0\] == 0` is not satisfied."):
                build(lib)
            build(lib, check_invariants=False)  # the argument overrides the switch
        assert not switch.is_enabled()
        decorated = switch()(build)
        with pytest.raises(RuntimeError, match="is not satisfied"):
            decorated(lib)
        switch.enable()
        try:
            with pytest.raises(RuntimeError, match="is not satisfied"):
                build(lib)
        finally:
            switch.disable()
        assert not switch.is_enabled()
    csc = (trainer.sparse_csc_tensor, torch.sparse_csc_tensor)
    assert_raises_like_torch(lambda lib: csc[lib is torch](lib.tensor([0, 2, 2, 4]), lib.tensor([1, 5, 0, 2]),
                                                           lib.tensor(T_VALUES), (4, 3), check_invariants=True),
                             RuntimeError, r"`0 <= row_indices < nrows` is not satisfied.")


def test_constructor_argument_errors_match_torch():
    args = (T_CROW, T_COL, T_VALUES)
    assert_raises_like_torch(lambda lib: lib.sparse_compressed_tensor(*map(lib.tensor, args), (3, 4)), RuntimeError,
                             "sparse_compressed_tensor expected sparse compressed tensor layout but got none")
    assert_raises_like_torch(lambda lib: lib.sparse_compressed_tensor(*map(lib.tensor, args), (3, 4),
                                                                      layout=lib.sparse_coo),
                             RuntimeError, "expected sparse compressed tensor layout but got Sparse")
    assert_raises_like_torch(lambda lib: lib.sparse_csr_tensor(lib.tensor(T_CROW).int(), lib.tensor(T_COL),
                                                               lib.tensor(T_VALUES), (3, 4), check_invariants=True),
                             RuntimeError, "crow_indices and col_indices must have the same dtype, bot got Int and "
                                           "Long, respectively")
    assert_raises_like_torch(lambda lib: lib.sparse_csr_tensor(lib.tensor([T_CROW]), lib.tensor(T_COL),
                                                               lib.tensor(T_VALUES), (3, 4), check_invariants=True),
                             RuntimeError, "crow_indices and col_indices dimensionalities must be equal but got 2 and "
                                           "1")
    assert_raises_like_torch(lambda lib: lib.sparse_csr_tensor(lib.tensor(T_CROW), lib.tensor([1, 3, 0]),
                                                               lib.tensor(T_VALUES), (3, 4), check_invariants=True),
                             RuntimeError, r"col_indices.shape\[-1\] must be equal to nnz \(=4\) as defined by "
                                           r"values.shape\[0\], but got 3")
    assert_raises_like_torch(lambda lib: lib.sparse_bsr_tensor(lib.tensor([0, 1, 2]), lib.tensor([1, 0]),
                                                               lib.ones(2, 2, 2), (4, 5), check_invariants=True),
                             RuntimeError, r"tensor shape\[1\] \(=5\) must be divisible with blocksize\[1\] \(=2\)")


# ----------------------------------------------------------------- differentiable ops
def _csr(lib, values, layout="sparse_csr", blocksize=BLOCKSIZE):
    """A compressed matrix of DENSE's pattern in ``layout`` holding ``values`` (differentiable)."""
    pattern = _to_layout(lib.tensor(DENSE), layout, blocksize)
    names = ("crow_indices", "col_indices") if layout in ("sparse_csr", "sparse_bsr") else ("ccol_indices",
                                                                                              "row_indices")
    return getattr(lib, f"{layout}_tensor")(getattr(pattern, names[0])(), getattr(pattern, names[1])(),
                                            values.reshape(pattern.values().shape), pattern.shape)


def _pattern_values(layout, blocksize=BLOCKSIZE):
    return _to_layout(torch.tensor(DENSE), layout, blocksize).values().numpy().copy()


PRODUCTS = {
    "mm": lambda lib, s, d: lib.mm(s, d),
    "matmul": lambda lib, s, d: lib.matmul(s, d),
    "operator": lambda lib, s, d: s @ d,
    "method": lambda lib, s, d: s.mm(d),
    "sparse.mm": lambda lib, s, d: lib.sparse.mm(s, d),
    "addmm": lambda lib, s, d: lib.addmm(lib.ones(4, 3, dtype=lib.float64), s, d, beta=0.5, alpha=2.0),
    "sparse.addmm": lambda lib, s, d: lib.sparse.addmm(lib.ones(4, 3, dtype=lib.float64), s, d),
    "mv": lambda lib, s, d: s @ d[:, 0],
}


@pytest.mark.parametrize("name", sorted(PRODUCTS))
def test_csr_dense_products_values_and_gradients_match_torch(name):
    rng = np.random.default_rng(2)
    dense = rng.standard_normal((6, 3))
    assert_forward_and_gradients_match_torch(lambda lib, v, d: PRODUCTS[name](lib, _csr(lib, v), d),
                                             [_pattern_values("sparse_csr"), dense])


@pytest.mark.parametrize("layout", ["sparse_csc", "sparse_bsr"])
def test_other_layouts_times_dense_and_dense_times_csr_match_torch(layout):
    rng = np.random.default_rng(3)
    # PyTorch multiplies BSR matrices of square blocks only, and has no backward for it on the CPU: the gradients
    # are compared with PyTorch's for the densified product (the same function of the values and the dense matrix)
    def product(lib, v, d):
        s = _csr(lib, v, layout, (2, 2))
        return s @ d if lib is trainer or layout != "sparse_bsr" else s.to_dense() @ d

    values, dense = _pattern_values(layout, (2, 2)), rng.standard_normal((6, 2))
    assert_forward_and_gradients_match_torch(product, [values, dense])
    _same_array(_csr(trainer, trainer.tensor(values), layout, (2, 2)) @ trainer.tensor(dense),
                _csr(torch, torch.tensor(values), layout, (2, 2)) @ torch.tensor(dense))
    assert_forward_and_gradients_match_torch(lambda lib, v, d: d @ _csr(lib, v),
                                             [_pattern_values("sparse_csr"), rng.standard_normal((3, 4))])


def test_gradient_of_a_compressed_leaf_has_torch_layout():
    rng = np.random.default_rng(4)
    dense = rng.standard_normal((6, 2))
    grads = []
    for lib in (trainer, torch):
        leaf = lib.tensor(DENSE).to_sparse_csr().requires_grad_()
        (leaf @ lib.tensor(dense)).sum().backward()
        product_grad = leaf.grad  # dense, everywhere, as PyTorch gives it
        leaf.grad = None
        (leaf.to_dense() * lib.tensor(DENSE + 1)).sum().backward()
        grads.append((product_grad, leaf.grad))  # on the pattern, compressed
    _same_array(grads[0][0], grads[1][0])
    assert grads[0][1].layout is trainer.sparse_csr
    _same_compressed(grads[0][1], grads[1][1])


ELEMENTWISE = {
    "to_dense": lambda lib, s: s.to_dense(),
    "scale": lambda lib, s: (s * 2.5).to_dense(),
    "rscale": lambda lib, s: (3 * s).to_dense(),
    "neg": lambda lib, s: (-s).to_dense(),
    "add": lambda lib, s: (s + s * 2).to_dense(),
    "add_alpha": lambda lib, s: s.add(s, alpha=-0.5).to_dense(),
    "t": lambda lib, s: s.t().to_dense(),
    "transpose": lambda lib, s: s.transpose(1, 0).to_dense(),
    "sum": lambda lib, s: s.sum(),
    "values": lambda lib, s: s.values() * 1,
    "to_csc": lambda lib, s: s.to_sparse_csc().to_dense(),
    "to_coo": lambda lib, s: s.to_sparse().to_dense(),
    "clone": lambda lib, s: s.clone().to_dense(),
}


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_compressed_ops_values_and_gradients_match_torch(name):
    def fn(lib, v):
        out = ELEMENTWISE[name](lib, _csr(lib, v))
        assert out.layout is lib.strided
        return out

    assert_forward_and_gradients_match_torch(fn, [_pattern_values("sparse_csr")])


def test_transpose_and_sum_results_match_torch():
    for layout in LAYOUTS:
        ours, theirs = _to_layout(trainer.tensor(DENSE), layout), _to_layout(torch.tensor(DENSE), layout)
        _same_compressed(ours.t(), theirs.t())
        _same_array(ours.sum(), theirs.sum())
    ours, theirs = trainer.tensor(DENSE).to_sparse_csr(), torch.tensor(DENSE).to_sparse_csr()
    _same_compressed(ours * 2, theirs * 2)
    _same_compressed(ours + ours * 2, theirs + theirs * 2)
    _same_compressed(ours.to(trainer.float32), theirs.to(torch.float32))
    _same_array(ours.sum(dtype=trainer.float32), theirs.sum(dtype=torch.float32))


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_csr_sum_over_a_dimension_matches_torch(dim):
    ours = trainer.tensor(DENSE).to_sparse_csr().sum(dim, keepdim=True)
    _same_compressed(ours, torch.tensor(DENSE).to_sparse_csr().sum(dim, keepdim=True))

    def fn(lib, v):  # PyTorch has no backward for it: its gradients are those of the densified sum
        s = _csr(lib, v)
        return s.sum(dim, keepdim=True).to_dense() if lib is trainer else s.to_dense().sum(dim, keepdim=True)

    assert_forward_and_gradients_match_torch(fn, [_pattern_values("sparse_csr")])
    assert_raises_like_torch(lambda lib: lib.tensor(DENSE).to_sparse_csc().sum(dim, keepdim=True), RuntimeError,
                             "Currently the only compressed sparse format supported for sum.dim_IntList is CSR, but "
                             "got layout SparseCsc")


def test_coo_to_compressed_passes_gradients_back_like_torch():
    rng = np.random.default_rng(5)

    def fn(lib, v, d):
        coo = lib.sparse_coo_tensor(lib.tensor([[0, 2, 3, 0], [1, 0, 5, 1]]), v, (4, 6))  # (0, 1) twice
        return coo.to_sparse_csr() @ d, (coo.to_sparse_csr().to_sparse_csc().to_dense() * lib.tensor(DENSE))

    assert_forward_and_gradients_match_torch(fn, [rng.standard_normal(4), rng.standard_normal((6, 2))])


def test_copies_and_pickles_keep_layout_and_entries():
    original = trainer.tensor(DENSE).to_sparse_bsc((2, 3)).requires_grad_()
    for copied in (copy.deepcopy(original), pickle.loads(pickle.dumps(original))):
        assert copied is not original and copied.requires_grad
        _same_compressed(copied, torch.tensor(DENSE).to_sparse_bsc((2, 3)))


# ----------------------------------------------------------------- what is not supported
def test_unsupported_ops_raise_clearly():
    for lib in (torch, trainer):
        s = lib.tensor(DENSE).to_sparse_csr()
        for call in (lambda t: t.exp(), lambda t: t - t, lambda t: t / 2, lambda t: t.pow(2), lambda t: t.view(24)):
            with pytest.raises(RuntimeError):
                call(s)
    s = trainer.tensor(DENSE).to_sparse_csr()
    with pytest.raises(NotImplementedError, match=r"is not supported for sparse tensors \(layout trainer.sparse_csr\)"
                                                  r"; call .to_dense\(\) first"):
        s.exp()
    assert_raises_like_torch(lambda lib: lib.tensor(DENSE).to_sparse_csr().sum(0), RuntimeError,
                             "reduction operations on CSR tensors with keepdim=False is unsupported")
    assert_raises_like_torch(lambda lib: lib.tensor(DENSE).to_sparse_csr().numpy(), TypeError,
                             r"can't convert SparseCsr layout tensor to numpy. Use Tensor.to_dense\(\) first.")
    assert_raises_like_torch(lambda lib: lib.tensor(DENSE).to_sparse_csr() @ lib.ones(4, 2, dtype=lib.float64),
                             RuntimeError, r"mat1 and mat2 shapes cannot be multiplied \(4x6 and 4x2\)")
