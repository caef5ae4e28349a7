"""``interpolate``: resizing ``(N, C, *spatial)`` inputs, nearest-neighbour here, linear in
``trainer.ops.linear_resize``, bicubic and antialiased in ``trainer.ops.filtered_resize``, ``area`` as adaptive
average pooling (as PyTorch does it).

In nearest mode each output position copies the input at PyTorch's source index
``min(floor(dst * scale), in - 1)`` (``min(floor((dst + 0.5) * scale), in - 1)`` in ``nearest-exact`` mode),
where ``scale`` is ``1 / scale_factor`` when a scale factor was given and
``in / out`` otherwise, computed in float32 as PyTorch's kernels do, so that non-integer factors pick the same
pixels.
"""

from __future__ import annotations

import math

import numpy as np

from trainer.autograd.higher_order import linear_backward
from trainer.autograd.op import Function
from trainer.backend import xp_of
from trainer.ops.filtered_resize import ANTIALIAS_FILTERS, UpsampleAntialias, UpsampleBicubic
from trainer.ops.indexing import _scatter_add
from trainer.ops.linear_resize import LINEAR_MODES, UpsampleLinear
from trainer.ops.pool import AdaptiveAvgPool

INTERPOLATING_MODES = {**LINEAR_MODES, "bicubic": 2}  # mode -> spatial dims it takes; these take align_corners
SUPPORTED_MODES = ("nearest", "linear", "bilinear", "bicubic", "trilinear", "area", "nearest-exact", "lanczos")


def nearest_source_index(in_size: int, out_size: int, scale_factor: float | None) -> np.ndarray:
    """For each output position along one axis, the input position it copies (PyTorch's ``nearest_idx``)."""
    dst = np.arange(out_size, dtype=np.int64)
    if out_size == in_size:
        return dst
    if out_size == 2 * in_size:
        return dst >> 1
    scale = np.float32(1.0 / scale_factor) if scale_factor else np.float32(in_size) / np.float32(out_size)
    return np.minimum(np.floor(dst.astype(np.float32) * scale).astype(np.int64), in_size - 1)


def nearest_exact_source_index(in_size: int, out_size: int, scale_factor: float | None) -> np.ndarray:
    """``nearest-exact``'s source positions: the input pixel whose centre is nearest, half-way cases rounding up
    (PyTorch's ``nearest_neighbor_exact_compute_source_index``: the product in float64, floored in float32)."""
    scale = np.float32(1.0 / scale_factor) if scale_factor else np.float32(in_size) / np.float32(out_size)
    source = (np.arange(out_size, dtype=np.float64) + 0.5) * np.float64(scale)
    return np.minimum(np.floor(source.astype(np.float32)).astype(np.int64), in_size - 1)


class UpsampleNearest(Function):
    source_index = staticmethod(nearest_source_index)

    @staticmethod
    def forward(ctx, x, output_size, scale_factors):
        xp = xp_of(x)
        sources = [xp.asarray(ctx.source_index(i, o, s))
                   for i, o, s in zip(x.shape[2:], output_size, scale_factors)]
        key = (slice(None), slice(None), *xp.ix_(*sources))
        ctx.meta = x.shape, key
        return x[key]

    @staticmethod
    def backward(ctx, g):
        shape, key = ctx.meta
        xp = xp_of(g)
        gx = xp.zeros(shape, dtype=g.dtype)
        _scatter_add(xp, gx, key, g)  # an input element copied k times gets the sum of its k gradients
        return gx

    @staticmethod
    def backward_graph(ctx, g):
        key = ctx.meta[1]
        return linear_backward(ctx, g, lambda v: v[key])


class UpsampleNearestExact(UpsampleNearest):
    """``nearest-exact``: copies the input pixel whose centre is nearest each output pixel's centre."""

    source_index = staticmethod(nearest_exact_source_index)


def _per_dim(value, spatial: int, what: str, input_shape) -> tuple:
    if not isinstance(value, (tuple, list)):
        return (value,) * spatial
    if len(value) != spatial:
        raise ValueError(f"Input and {what} must have the same number of spatial dimensions, but got input with "
                         f"spatial dimensions of {list(input_shape[2:])} and {what} of {list(value)}. Please provide "
                         f"input tensor in (N, C, d1, d2, ...,dK) format and {what} in (o1, o2, ...,oK) format.")
    return tuple(value)


