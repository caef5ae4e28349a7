"""Writing a whole region into a copy of a tensor: slice_scatter, select_scatter, diagonal_scatter, diag_embed
(a diagonal written into zeros) and the diagonal mask of ``fill_diagonal_``.

Each is the inverse of a view op (``a[..., start:stop:step]``, ``select``, ``diagonal``): the gradient of the
source is that view of the output gradient, and the region written over gets no gradient from ``a``.
"""

from __future__ import annotations

from trainer.autograd.op import Function
from trainer.backend import xp_of
from trainer.ops._operands import normalize_dim
from trainer.ops.indexing import IndexPut, masked_fill
from trainer.ops.shape import _diagonal_indices, diagonal, unsqueeze
from trainer.tensor import Tensor


class SliceScatter(IndexPut):
    """``out = a.clone(); out[..., start:stop:step, ...] = src`` along ``axis``: ``IndexPut`` with a slice for a key
    (its backward too), an op of its own so that export writes a Slice whose negative ``start`` counts from the
    end at run time."""

    @staticmethod
    def forward(ctx, a, src, axis, start, stop, step):
        return IndexPut.forward(ctx, a, src, (slice(None),) * axis + (slice(start, stop, step),))


def _diagonal_view(xp, a, offset, dim1, dim2):
    """``a`` with ``dim1``/``dim2`` moved last (a view), and the row and column indices of its diagonal."""
    moved = xp.moveaxis(a, (dim1, dim2), (-2, -1))
    rows, cols = _diagonal_indices(xp, moved.shape[-2], moved.shape[-1], offset)
    return moved, rows, cols


class DiagonalScatter(Function):
    """``out = a.clone(); out.diagonal(offset, dim1, dim2)[...] = src``."""

    @staticmethod
    def forward(ctx, a, src, offset, dim1, dim2):
        xp = xp_of(a)
        out = a.copy()
        moved, rows, cols = _diagonal_view(xp, out, offset, dim1, dim2)
        moved[..., rows, cols] = src
        ctx.meta = offset, dim1, dim2
        return out

    @staticmethod
    def backward(ctx, g):
        xp = xp_of(g)
        ga = g.copy()
        moved, rows, cols = _diagonal_view(xp, ga, *ctx.meta)
        gs = moved[..., rows, cols].copy()
        moved[..., rows, cols] = 0
        return ga, gs

    @staticmethod
    def backward_graph(ctx, g):
        # linear: the same two maps, written with differentiable ops (this op with a zero source, and a diagonal)
        offset, dim1, dim2 = ctx.meta
        need_a, need_src = ctx.needs_input_grad
        gs = diagonal(g, offset, dim1, dim2)
        ga = DiagonalScatter.apply(g, g.new_zeros(gs.shape), offset=offset, dim1=dim1, dim2=dim2) if need_a else None
        return ga, (gs if need_src else None)


class DiagEmbed(Function):
    """Each vector along ``v``'s last dim as the ``offset``-th diagonal of a matrix of zeros whose two dims are
    ``dim1`` and ``dim2`` of the output."""

    @staticmethod
    def forward(ctx, v, offset, dim1, dim2):
        xp = xp_of(v)
        n = v.shape[-1] + abs(offset)
        out = xp.zeros(v.shape[:-1] + (n, n), v.dtype)
        rows, cols = _diagonal_indices(xp, n, n, offset)
        out[..., rows, cols] = v
        ctx.meta = offset, dim1, dim2
        return xp.moveaxis(out, (-2, -1), (dim1, dim2))

    @staticmethod
    def backward(ctx, g):
        moved, rows, cols = _diagonal_view(xp_of(g), g, *ctx.meta)
        return moved[..., rows, cols]

    @staticmethod
    def backward_graph(ctx, g):
        return diagonal(g, *ctx.meta)


def _slice_bounds(size, start, end, step):
    """PyTorch's slice clamping: None and out-of-range bounds pulled into [0, size]; a negative start is kept
    negative (it counts from the end) when it lies inside the dim."""
    if step <= 0:
        raise RuntimeError("slice step must be positive")
    start = 0 if start is None else int(start)
    end = size if end is None else int(end)
    first = min(max(start + size if start < 0 else start, 0), size)
    last = min(max(end + size if end < 0 else end, 0), size)
    count = len(range(first, max(first, last), step))
    return (start if -size <= start < 0 else first), last, count


