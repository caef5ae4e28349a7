"""Resizing by filters wider than two taps: ``interpolate``'s ``bicubic`` mode and its antialiased ``bilinear``,
``bicubic`` and ``lanczos`` modes (``antialias=True``), as PyTorch computes them.

Every one of them is separable and linear: each spatial axis in turn replaces its positions by, for every output
position, a weighted sum of a few input positions (``taps``: an ``(out, k)`` index array and its ``(out, k)``
weights). Backward scatters each axis's weighted sum back; the derivative of that is the resize again.

- ``bicubic``: Keys' cubic convolution with ``A = -0.75`` over the four inputs around PyTorch's source position
  (``dst * (in - 1) / (out - 1)`` with ``align_corners``, else ``(dst + 0.5) * scale - 0.5`` unclamped), the
  taps past either end repeating the edge input.
- antialiased: PIL's filters, stretched by the scale when shrinking: output ``i`` centred at ``scale * (i + 0.5)``
  weighs the inputs within the filter's support, ``filter((j + 0.5 - centre) / max(scale, 1))``, normalised to sum
  to one (a triangle for bilinear, cubic convolution with ``A = -0.5`` for bicubic, Lanczos-3 for lanczos).
"""

from __future__ import annotations

import math

import numpy as np

from trainer.autograd.higher_order import linear_backward
from trainer.autograd.op import Function
from trainer.backend import xp_of
from trainer.ops.indexing import _scatter_add
from trainer.ops.linear_resize import _laid_along

BICUBIC_A = -0.75  # PyTorch's (OpenCV's) cubic convolution constant without antialiasing
ANTIALIAS_CUBIC_A = -0.5  # ... and with it (PIL's)
LANCZOS_LOBES = 3


def cubic_convolution(distance, a):
    """Keys' cubic convolution kernel at ``distance``."""
    d = np.abs(distance)
    near = ((a + 2) * d - (a + 3)) * d * d + 1
    far = ((a * d - 5 * a) * d + 8 * a) * d - 4 * a
    return np.where(d < 1, near, np.where(d < 2, far, 0))


def _triangle(distance):
    d = np.abs(distance)
    return np.where(d < 1, 1 - d, 0)


def _lanczos(distance):
    d = np.abs(distance)
    return np.where(d < LANCZOS_LOBES, np.sinc(d) * np.sinc(d / LANCZOS_LOBES), 0)


# mode -> (filter, its support in input positions when not stretched)
ANTIALIAS_FILTERS = {
    "bilinear": (_triangle, 1.0),
    "bicubic": (lambda d: cubic_convolution(d, ANTIALIAS_CUBIC_A), 2.0),
    "lanczos": (_lanczos, float(LANCZOS_LOBES)),
}


def _opmath(dtype):
    """The precision PyTorch's kernels compute positions and weights in: float64 for float64, else float32."""
    return np.result_type(dtype, np.float32)


def _area_scale(in_size, out_size, align_corners, scale_factor, dtype):
    """PyTorch's ``area_pixel_compute_scale``: input positions per output position."""
    if align_corners:
        return dtype.type(in_size - 1) / dtype.type(out_size - 1) if out_size > 1 else dtype.type(0)
    return dtype.type(1.0 / scale_factor) if scale_factor else dtype.type(in_size) / dtype.type(out_size)


def bicubic_taps(in_size, out_size, align_corners, scale_factor, dtype):
    """The four taps of every output position along one axis, edge-clamped, and their cubic weights."""
    dtype = _opmath(dtype)
    scale = _area_scale(in_size, out_size, align_corners, scale_factor, dtype)
    dst = np.arange(out_size, dtype=dtype)
    source = dst * scale if align_corners else scale * (dst + dtype.type(0.5)) - dtype.type(0.5)
    # PyTorch floors the position in float32 whatever the input's precision
    base = np.minimum(np.floor(source.astype(np.float32)).astype(np.int64), in_size - 1)
    t = np.clip(source - base, 0, 1)[:, None]
    offsets = np.arange(-1, 3)
    weights = cubic_convolution(t - offsets, dtype.type(BICUBIC_A)).astype(dtype)
    return np.clip(base[:, None] + offsets, 0, in_size - 1), weights


