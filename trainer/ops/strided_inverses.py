"""The inverses of strided views: ``as_strided_scatter`` (``src`` written where ``input.as_strided(...)`` would
read, in a copy of ``input``) and ``slice_inverse`` (a slice's storage seen with the geometry of ``src``, the
tensor the slice was taken from).

``as_strided_scatter`` is a composition of trainer's differentiable ops (``clone``, ``as_strided``, an in-place
``copy_`` through a view). ``slice_inverse`` is a view of the slice's storage, differentiated as PyTorch does: as if
its value were ``src`` with the slice's region taken from the slice (the slice gets the gradient of its region,
``src`` the rest).
"""

from __future__ import annotations

from trainer.autograd.op import Function
from trainer.backend import xp_of
from trainer.ops._operands import normalize_dim
from trainer.ops.as_strided import as_strided, check_geometry, storage_of
from trainer.ops.region_scatter import _slice_bounds, slice_scatter


def as_strided_scatter(input, src, size, stride, storage_offset=None):
    """A copy of ``input`` (fresh storage) with ``src`` embedded at the elements
    ``input.as_strided(size, stride, storage_offset)`` covers; ``src`` must have that view's shape."""
    output = input.clone()
    region = as_strided(output, size, stride, storage_offset)
    if tuple(region.shape) != tuple(src.shape):
        raise RuntimeError(f"expected src to have a size equal to the slice of self. src size = {list(src.shape)}, "
                           f"slice size = {list(region.shape)}")
    region.copy_(src)
    return output


class SliceInverse(Function):
    @staticmethod
    def forward(ctx, a, src, size, stride, offset, axis, start, stop, step):
        flat, _ = storage_of(a)
        check_geometry(size, stride, offset, flat.size)
        ctx.region = axis, start, stop, step
        return xp_of(a).lib.stride_tricks.as_strided(flat[offset:], size, tuple(s * a.itemsize for s in stride))

    @staticmethod
    def backward(ctx, g):
        axis, start, stop, step = ctx.region
        key = (slice(None),) * axis + (slice(start, stop, step),)
        g_src = g.copy()
        g_src[key] = 0
        return g[key], g_src

    @staticmethod
    def backward_graph(ctx, g):
        axis, start, stop, step = ctx.region
        g_slice = g[(slice(None),) * axis + (slice(start, stop, step),)]
        return g_slice, slice_scatter(g, g_slice.new_zeros(g_slice.shape), axis, start, stop, step)


def slice_inverse(input, src, dim=0, start=None, end=None, step=1):
    """``input``, the slice ``src[..., start:end:step, ...]`` along ``dim``, viewed with ``src``'s sizes, strides and
    storage offset (PyTorch's ``slice_inverse``, which functionalization uses to undo a slice)."""
    axis = normalize_dim(dim, src.ndim)
    begin, last, _ = _slice_bounds(src.shape[axis], start, end, step)
    out = SliceInverse.apply(input, src, size=tuple(src.shape), stride=tuple(src.stride()),
                             offset=src.storage_offset(), axis=axis, start=begin, stop=last, step=int(step))
    return out._mark_view_of(input)
