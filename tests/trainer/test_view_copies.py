"""The ``*_copy`` view-copy functions, the ``unsafe_*`` splits, ``empty_permuted``, ``Tensor.new_empty_strided``,
``nonzero_static`` and ``Tensor.dim_order`` against PyTorch."""

import numpy as np
import pytest
import torch

import trainer
from tests.trainer.test_ops_parity import assert_forward_and_gradients_match_torch, assert_raises_like_torch

SHAPE = (2, 3, 4)

COPIES = [
    ("alias_copy", lambda lib, a: lib.alias_copy(a)),
    ("as_strided_copy", lambda lib, a: lib.as_strided_copy(a, (3, 2), (1, 4), 2)),
    ("diagonal_copy", lambda lib, a: lib.diagonal_copy(a, 1, 1, 2)),
    ("expand_copy", lambda lib, a: lib.expand_copy(a[:, :1], (2, 5, 4))),
    ("expand_copy_implicit", lambda lib, a: lib.expand_copy(a[:1], [3, 3, 4], implicit=True)),
    ("narrow_copy", lambda lib, a: lib.narrow_copy(a, 2, -3, 2)),
    ("Tensor.narrow_copy", lambda lib, a: a.narrow_copy(1, 1, 2)),
    ("permute_copy", lambda lib, a: lib.permute_copy(a, (2, 0, 1))),
    ("select_copy", lambda lib, a: lib.select_copy(a, 1, -1)),
    ("slice_copy", lambda lib, a: lib.slice_copy(a, 2, 1, None, 2)),
    ("slice_copy_defaults", lambda lib, a: lib.slice_copy(a)),
    ("slice_copy_clamped", lambda lib, a: lib.slice_copy(a, -1, -3, 100)),
    ("split_copy", lambda lib, a: lib.split_copy(a, 3, 2)),
    ("split_with_sizes_copy", lambda lib, a: lib.split_with_sizes_copy(a, [1, 2], 1)),
    ("squeeze_copy", lambda lib, a: lib.squeeze_copy(a[:, :1, :1], (1, 2))),
    ("squeeze_copy_all", lambda lib, a: lib.squeeze_copy(a[:1])),
    ("t_copy", lambda lib, a: lib.t_copy(a[0])),
    ("transpose_copy", lambda lib, a: lib.transpose_copy(a, 0, 2)),
    ("unbind_copy", lambda lib, a: lib.unbind_copy(a, 1)),
    ("unfold_copy", lambda lib, a: lib.unfold_copy(a, 2, 2, 1)),
    ("unsqueeze_copy", lambda lib, a: lib.unsqueeze_copy(a, -1)),
    ("view_copy", lambda lib, a: lib.view_copy(a, (4, -1))),
    ("view_copy_of_a_transpose", lambda lib, a: lib.view_copy(a.transpose(0, 2), [24])),
    ("view_as_real_copy", lambda lib, a: lib.view_as_real_copy(lib.view_as_complex(a.reshape(2, 6, 2)))),
    ("unsafe_split", lambda lib, a: lib.unsafe_split(a, 2, 1)),
    ("unsafe_split_with_sizes", lambda lib, a: lib.unsafe_split_with_sizes(a, [3, 1], -1)),
    ("unsafe_chunk", lambda lib, a: lib.unsafe_chunk(a, 3, 2)),
    ("Tensor.unsafe_split", lambda lib, a: a.unsafe_split(1)),
    ("Tensor.unsafe_split_with_sizes", lambda lib, a: a.unsafe_split_with_sizes([2, 1], 1)),
    ("Tensor.unsafe_chunk", lambda lib, a: a.unsafe_chunk(2, -1)),
]


def _input():
    return np.random.default_rng(0).standard_normal(SHAPE)


@pytest.mark.parametrize("name,call", COPIES, ids=[name for name, _ in COPIES])
def test_values_and_gradients_match_torch(name, call):
    assert_forward_and_gradients_match_torch(call, [_input()])


def _outputs(result):
    return result if isinstance(result, tuple) else (result,)


@pytest.mark.parametrize("name,call", [c for c in COPIES if "unsafe" not in c[0]],
                         ids=[name for name, _ in COPIES if "unsafe" not in name])
def test_copies_are_contiguous_and_share_no_memory(name, call):
    x = trainer.tensor(_input())
    theirs = _outputs(call(torch, torch.tensor(_input())))
    for ours, t in zip(_outputs(call(trainer, x)), theirs):
        assert ours.is_contiguous() and ours.stride() == t.stride()
        assert not np.shares_memory(ours._data, x._data)


