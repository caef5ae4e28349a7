"""Linear resizing of ``(N, C, *spatial)`` inputs: ``interpolate``'s ``linear``, ``bilinear`` and ``trilinear``
modes, with or without ``align_corners``, as PyTorch computes them (``nn.UpsamplingBilinear2d`` and
``F.upsample_bilinear`` are the ``align_corners=True`` case).

Linear interpolation is separable: each spatial axis in turn blends, for every output position, the two input
positions around PyTorch's source index (``dst * (in - 1) / (out - 1)`` with ``align_corners``, else
``(dst + 0.5) * scale - 0.5`` clamped at 0, ``scale`` being ``1 / scale_factor`` when a factor was given and
``in / out`` otherwise). The source positions are computed in the input's precision (float32 for float32 and
half inputs, float64 for float64), as PyTorch's kernels do. Backward scatters each axis's blend back.
"""

from __future__ import annotations

import numpy as np

from trainer.autograd.higher_order import linear_backward
from trainer.autograd.op import Function
from trainer.backend import xp_of
from trainer.ops.indexing import _scatter_add

LINEAR_MODES = {"linear": 1, "bilinear": 2, "trilinear": 3}  # mode -> spatial dims it takes


def source_taps(in_size, out_size, align_corners, scale_factor, dtype):
    """Per output position along one axis: the lower and upper input positions and the upper one's weight."""
    dtype = np.result_type(dtype, np.float32)
    dst = np.arange(out_size, dtype=dtype)
    if align_corners:
        scale = dtype.type(in_size - 1) / dtype.type(out_size - 1) if out_size > 1 else dtype.type(0)
        source = dst * scale
    else:
        scale = dtype.type(1.0 / scale_factor) if scale_factor else dtype.type(in_size) / dtype.type(out_size)
        source = np.maximum(scale * (dst + dtype.type(0.5)) - dtype.type(0.5), dtype.type(0))
    lower = np.minimum(np.floor(source).astype(np.int64), in_size - 1)
    upper = lower + (lower < in_size - 1)
    return lower, upper, np.clip(source - lower, 0, 1)


def _laid_along(a, axis, ndim):
    """A 1-D array shaped to broadcast along ``axis`` of an ``ndim``-D array."""
    return a.reshape((1,) * axis + (-1,) + (1,) * (ndim - axis - 1))


class UpsampleLinear(Function):
    """Resize the spatial dims of ``x`` to ``output_size`` by (bi/tri)linear interpolation."""

    @staticmethod
    def forward(ctx, x, *, output_size, align_corners, scale_factors):
        xp = xp_of(x)
        taps = []
        for axis, (in_size, out_size, factor) in enumerate(zip(x.shape[2:], output_size, scale_factors), 2):
            lower, upper, weight = source_taps(in_size, out_size, align_corners, factor, x.dtype)
            lower, upper = xp.asarray(lower), xp.asarray(upper)
            weight = _laid_along(xp.asarray(weight, dtype=x.dtype), axis, x.ndim)
            taps.append((axis, in_size, lower, upper, weight))
        ctx.taps = taps
        return _blended(x, taps)

    @staticmethod
    def backward(ctx, g):
        xp = xp_of(g)
        for axis, in_size, lower, upper, weight in reversed(ctx.taps):
            moved = xp.moveaxis(g, axis, -1)
            weight = xp.moveaxis(weight, axis, -1)
            gx = xp.zeros(moved.shape[:-1] + (in_size,), dtype=g.dtype)
            _scatter_add(xp, gx, (Ellipsis, lower), moved * (1 - weight))
            _scatter_add(xp, gx, (Ellipsis, upper), moved * weight)
            g = xp.moveaxis(gx, -1, axis)
        return g

    @staticmethod
    def backward_graph(ctx, g):
        taps = ctx.taps
        return linear_backward(ctx, g, lambda v: _blended(v, taps))


def _blended(x, taps):
    """Each axis's output positions as the blend of their two source positions: the resize itself."""
    xp = xp_of(x)
    for axis, _, lower, upper, weight in taps:
        x = xp.take(x, lower, axis=axis) * (1 - weight) + xp.take(x, upper, axis=axis) * weight
    return x