def interpolate(input, size=None, scale_factor=None, mode: str = "nearest", align_corners=None,
                recompute_scale_factor=None, antialias: bool = False):
    """Resize the spatial dims of ``(N, C, L)``, ``(N, C, H, W)`` or ``(N, C, D, H, W)`` input to ``size`` or by
    ``scale_factor`` (output size ``floor(in * scale_factor)``), by ``mode='nearest'``, ``'nearest-exact'``,
    ``'area'`` (any of them), ``'linear'``, ``'bilinear'``, ``'trilinear'`` (on 1, 2 or 3 spatial dims), or
    ``'bicubic'`` (2), these four with or without ``align_corners``; with ``antialias=True`` (2-D ``'bilinear'``,
    ``'bicubic'``, and ``'lanczos'``, which needs it), shrinking low-pass filters as PIL does."""
    if mode not in SUPPORTED_MODES:
        raise ValueError(f"interpolate: mode {mode!r} is not supported; supported modes: "
                         + ", ".join(repr(m) for m in SUPPORTED_MODES))
    if align_corners is not None and mode in ("nearest", "area", "nearest-exact"):
        raise ValueError("align_corners option can only be set with the interpolating modes: "
                         "linear | bilinear | bicubic | trilinear")
    if input.ndim not in (3, 4, 5):
        raise NotImplementedError(f"interpolate: expected a 3D, 4D or 5D input (N, C, *spatial), got {input.ndim}D "
                                  f"input of shape {list(input.shape)}")
    spatial = input.ndim - 2
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is None and scale_factor is None:
        raise ValueError("either size or scale_factor should be defined")
    if recompute_scale_factor and size is not None:
        raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
    if size is not None:
        output_size = tuple(int(s) for s in _per_dim(size, spatial, "output size", input.shape))
        scales = (None,) * spatial
    else:
        factors = tuple(float(f) for f in _per_dim(scale_factor, spatial, "scale_factor", input.shape))
        output_size = tuple(math.floor(float(n) * f) for n, f in zip(input.shape[2:], factors))
        # recomputing the factor means deriving the source index from the sizes alone
        scales = (None,) * spatial if recompute_scale_factor else factors
    if antialias and not (mode in ANTIALIAS_FILTERS and input.ndim == 4):
        raise ValueError("Anti-alias option is restricted to bilinear, bicubic, and lanczos modes and requires a "
                         "4-D tensor as input")
    if mode in INTERPOLATING_MODES and INTERPOLATING_MODES[mode] != spatial or mode == "lanczos" and spatial != 2:
        needs = INTERPOLATING_MODES.get(mode, 2) + 2
        raise NotImplementedError(f"Got {input.ndim}D input, but {mode} mode needs {needs}D input")
    if mode == "lanczos" and align_corners:
        raise ValueError("Lanczos mode does not support align_corners=True")
    if mode == "lanczos" and not antialias:
        raise ValueError("Lanczos mode requires antialias=True")
    if any(s <= 0 for s in output_size) or any(s <= 0 for s in input.shape[2:]):
        raise RuntimeError(f"Input and output sizes should be greater than 0, but got input {list(input.shape[2:])} "
                           f"output {list(output_size)}")
    if mode == "area":
        return AdaptiveAvgPool.apply(input, output_size=output_size)
    if antialias:
        return UpsampleAntialias.apply(input, mode=mode, output_size=output_size, align_corners=bool(align_corners),
                                       scale_factors=scales)
    if mode == "bicubic":
        return UpsampleBicubic.apply(input, output_size=output_size, align_corners=bool(align_corners),
                                     scale_factors=scales)
    if mode in LINEAR_MODES:
        return UpsampleLinear.apply(input, output_size=output_size, align_corners=bool(align_corners),
                                    scale_factors=scales)
    nearest = UpsampleNearestExact if mode == "nearest-exact" else UpsampleNearest
    return nearest.apply(input, output_size=output_size, scale_factors=scales)