def test_writing_into_a_copy_leaves_the_input_alone():
    x = trainer.zeros(2, 3)
    y = trainer.transpose_copy(x, 0, 1)
    y.add_(1)
    assert x.sum().item() == 0 and y.sum().item() == 6


def _sparse(lib):
    return lib.sparse_coo_tensor([[0, 1, 1], [2, 0, 2]], [3.0, 4.0, 5.0], (2, 3)).coalesce()


def test_sparse_indices_and_values_copies_are_copies_of_indices_and_values():
    """PyTorch's CPU build has no sparse kernel for these (NotImplementedError); the reference is what they are
    defined as, ``indices().clone()`` and ``values().clone()``."""
    ours, theirs = _sparse(trainer), _sparse(torch)
    assert trainer.indices_copy(ours).tolist() == theirs.indices().clone().tolist()
    assert trainer.values_copy(ours).tolist() == theirs.values().clone().tolist()
    with pytest.raises(RuntimeError, match="values_copy: expected a sparse COO tensor"):
        trainer.values_copy(trainer.ones(2))
    assert not np.shares_memory(trainer.values_copy(ours)._data, ours._values()._data)


@pytest.mark.parametrize("call,error,message", [
    (lambda lib: lib.slice_copy(lib.ones(3), 0, 0, 3, 0), RuntimeError, "slice step must be positive"),
    (lambda lib: lib.slice_copy(lib.ones(3, 2), 2), IndexError, "Dimension out of range"),
    (lambda lib: lib.narrow_copy(lib.ones(2, 3), 0, 1, 5), RuntimeError, r"start \(1\) \+ length \(5\) exceeds"),
    (lambda lib: lib.view_copy(lib.ones(2, 3), (7,)), RuntimeError, r"shape '\[7\]' is invalid for input of size 6"),
    (lambda lib: lib.select_copy(lib.ones(2, 3), 1, 3), IndexError, "out of range"),
])
def test_bad_arguments_raise_like_torch(call, error, message):
    assert_raises_like_torch(call, error, message)


def test_detach_copy_is_a_detached_copy():
    """PyTorch marks ``detach_copy``'s result as requiring grad (with a grad_fn that cannot run); trainer's is
    detached, as the name says."""
    x = trainer.tensor(_input(), requires_grad=True)
    y = trainer.detach_copy(x)
    assert not y.requires_grad and y.grad_fn is None and y.is_contiguous()
    assert y.tolist() == torch.detach_copy(torch.tensor(_input())).tolist()
    assert not np.shares_memory(y._data, x._data)


def test_view_as_complex_copy_matches_torch():
    """Values only: PyTorch does not differentiate it (complex output); trainer does, through view_as_complex."""
    a = np.random.default_rng(1).standard_normal((3, 2))
    ours, theirs = trainer.view_as_complex_copy(trainer.tensor(a)), torch.view_as_complex_copy(torch.tensor(a))
    assert ours.dtype == trainer.complex128 and ours.tolist() == theirs.tolist()
    x = trainer.tensor(a, requires_grad=True)
    trainer.view_as_real(trainer.view_as_complex_copy(x)).sum().backward()
    assert x.grad.tolist() == np.ones((3, 2)).tolist()


# ----------------------------------------------------------------- layout
@pytest.mark.parametrize("size,layout", [((2, 3, 4), (0, 2, 1)), ((2, 3, 4, 5), (0, 2, 3, 1)), ((3,), (0,)),
                                         ((2, 0, 3), (2, 1, 0)), ((), ())])
def test_empty_permuted_lays_out_like_torch(size, layout):
    ours = trainer.empty_permuted(size, layout, dtype=trainer.float64, requires_grad=True)
    theirs = torch.empty_permuted(size, layout, dtype=torch.float64, requires_grad=True)
    assert tuple(ours.shape) == tuple(theirs.shape) and ours.stride() == theirs.stride()
    assert ours.dtype == trainer.float64 and ours.requires_grad and ours.is_leaf