def _check_region(src, expected):
    if tuple(src.shape) != tuple(expected):
        raise RuntimeError(f"expected src to have a size equal to the slice of self. src size = {list(src.shape)}, "
                           f"slice size = {list(expected)}")


def slice_scatter(a, src, dim=0, start=None, end=None, step=1):
    """``a`` with ``a[..., start:end:step, ...]`` (along ``dim``) replaced by ``src``."""
    axis = normalize_dim(dim, a.ndim)
    begin, last, count = _slice_bounds(a.shape[axis], start, end, step)
    _check_region(src, (*a.shape[:axis], count, *a.shape[axis + 1:]))
    return SliceScatter.apply(a, src.to(a.dtype), axis=axis, start=begin, stop=last, step=int(step))


def select_scatter(a, src, dim, index):
    """``a`` with ``a.select(dim, index)`` replaced by ``src``."""
    axis = normalize_dim(dim, a.ndim)
    size = a.shape[axis]
    if not -size <= index < size:
        raise IndexError(f"select(): index {index} out of range for tensor of size {list(a.shape)} at dimension "
                         f"{axis}")
    _check_region(src, (*a.shape[:axis], *a.shape[axis + 1:]))
    index = int(index)
    return SliceScatter.apply(a, unsqueeze(src.to(a.dtype), axis), axis=axis, start=index,
                              stop=None if index == -1 else index + 1, step=1)


def diagonal_scatter(a, src, offset=0, dim1=0, dim2=1):
    """``a`` with its ``offset``-th diagonal over ``dim1``/``dim2`` replaced by ``src``."""
    d1, d2 = normalize_dim(dim1, a.ndim), normalize_dim(dim2, a.ndim)
    if a.ndim < 2:
        raise RuntimeError(f"diagonal(): input must have at least 2 dimensions, got {a.ndim}")
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    offset = int(offset)
    length = max(min(a.shape[d1] + min(offset, 0), a.shape[d2] - max(offset, 0)), 0)
    _check_region(src, [n for d, n in enumerate(a.shape) if d not in (d1, d2)] + [length])
    return DiagonalScatter.apply(a, src.to(a.dtype), offset=offset, dim1=d1, dim2=d2)


def diag_embed(a, offset=0, dim1=-2, dim2=-1):
    """Matrices (over output dims ``dim1``, ``dim2``) whose ``offset``-th diagonals are ``a``'s last dim."""
    out_ndim = a.ndim + 1
    d1, d2 = normalize_dim(dim1, out_ndim), normalize_dim(dim2, out_ndim)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    return DiagEmbed.apply(a, offset=int(offset), dim1=d1, dim2=d2)


def diagonal_mask(a, wrap=False):
    """A boolean tensor that is set on ``fill_diagonal_``'s diagonal: positions (i, i, ..., i); for a tall matrix
    with ``wrap``, the diagonal starts over every ``columns + 1`` rows, as in NumPy's fill_diagonal."""
    if a.ndim < 2:
        raise RuntimeError("dimensions must larger than 1")
    if a.ndim > 2 and len(set(a.shape)) != 1:
        raise RuntimeError("all dimensions of input must be of equal length")
    xp = xp_of(a._data)
    rows, cols = a.shape[0], a.shape[1]
    contiguous_strides = [1]
    for n in reversed(a.shape[1:]):
        contiguous_strides.insert(0, contiguous_strides[0] * n)
    step = sum(contiguous_strides)
    count = -(-a.numel() // step) if wrap and a.ndim == 2 and rows > cols + 1 else min(rows, cols)
    mask = xp.zeros(a.numel(), bool)
    mask[xp.arange(count) * step] = True
    return Tensor._wrap(mask.reshape(a.shape))


def fill_diagonal(a, fill_value, wrap=False):
    """``a`` with ``fill_diagonal_``'s diagonal set to ``fill_value`` (out of place)."""
    return masked_fill(a, diagonal_mask(a, wrap), fill_value)
