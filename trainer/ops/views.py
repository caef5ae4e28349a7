"""More shape functions: tile, ravel, swapaxes/swapdims, unflatten, ``Tensor.unfold`` (sliding windows),
split_with_sizes, hsplit/vsplit/dsplit, dstack and sum_to_size.

All but ``unfold`` are compositions of the core shape, join and reduction ops, so they are differentiable
and export wherever those do; ``unfold`` is one op (``UnfoldDim``) that copies its windows out.
"""

from __future__ import annotations

from trainer.autograd.higher_order import linear_backward
from trainer.autograd.op import Function
from trainer.backend import xp_of
from trainer.ops._operands import normalize_dim
from trainer.ops.join import cat, split
from trainer.ops.reduce import sum as reduce_sum
from trainer.ops.shape import _infer_shape, _shape_args, atleast_3d, repeat, reshape, tensor_split, transpose


class UnfoldDim(Function):
    """``Tensor.unfold(dimension, size, step)``: every window of ``size`` elements along ``axis``, ``step`` apart;
    the window count replaces ``axis`` and the window's elements become a new last dim."""

    @staticmethod
    def forward(ctx, a, axis, size, step):
        xp = xp_of(a)
        count = (a.shape[axis] - size) // step + 1
        ctx.meta = a.shape, axis, size, step, count
        positions = xp.arange(count)[:, None] * step + xp.arange(size)[None, :]
        return xp.moveaxis(xp.take(a, positions, axis=axis), axis + 1, -1)

    @staticmethod
    def backward(ctx, g):
        shape, axis, size, step, count = ctx.meta
        xp = xp_of(g)
        out = xp.zeros(shape, g.dtype)
        lead = (slice(None),) * axis
        # one strided slice per position inside the window (a small static count), not one per element
        for k in range(size):
            out[lead + (slice(k, k + step * (count - 1) + 1, step),)] += g[..., k]
        return out

    @staticmethod
    def backward_graph(ctx, g):
        _, axis, size, step, _ = ctx.meta
        return linear_backward(ctx, g, lambda v: UnfoldDim.forward(UnfoldDim.__new__(UnfoldDim), v, axis, size, step))


def tile(a, dims):
    """``repeat`` with ``dims`` padded by leading ones up to ``a``'s rank (NumPy's tile)."""
    dims = tuple(int(d) for d in (dims if isinstance(dims, (tuple, list)) else (dims,)))
    return repeat(a, *((1,) * (a.ndim - len(dims)) + dims))


def ravel(a):
    return reshape(a, -1)


def swapaxes(a, axis0, axis1):
    return transpose(a, axis0, axis1)


swapdims = swapaxes


def unflatten(a, dim, sizes):
    """Dim ``dim`` split into ``sizes`` (one of which may be -1)."""
    axis = normalize_dim(dim, a.ndim)
    sizes = tuple(int(s) for s in sizes)
    if not sizes:
        raise RuntimeError("unflatten: sizes must be non-empty")
    length = a.shape[axis]
    try:
        _infer_shape(sizes, length)
    except RuntimeError:
        raise RuntimeError(f"unflatten: Provided sizes {list(sizes)} don't multiply up to the size of dim {axis} "
                           f"({length}) in the input tensor") from None
    # the other dims are taken from the tensor, so a size read while tracing stays tied to it
    return reshape(a, *a.shape[:axis], *sizes, *a.shape[axis + 1:])


def unfold(a, dimension, size, step):
    """``Tensor.unfold``: the windows of ``size`` elements, ``step`` apart, along ``dimension``."""
    axis = normalize_dim(dimension, a.ndim)
    length = a.shape[axis] if a.ndim else 1
    if size < 0:
        raise RuntimeError(f"size is {size} but must be >= 0")
    if size > length:
        raise RuntimeError(f"maximum size for tensor at dimension {axis} is {length} but size is {size}")
    if step <= 0:
        raise RuntimeError(f"step is {step} but must be > 0")
    if a.ndim == 0:  # a 0-d tensor is read as one element: one window of it, or an empty one of size 0
        return reshape(a, 1) if size else reshape(a, 1)[:0]
    return UnfoldDim.apply(a, axis=axis, size=int(size), step=int(step))


def split_with_sizes(a, split_sizes, dim=0):
    return split(a, [int(s) for s in split_sizes], dim)


def _split_by(op, a, sections, dim, min_dims):
    """``hsplit``/``vsplit``/``dsplit``: equal parts (which must divide the dim exactly) or cuts at indices."""
    if a.ndim < min_dims:
        raise RuntimeError(f"torch.{op} requires a tensor with at least {min_dims} dimension, but got a tensor with "
                           f"{a.ndim} dimensions!")
    if isinstance(sections, int):
        length = a.shape[dim]
        if sections <= 0 or length % sections:
            raise RuntimeError(f"torch.{op} attempted to split along dimension {dim}, but the size of the dimension "
                               f"{length} is not divisible by the split_size {sections}!")
    return tensor_split(a, sections, dim)


def hsplit(a, indices_or_sections):
    return _split_by("hsplit", a, indices_or_sections, 0 if a.ndim == 1 else 1, 1)


def vsplit(a, indices_or_sections):
    return _split_by("vsplit", a, indices_or_sections, 0, 2)


def dsplit(a, indices_or_sections):
    return _split_by("dsplit", a, indices_or_sections, 2, 3)


def dstack(tensors):
    """Concatenate along the third dim, each tensor first lifted to at least three dims."""
    if not tensors:
        raise RuntimeError("dstack expects a non-empty TensorList")
    lifted = atleast_3d(*tensors)
    return cat(list(lifted) if isinstance(lifted, tuple) else [lifted], 2)


def sum_to_size(a, *size):
    """Sum over the dims that broadcasting ``size`` up to ``a``'s shape would have stretched or added."""
    size = tuple(int(s) for s in _shape_args(size))
    shape = tuple(a.shape)
    lead = len(shape) - len(size)
    if lead < 0 or any(s != 1 and s != n for s, n in zip(size, shape[lead:])):
        raise RuntimeError(f"size {{{list(size)}}} is not expandable to size {{{list(shape)}}}.")
    axes = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(size) if s == 1 and shape[lead + i] != 1)
    if not axes:
        return a
    return reshape(reduce_sum(a, axes, keepdim=True), *size)
