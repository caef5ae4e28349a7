"""Reductions over axes, arg-extrema, cumulative sums and products, and TopK."""

from __future__ import annotations

import numpy as np

from serving.kernels.registry import kernel


def _axes(x, axes_input, axes, noop_with_empty_axes):
    """The axes to reduce, normalised to a tuple: every axis when none are given, () for a no-op.

    ``axes`` is an attribute before opset 18 (ReduceSum: 13) and an optional input after; a kernel
    receives whichever the node uses.
    """
    if axes_input is not None:
        axes = axes_input.tolist()
    if not axes:
        return () if noop_with_empty_axes else tuple(range(x.ndim))
    for axis in axes:
        if not -x.ndim <= axis < max(x.ndim, 1):
            raise ValueError(f"reduction axis {axis} is out of range for a tensor of rank {x.ndim}")
    return tuple(sorted({axis % x.ndim for axis in axes})) if x.ndim else ()


def _reduced_shape(x, axes, keepdims):
    if keepdims:
        return tuple(1 if i in axes else n for i, n in enumerate(x.shape))
    return tuple(n for i, n in enumerate(x.shape) if i not in axes)


def _empty_reduction(xp, x, axes, keepdims, fill):
    """What a reduction over zero elements gives: ``fill`` (its identity) in the reduced shape."""
    return xp.full(_reduced_shape(x, axes, keepdims), fill, dtype=x.dtype)


def _lowest(dtype):
    if dtype == np.bool_:
        return False
    return np.iinfo(dtype).min if dtype.kind in "iu" else -np.inf


def _highest(dtype):
    if dtype == np.bool_:
        return True
    return np.iinfo(dtype).max if dtype.kind in "iu" else np.inf


@kernel("ReduceSum")
def ReduceSum(ctx, data, axes_input=None, *, axes=None, keepdims=1, noop_with_empty_axes=0):
    axes = _axes(data, axes_input, axes, noop_with_empty_axes)
    return ctx.xp.sum(data, axis=axes, keepdims=bool(keepdims), dtype=data.dtype)


@kernel("ReduceMean")
def ReduceMean(ctx, data, axes_input=None, *, axes=None, keepdims=1, noop_with_empty_axes=0):
    axes = _axes(data, axes_input, axes, noop_with_empty_axes)
    return ctx.xp.mean(data, axis=axes, keepdims=bool(keepdims)).astype(data.dtype, copy=False)


@kernel("ReduceMax")
def ReduceMax(ctx, data, axes_input=None, *, axes=None, keepdims=1, noop_with_empty_axes=0):
    axes = _axes(data, axes_input, axes, noop_with_empty_axes)
    if data.size == 0:
        return _empty_reduction(ctx.xp, data, axes, keepdims, _lowest(data.dtype))
    return ctx.xp.max(data, axis=axes, keepdims=bool(keepdims))


@kernel("ReduceMin")
def ReduceMin(ctx, data, axes_input=None, *, axes=None, keepdims=1, noop_with_empty_axes=0):
    axes = _axes(data, axes_input, axes, noop_with_empty_axes)
    if data.size == 0:
        return _empty_reduction(ctx.xp, data, axes, keepdims, _highest(data.dtype))
    return ctx.xp.min(data, axis=axes, keepdims=bool(keepdims))


@kernel("ReduceProd")
def ReduceProd(ctx, data, axes_input=None, *, axes=None, keepdims=1, noop_with_empty_axes=0):
    axes = _axes(data, axes_input, axes, noop_with_empty_axes)
    return ctx.xp.prod(data, axis=axes, keepdims=bool(keepdims), dtype=data.dtype)


@kernel("ReduceL1")
def ReduceL1(ctx, data, axes_input=None, *, axes=None, keepdims=1, noop_with_empty_axes=0):
    axes = _axes(data, axes_input, axes, noop_with_empty_axes)
    return ctx.xp.sum(ctx.xp.abs(data), axis=axes, keepdims=bool(keepdims), dtype=data.dtype)


@kernel("ReduceL2")
def ReduceL2(ctx, data, axes_input=None, *, axes=None, keepdims=1, noop_with_empty_axes=0):
    xp = ctx.xp
    axes = _axes(data, axes_input, axes, noop_with_empty_axes)
    squares = xp.sum(data * data, axis=axes, keepdims=bool(keepdims))
    return xp.sqrt(squares).astype(data.dtype, copy=False)


@kernel("ReduceSumSquare")
def ReduceSumSquare(ctx, data, axes_input=None, *, axes=None, keepdims=1, noop_with_empty_axes=0):
    axes = _axes(data, axes_input, axes, noop_with_empty_axes)
    return ctx.xp.sum(data * data, axis=axes, keepdims=bool(keepdims), dtype=data.dtype)


