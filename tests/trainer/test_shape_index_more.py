"""The shape, view, indexing and scatter functions added beside the core ones (tile ... sum_to_size, take ... histogram)
against PyTorch 2.13: forward values, dtypes and the gradients of every float input (float64, <= 1e-8), integer
and boolean results, the in-place forms (version counters, autograd through them, refused leaves), and the
exception type PyTorch raises for bad arguments, with a message that says what was wrong.

Each case is ``fn(lib, *inputs)``, run with ``lib = torch`` and ``lib = trainer`` on identical float64 data.
"""

import math
import zlib

import numpy as np
import pytest
import torch

import trainer
from tests.trainer.test_ops_parity import (
    _assert_same,
    assert_forward_and_gradients_match_torch,
    assert_raises_like_torch,
    assert_untracked_outputs_match_torch,
)


def _idx(lib, values):
    return lib.tensor(values)


def _reductions(lib, a, b, index):
    return tuple(a.scatter_reduce(1, _idx(lib, index), b, reduce, include_self=include_self)
                 for reduce in ("sum", "prod", "mean", "amax", "amin") for include_self in (True, False))


def _with_ties_and_zeros(rng):
    """Values with repeated extremes and zeros, where the prod and amax/amin gradients take their special paths."""
    a = [[1.0, 0.0, 2.0, 2.0], [-1.0, 3.0, 0.5, 3.0]]
    b = [[2.0, 0.0, 2.0, 1.5], [3.0, 0.0, 3.0, -1.0]]
    return [np.asarray(a), np.asarray(b)]


