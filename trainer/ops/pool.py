"""Pooling as single ops: ``MaxPool``, ``AvgPool``, ``AdaptiveAvgPool`` and ``AdaptiveMaxPool`` over the last 1
or 2 dims, plus PyTorch's functional forms (``max_pool2d``, ``avg_pool2d``, ``adaptive_avg_pool2d``,
``adaptive_max_pool2d`` and the 1-D ones).

Like the convolutions, the window ops loop over kernel positions, never pixels: each position is one
strided view of the padded input covering every output pixel at once. Max pooling remembers which
kernel position won (the first maximum, NaN winning, as PyTorch's CPU kernel does) and backward
sends the gradient there. ``padding`` is per spatial dim and symmetric, as in PyTorch. Adaptive
average pooling is separable into an averaging matrix per axis, so forward and backward are two
small matmuls.
"""

from __future__ import annotations

import numpy as np

from trainer.autograd.op import Function
from trainer.backend import xp_of
from trainer.ops._operands import int_tuple


def _window(i, j, dilation, stride, oh, ow):
    (dh, dw), (sh, sw) = dilation, stride
    return (Ellipsis, slice(i * dh, i * dh + sh * (oh - 1) + 1, sh), slice(j * dw, j * dw + sw * (ow - 1) + 1, sw))


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
    h, w = x.shape[-2:]
    hb = max(h + 2 * pads[0], (out[0] - 1) * stride[0] + dilation[0] * (kernel[0] - 1) + 1)
    wb = max(w + 2 * pads[1], (out[1] - 1) * stride[1] + dilation[1] * (kernel[1] - 1) + 1)
    if (hb, wb) == (h, w):
        return x
    buf = xp.full(x.shape[:-2] + (hb, wb), fill, dtype=x.dtype)
    buf[..., pads[0]:pads[0] + h, pads[1]:pads[1] + w] = x
    return buf


def _unpad(buf, pads, shape):
    h, w = shape[-2:]
    return buf[..., pads[0]:pads[0] + h, pads[1]:pads[1] + w]


def _lift(x, kernel, stride, pads, dilation):
    """A 1-D pooling as a 2-D one over a unit height."""
    if len(kernel) == 2:
        return x, kernel, stride, pads, dilation
    return x[..., None, :], (1, kernel[0]), (1, stride[0]), (0, pads[0]), (1, dilation[0])


def _drop(out, one_d):
    return out[..., 0, :] if one_d else out


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
        xp.copyto(arg, arg.dtype.type(k), where=take)
    return out, arg


