"""PyTorch's ``*_copy`` functions (``torch.transpose_copy``, ``torch.narrow_copy``, ...): the result of a view op
as a new contiguous tensor that shares no memory with the input.

Each is the view op followed by a differentiable contiguous clone (``copy_of``), so gradients, higher-order
gradients and ONNX export come from the view op and ``clone`` themselves.
"""

from __future__ import annotations

import functools

from trainer.memory_formats import contiguous_format
from trainer.ops import shape
from trainer.ops._operands import normalize_dim
from trainer.ops.as_strided import as_strided
from trainer.ops.complex_ops import view_as_complex, view_as_real
from trainer.ops.join import split
from trainer.ops.views import split_with_sizes, unfold
from trainer.sparse_tensor import requires_sparse


def _fresh(result):
    """A contiguous copy of a tensor, or of each tensor of a tuple (the split and unbind views)."""
    if isinstance(result, (tuple, list)):
        return tuple(t.clone(memory_format=contiguous_format) for t in result)
    return result.clone(memory_format=contiguous_format)


def copy_of(view, name: str):
    """The ``name`` function: ``view``'s arguments, ``view``'s values, in memory of its own."""

    @functools.wraps(view)
    def view_copy(*args, **kwargs):
        return _fresh(view(*args, **kwargs))

    view_copy.__name__ = view_copy.__qualname__ = name
    return view_copy


def _alias(input):
    return input


def _detach(input):
    return input.detach()


def _expand(input, size, *, implicit=False):
    """``implicit`` only marks expansions PyTorch's tracer inserted; it does not change the values."""
    return shape.expand(input, *size)


def _permute(input, dims):
    return shape.permute(input, *dims)


def _slice(input, dim=0, start=None, end=None, step=1):
    axis = normalize_dim(dim, input.ndim)
    if step <= 0:
        raise RuntimeError("slice step must be positive")
    return input[(slice(None),) * axis + (slice(start, end, step),)]


def _view(input, size):
    """PyTorch's ``view_copy`` reshapes: a layout that ``view`` refuses is copied rather than an error."""
    return shape.reshape(input, *size)


def _indices(input):
    return requires_sparse(input, "indices_copy").indices()


def _values(input):
    return requires_sparse(input, "values_copy").values()


alias_copy = copy_of(_alias, "alias_copy")
as_strided_copy = copy_of(as_strided, "as_strided_copy")
detach_copy = copy_of(_detach, "detach_copy")
diagonal_copy = copy_of(shape.diagonal, "diagonal_copy")
expand_copy = copy_of(_expand, "expand_copy")
indices_copy = copy_of(_indices, "indices_copy")
narrow_copy = copy_of(shape.narrow, "narrow_copy")
permute_copy = copy_of(_permute, "permute_copy")
select_copy = copy_of(shape.select, "select_copy")
slice_copy = copy_of(_slice, "slice_copy")
split_copy = copy_of(split, "split_copy")
split_with_sizes_copy = copy_of(split_with_sizes, "split_with_sizes_copy")
squeeze_copy = copy_of(shape.squeeze, "squeeze_copy")
t_copy = copy_of(shape.t, "t_copy")
transpose_copy = copy_of(shape.transpose, "transpose_copy")
unbind_copy = copy_of(shape.unbind, "unbind_copy")
unfold_copy = copy_of(unfold, "unfold_copy")
unsqueeze_copy = copy_of(shape.unsqueeze, "unsqueeze_copy")
values_copy = copy_of(_values, "values_copy")
view_as_complex_copy = copy_of(view_as_complex, "view_as_complex_copy")
view_as_real_copy = copy_of(view_as_real, "view_as_real_copy")
view_copy = copy_of(_view, "view_copy")
