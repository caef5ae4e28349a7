"""Pooling as single ops: ``MaxPool``, ``AvgPool``, ``AdaptiveAvgPool`` and ``AdaptiveMaxPool`` over the last 1,
2 or 3 dims, plus PyTorch's functional forms (``max_pool2d``, ``avg_pool2d``, ``adaptive_avg_pool2d``,
``adaptive_max_pool2d`` and the 1-D and 3-D ones).

Like the convolutions, the window ops loop over kernel positions, never pixels: each position is one
strided view of the padded input covering every output pixel at once. Max pooling remembers which
kernel position won (the first maximum, NaN winning, as PyTorch's CPU kernel does) and backward
sends the gradient there. ``padding`` is per spatial dim and symmetric, as in PyTorch. Adaptive
average pooling is separable into an averaging matrix per axis, so forward and backward are one
small matmul per axis.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from trainer.amp import cast_policy
from trainer.autograd.higher_order import linear_backward
from trainer.autograd.op import Function
from trainer.backend import xp_of
from trainer.dtypes import is_floating
from trainer.ops._operands import int_tuple
from trainer.ops._windows import inside, taps, window
from trainer.ops.bfloat16_opmath import bfloat16_opmath


def _out_size(size, k, s, p, d, ceil_mode):
    """PyTorch's pooling output size: with ``ceil_mode`` a last window may overhang the end, but
    must start inside the input or its left padding."""
    span = size + 2 * p - d * (k - 1) - 1
    out = (span + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def _padded(x, pads, out, kernel, stride, dilation, fill):
    """``x`` inside a buffer holding the padding and any ceil-mode overhang, filled with ``fill``."""
    xp = xp_of(x)
    spatial = x.shape[-len(kernel):]
    sizes = tuple(max(n + 2 * p, (o - 1) * s + d * (k - 1) + 1)
                  for n, p, o, k, s, d in zip(spatial, pads, out, kernel, stride, dilation))
    if sizes == spatial:
        return x
    buf = xp.full(x.shape[:-len(kernel)] + sizes, fill, dtype=x.dtype)
    buf[inside(pads, spatial)] = x
    return buf


def _tap_offsets(flat, sizes):
    """A flat C-order position within a ``sizes`` box as one offset array per axis."""
    return [(flat // math.prod(sizes[a + 1:])) % sizes[a] for a in range(len(sizes))]


def _plane_index(coords, spatial):
    """Per-axis positions as PyTorch's flat index within one channel's plane (C order)."""
    return sum(c * math.prod(spatial[a + 1:]) for a, c in enumerate(coords))


def _max_and_argmax(xp, views, nan_aware):
    """The elementwise max of ``views`` and the index of the first view holding it.

    The fast pass takes ``maximum`` and cannot place NaNs; when a NaN shows up, the NaN-aware pass
    repeats the work with PyTorch's rule (a NaN always takes over the window).
    """
    out = views[0].copy()
    arg = xp.zeros(out.shape, dtype=np.uint8 if len(views) < 256 else np.int32)
    take = xp.empty(out.shape, dtype=bool)
    for k, view in enumerate(views[1:], 1):
        xp.greater(view, out, out=take)
        if nan_aware:
            take |= xp.isnan(view)
            xp.copyto(out, view, where=take)
        else:
            xp.maximum(out, view, out=out)
        # the last view to take over holds the max: k beats every earlier index (a masked copyto is far slower)
        xp.maximum(arg, xp.multiply(take, arg.dtype.type(k)), out=arg)
    return out, arg


class MaxPool(Function):
    """Max over each window; ``return_indices`` adds PyTorch's flat index of each max within its plane
    (``h * W + w`` in 2-D, ``(d * H + h) * W + w`` in 3-D)."""

    @staticmethod
    def forward(ctx, x, *, kernel, stride, padding, dilation, ceil_mode, return_indices=False):
        xp = xp_of(x)
        nd = len(kernel)
        spatial = x.shape[-nd:]
        out_shape = tuple(_out_size(spatial[a], kernel[a], stride[a], padding[a], dilation[a], ceil_mode)
                          for a in range(nd))
        fill = -np.inf if is_floating(x.dtype) else np.iinfo(x.dtype).min
        buf = _padded(x, padding, out_shape, kernel, stride, dilation, fill)
        views = [buf[window(tap, dilation, stride, out_shape)] for tap in taps(kernel)]
        out, arg = _max_and_argmax(xp, views, nan_aware=False)
        if is_floating(x.dtype) and bool(xp.isnan(out).any()):
            out, arg = _max_and_argmax(xp, views, nan_aware=True)
        ctx.save_for_backward(arg)
        ctx.geometry = (x.shape, buf.shape, kernel, stride, padding, dilation)
        if not return_indices:
            return out
        offsets = _tap_offsets(arg.astype(np.int64), kernel)
        coords = [xp.arange(out_shape[a]).reshape((-1,) + (1,) * (nd - 1 - a)) * stride[a] - padding[a]
                  + offsets[a] * dilation[a] for a in range(nd)]
        return out, _plane_index(coords, spatial)

    @staticmethod
    def backward(ctx, g, *_):
        (arg,) = ctx.saved_tensors
        x_shape, buf_shape, kernel, stride, pads, dilation = ctx.geometry
        xp = xp_of(g)
        out_shape = g.shape[-len(kernel):]
        gx = xp.zeros(buf_shape, dtype=g.dtype)
        zero = xp.zeros((), dtype=g.dtype)
        # ``g * (arg == k)`` is ``where(arg == k, g, 0)`` in one cheaper pass, unless g holds an inf or NaN (times 0)
        finite = bool(xp.isfinite(g).all())
        # windows that do not overlap (stride past the dilated kernel) let each position write its part, not add it
        disjoint = all(s > d * (k - 1) for s, d, k in zip(stride, dilation, kernel))
        for k, tap in enumerate(taps(kernel)):
            into = gx[window(tap, dilation, stride, out_shape)]
            if finite and disjoint:
                xp.multiply(g, arg == k, out=into)
            else:  # one position's windows never overlap each other, so the strided add is exact
                into += g * (arg == k) if finite else xp.where(arg == k, g, zero)
        return gx[inside(pads, x_shape[-len(kernel):])]

    @staticmethod
    def backward_graph(ctx, g, *_):
        (arg,) = ctx.saved_tensors
        geometry = ctx.geometry
        return linear_backward(ctx, g, lambda v: _picked_taps(v, arg, geometry))


def _zero_padded(v, geometry):
    """``v`` (shaped like a pool's input) inside a zero buffer of the pool's padded shape."""
    x_shape, buf_shape, kernel, _, pads, _ = geometry
    buf = xp_of(v).zeros(buf_shape, dtype=v.dtype)
    buf[inside(pads, x_shape[-len(kernel):])] = v
    return buf


def _picked_taps(v, arg, geometry):
    """At each output position, the element of ``v`` at the tap ``arg`` chose: max pooling for fixed winners."""
    _, _, kernel, stride, _, dilation = geometry
    xp = xp_of(v)
    buf = _zero_padded(v, geometry)
    out_shape = arg.shape[-len(kernel):]
    out = xp.zeros(arg.shape, dtype=v.dtype)
    for k, tap in enumerate(taps(kernel)):
        out += xp.where(arg == k, buf[window(tap, dilation, stride, out_shape)], 0)
    return out


def _avg_divisor(xp, size, k, s, p, n_out, count_include_pad, dtype):
    """How many elements each output position's window averages along one axis (PyTorch's rule)."""
    start = np.arange(n_out) * s - p
    end = np.minimum(start + k, size + p)
    if count_include_pad:
        return xp.asarray(end - start, dtype=dtype)
    return xp.asarray(np.minimum(end, size) - np.maximum(start, 0), dtype=dtype)


@bfloat16_opmath
class AvgPool(Function):
    @staticmethod
    def forward(ctx, x, *, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override=None):
        xp = xp_of(x)
        nd = len(kernel)
        spatial = x.shape[-nd:]
        dilation = (1,) * nd
        out_shape = tuple(_out_size(spatial[a], kernel[a], stride[a], padding[a], 1, ceil_mode) for a in range(nd))
        buf = _padded(x, padding, out_shape, kernel, stride, dilation, 0)
        positions = taps(kernel)
        out = buf[window(next(positions), dilation, stride, out_shape)].copy()
        for tap in positions:
            out += buf[window(tap, dilation, stride, out_shape)]
        if divisor_override:
            scale = xp.asarray(1.0 / divisor_override, dtype=x.dtype)
        else:
            # the divisor is separable: the product of each axis's window length
            counts = [_avg_divisor(xp, spatial[a], kernel[a], stride[a], padding[a], out_shape[a], count_include_pad,
                                   x.dtype).reshape((-1,) + (1,) * (nd - 1 - a)) for a in range(nd)]
            scale = 1 / math.prod(counts)
        out *= scale
        ctx.save_for_backward(scale)
        ctx.geometry = (x.shape, buf.shape, kernel, stride, padding, dilation)
        return out

    @staticmethod
    def backward(ctx, g):
        (scale,) = ctx.saved_tensors
        x_shape, buf_shape, kernel, stride, pads, dilation = ctx.geometry
        out_shape = g.shape[-len(kernel):]
        g = g * scale
        gx = xp_of(g).zeros(buf_shape, dtype=g.dtype)
        for tap in taps(kernel):
            gx[window(tap, dilation, stride, out_shape)] += g
        return gx[inside(pads, x_shape[-len(kernel):])]

    @staticmethod
    def backward_graph(ctx, g):
        (scale,) = ctx.saved_tensors
        geometry = ctx.geometry
        out_shape = tuple(g.shape[-len(geometry[2]):])
        return linear_backward(ctx, g, lambda v: _window_sums(v, geometry, out_shape) * scale)


def _window_sums(v, geometry, out_shape):
    """The sum over each pooling window of ``v`` (shaped like the pool's input), zeros as padding."""
    _, _, kernel, stride, _, dilation = geometry
    buf = _zero_padded(v, geometry)
    positions = taps(kernel)
    out = buf[window(next(positions), dilation, stride, out_shape)].copy()
    for tap in positions:
        out += buf[window(tap, dilation, stride, out_shape)]
    return out


def _adaptive_bounds(size, n_out):
    """PyTorch's adaptive windows along one axis as int arrays ``(starts, ends)``: output ``i`` covers
    ``[floor(i*size/n_out), ceil((i+1)*size/n_out))``."""
    i = np.arange(n_out)
    return (i * size) // n_out, -((-(i + 1) * size) // n_out)


def _adaptive_windows(size, n_out):
    """``_adaptive_bounds`` as one ``(start, end)`` pair of ints per output cell."""
    starts, ends = _adaptive_bounds(size, n_out)
    return list(zip(starts.tolist(), ends.tolist()))


def _adaptive_matrix(xp, size, n_out, dtype):
    """The ``(n_out, size)`` matrix averaging PyTorch's adaptive windows."""
    start, end = _adaptive_bounds(size, n_out)
    pos = np.arange(size)
    inside = (pos >= start[:, None]) & (pos < end[:, None])
    return xp.asarray(inside / (end - start)[:, None], dtype=dtype)


def _along(xp, a, axis, matrix):
    """``matrix`` applied to ``axis`` of ``a``: ``out[..., i, ...] = sum_j matrix[i, j] * a[..., j, ...]``."""
    return xp.moveaxis(xp.moveaxis(a, axis, -1) @ matrix.T, -1, axis)


@bfloat16_opmath
class AdaptiveAvgPool(Function):
    """Averages over PyTorch's adaptive windows of the last 1, 2 or 3 dims: one averaging matmul per axis."""

    @staticmethod
    def forward(ctx, x, *, output_size):
        xp = xp_of(x)
        nd = len(output_size)
        mats = [_adaptive_matrix(xp, x.shape[-nd + a], n, x.dtype) for a, n in enumerate(output_size)]
        out = x
        for a, mat in enumerate(mats):
            out = _along(xp, out, a - nd, mat)
        ctx.save_for_backward(*mats)
        return out

    @staticmethod
    def backward(ctx, g):
        xp = xp_of(g)
        mats = ctx.saved_tensors
        for a, mat in enumerate(mats):
            g = _along(xp, g, a - len(mats), mat.T)
        return g

    @staticmethod
    def backward_graph(ctx, g):
        mats = ctx.saved_tensors

        def averaged(v):
            for a, mat in enumerate(mats):
                v = _along(xp_of(v), v, a - len(mats), mat)
            return v

        return linear_backward(ctx, g, averaged)


class AdaptiveMaxPool(Function):
    """Max over PyTorch's adaptive windows of the last 1, 2 or 3 dims, one output cell at a time; the second output
    is the flat index of each max within its plane, as ``MaxPool``'s (the first maximum wins)."""

    @staticmethod
    def forward(ctx, x, *, output_size, return_indices=False):
        xp = xp_of(x)
        nd = len(output_size)
        lead, spatial = x.shape[:-nd], x.shape[-nd:]
        values, indices = [], []
        for cell in itertools.product(*(_adaptive_windows(s, o) for s, o in zip(spatial, output_size))):
            window = x[(Ellipsis,) + tuple(slice(start, end) for start, end in cell)].reshape(*lead, -1)
            arg = window.argmax(axis=-1)
            values.append(xp.take_along_axis(window, arg[..., None], axis=-1)[..., 0])
            offsets = _tap_offsets(arg, [end - start for start, end in cell])
            indices.append(_plane_index([start + o for (start, _), o in zip(cell, offsets)], spatial))
        out = xp.stack(values, axis=-1).reshape(*lead, *output_size)
        index = xp.stack(indices, axis=-1).reshape(*lead, *output_size).astype(np.int64)
        ctx.save_for_backward(index)
        ctx.geometry = (x.shape, nd)
        return (out, index) if return_indices else out

    @staticmethod
    def backward(ctx, g, *_):
        (index,) = ctx.saved_tensors
        shape, nd = ctx.geometry
        xp = xp_of(g)
        cells = math.prod(g.shape[-nd:])
        flat_g, flat_index = g.reshape(-1, cells), index.reshape(-1, cells)
        gx = xp.zeros((flat_g.shape[0], math.prod(shape[-nd:])), dtype=g.dtype)
        rows = xp.arange(flat_g.shape[0])
        for cell in range(cells):
            # within one cell each plane has one winner, so the fancy-indexed add never collides
            gx[rows, flat_index[:, cell]] += flat_g[:, cell]
        return gx.reshape(shape)

    @staticmethod
    def backward_graph(ctx, g, *_):
        (index,) = ctx.saved_tensors
        shape, nd = ctx.geometry

        def picked(v):  # the element of v at each cell's winner
            flat = v.reshape(-1, math.prod(shape[-nd:]))
            return xp_of(v).take_along_axis(flat, index.reshape(flat.shape[0], -1), axis=-1).reshape(index.shape)

        return linear_backward(ctx, g, picked)


# ---------------------------------------------------------------------------------------------
# the functional forms


def _check_rank(op, input, n):
    if input.ndim not in (n + 1, n + 2) or any(s == 0 for s in input.shape[1:]):
        raise RuntimeError(f"{op}: Expected {n + 1}D or {n + 2}D (batch mode) non-empty tensor for input, but got "
                           f"input of size: {list(input.shape)}")


def _window_args(op, input, n, kernel_size, stride, padding, dilation, ceil_mode):
    _check_rank(op, input, n)
    kernel = int_tuple(kernel_size, n, "kernel_size")
    stride = kernel if stride is None or (isinstance(stride, (list, tuple)) and not stride) else \
        int_tuple(stride, n, "stride")
    pads, dilation = int_tuple(padding, n, "padding"), int_tuple(dilation, n, "dilation")
    if any(k <= 0 for k in kernel):
        raise RuntimeError(f"{op}: kernel_size should be greater than zero, but got kernel_size={kernel}")
    if any(s <= 0 for s in stride):
        raise RuntimeError(f"{op}: stride should be greater than zero, but got stride={stride}")
    if any(d <= 0 for d in dilation):
        raise RuntimeError(f"{op}: dilation should be greater than zero, but got dilation={dilation}")
    for k, p, d in zip(kernel, pads, dilation):
        if p < 0 or p > ((k - 1) * d + 1) // 2:
            raise RuntimeError(f"{op}: pad should be at most half of effective kernel size, but got pad={p}, "
                               f"kernel_size={k} and dilation={d}")
    out = [_out_size(input.shape[-n + a], kernel[a], stride[a], pads[a], dilation[a], ceil_mode) for a in range(n)]
    if any(o <= 0 for o in out):
        spatial = "x".join(str(s) for s in input.shape[-n - 1:])
        calculated = "x".join(str(s) for s in (input.shape[-n - 1], *out))
        raise RuntimeError(f"{op}: Given input size: ({spatial}). Calculated output size: ({calculated}). "
                           f"Output size is too small")
    return kernel, stride, pads, dilation


def _max_pool(op, n, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    kernel, stride, pads, dilation = _window_args(op, input, n, kernel_size, stride, padding, dilation, ceil_mode)
    return MaxPool.apply(input, kernel=kernel, stride=stride, padding=pads, dilation=dilation,
                         ceil_mode=bool(ceil_mode), return_indices=bool(return_indices))


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    if input.is_quantized:  # PyTorch's quantized kernel: the integers pooled on the input's grid
        from trainer.ao.nn.quantized import functional as quantized_functional

        return quantized_functional.max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode,
                                               return_indices)
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


@cast_policy.fp32
def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    return _max_pool("max_pool3d", 3, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def _avg_pool(op, n, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    kernel, stride, pads, _ = _window_args(op, input, n, kernel_size, stride, padding, 1, ceil_mode)
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError(f"{op}: divisor must be not zero")
    return AvgPool.apply(input, kernel=kernel, stride=stride, padding=pads, ceil_mode=bool(ceil_mode),
                         count_include_pad=bool(count_include_pad), divisor_override=divisor_override)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    return _avg_pool("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode, count_include_pad, None)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    return _avg_pool("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


@cast_policy.fp32
def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    return _avg_pool("avg_pool3d", 3, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


def _adaptive_avg_pool(op, n, input, output_size):
    return AdaptiveAvgPool.apply(input, output_size=_adaptive_sizes(op, n, input, output_size))


def _adaptive_sizes(op, n, input, output_size):
    """``output_size`` (an int, or a tuple with ``None`` for "keep this size") as a checked tuple of ``n`` ints."""
    if input.ndim not in (n + 1, n + 2):
        raise RuntimeError(f"{op}(): Expected {n + 1}D or {n + 2}D tensor, but got {list(input.shape)}")
    sizes = output_size if isinstance(output_size, (list, tuple)) else (output_size,) * n
    if len(sizes) != n:
        raise ValueError(f"{op}: output_size must be a single integer or a tuple of {n}, got {output_size!r}")
    sizes = tuple(input.shape[-n + a] if s is None else int(s) for a, s in enumerate(sizes))
    if any(s < 0 for s in sizes):
        raise RuntimeError(f"{op}: elements of output_size must be greater than or equal to 0 but received "
                           f"{list(sizes)}")
    if any(s == 0 for s in input.shape[1:]):
        raise RuntimeError(f"{op}(): Expected input to have non-zero size for non-batch dimensions, but input has "
                           f"sizes {list(input.shape)}")
    return sizes


def adaptive_avg_pool1d(input, output_size):
    return _adaptive_avg_pool("adaptive_avg_pool1d", 1, input, output_size)


def adaptive_avg_pool2d(input, output_size):
    if input.is_quantized:  # PyTorch's quantized kernel: the integers averaged on the input's grid
        from trainer.ao.nn.quantized import functional as quantized_functional

        return quantized_functional.adaptive_avg_pool2d(input, output_size)
    return _adaptive_avg_pool("adaptive_avg_pool2d", 2, input, output_size)


@cast_policy.fp32
def adaptive_avg_pool3d(input, output_size):
    return _adaptive_avg_pool("adaptive_avg_pool3d", 3, input, output_size)


def _adaptive_max_pool(op, n, input, output_size, return_indices):
    sizes = _adaptive_sizes(op, n, input, output_size)
    if any(s == 0 for s in sizes):
        raise RuntimeError(f"{op}: elements of output_size must be greater than 0 but received {list(sizes)}")
    return AdaptiveMaxPool.apply(input, output_size=sizes, return_indices=bool(return_indices))


def adaptive_max_pool1d(input, output_size, return_indices=False):
    return _adaptive_max_pool("adaptive_max_pool1d", 1, input, output_size, return_indices)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    return _adaptive_max_pool("adaptive_max_pool2d", 2, input, output_size, return_indices)


@cast_policy.fp32
def adaptive_max_pool3d(input, output_size, return_indices=False):
    return _adaptive_max_pool("adaptive_max_pool3d", 3, input, output_size, return_indices)