@kernel("ReduceLogSum")
def ReduceLogSum(ctx, data, axes_input=None, *, axes=None, keepdims=1, noop_with_empty_axes=0):
    xp = ctx.xp
    axes = _axes(data, axes_input, axes, noop_with_empty_axes)
    return xp.log(xp.sum(data, axis=axes, keepdims=bool(keepdims), dtype=data.dtype))


@kernel("ReduceLogSumExp")
def ReduceLogSumExp(ctx, data, axes_input=None, *, axes=None, keepdims=1, noop_with_empty_axes=0):
    xp = ctx.xp
    axes = _axes(data, axes_input, axes, noop_with_empty_axes)
    if data.size == 0:
        return _empty_reduction(xp, data, axes, keepdims, -np.inf)
    # Shift by the finite maximum so exp cannot overflow; infinities pass through the sum unchanged.
    peak = xp.max(xp.where(xp.isinf(data), -np.inf, data), axis=axes, keepdims=True)
    peak = xp.where(xp.isfinite(peak), peak, 0).astype(data.dtype, copy=False)
    total = xp.sum(xp.exp(data - peak), axis=axes, keepdims=True, dtype=data.dtype)
    result = xp.log(total) + peak
    return result if keepdims else result.reshape(_reduced_shape(data, axes, False))


def _arg_extreme(xp, find, data, axis, keepdims, select_last_index):
    if select_last_index:
        # The last occurrence in the data is the first in the data read backwards.
        flipped = find(xp.flip(data, axis=axis), axis=axis, keepdims=bool(keepdims))
        index = data.shape[axis] - 1 - flipped
    else:
        index = find(data, axis=axis, keepdims=bool(keepdims))
    return index.astype(np.int64, copy=False)


@kernel("ArgMax")
def ArgMax(ctx, data, *, axis=0, keepdims=1, select_last_index=0):
    return _arg_extreme(ctx.xp, ctx.xp.argmax, data, axis, keepdims, select_last_index)


@kernel("ArgMin")
def ArgMin(ctx, data, *, axis=0, keepdims=1, select_last_index=0):
    return _arg_extreme(ctx.xp, ctx.xp.argmin, data, axis, keepdims, select_last_index)


def _cumulative(xp, accumulate, identity, x, axis, exclusive, reverse):
    axis = int(axis.reshape(-1)[0]) if hasattr(axis, "reshape") else int(axis)
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"cumulative axis {axis} is out of range for a tensor of rank {x.ndim}")
    if reverse:
        x = xp.flip(x, axis=axis)
    if exclusive:
        # Shift by one along the axis: the first element is the identity, the last one drops out.
        pad_shape = list(x.shape)
        pad_shape[axis] = 1
        head = xp.full(pad_shape, identity, dtype=x.dtype)
        body = tuple(slice(None, -1) if i == axis % x.ndim else slice(None) for i in range(x.ndim))
        x = xp.concatenate([head, x[body]], axis=axis)
    y = accumulate(x, axis=axis, dtype=x.dtype)
    return xp.flip(y, axis=axis) if reverse else y


@kernel("CumSum", since=11)
def CumSum(ctx, x, axis, *, exclusive=0, reverse=0):
    return _cumulative(ctx.xp, ctx.xp.cumsum, 0, x, axis, exclusive, reverse)


@kernel("CumProd", since=26)
def CumProd(ctx, x, axis, *, exclusive=0, reverse=0):
    return _cumulative(ctx.xp, ctx.xp.cumprod, 1, x, axis, exclusive, reverse)


@kernel("TopK")
def TopK(ctx, x, k_input=None, *, axis=-1, k=None, largest=1, sorted=1):  # noqa: A002
    xp = ctx.xp
    k = int(k_input.reshape(-1)[0]) if k_input is not None else k
    if k is None:
        raise ValueError("TopK needs k, as an input from opset 10 or an attribute before")
    axis = axis % x.ndim
    n = x.shape[axis]
    if not 0 <= k <= n:
        raise ValueError(f"TopK k={k} must lie in [0, {n}], the size of axis {axis}")
    # Ties keep the lower index first (ONNX's rule), for the largest as for the smallest values.
    if largest:
        # Ascending over the reversed axis puts equal values' higher reversed index first;
        # reading that backwards gives descending values with the original lower index first.
        order = xp.argsort(xp.flip(x, axis=axis), axis=axis, kind="stable")
        order = n - 1 - xp.flip(order, axis=axis)
    else:
        order = xp.argsort(x, axis=axis, kind="stable")
    indices = xp.take(order, xp.arange(k), axis=axis)
    values = xp.take_along_axis(x, indices, axis=axis)
    return values, indices.astype(np.int64, copy=False)