CASES = {
    # shape and views
    "tile": (lambda lib, a: (lib.tile(a, (2,)), a.tile(2, 1, 1), a.tile((1, 2)), lib.tile(a, ())), (2, 3)),
    "ravel": (lambda lib, a: (lib.ravel(a.t()), a.ravel(), a[0, 0].ravel()), (2, 3)),
    "swapaxes_swapdims": (lambda lib, a: (lib.swapaxes(a, 0, 2), a.swapdims(1, -1), lib.swapdims(a, 0, 1),
                                          a.swapaxes(-1, -1)), (2, 3, 4)),
    "unflatten": (lambda lib, a: (lib.unflatten(a, 1, (2, -1)), a.unflatten(-1, (3, 1)), a.unflatten(0, [2])),
                  (2, 6, 3)),
    "unfold": (lambda lib, a: (a.unfold(1, 3, 2), a.unfold(0, 2, 1), a.unfold(-1, 1, 3), a.unfold(1, 0, 1),
                               a.unfold(1, 7, 1), a.unfold(1, 2, 5), a[0, 0, 0].unfold(0, 1, 1),
                               a[0, 0, 0].unfold(0, 0, 2)), (3, 7, 2)),
    "split_with_sizes_hvdsplit": (lambda lib, a: (*a.split_with_sizes([1, 2], 1), *lib.split_with_sizes(a, [4], 0),
                                                  *lib.hsplit(a, [1]), *a.hsplit(3), *lib.vsplit(a, 2),
                                                  *a.vsplit([1, 3]), *lib.dsplit(a, [1, 1, 3]), *a.dsplit(2),
                                                  *lib.hsplit(a[0, 0], 2)), (4, 3, 4)),
    "dstack": (lambda lib, a, b: (lib.dstack([a, b]), lib.dstack((a[0], b[0])), lib.dstack([a[0, 0], b[1, 1]]),
                                  lib.dstack([a.unsqueeze(-1), b])), (2, 3), (2, 3)),
    "sum_to_size": (lambda lib, a: (a.sum_to_size(3, 1), a.sum_to_size((1, 3, 4)), a.sum_to_size(4),
                                    a.sum_to_size(2, 3, 4), a.sum_to_size(1)), (2, 3, 4)),
    # reading and writing at indices
    "take": (lambda lib, a: (lib.take(a, _idx(lib, [[0, -1], [5, 2]])), a.take(_idx(lib, [3, 3])),
                             a.take(_idx(lib, 4))), (2, 3)),
    "put": (lambda lib, a, b: (a.put(_idx(lib, [0, -1, 0]), b, accumulate=True), lib.put(a, _idx(lib, [4, 1, 2]), b),
                               a.put(_idx(lib, [[5], [0], [5]]), b.reshape(3, 1), True)), (2, 3), (3,)),
    "index_copy": (lambda lib, a, b: (a.index_copy(1, _idx(lib, [2, 0]), b), lib.index_copy(a.t(), 0, _idx(lib, [1, 0]),
                                                                                            b.t()),
                                      a.index_copy(-1, _idx(lib, 1), b[:, :1]),
                                      a[0, 0].index_copy(0, _idx(lib, [0]), b[0, :1])), (2, 3), (2, 2)),
    "index_put_integer": (lambda lib, a, b: (a.index_put((_idx(lib, [0, 1, 0]), _idx(lib, [2, 2, 0])), b),
                                             lib.index_put(a, (_idx(lib, [1, 1]),), b[:1].reshape(1, 1), True),
                                             a.index_put((_idx(lib, [0, 0, 1]), _idx(lib, [1, 1, -1])), b, True),
                                             a.index_put((_idx(lib, [[0], [1]]), _idx(lib, [0, 2, 1])), b, True),
                                             a.index_put([_idx(lib, 1)], b), a.index_put((_idx(lib, [1]),), b[0])),
                          (2, 3), (3,)),
    "index_put_masks": (lambda lib, a, b: (a.index_put((a > 0,), b[0, 0]), lib.index_put(a, (a < 0,), b[0, 0], True),
                                           a.index_put((_idx(lib, [True, False]),), b[1]),
                                           a.index_put((_idx(lib, [True, True]), _idx(lib, [True, False, True])),
                                                       b[0, :2], accumulate=True)), (2, 3), (2, 3)),
    "masked_scatter": (lambda lib, a, b: (a.masked_scatter(a > 0, b), lib.masked_scatter(a[0], a > 0.3, b),
                                          a.masked_scatter(_idx(lib, [True, False, True]), b),
                                          a.masked_scatter(a > 9, b)), (2, 3), (7,)),
    "scatter_reduce": (lambda lib, a, b: _reductions(lib, a, b, [[0, 0, 1], [2, 2, 0]]), (2, 3), (2, 3)),
    "scatter_reduce_index_smaller_than_self": (lambda lib, a, b: _reductions(lib, a, b, [[3, 3]]), (2, 4), (1, 2)),
    "scatter_reduce_ties_zeros": (lambda lib, a, b: _reductions(lib, a, b, [[0, 0, 0, 2], [1, 1, 1, 1]]), None),
    "index_reduce": (lambda lib, a, b: tuple(a.index_reduce(1, _idx(lib, [0, 2, 0]), b, reduce, include_self=s)
                                             for reduce in ("prod", "mean", "amax", "amin") for s in (True, False)),
                     (2, 3), (2, 3)),
    "index_reduce_ties_zeros": (lambda lib, a, b: tuple(lib.index_reduce(a, 1, _idx(lib, [0, 0, 3, 0]), b, reduce)
                                                        for reduce in ("prod", "mean", "amax", "amin")), None),
    "slice_select_scatter": (lambda lib, a, b: (a.slice_scatter(b, 1, 1, None, 2),
                                                lib.slice_scatter(a, b, 1, -4, -1, 2),
                                                a.slice_scatter(b[:, :0], 1, 10, 20),
                                                lib.slice_scatter(a, a * 2), a.select_scatter(b[:, 0], 1, -1),
                                                lib.select_scatter(a, a[0] * 3, 0, 1)), (2, 5), (2, 2)),
    "diagonal_scatter": (lambda lib, a, b: (a.diagonal_scatter(b[:2], 0), lib.diagonal_scatter(a, b[:2], 1),
                                            a.diagonal_scatter(b[:1], -1), a.diagonal_scatter(b[:0], 5)), (2, 3), (3,)),
    "diagonal_scatter_batched": (lambda lib, a, b: (lib.diagonal_scatter(a, b, 0, 0, 2),
                                                    a.diagonal_scatter(b[:, :2], 1, 2, 0)), (3, 2, 3), (2, 3)),
    "fill_diagonal": (lambda lib, a: ((a * 1).fill_diagonal_(2.5), (a.t() * 1).fill_diagonal_(-1.0, wrap=True),
                                      (a.t() * 1).fill_diagonal_(0.0)), (3, 8)),
    "fill_diagonal_cube": (lambda lib, a: (a * 1).fill_diagonal_(7.0), (3, 3, 3)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_forward_and_gradients_match_torch(name):
    fn, *shapes = CASES[name]
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    if shapes == [None]:
        arrays = _with_ties_and_zeros(rng)
    else:
        arrays = [rng.standard_normal(s) for s in shapes]
    assert_forward_and_gradients_match_torch(fn, arrays)


# ---------------------------------------------------------------- integer, boolean and non-differentiable results

def _ints(lib):
    return lib.tensor([[5, 7, -3, 2], [0, -8, 4, 9]])


NON_DIFFERENTIABLE = {
    "integer_scatter_reduce": lambda lib: tuple(
        _ints(lib).scatter_reduce(1, lib.tensor([[0, 0, 1, 1], [3, 3, 3, 0]]), _ints(lib) * 3 - 1, reduce,
                                  include_self=s) for reduce in ("sum", "prod", "mean", "amax", "amin")
        for s in (True, False)),
    "bool_scatter_reduce": lambda lib: tuple(
        lib.tensor([True, False, False]).scatter_reduce(0, lib.tensor([0, 0, 1]), lib.tensor([False, True, False]),
                                                        reduce, include_self=s)
        for reduce in ("sum", "amax", "amin") for s in (True, False)),
    "integer_index_ops": lambda lib: (lib.take(_ints(lib), lib.tensor([1, -1])),
                                      _ints(lib).put(lib.tensor([0, 0]), lib.tensor([1, 2]), accumulate=True),
                                      _ints(lib).index_copy(1, lib.tensor([3]), lib.tensor([[10], [20]])),
                                      _ints(lib).index_put((_ints(lib) > 0,), lib.tensor(0)),
                                      _ints(lib).masked_scatter(_ints(lib) < 0, lib.arange(8)),
                                      _ints(lib).index_reduce(0, lib.tensor([1, 1]), _ints(lib), "mean"),
                                      _ints(lib).unfold(1, 2, 2), _ints(lib).tile(2), _ints(lib).sum_to_size(1, 4)),
    "unravel_index": lambda lib: (*lib.unravel_index(lib.tensor([-1, 5, 3, 6, -7]), (2, 3)),
                                  *lib.unravel_index(lib.tensor([[1, 4]], dtype=lib.int32), 6),
                                  *lib.unravel_index(lib.tensor(4), lib.Size([2, 3])),
                                  *lib.unravel_index(lib.tensor([7, 23]), (2, 3, 4))),
    "isin": lambda lib: (lib.isin(lib.tensor([1.0, 2.0, 3.0]), lib.tensor([2, 3])),
                         lib.isin(_ints(lib), lib.tensor([7, 0, 4]), invert=True),
                         lib.isin(2, lib.tensor([2, 3])), lib.isin(_ints(lib), 9),
                         lib.isin(_ints(lib), lib.tensor([], dtype=lib.int64)),
                         lib.isin(lib.tensor([1.0, math.nan]), lib.tensor([math.nan, 1.0]), assume_unique=True)),
    "unique_consecutive": lambda lib: (
        *lib.unique_consecutive(lib.tensor([1, 1, 2, 2, 3, 1, 1, 2]), return_inverse=True, return_counts=True),
        lib.unique_consecutive(lib.tensor([1.0, math.nan, math.nan, 2.0])),
        *lib.tensor([[1, 1], [1, 1], [2, 3], [2, 3], [1, 1]]).unique_consecutive(True, True, dim=0),
        *lib.tensor([[1, 1, 2], [1, 1, 3]]).unique_consecutive(return_counts=True, dim=1),
        *lib.unique_consecutive(lib.tensor([[1, 1], [1, 2]]), return_inverse=True),
        *lib.unique_consecutive(lib.tensor([]), return_inverse=True, return_counts=True)),
    "histogram": lambda lib: (
        *lib.histogram(lib.tensor([1.0, 2.0, 1.0, 4.0, 2.5]), 3),
        *lib.histogram(lib.tensor([1.0, 2.0, 1.0]), lib.tensor([0.0, 1.0, 2.0]), weight=lib.tensor([1.0, 2.0, 3.0])),
        *lib.tensor([[1.0, 2.0], [1.0, 5.0]], dtype=lib.float64).histogram(3, density=True),
        *lib.histogram(lib.tensor([1.0, 2.0, 3.0, 4.0]), 2, range=(0.0, 10.0), weight=lib.tensor([1.0, 2, 3, 4]),
                       density=True),
        *lib.histogram(lib.tensor([10.0, 10.0]), 2), *lib.histogram(lib.tensor([]), 2),
        *lib.histogram(lib.tensor([-1.0, 0.0, 0.5, 1.0, 1.5]), bins=4, range=(0.0, 1.0)),
        *lib.histogram(lib.linspace(-3, 3, 61, dtype=lib.float64), 7)),
}


@pytest.mark.parametrize("name", list(NON_DIFFERENTIABLE))
def test_non_differentiable_results_match_torch(name):
    assert_untracked_outputs_match_torch(NON_DIFFERENTIABLE[name])


def test_scatter_reduce_reads_only_the_part_of_src_that_index_covers():
    """PyTorch computes this forward but fails in its own backward, so the gradient is checked against src cut to
    index's shape by hand (which PyTorch differentiates), padded with zeros."""
    rng = np.random.default_rng(7)
    a, b = rng.standard_normal((2, 4)), rng.standard_normal((2, 3))
    index = [[3, 1]]
    ours_b = trainer.tensor(b, requires_grad=True)
    ours = _reductions(trainer, trainer.tensor(a), ours_b, index)
    theirs = _reductions(torch, torch.tensor(a), torch.tensor(b), index)
    for i, (o, t) in enumerate(zip(ours, theirs)):
        _assert_same(o, t, f"output {i}")
    sum(o.sum() for o in ours).backward()
    cut = torch.tensor(b[:1, :2], requires_grad=True)
    sum(t.sum() for t in _reductions(torch, torch.tensor(a), cut, index)).backward()
    expected = np.zeros_like(b)
    expected[:1, :2] = cut.grad.numpy()
    np.testing.assert_allclose(ours_b.grad.numpy(), expected, atol=1e-12)


def test_histogram_of_random_float32_data_matches_torch():
    data = np.random.default_rng(3).standard_normal(1000).astype(np.float32)
    theirs = torch.histogram(torch.tensor(data), 17)
    ours = trainer.histogram(trainer.tensor(data), 17)
    assert ours.hist.tolist() == theirs.hist.tolist()
    # PyTorch's vectorised linspace may round an inner edge one ulp differently
    np.testing.assert_allclose(ours.bin_edges.numpy(), theirs.bin_edges.numpy(), rtol=5e-7, atol=0)


@pytest.mark.parametrize("call, error", [(lambda lib, x: lib.unique_consecutive(x), NotImplementedError),
                                         (lambda lib, x: lib.histogram(x, 3).hist, RuntimeError)])
def test_unique_consecutive_and_histogram_stay_on_the_graph_but_refuse_backward(call, error):
    for lib in (torch, trainer):
        out = call(lib, lib.tensor([1.0, 1.0, 2.0], requires_grad=True))
        assert out.requires_grad
        with pytest.raises(error, match="derivative for"):
            out.sum().backward()


# ---------------------------------------------------------------- in place

INPLACE = {
    "squeeze_": lambda lib, a, b: a.unsqueeze(1).squeeze_(1) * b.sum(),
    "squeeze_all_": lambda lib, a, b: a.reshape(1, 2, 1, 4).squeeze_() * b.sum(),
    "unsqueeze_": lambda lib, a, b: a.unsqueeze_(-1) * b.sum(),
    "t_": lambda lib, a, b: a.t_() * b.sum(),
    "transpose_": lambda lib, a, b: a.transpose_(0, 1) * b.sum(),
    "swapaxes_swapdims_": lambda lib, a, b: a.swapaxes_(0, 1).swapdims_(1, 0) * b.sum(),
    "put_": lambda lib, a, b: a.put_(lib.tensor([0, 7]), b[0], accumulate=True),
    "index_copy_": lambda lib, a, b: a.index_copy_(1, lib.tensor([3, 0]), b),
    "index_put_": lambda lib, a, b: a.index_put_((lib.tensor([1, 0]), lib.tensor([2, 2])), b[1]),
    "torch.index_put_": lambda lib, a, b: lib.index_put_(a, (a > 0,), b[0, 0], accumulate=True),
    "masked_scatter_": lambda lib, a, b: a.masked_scatter_(a < 0, b.reshape(-1)),
    "scatter_reduce_": lambda lib, a, b: a.scatter_reduce_(1, lib.tensor([[1, 1], [0, 3]]), b, "prod"),
    "index_reduce_": lambda lib, a, b: a.index_reduce_(1, lib.tensor([2, 2]), b, "mean", include_self=False),
    "fill_diagonal_": lambda lib, a, b: a.fill_diagonal_(b[0, 0].item()) * b.sum(),
}


@pytest.mark.parametrize("name", list(INPLACE))
def test_inplace_methods_match_torch_and_bump_the_version(name):
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    a, b = rng.standard_normal((2, 4)), rng.standard_normal((2, 2))
    results = []
    for lib in (torch, trainer):
        leaf_a, leaf_b = lib.tensor(a, requires_grad=True), lib.tensor(b, requires_grad=True)
        target = leaf_a * 1  # a non-leaf: in-place ops on a leaf that requires grad are refused
        before = target._version
        out = INPLACE[name](lib, target, leaf_b)
        assert target._version > before
        weights = np.random.default_rng(1).standard_normal(tuple(out.shape))  # the same for both libraries
        (out * lib.tensor(weights)).sum().backward()
        results.append((out, target, leaf_a.grad, leaf_b.grad))
    for what, o, t in zip(("result", "target", "grad a", "grad b"), results[1], results[0]):
        _assert_same(o, t, what)


@pytest.mark.parametrize("call", [lambda t: t.squeeze_(0), lambda t: t.unsqueeze_(0), lambda t: t.t_(),
                                  lambda t: t.transpose_(0, 1), lambda t: t.index_put_((t > 0,), t.new_tensor(1.0)),
                                  lambda t: t.fill_diagonal_(1.0)])
def test_inplace_returns_self_and_refuses_a_leaf_that_requires_grad(call):
    plain = trainer.ones(1, 3)
    assert call(plain) is plain
    with pytest.raises(RuntimeError, match="leaf Variable"):
        call(trainer.ones(1, 3, requires_grad=True))


def test_inplace_view_ops_change_the_shape_and_share_the_storage():
    x = trainer.arange(6.0).reshape(2, 3)
    storage = x._data
    x.t_().unsqueeze_(0)
    assert x.shape == (1, 3, 2) and np.shares_memory(x._data, storage)
    assert x.squeeze_().tolist() == torch.arange(6.0).reshape(2, 3).t().tolist()


def test_fill_diagonal_wraps_tall_matrices_as_torch():
    for shape, wrap in (((7, 3), True), ((7, 3), False), ((4, 3), True), ((3, 5), True)):
        ours, theirs = trainer.zeros(*shape).fill_diagonal_(1.0, wrap), torch.zeros(*shape).fill_diagonal_(1.0, wrap)
        assert ours.tolist() == theirs.tolist()


def test_inplace_view_op_on_a_saved_tensor_is_reported_as_in_torch():
    for lib in (torch, trainer):
        x = lib.tensor([[1.0, 2.0]], requires_grad=True)
        y = x.exp()  # saves its output for backward
        y.t_()
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()


# ---------------------------------------------------------------- errors

def _ones(lib, *shape, dtype=None):
    return lib.ones(*shape, dtype=dtype)


ERRORS = [
    (lambda lib: _ones(lib, 2, 3).unflatten(1, (2, 2)), RuntimeError, "don't multiply up to the size of dim 1"),
    (lambda lib: _ones(lib, 2, 3).unflatten(1, ()), RuntimeError, "sizes must be non-empty"),
    (lambda lib: _ones(lib, 2, 4).unfold(1, 5, 1), RuntimeError, "maximum size for tensor at dimension 1 is 4"),
    (lambda lib: _ones(lib, 2, 4).unfold(1, 2, 0), RuntimeError, "step is 0 but must be > 0"),
    (lambda lib: _ones(lib, 2, 4).unfold(2, 1, 1), IndexError, "Dimension out of range"),
    (lambda lib: _ones(lib, 2, 4).unfold(1, -1, 1), RuntimeError, "size is -1 but must be >= 0"),
    (lambda lib: _ones(lib, 2, 3).split_with_sizes([1, 1], 1), RuntimeError, "sum exactly to 3"),
    (lambda lib: lib.hsplit(_ones(lib, 2, 3), 2), RuntimeError, "not divisible by the split_size 2"),
    (lambda lib: lib.vsplit(_ones(lib, 6), 2), RuntimeError, "at least 2 dimension"),
    (lambda lib: lib.dsplit(_ones(lib, 2, 2), 2), RuntimeError, "at least 3 dimension"),
    (lambda lib: _ones(lib, 2, 3, 4).sum_to_size(2, 1), RuntimeError, r"is not expandable to size"),
    (lambda lib: lib.take(_ones(lib, 2, 3), lib.tensor([6])), IndexError, "tried to access index 6"),
    (lambda lib: lib.take(_ones(lib, 2, 3), lib.tensor([1], dtype=lib.int32)), RuntimeError, "Expected a long tensor"),
    (lambda lib: _ones(lib, 2, 3).put(lib.tensor([0, 1]), _ones(lib, 3)), IndexError, "same number of elements"),
    (lambda lib: _ones(lib, 2, 3).put(lib.tensor([7]), _ones(lib, 1)), IndexError, "tried to access index 7"),
    (lambda lib: _ones(lib, 2, 3).put(lib.tensor([1]), lib.tensor([1])), RuntimeError, "same dtype"),
    (lambda lib: _ones(lib, 2, 3).index_copy(1, lib.tensor([2, 0]), _ones(lib, 2, 3)), IndexError,
     r"Number of indices \(2\) should be equal to source.size\(dim\) \(3\)"),
    (lambda lib: _ones(lib, 2, 3).index_copy(1, lib.tensor([3, 0]), _ones(lib, 2, 2)), IndexError,
     "index 3 is out of bounds for dimension 1 with size 3"),
    (lambda lib: _ones(lib, 2, 3).index_copy(1, lib.tensor([[2, 0]]), _ones(lib, 2, 2)), IndexError,
     "Index should have dimension 1 or 0"),
    (lambda lib: _ones(lib, 2, 3).index_copy(1, lib.tensor([2, 0]), _ones(lib, 3, 2)), RuntimeError,
     "must have same slice shapes"),
    (lambda lib: _ones(lib, 2, 3).index_copy(1, lib.tensor([2, 0]), _ones(lib, 2, 2, dtype=lib.float64)),
     RuntimeError, "expected to have the same dtype"),
    (lambda lib: _ones(lib, 2, 3).index_copy(0, lib.tensor(1), _ones(lib, 3)), IndexError, "dimensionality must match"),
    (lambda lib: _ones(lib, 2, 3).index_put((lib.tensor([0]),), _ones(lib, 3, dtype=lib.float64)), RuntimeError,
     "dtypes match"),
    (lambda lib: _ones(lib, 2, 3).index_put((lib.tensor([0.0]),), _ones(lib, 3)), IndexError,
     "tensors used as indices must be long, int, byte or bool tensors"),
    (lambda lib: _ones(lib, 2, 3).index_put((lib.tensor([0, 1, 0]), lib.tensor([0, 1])), _ones(lib, 1)), IndexError,
     "shape mismatch: indexing tensors could not be broadcast together"),
    (lambda lib: _ones(lib, 2, 3).index_put((lib.tensor([0]),) * 3, _ones(lib, 1)), IndexError, "too many indices"),
    (lambda lib: _ones(lib, 2, 3).index_put((lib.tensor([5]),), _ones(lib, 1)), IndexError,
     "index 5 is out of bounds for dimension 0 with size 2"),
    (lambda lib: _ones(lib, 2, 3).index_put((lib.tensor([True, False, True]),), _ones(lib, 1)), IndexError,
     r"The shape of the mask \[3\] at index 0 does not match"),
    (lambda lib: _ones(lib, 2, 3).index_put((lib.tensor([0, 1]),), _ones(lib, 2)), RuntimeError,
     "cannot be broadcast to indexing result of shape"),
    (lambda lib: _ones(lib, 2, 3).index_put(lib.tensor([1]), _ones(lib, 1)), TypeError, "must be tuple of Tensors"),
    (lambda lib: _ones(lib, 2, 3).masked_scatter(_ones(lib, 2, 3) > 0, _ones(lib, 2)), RuntimeError,
     "ones in mask"),
    (lambda lib: _ones(lib, 2, 3).masked_scatter(_ones(lib, 2, 3, dtype=lib.int32), _ones(lib, 6)), RuntimeError,
     "only supports boolean masks"),
    (lambda lib: _ones(lib, 2, 3).masked_scatter(_ones(lib, 2, 3) > 0, lib.arange(6)), RuntimeError,
     "same dtypes"),
    (lambda lib: _ones(lib, 2, 3).scatter_reduce(1, lib.tensor([[0]]), _ones(lib, 2, 3), "add"), RuntimeError,
     "reduce argument must be either sum, prod, mean, amax or amin"),
    (lambda lib: _ones(lib, 2, 3).scatter_reduce(1, lib.tensor([[3]]), _ones(lib, 2, 3), "sum"), RuntimeError,
     "index 3 is out of bounds for dimension 1 with size 3"),
    (lambda lib: _ones(lib, 2, 3).scatter_reduce(1, lib.tensor([[0.0]]), _ones(lib, 2, 3), "sum"), RuntimeError,
     "int32/int64 for index"),
    (lambda lib: _ones(lib, 2, 3).scatter_reduce(1, lib.tensor([0]), _ones(lib, 2, 3), "sum"), RuntimeError,
     "same number of dimensions"),
    (lambda lib: _ones(lib, 2, 3).scatter_reduce(1, lib.tensor([[0]]), _ones(lib, 2, 3, dtype=lib.float64), "sum"),
     RuntimeError, "Expected self.dtype to be equal to src.dtype"),
    (lambda lib: _ones(lib, 2, 3).index_reduce(1, lib.tensor([0, 0]), _ones(lib, 2, 2), "sum"), RuntimeError,
     "Expected reduce to be one of prod, mean, amax or amin"),
    (lambda lib: _ones(lib, 2, 3).index_reduce(1, lib.tensor([0, 0]), _ones(lib, 2, 3), "amax"), RuntimeError,
     r"Number of indices \(2\) should be equal to source.size\(dim\)"),
    (lambda lib: _ones(lib, 2, 3).index_reduce(1, lib.tensor([0, 5]), _ones(lib, 2, 2), "amax"), IndexError, "5"),
    (lambda lib: _ones(lib, 2, 3).index_reduce(1, lib.tensor([[0, 1]]), _ones(lib, 2, 2), "amax"), IndexError,
     "Index is supposed to be a vector"),
    (lambda lib: _ones(lib, 2, 3).index_reduce(1, lib.tensor([0, 1]), _ones(lib, 2, 2, dtype=lib.float64), "amax"),
     RuntimeError, "must have the same scalar type"),
    (lambda lib: _ones(lib, 2, 3).diagonal_scatter(_ones(lib, 3), 0), RuntimeError,
     r"src size = \[3\], slice size = \[2\]"),
    (lambda lib: _ones(lib, 2, 3).select_scatter(_ones(lib, 3), 1, 0), RuntimeError, "expected src to have a size"),
    (lambda lib: _ones(lib, 2, 3).select_scatter(_ones(lib, 2), 1, 5), IndexError, "index 5 out of range"),
    (lambda lib: _ones(lib, 2, 5).slice_scatter(_ones(lib, 2, 3), 1, 1, None, 2), RuntimeError,
     r"src size = \[2, 3\], slice size = \[2, 2\]"),
    (lambda lib: _ones(lib, 2, 5).slice_scatter(_ones(lib, 2, 2), 1, 0, 2, 0), RuntimeError, "slice step must be"),
    (lambda lib: _ones(lib, 3).fill_diagonal_(1.0), RuntimeError, "dimensions must larger than 1"),
    (lambda lib: _ones(lib, 2, 2, 3).fill_diagonal_(1.0), RuntimeError, "all dimensions of input must be of equal"),
    (lambda lib: _ones(lib, 2, 3, 4).t_(), RuntimeError, r"t_\(\) expects a tensor with <= 2 dimensions"),
    (lambda lib: lib.unravel_index(lib.tensor([1.0]), (2, 3)), TypeError, "expected 'indices' to be integer dtype"),
    (lambda lib: lib.unravel_index(lib.tensor([1]), (2, -3)), ValueError, "'shape' cannot have negative values"),
    (lambda lib: lib.isin(1, 2), TypeError, "isin"),
    (lambda lib: lib.histogram(lib.tensor([1, 2]), 2), NotImplementedError, "not implemented for"),
    (lambda lib: lib.histogram(lib.tensor([1.0, 2.0]), -1), RuntimeError, "bins must be > 0"),
    (lambda lib: lib.histogram(lib.tensor([1.0, 2.0]), 2, range=(3.0, 1.0)), RuntimeError,
     "min should not exceed max"),
    (lambda lib: lib.histogram(lib.tensor([1.0, math.nan]), 2), RuntimeError, "is not finite"),
    (lambda lib: lib.histogram(lib.tensor([1.0, 2.0]), lib.tensor([0.0, 1.0], dtype=lib.float64)), RuntimeError,
     "should have the same dtype"),
    (lambda lib: lib.histogram(lib.tensor([1.0, 2.0]), lib.tensor([[0.0, 1.0]])), RuntimeError,
     "bins tensor should have one dimension"),
    (lambda lib: lib.histogram(lib.tensor([1.0, 2.0, 1.0]), 2, weight=lib.tensor([1.0, 2.0])), RuntimeError,
     "weight"),
]


@pytest.mark.parametrize("call, error, message", ERRORS, ids=[f"error{i}" for i in range(len(ERRORS))])
def test_bad_input_raises_what_torch_raises(call, error, message):
    assert_raises_like_torch(call, error, message)


# ---------------------------------------------------------------- on a GPU

@pytest.mark.cuda
def test_scatter_and_index_ops_on_cuda_match_cpu():
    """The CuPy paths (cupyx scatters, the host round trip of the scattered product) give the CPU's results."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((3, 5)), rng.standard_normal((3, 5))
    index = np.array([[0, 0, 4, 1, 1], [2, 2, 2, 0, 3], [1, 4, 4, 4, 0]])
    results = {}
    for device in ("cpu", "cuda"):
        x = trainer.tensor(a, device=device, requires_grad=True)
        y = trainer.tensor(b, device=device, requires_grad=True)
        idx = trainer.tensor(index, device=device)
        outs = [x.scatter_reduce(1, idx, y, reduce, include_self=s)
                for reduce in ("sum", "prod", "mean", "amax", "amin") for s in (True, False)]
        outs += [x.index_put((idx[0, :2], idx[1, :2]), y[0, :2], accumulate=True), x.masked_scatter(x > 0, y),
                 x.unfold(1, 2, 1), x.take(idx), x.diagonal_scatter(y[0, :3]), x.diag_embed(1)]
        sum(o.sum() for o in outs).backward()
        counts = [trainer.unique_consecutive(idx.reshape(-1), return_counts=True)[1],
                  trainer.isin(idx, trainer.tensor([0, 4], device=device)),
                  trainer.histogram(x.detach(), 4).hist]
        results[device] = [t.detach().cpu().numpy() for t in (*outs, *counts, x.grad, y.grad)]
    for cpu, cuda in zip(results["cpu"], results["cuda"]):
        np.testing.assert_allclose(cuda, cpu, rtol=1e-10, atol=1e-12)
