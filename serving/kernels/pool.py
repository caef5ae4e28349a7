"""Pooling: MaxPool, AveragePool, LpPool, their Global forms, MaxUnpool, MaxRoiPool, RoiAlign.

Windowed pools walk the kernel taps (a handful) and combine whole strided slices per tap, so the work
is vectorised over batch, channels and output positions. MaxPool without Indices walks the taps of one
axis at a time instead (a window's maximum is separable).
"""

from __future__ import annotations

import math

import numpy as np

from serving.kernels.conv import WindowTaps, pad_spatial, resolve_pads, window_defaults
from serving.kernels.registry import kernel


class _Windows:
    """Output shape and the padding a pool needs, from the ONNX attributes."""

    def __init__(self, in_shape, kernel_shape, *, strides, dilations, pads, auto_pad, ceil_mode):
        nd = len(in_shape)
        self.kernel_shape = list(kernel_shape)
        self.strides, self.dilations = strides, dilations
        self.pads = resolve_pads(
            in_shape, kernel_shape, strides=strides, dilations=dilations, pads=pads, auto_pad=auto_pad
        )
        self.out_shape = []
        for i in range(nd):
            extent = (kernel_shape[i] - 1) * dilations[i] + 1
            if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
                out = -(-in_shape[i] // strides[i])
            else:
                span = in_shape[i] + self.pads[i] + self.pads[i + nd] - extent
                if span < 0:
                    raise ValueError(f"pool kernel extent {extent} exceeds padded input size {span + extent}")
                out = (-(-span // strides[i]) if ceil_mode else span // strides[i]) + 1
                # With ceil_mode the last window must still start inside the input or its left padding.
                if ceil_mode and (out - 1) * strides[i] >= in_shape[i] + self.pads[i]:
                    out -= 1
            self.out_shape.append(out)
        # Padding actually applied: the begin pads, then whatever the last window reaches past the input.
        self.applied = list(self.pads[:nd]) + [
            (self.out_shape[i] - 1) * strides[i] + (kernel_shape[i] - 1) * dilations[i] + 1 - in_shape[i] - self.pads[i]
            for i in range(nd)
        ]

    def counts(self, in_shape, include_pad):
        """How many taps of each window land inside the input (or its explicit padding): a host array."""
        nd = len(in_shape)
        per_axis = []
        for i in range(nd):
            lo = -self.pads[i] if include_pad else 0
            hi = in_shape[i] + (self.pads[i + nd] if include_pad else 0)
            starts = np.arange(self.out_shape[i]) * self.strides[i] - self.pads[i]
            taps = starts[:, None] + np.arange(self.kernel_shape[i]) * self.dilations[i]
            per_axis.append(((taps >= lo) & (taps < hi)).sum(axis=1))
        count = per_axis[0]
        for axis in per_axis[1:]:
            count = np.multiply.outer(count, axis)
        return count


def _lowest(dtype):
    dtype = np.dtype(dtype)
    return -np.inf if dtype.kind in "fV" else np.iinfo(dtype).min


def _windows_for(x, kernel_shape, strides, dilations, pads, auto_pad, ceil_mode):
    if kernel_shape is None:
        raise ValueError("pooling needs the kernel_shape attribute")
    strides, dilations = window_defaults(x.ndim, kernel_shape, strides, dilations)
    return _Windows(
        x.shape[2:],
        kernel_shape,
        strides=strides,
        dilations=dilations,
        pads=pads,
        auto_pad=auto_pad,
        ceil_mode=ceil_mode,
    )


def _taps(xp, x, win, value):
    return WindowTaps(
        xp,
        x,
        win.kernel_shape,
        win.out_shape,
        strides=win.strides,
        dilations=win.dilations,
        pads=win.applied,
        value=value,
    )


def _max_indices(xp, tap_index, win, in_shape, n, c, storage_order):
    """Flat indices into the unpadded input of each window's argmax tap (row- or column-major spatially)."""
    nd = len(in_shape)
    tap_coords = np.unravel_index(np.arange(math.prod(win.kernel_shape)), win.kernel_shape)
    flat = 0
    order = range(nd) if storage_order == 0 else reversed(range(nd))
    for axis in order:
        starts = xp.arange(win.out_shape[axis]) * win.strides[axis] - win.pads[axis]
        shape = [1] * nd
        shape[axis] = -1
        offsets = xp.asarray(tap_coords[axis] * win.dilations[axis])[tap_index]
        coord = offsets + starts.reshape(shape)
        flat = flat * in_shape[axis] + coord
    plane = math.prod(in_shape)
    base = (xp.arange(n * c).reshape(n, c, *([1] * nd)) * plane).astype(xp.int64)
    return base + flat


class WindowMax:
    """The maximum of every window that lies wholly inside its input: MaxPool without padding, as a
    reduction a kernel can run on a buffer of its own (the fused ConvMaxPool pools each chunk of its
    convolution while it is in cache).

    The max over a box is the max over its rows of the max over its columns, so a k x k window costs
    2(k-1) passes instead of k*k-1; the outer axes go first so their taps are long contiguous rows.
    """

    def __init__(self, kernel_shape, strides, dilations):
        self.kernel_shape, self.strides, self.dilations = list(kernel_shape), list(strides), list(dilations)

    def out_shape(self, in_shape) -> tuple[int, ...]:
        shape = []
        for n, k, s, d in zip(in_shape, self.kernel_shape, self.strides, self.dilations):
            extent = (k - 1) * d + 1
            if extent > n:
                raise ValueError(f"pool kernel extent {extent} exceeds padded input size {n}")
            shape.append((n - extent) // s + 1)
        return tuple(shape)

    def __call__(self, xp, x, out, empty, recycle=None):
        """Writes the maxima of ``x`` ``(..., *in)`` into ``out`` ``(..., *out_shape)``; each pass but the
        last writes a buffer from ``empty``, handed to ``recycle`` once the next pass has read it."""
        nd = len(self.kernel_shape)
        lead = x.ndim - nd
        sizes = out.shape[lead:]

        def taps(y, axis, j):
            index = [slice(None)] * y.ndim
            step, reach = self.strides[axis], j * self.dilations[axis]
            index[lead + axis] = slice(reach, reach + (sizes[axis] - 1) * step + 1, step)
            return y[tuple(index)]

        # An axis without taps is a strided selection; taking those first leaves the passes less to read.
        for axis in range(nd):
            if self.kernel_shape[axis] == 1:
                x = taps(x, axis, 0)
        passes = [axis for axis in range(nd) if self.kernel_shape[axis] > 1]
        if not passes:
            out[...] = x
            return out
        y = x
        for axis in passes:
            first = taps(y, axis, 0)
            acc = out if axis == passes[-1] else empty(first.shape, first.dtype)
            xp.maximum(first, taps(y, axis, 1), out=acc)
            for j in range(2, self.kernel_shape[axis]):
                xp.maximum(acc, taps(y, axis, j), out=acc)
            if y is not x and recycle is not None:
                recycle(y)  # the previous pass's buffer, read for the last time
            y = acc
        return out


def _separable_max(ctx, x, win):
    """MaxPool's values without Indices: the input padded with the lowest value, then ``WindowMax``. The
    padded input and each pass write buffers from the session's pool."""
    y = pad_spatial(ctx.xp, x, win.applied, _lowest(x.dtype), empty=ctx.empty)
    out = ctx.empty((*x.shape[:2], *win.out_shape), x.dtype)
    WindowMax(win.kernel_shape, win.strides, win.dilations)(ctx.xp, y, out, ctx.empty, ctx.recycle)
    if y is not x:
        ctx.recycle(y)
    return out


@kernel("MaxPool")
def MaxPool(
    ctx,
    x,
    *,
    auto_pad="NOTSET",
    ceil_mode=0,
    dilations=None,
    kernel_shape=None,
    pads=None,
    storage_order=0,
    strides=None,
):
    xp = ctx.xp
    win = _windows_for(x, kernel_shape, strides, dilations, pads, auto_pad, ceil_mode)
    want_indices = ctx.n_outputs > 1 and ctx.outputs_wanted[1]
    if not want_indices:
        y = _separable_max(ctx, x, win)
        return (y, None) if ctx.n_outputs > 1 else y
    windows = _taps(xp, x, win, _lowest(x.dtype))
    y = xp.empty((*x.shape[:2], windows.size), dtype=x.dtype)
    head = y[..., : windows.span]
    head[...] = windows.view(0)
    best = xp.zeros(y.shape, dtype=xp.int64)
    floating = x.dtype.kind in "fV"
    for tap in range(1, len(windows)):
        part = windows.view(tap)
        better = part > head
        if floating:  # a NaN wins, as in the values-only path (and PyTorch): the first NaN of each window
            better |= xp.isnan(part) & ~xp.isnan(head)
        head[better] = part[better]
        best[..., : windows.span][better] = tap
    y = windows.collect(y)
    return y, _max_indices(xp, windows.collect(best), win, x.shape[2:], x.shape[0], x.shape[1], storage_order)


def _window_sum(xp, x, win, acc_dtype):
    windows = _taps(xp, x.astype(acc_dtype, copy=False), win, 0)
    total = xp.zeros((*x.shape[:2], windows.size), dtype=acc_dtype)
    for tap in range(len(windows)):
        total[..., : windows.span] += windows.view(tap)
    return windows.collect(total)


def _accumulator(xp, dtype):
    return xp.float32 if dtype.kind in "fV" and dtype.itemsize < 4 else dtype


@kernel("AveragePool")
def AveragePool(
    ctx,
    x,
    *,
    auto_pad="NOTSET",
    ceil_mode=0,
    count_include_pad=0,
    dilations=None,
    kernel_shape=None,
    pads=None,
    strides=None,
):
    xp = ctx.xp
    win = _windows_for(x, kernel_shape, strides, dilations, pads, auto_pad, ceil_mode)
    total = _window_sum(xp, x, win, _accumulator(xp, x.dtype))
    counts = xp.asarray(win.counts(x.shape[2:], count_include_pad).astype(total.dtype))
    return (total / counts).astype(x.dtype, copy=False)


@kernel("LpPool")
def LpPool(ctx, x, *, auto_pad="NOTSET", ceil_mode=0, dilations=None, kernel_shape=None, p=2, pads=None, strides=None):
    xp = ctx.xp
    win = _windows_for(x, kernel_shape, strides, dilations, pads, auto_pad, ceil_mode)
    powered = xp.abs(x.astype(_accumulator(xp, x.dtype), copy=False)) ** p
    return (_window_sum(xp, powered, win, powered.dtype) ** (1.0 / p)).astype(x.dtype, copy=False)


def _spatial_axes(x):
    if x.ndim < 3:
        raise ValueError(f"global pooling expects (N, C, *spatial), got shape {tuple(x.shape)}")
    return tuple(range(2, x.ndim))


@kernel("GlobalAveragePool")
def GlobalAveragePool(ctx, x):
    xp = ctx.xp
    return xp.mean(x, axis=_spatial_axes(x), keepdims=True, dtype=_accumulator(xp, x.dtype)).astype(x.dtype)


@kernel("GlobalMaxPool")
def GlobalMaxPool(ctx, x):
    return ctx.xp.max(x, axis=_spatial_axes(x), keepdims=True)


@kernel("GlobalLpPool")
def GlobalLpPool(ctx, x, *, p=2):
    xp = ctx.xp
    powered = xp.abs(x.astype(_accumulator(xp, x.dtype), copy=False)) ** p
    return (xp.sum(powered, axis=_spatial_axes(x), keepdims=True) ** (1.0 / p)).astype(x.dtype)


@kernel("MaxUnpool", since=9)
def MaxUnpool(ctx, x, indices, output_shape=None, *, kernel_shape=None, pads=None, strides=None):
    xp = ctx.xp
    nd = x.ndim - 2
    strides = list(strides) if strides else [1] * nd
    pads = list(pads) if pads else [0] * (2 * nd)
    natural = [x.shape[0], x.shape[1]] + [
        (x.shape[2 + i] - 1) * strides[i] - pads[i] - pads[i + nd] + kernel_shape[i] for i in range(nd)
    ]
    y = xp.zeros(math.prod(natural), dtype=x.dtype)
    y[indices.reshape(-1)] = x.reshape(-1)
    y = y.reshape(natural)
    if output_shape is None:
        return y
    # The indices address the natural unpooled shape; a larger requested shape is zero-filled past it.
    shape = [int(v) for v in output_shape.tolist()]
    out = xp.zeros(shape, dtype=x.dtype)
    out[tuple(slice(0, min(a, b)) for a, b in zip(natural, shape))] = y[tuple(slice(0, s) for s in shape)]
    return out


@kernel("MaxRoiPool")
def MaxRoiPool(ctx, x, rois, *, pooled_shape=None, spatial_scale=1.0):
    xp = ctx.xp
    if pooled_shape is None or len(pooled_shape) != 2:
        raise ValueError(f"MaxRoiPool needs pooled_shape [height, width], got {pooled_shape}")
    ph, pw = pooled_shape
    height, width = x.shape[2:]
    y = xp.zeros((rois.shape[0], x.shape[1], ph, pw), dtype=x.dtype)
    host_rois = rois.tolist()
    for r, (batch, x1, y1, x2, y2) in enumerate(host_rois):
        start_w, start_h = round(x1 * spatial_scale), round(y1 * spatial_scale)
        end_w, end_h = round(x2 * spatial_scale), round(y2 * spatial_scale)
        bin_h = max(end_h - start_h + 1, 1) / ph
        bin_w = max(end_w - start_w + 1, 1) / pw
        for i in range(ph):
            h0 = min(max(math.floor(i * bin_h) + start_h, 0), height)
            h1 = min(max(math.ceil((i + 1) * bin_h) + start_h, 0), height)
            for j in range(pw):
                w0 = min(max(math.floor(j * bin_w) + start_w, 0), width)
                w1 = min(max(math.ceil((j + 1) * bin_w) + start_w, 0), width)
                if h1 > h0 and w1 > w0:
                    y[r, :, i, j] = x[int(batch), :, h0:h1, w0:w1].max(axis=(1, 2))
    return y


def _roi_samples(start, bin_size, pooled, grid, size):
    """Per-axis bilinear taps of RoiAlign's sample points: low/high indices, their weights, validity."""
    points = start + np.arange(pooled)[:, None] * bin_size + (np.arange(grid)[None, :] + 0.5) * bin_size / grid
    points = points.reshape(-1)
    valid = (points >= -1.0) & (points <= size)
    points = np.maximum(points, 0.0)
    low = points.astype(np.int64)
    at_edge = low >= size - 1
    low = np.where(at_edge, size - 1, low)
    high = np.where(at_edge, size - 1, low + 1)
    points = np.where(at_edge, low, points)
    frac = points - low
    return low, high, 1.0 - frac, frac, valid


@kernel("RoiAlign", since=10)
def RoiAlign(
    ctx,
    x,
    rois,
    batch_indices,
    *,
    coordinate_transformation_mode=None,
    mode="avg",
    output_height=1,
    output_width=1,
    sampling_ratio=0,
    spatial_scale=1.0,
):
    xp = ctx.xp
    if coordinate_transformation_mode is None:
        coordinate_transformation_mode = "half_pixel" if ctx.opset >= 16 else "output_half_pixel"
    if mode not in ("avg", "max"):
        raise ValueError(f"RoiAlign mode must be 'avg' or 'max', got {mode!r}")
    half_pixel = coordinate_transformation_mode == "half_pixel"
    shift = 0.5 if half_pixel else 0.0
    channels, height, width = x.shape[1:]
    y = xp.empty((rois.shape[0], channels, output_height, output_width), dtype=x.dtype)
    for r, (roi, batch) in enumerate(zip(rois.tolist(), batch_indices.tolist())):
        x1, y1, x2, y2 = (v * spatial_scale - shift for v in roi)
        roi_w, roi_h = x2 - x1, y2 - y1
        if not half_pixel:
            roi_w, roi_h = max(roi_w, 1.0), max(roi_h, 1.0)
        grid_h = sampling_ratio if sampling_ratio > 0 else math.ceil(roi_h / output_height)
        grid_w = sampling_ratio if sampling_ratio > 0 else math.ceil(roi_w / output_width)
        ylo, yhi, wyl, wyh, vy = _roi_samples(y1, roi_h / output_height, output_height, grid_h, height)
        xlo, xhi, wxl, wxh, vx = _roi_samples(x1, roi_w / output_width, output_width, grid_w, width)
        valid = np.outer(vy, vx)
        image = x[int(batch)]
        corners = [
            image[:, xp.asarray(ys)][:, :, xp.asarray(xs)] * xp.asarray((np.outer(wy, wx) * valid).astype(x.dtype))
            for ys, wy in ((ylo, wyl), (yhi, wyh))
            for xs, wx in ((xlo, wxl), (xhi, wxh))
        ]
        shape = (channels, output_height, grid_h, output_width, grid_w)
        if mode == "avg":
            samples = (corners[0] + corners[1] + corners[2] + corners[3]).reshape(shape)
            y[r] = samples.sum(axis=(2, 4)) / max(grid_h * grid_w, 1)
        else:
            samples = xp.maximum(xp.maximum(corners[0], corners[1]), xp.maximum(corners[2], corners[3]))
            y[r] = samples.reshape(shape).max(axis=(2, 4))
    return y