def antialias_taps(in_size, out_size, align_corners, scale_factor, mode, dtype):
    """PyTorch's (PIL's) antialiasing taps along one axis: the inputs under the stretched filter of every output
    position and their normalised weights (a tap that weighs nothing points at input 0)."""
    dtype = _opmath(dtype)
    kernel, support = ANTIALIAS_FILTERS[mode]
    scale = _area_scale(in_size, out_size, align_corners, scale_factor, dtype)
    stretch = scale if scale >= 1 else dtype.type(1)
    support = dtype.type(support) * stretch
    width = math.ceil(support) * 2 + 1
    centre = scale * (np.arange(out_size, dtype=dtype) + dtype.type(0.5))
    first = np.maximum(np.trunc(centre - support + dtype.type(0.5)).astype(np.int64), 0)
    count = np.clip(np.minimum(np.trunc(centre + support + dtype.type(0.5)).astype(np.int64), in_size) - first,
                    0, width)
    j = np.arange(width)
    index = first[:, None] + j
    inside = j < count[:, None]
    weights = np.where(inside, kernel((index - centre[:, None] + dtype.type(0.5)) / stretch), 0).astype(dtype)
    total = weights.sum(axis=1, keepdims=True)
    weights = weights / np.where(total == 0, 1, total).astype(dtype)
    return np.where(inside, index, 0), weights


def _resampled(x, axis_taps):
    """Each listed axis's output positions as the weighted sums of their taps: the resize itself."""
    xp = xp_of(x)
    for axis, _, index, weights in axis_taps:
        out = None
        for k in range(index.shape[1]):
            term = xp.take(x, index[:, k], axis=axis) * weights[k]
            out = term if out is None else out + term
        x = out
    return x


class _TapResize(Function):
    """A separable resize given by per-axis taps; subclasses' forward builds them and calls ``_resize``."""

    @staticmethod
    def _resize(ctx, x, taps_per_axis):
        xp = xp_of(x)
        axis_taps = []
        for axis, (index, weights) in enumerate(taps_per_axis, 2):
            columns = [_laid_along(xp.asarray(weights[:, k], dtype=x.dtype), axis, x.ndim)
                       for k in range(weights.shape[1])]
            axis_taps.append((axis, x.shape[axis], xp.asarray(index), columns))
        ctx.axis_taps = axis_taps
        return _resampled(x, axis_taps)

    @staticmethod
    def backward(ctx, g):
        xp = xp_of(g)
        for axis, in_size, index, weights in reversed(ctx.axis_taps):
            moved = xp.moveaxis(g, axis, -1)
            gx = xp.zeros(moved.shape[:-1] + (in_size,), dtype=g.dtype)
            for k in range(index.shape[1]):
                _scatter_add(xp, gx, (Ellipsis, index[:, k]), moved * xp.moveaxis(weights[k], axis, -1))
            g = xp.moveaxis(gx, -1, axis)
        return g

    @staticmethod
    def backward_graph(ctx, g):
        axis_taps = ctx.axis_taps
        return linear_backward(ctx, g, lambda v: _resampled(v, axis_taps))


class UpsampleBicubic(_TapResize):
    """Resize the two spatial dims of ``x`` ``(N, C, H, W)`` to ``output_size`` by cubic convolution."""

    @staticmethod
    def forward(ctx, x, *, output_size, align_corners, scale_factors):
        taps = [bicubic_taps(n, out, align_corners, factor, x.dtype)
                for n, out, factor in zip(x.shape[2:], output_size, scale_factors)]
        return _TapResize._resize(ctx, x, taps)


class UpsampleAntialias(_TapResize):
    """Resize the two spatial dims of ``x`` ``(N, C, H, W)`` to ``output_size`` with PyTorch's antialiasing
    filter of ``mode`` (``bilinear``, ``bicubic`` or ``lanczos``)."""

    @staticmethod
    def forward(ctx, x, *, mode, output_size, align_corners, scale_factors):
        taps = [antialias_taps(n, out, align_corners, factor, mode, x.dtype)
                for n, out, factor in zip(x.shape[2:], output_size, scale_factors)]
        return _TapResize._resize(ctx, x, taps)