class MaxPool(Function):
    """Max over each window; ``return_indices`` adds PyTorch's flat ``h * W + w`` index of each max."""

    @staticmethod
    def forward(ctx, x, *, kernel, stride, padding, dilation, ceil_mode, return_indices=False):
        xp = xp_of(x)
        one_d = len(kernel) == 1
        x, kernel, stride, pads, dilation = _lift(x, kernel, stride, padding, dilation)
        out_hw = tuple(_out_size(x.shape[-2 + a], kernel[a], stride[a], pads[a], dilation[a], ceil_mode)
                       for a in range(2))
        fill = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
        buf = _padded(x, pads, out_hw, kernel, stride, dilation, fill)
        kh, kw = kernel
        views = [buf[_window(k // kw, k % kw, dilation, stride, *out_hw)] for k in range(kh * kw)]
        out, arg = _max_and_argmax(xp, views, nan_aware=False)
        if x.dtype.kind == "f" and bool(xp.isnan(out).any()):
            out, arg = _max_and_argmax(xp, views, nan_aware=True)
        ctx.save_for_backward(arg)
        ctx.geometry = (x.shape, buf.shape, kernel, stride, pads, dilation, one_d)
        if not return_indices:
            return _drop(out, one_d)
        oh_idx = xp.arange(out_hw[0]).reshape(-1, 1) * stride[0] - pads[0] + (arg // kw).astype(np.int64) * dilation[0]
        ow_idx = xp.arange(out_hw[1]) * stride[1] - pads[1] + (arg % kw).astype(np.int64) * dilation[1]
        return _drop(out, one_d), _drop(oh_idx * x.shape[-1] + ow_idx, one_d)

    @staticmethod
    def backward(ctx, g, *_):
        (arg,) = ctx.saved_tensors
        x_shape, buf_shape, (kh, kw), stride, pads, dilation, one_d = ctx.geometry
        xp = xp_of(g)
        g = g[..., None, :] if one_d else g
        gx = xp.zeros(buf_shape, dtype=g.dtype)
        zero = xp.zeros((), dtype=g.dtype)
        for k in range(kh * kw):
            # one position's windows never overlap each other, so the strided add is exact
            gx[_window(k // kw, k % kw, dilation, stride, *g.shape[-2:])] += xp.where(arg == k, g, zero)
        return _drop(_unpad(gx, pads, x_shape), one_d)


def _avg_divisor(xp, size, k, s, p, n_out, count_include_pad, dtype):
    """How many elements each output position's window averages along one axis (PyTorch's rule)."""
    start = np.arange(n_out) * s - p
    end = np.minimum(start + k, size + p)
    if count_include_pad:
        return xp.asarray(end - start, dtype=dtype)
    return xp.asarray(np.minimum(end, size) - np.maximum(start, 0), dtype=dtype)


class AvgPool(Function):
    @staticmethod
    def forward(ctx, x, *, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override=None):
        xp = xp_of(x)
        one_d = len(kernel) == 1
        x, kernel, stride, pads, dilation = _lift(x, kernel, stride, padding, (1,) * len(kernel))
        out_hw = tuple(_out_size(x.shape[-2 + a], kernel[a], stride[a], pads[a], 1, ceil_mode) for a in range(2))
        buf = _padded(x, pads, out_hw, kernel, stride, dilation, 0)
        kh, kw = kernel
        out = buf[_window(0, 0, dilation, stride, *out_hw)].copy()
        for k in range(1, kh * kw):
            out += buf[_window(k // kw, k % kw, dilation, stride, *out_hw)]
        if divisor_override:
            scale = xp.asarray(1.0 / divisor_override, dtype=x.dtype)
        else:
            rows = _avg_divisor(xp, x.shape[-2], kh, stride[0], pads[0], out_hw[0], count_include_pad, x.dtype)
            cols = _avg_divisor(xp, x.shape[-1], kw, stride[1], pads[1], out_hw[1], count_include_pad, x.dtype)
            scale = 1 / (rows[:, None] * cols)
        out *= scale
        ctx.save_for_backward(scale)
        ctx.geometry = (x.shape, buf.shape, kernel, stride, pads, dilation, one_d)
        return _drop(out, one_d)

    @staticmethod
    def backward(ctx, g):
        (scale,) = ctx.saved_tensors
        x_shape, buf_shape, (kh, kw), stride, pads, dilation, one_d = ctx.geometry
        g = (g[..., None, :] if one_d else g) * scale
        gx = xp_of(g).zeros(buf_shape, dtype=g.dtype)
        for k in range(kh * kw):
            gx[_window(k // kw, k % kw, dilation, stride, *g.shape[-2:])] += g
        return _drop(_unpad(gx, pads, x_shape), one_d)


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


class AdaptiveAvgPool(Function):
    """Averages over PyTorch's adaptive windows of the last 1 or 2 dims: ``rows @ x @ cols.T``."""

    @staticmethod
    def forward(ctx, x, *, output_size):
        xp = xp_of(x)
        mats = [_adaptive_matrix(xp, x.shape[-len(output_size) + a], n, x.dtype) for a, n in enumerate(output_size)]
        out = x @ mats[-1].T
        if len(mats) == 2:
            out = mats[0] @ out
        ctx.save_for_backward(*mats)
        return out

    @staticmethod
    def backward(ctx, g):
        mats = ctx.saved_tensors
        gx = g @ mats[-1]
        return mats[0].T @ gx if len(mats) == 2 else gx


class AdaptiveMaxPool(Function):
    """Max over PyTorch's adaptive windows of the last 1 or 2 dims, one output cell at a time; the second output
    is the flat ``h * W + w`` index of each max within its plane (the first maximum wins)."""

    @staticmethod
    def forward(ctx, x, *, output_size, return_indices=False):
        xp = xp_of(x)
        one_d = len(output_size) == 1
        x = x[..., None, :] if one_d else x
        oh, ow = (1, *output_size) if one_d else output_size
        h, w = x.shape[-2:]
        values, indices = [], []
        for h0, h1 in _adaptive_windows(h, oh):
            for w0, w1 in _adaptive_windows(w, ow):
                window = x[..., h0:h1, w0:w1].reshape(*x.shape[:-2], -1)
                arg = window.argmax(axis=-1)
                values.append(xp.take_along_axis(window, arg[..., None], axis=-1)[..., 0])
                indices.append((h0 + arg // (w1 - w0)) * w + w0 + arg % (w1 - w0))
        out = xp.stack(values, axis=-1).reshape(*x.shape[:-2], oh, ow)
        index = xp.stack(indices, axis=-1).reshape(*x.shape[:-2], oh, ow).astype(np.int64)
        ctx.save_for_backward(index)
        ctx.geometry = (x.shape, one_d)
        out, index = (out[..., 0, :], index[..., 0, :]) if one_d else (out, index)
        return (out, index) if return_indices else out

    @staticmethod
    def backward(ctx, g, *_):
        (index,) = ctx.saved_tensors
        shape, one_d = ctx.geometry
        xp = xp_of(g)
        g = g[..., None, :] if one_d else g
        plane = shape[-2] * shape[-1]
        flat_g, flat_index = g.reshape(-1, g.shape[-2] * g.shape[-1]), index.reshape(-1, g.shape[-2] * g.shape[-1])
        gx = xp.zeros((flat_g.shape[0], plane), dtype=g.dtype)
        rows = xp.arange(flat_g.shape[0])
        for cell in range(flat_g.shape[1]):
            # within one cell each plane has one winner, so the fancy-indexed add never collides
            gx[rows, flat_index[:, cell]] += flat_g[:, cell]
        gx = gx.reshape(shape)
        return gx[..., 0, :] if one_d else gx


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
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


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
    return _adaptive_avg_pool("adaptive_avg_pool2d", 2, input, output_size)


def _adaptive_max_pool(op, n, input, output_size, return_indices):
    sizes = _adaptive_sizes(op, n, input, output_size)
    if any(s == 0 for s in sizes):
        raise RuntimeError(f"{op}: elements of output_size must be greater than 0 but received {list(sizes)}")
    return AdaptiveMaxPool.apply(input, output_size=sizes, return_indices=bool(return_indices))


def adaptive_max_pool1d(input, output_size, return_indices=False):
    return _adaptive_max_pool("adaptive_max_pool1d", 1, input, output_size, return_indices)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    return _adaptive_max_pool("adaptive_max_pool2d", 2, input, output_size, return_indices)