@pytest.mark.parametrize("call,error,message", [
    (lambda lib: lib.empty_permuted((2, 3), (0, 0)), RuntimeError, "Duplicate dim not allowed"),
    (lambda lib: lib.empty_permuted((2, 3), (0,)), RuntimeError, r"len\(size\) = 2 is not equal to len\(physical"),
    (lambda lib: lib.empty_permuted((2, 3), (0, 5)), RuntimeError, "expected to be between 0 and 1, but got 5"),
    (lambda lib: lib.empty_permuted((2, 3), (0, -1)), RuntimeError, "negative dims not currently supported"),
])
def test_empty_permuted_rejects_bad_layouts_like_torch(call, error, message):
    assert_raises_like_torch(call, error, message)


def test_new_empty_strided_matches_torch():
    for lib in (torch, trainer):
        x = lib.ones(2, dtype=lib.float64)
        y = x.new_empty_strided((2, 3), (1, 2))
        assert y.stride() == (1, 2) and y.dtype == lib.float64 and not y.requires_grad
        z = x.new_empty_strided([4], [2], dtype=lib.int32, requires_grad=False)
        assert tuple(z.shape) == (4,) and z.stride() == (2,) and z.dtype == lib.int32


@pytest.mark.parametrize("data,size,fill_value", [
    ([[1, 0], [0, 3]], 4, -1), ([[1, 0], [0, 3]], 1, 7), ([[1, 0], [0, 3]], 0, -1), ([0.0, 2.5, 0.0, -1.0], 3, 9),
    ([[True, False, True]], 2, -1), (2, 2, -1), (0.0, 2, -1), ([[0, 0]], 3, 5),
])
def test_nonzero_static_matches_torch(data, size, fill_value):
    theirs = torch.nonzero_static(torch.tensor(data), size=size, fill_value=fill_value)
    ours = trainer.nonzero_static(trainer.tensor(data), size=size, fill_value=fill_value)
    assert tuple(ours.shape) == tuple(theirs.shape) and ours.dtype == trainer.int64
    assert ours.tolist() == theirs.tolist()
    assert trainer.tensor(data).nonzero_static(size=size, fill_value=fill_value).tolist() == theirs.tolist()


@pytest.mark.parametrize("call,error,message", [
    (lambda lib: lib.nonzero_static(lib.ones(2), size=-1), RuntimeError, "'size' must be an non-negative integer"),
    (lambda lib: lib.nonzero_static(lib.ones(2), size=2.0), TypeError, "argument 'size' must be int"),
])
def test_nonzero_static_rejects_bad_sizes_like_torch(call, error, message):
    assert_raises_like_torch(call, error, message)


LAYOUTS = [
    lambda lib: lib.empty(2, 3, 5, 7),
    lambda lib: lib.empty(2, 3, 5, 7).transpose(1, 2),
    lambda lib: lib.empty(2, 3, 5, 7).permute(0, 2, 3, 1),
    lambda lib: lib.empty(2, 3, 5, 7).contiguous(memory_format=lib.channels_last),
    lambda lib: lib.empty(1, 2, 3, 4),
    lambda lib: lib.empty(2, 1, 3, 1).transpose(1, 3),
    lambda lib: lib.empty(2, 1, 3, 1).transpose(0, 2),
    lambda lib: lib.empty(2, 3).expand(4, 2, 3),
    lambda lib: lib.empty(4, 6)[:, ::2],
    lambda lib: lib.empty(3, 4).t(),
    lambda lib: lib.empty(5),
    lambda lib: lib.empty(()),
    lambda lib: lib.empty_permuted((2, 3, 4), (2, 0, 1)),
]
CHECKS = [False, True, "formats", "channels_last only", "empty list"]


def _ambiguity_check(lib, kind):
    return {"formats": [lib.contiguous_format, lib.channels_last], "channels_last only": [lib.channels_last],
            "empty list": []}.get(kind, kind)


def _dim_order_or_error(lib, make, kind):
    try:
        return make(lib).dim_order(ambiguity_check=_ambiguity_check(lib, kind))
    except (RuntimeError, TypeError) as error:
        return type(error), str(error)


@pytest.mark.parametrize("kind", CHECKS)
@pytest.mark.parametrize("index", range(len(LAYOUTS)))
def test_dim_order_matches_torch(index, kind):
    make = LAYOUTS[index]
    assert _dim_order_or_error(trainer, make, kind) == _dim_order_or_error(torch, make, kind)


@pytest.mark.parametrize("bad", ["ILLEGAL", [1], (True,)])
def test_dim_order_rejects_bad_ambiguity_checks_like_torch(bad):
    assert_raises_like_torch(lambda lib: lib.empty(2, 3).dim_order(ambiguity_check=bad), TypeError,
                             "must be a bool or a list of memory formats")
