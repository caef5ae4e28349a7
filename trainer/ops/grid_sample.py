"""Sampling grids: ``grid_sample`` (bilinear, nearest and, in 2-D, bicubic sampling of an image at the points of a
grid; zeros, border or reflection padding) and ``affine_grid`` (the grid of an affine transform), as PyTorch's.

The grid holds normalised coordinates in ``[-1, 1]``, innermost axis first (``x``, ``y``[, ``z``]). Each spatial
axis maps its coordinate to a source position independently, and each interpolation mode is a small set of taps
per axis (1 for nearest, 2 for linear, 4 for cubic), each an index, a weight and the weight's derivative; a
sample is the sum over every combination of one tap per axis. Forward and backward loop over those
combinations (at most 16), gathering or scattering every output point at once. The gradients follow PyTorch's
kernels exactly, including where its clipping and reflection make the grid's gradient zero. Second derivatives
recompute the sampling from differentiable gathers and arithmetic: padding is affine in the position with
piecewise-constant coefficients (the ones the first-order backward uses), so the recomputation has the same slopes.
"""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np

from trainer.amp import cast_policy
from trainer.autograd.op import Function
from trainer.autograd.recompute import recompute_backward
from trainer.backend import xp_of
from trainer.ops.indexing import Gather, _scatter_add
from trainer.tensor import Tensor

MODES = ("bilinear", "nearest", "bicubic")
PADDING_MODES = ("zeros", "border", "reflection")
_CUBIC_A = -0.75  # PyTorch's (and OpenCV's) cubic convolution constant


# ---------------------------------------------------------------------------------------------
# coordinates: normalised grid value -> source position along one axis, and that map's derivative


def _unnormalize(coord, size, align_corners):
    """``[-1, 1]`` to pixel positions: corner pixels' centres with ``align_corners``, else their outer edges."""
    if align_corners:
        return (coord + 1) / 2 * (size - 1), (size - 1) / 2
    return ((coord + 1) * size - 1) / 2, size / 2


def _clip(xp, position, size):
    """Clamp to ``[0, size - 1]``; the derivative is 0 at and beyond either end, as PyTorch's."""
    return xp.clip(position, 0, size - 1), (position > 0) & (position < size - 1)


def _reflect(xp, position, size, align_corners):
    """Mirror at the borders (the corner centres with ``align_corners``, else the outer edges) until inside,
    then clamp; returns the position and the derivative's sign (0 where the clamp bites)."""
    twice_low, twice_high = (0, 2 * (size - 1)) if align_corners else (-1, 2 * size - 1)
    if twice_low == twice_high:
        return xp.zeros_like(position), xp.zeros_like(position)
    low, span = twice_low / 2, (twice_high - twice_low) / 2
    shifted = position - low
    distance = xp.abs(shifted)
    extra = xp.fmod(distance, span)
    even = xp.floor(distance / span) % 2 == 0
    reflected = xp.where(even, extra + low, span - extra + low)
    sign = xp.where(shifted < 0, -1, 1) * xp.where(even, 1, -1)
    clipped, inside = _clip(xp, reflected, size)
    return clipped, sign * inside


def _pad_position(xp, position, size, padding_mode, align_corners):
    """A source position brought inside by border or reflection padding, and the derivative of that step."""
    if padding_mode == "border":
        return _clip(xp, position, size)
    if padding_mode == "reflection":
        return _reflect(xp, position, size, align_corners)
    return position, 1


def _cubic_weights(xp, t):
    """The four cubic-convolution weights of taps at offsets -1, 0, 1, 2 from ``floor(position)`` and their
    derivatives with respect to ``t = position - floor(position)``."""
    a = _CUBIC_A
    near = [t, 1 - t]  # distances to the two inner taps
    far = [t + 1, 2 - t]  # ... and to the two outer ones
    weight_near = [((a + 2) * d - (a + 3)) * d * d + 1 for d in near]
    weight_far = [((a * d - 5 * a) * d + 8 * a) * d - 4 * a for d in far]
    slope_near = [(3 * (a + 2) * d - 2 * (a + 3)) * d for d in near]
    slope_far = [(3 * a * d - 10 * a) * d + 8 * a for d in far]
    # d(distance)/dt is +1 for the taps at or before the position and -1 for those after it
    weights = [weight_far[0], weight_near[0], weight_near[1], weight_far[1]]
    slopes = [slope_far[0], slope_near[0], -slope_near[1], -slope_far[1]]
    return weights, slopes


def _axis_taps(xp, coord, size, mode, padding_mode, align_corners):
    """The taps of one spatial axis: ``[(index, valid, weight, slope)]`` over the grid's points, and the factor
    that turns a slope into the derivative with respect to the normalised coordinate."""
    position, scale = _unnormalize(coord, size, align_corners)
    if mode == "bicubic":
        # cubic sampling pads each of its taps, not the sampling position
        base = xp.floor(position)
        weights, slopes = _cubic_weights(xp, position - base)
        taps = []
        for offset, weight, slope in zip((-1, 0, 1, 2), weights, slopes):
            tap, _ = _pad_position(xp, base + offset, size, padding_mode, align_corners)
            index = xp.trunc(tap).astype(np.int64)
            taps.append((index, (index >= 0) & (index < size), weight, slope))
        return taps, scale
    position, padding_slope = _pad_position(xp, position, size, padding_mode, align_corners)
    scale = scale * padding_slope
    if mode == "nearest":
        index = xp.rint(position).astype(np.int64)  # round half to even, as nearbyint
        return [(index, (index >= 0) & (index < size), xp.ones_like(position), 0)], scale
    base = xp.floor(position)
    t = position - base
    index = base.astype(np.int64)
    return [(index, (index >= 0) & (index < size), 1 - t, -1),
            (index + 1, (index + 1 >= 0) & (index + 1 < size), t, 1)], scale


def _all_taps(xp, grid, spatial, mode, padding_mode, align_corners):
    """Per spatial axis (outermost first) its taps and slope factor; the grid lists coordinates innermost first."""
    dims = len(spatial)
    points = grid.reshape(grid.shape[0], -1, dims)
    return [_axis_taps(xp, points[..., dims - 1 - axis], size, mode, padding_mode, align_corners)
            for axis, size in enumerate(spatial)]


def _combinations(xp, per_axis, spatial):
    """Every combination of one tap per axis: the flat source index (0 where out of bounds), where it is in bounds,
    and the per-axis taps themselves."""
    strides = [math.prod(spatial[axis + 1:]) for axis in range(len(spatial))]
    for combo in itertools.product(*(taps for taps, _ in per_axis)):
        valid = combo[0][1]
        for tap in combo[1:]:
            valid = valid & tap[1]
        flat = sum(tap[0] * stride for tap, stride in zip(combo, strides))
        yield xp.where(valid, flat, 0), valid, combo


def _weight(xp, combo, valid, skip=None):
    """The product of the combination's weights (but the one of axis ``skip``), 0 where out of bounds."""
    return xp.where(valid, math.prod(tap[2] for axis, tap in enumerate(combo) if axis != skip), 0)


class GridSample(Function):
    """Samples ``x`` ``(N, C, *spatial)`` at ``grid`` ``(N, *out, dims)``: ``(N, C, *out)``."""

    @staticmethod
    def forward(ctx, x, grid, *, mode, padding_mode, align_corners):
        xp = xp_of(x)
        n, c, *spatial = x.shape
        per_axis = _all_taps(xp, grid, spatial, mode, padding_mode, align_corners)
        flat_x = x.reshape(n, c, -1)
        out = xp.zeros((n, c, math.prod(grid.shape[1:-1])), dtype=x.dtype)
        for index, valid, combo in _combinations(xp, per_axis, spatial):
            out += xp.take_along_axis(flat_x, index[:, None, :], axis=2) * _weight(xp, combo, valid)[:, None, :]
        ctx.save_for_backward(x, grid)
        ctx.options = (mode, padding_mode, align_corners)
        return out.reshape(n, c, *grid.shape[1:-1])

    @staticmethod
    def backward(ctx, g):
        x, grid = ctx.saved_tensors
        mode, padding_mode, align_corners = ctx.options
        xp = xp_of(g)
        n, c, *spatial = x.shape
        dims = len(spatial)
        per_axis = _all_taps(xp, grid, spatial, mode, padding_mode, align_corners)
        flat_g = g.reshape(n, c, -1)
        flat_x = x.reshape(n, c, -1)
        needs_x, needs_grid = ctx.needs_input_grad
        gx = xp.zeros(flat_x.shape, dtype=x.dtype) if needs_x else None
        slopes = [xp.zeros(flat_g.shape[::2], dtype=x.dtype) for _ in range(dims)] if needs_grid else None
        batch, channel = xp.arange(n)[:, None, None], xp.arange(c)[None, :, None]
        for index, valid, combo in _combinations(xp, per_axis, spatial):
            if needs_x:
                weight = _weight(xp, combo, valid)
                _scatter_add(xp, gx, (batch, channel, index[:, None, :]), flat_g * weight[:, None, :])
            if needs_grid and mode != "nearest":
                # d(out)/d(one axis's weight) is the sampled value times the other axes' weights
                seen = (flat_g * xp.take_along_axis(flat_x, index[:, None, :], axis=2)).sum(axis=1)
                for axis in range(dims):
                    slopes[axis] += seen * combo[axis][3] * _weight(xp, combo, valid, skip=axis)
        ggrid = None
        if needs_grid:
            # the grid's last axis lists the spatial axes innermost first
            ggrid = xp.stack([slopes[axis] * per_axis[axis][1] for axis in reversed(range(dims))], axis=-1)
            ggrid = ggrid.astype(grid.dtype, copy=False).reshape(grid.shape)
        return (gx.reshape(x.shape) if needs_x else None), ggrid

    @staticmethod
    def backward_graph(ctx, g):
        x, grid = ctx.saved_tensors
        mode, padding_mode, align_corners = ctx.options
        gx, ggrid = recompute_backward(ctx, (g,), (x, grid),
                                       lambda x, grid: (_sampled(x, grid, mode, padding_mode, align_corners),))
        if ggrid is None and ctx.needs_input_grad[1]:  # nearest sampling: a zero gradient, as the first order's
            ggrid = Tensor._wrap(xp_of(grid).zeros_like(grid))
        return gx, ggrid


def _graph_axis_taps(xp, coord, size, mode, padding_mode, align_corners):
    """``_axis_taps`` with the weights as tensors differentiable in ``coord`` (a tensor); indices stay arrays."""
    taps, _ = _axis_taps(xp, coord._data, size, mode, padding_mode, align_corners)
    if mode == "nearest":
        return [(index, valid, Tensor._wrap(weight), None) for index, valid, weight, _ in taps]
    position = (coord + 1) / 2 * (size - 1) if align_corners else ((coord + 1) * size - 1) / 2
    if mode == "bicubic":
        weights, _ = _cubic_weights(xp, position - Tensor._wrap(xp.floor(position._data)))
    else:
        padded, slope = _pad_position(xp, position._data, size, padding_mode, align_corners)
        slope = xp.asarray(slope, dtype=padded.dtype)
        t = position * Tensor._wrap(slope) + Tensor._wrap(padded - position._data * slope - xp.floor(padded))
        weights = [1 - t, t]
    return [(index, valid, weight, None) for (index, valid, _, _), weight in zip(taps, weights)]


def _sampled(x, grid, mode, padding_mode, align_corners):
    """``GridSample``'s forward on tensors, composed of differentiable ops."""
    xp = xp_of(grid._data)
    n, c, *spatial = x.shape
    dims = len(spatial)
    points = grid.reshape(n, -1, dims)
    per_axis = [(_graph_axis_taps(xp, points[..., dims - 1 - axis], size, mode, padding_mode, align_corners), None)
                for axis, size in enumerate(spatial)]
    flat_x = x.reshape(n, c, -1)
    out = None
    for index, valid, combo in _combinations(xp, per_axis, spatial):
        weight = math.prod(tap[2] for tap in combo) * Tensor._wrap(valid.astype(x._data.dtype))
        gathered = Gather.apply(flat_x, Tensor._wrap(xp.broadcast_to(index[:, None, :], (n, c, index.shape[1]))),
                                axis=2)
        term = gathered * weight.unsqueeze(1)
        out = term if out is None else out + term
    return out.reshape(n, c, *grid.shape[1:-1])


# ---------------------------------------------------------------------------------------------
# affine grids


def _linspace_from_neg_one(steps, align_corners):
    """PyTorch's sample positions along one axis: ``linspace(-1, 1)``, pulled in to the pixel centres without
    ``align_corners``; a single step sits at 0. Computed from both ends, as torch.linspace does."""
    if steps <= 1:
        return np.zeros(max(steps, 0))
    i = np.arange(steps)
    step = 2.0 / (steps - 1)
    positions = np.where(i < steps // 2, -1.0 + step * i, 1.0 - step * (steps - 1 - i))
    return positions if align_corners else positions * (steps - 1) / steps


def base_grid(spatial, align_corners):
    """The homogeneous sample points ``(prod(spatial), dims + 1)``: ``(x, y[, z], 1)``, ``x`` along the last axis."""
    mesh = np.meshgrid(*(_linspace_from_neg_one(s, align_corners) for s in spatial), indexing="ij")
    return np.stack([*reversed(mesh), np.ones(mesh[0].shape)], axis=-1).reshape(-1, len(spatial) + 1)


class AffineGrid(Function):
    """``theta`` ``(N, dims, dims + 1)`` applied to the base grid of ``size``: ``(N, *spatial, dims)``."""

    @staticmethod
    def forward(ctx, theta, *, size, align_corners):
        xp = xp_of(theta)
        spatial = tuple(int(s) for s in size[2:])
        base = xp.asarray(base_grid(spatial, align_corners), dtype=theta.dtype)
        ctx.save_for_backward(base)
        return xp.matmul(base, theta.transpose(0, 2, 1)).reshape(theta.shape[0], *spatial, len(spatial))

    @staticmethod
    def backward(ctx, g):
        (base,) = ctx.saved_tensors
        flat = g.reshape(g.shape[0], -1, g.shape[-1])
        return xp_of(g).matmul(flat.transpose(0, 2, 1), base)

    @staticmethod
    def backward_graph(ctx, g):
        (base,) = ctx.saved_tensors
        return g.reshape(g.shape[0], -1, g.shape[-1]).mT @ Tensor._wrap(base)


# ---------------------------------------------------------------------------------------------
# the functional forms

_ALIGN_CORNERS_CHANGED = ("Default grid_sample and affine_grid behavior has changed to align_corners=False since "
                          "1.3.0. Please specify align_corners=True if the old behavior is desired. See the "
                          "documentation of grid_sample for details.")


@cast_policy.fp32
def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=None):
    """``torch.nn.functional.grid_sample``: ``input`` ``(N, C, H, W)`` or ``(N, C, D, H, W)`` sampled at ``grid``
    ``(N, H_out, W_out, 2)`` or ``(N, D_out, H_out, W_out, 3)``."""
    if mode not in MODES:
        raise ValueError(f"nn.functional.grid_sample(): expected mode to be 'bilinear', 'nearest' or 'bicubic', "
                         f"but got: '{mode}'")
    if padding_mode not in PADDING_MODES:
        raise ValueError(f"nn.functional.grid_sample(): expected padding_mode to be 'zeros', 'border', or "
                         f"'reflection', but got: '{padding_mode}'")
    if align_corners is None:
        warnings.warn(_ALIGN_CORNERS_CHANGED, stacklevel=2)
        align_corners = False
    sizes = f"input with sizes {list(input.shape)} and grid with sizes {list(grid.shape)}"
    if input.ndim != grid.ndim or input.ndim not in (4, 5):
        if input.ndim >= 1 and grid.ndim >= 1 and input.shape[0] != grid.shape[0]:
            raise RuntimeError(f"grid_sampler(): expected grid and input to have same batch size, but got {sizes}")
        raise RuntimeError(f"grid_sampler(): expected 4D or 5D input and grid with same number of dimensions, but "
                           f"got {sizes}")
    if input.shape[0] != grid.shape[0]:
        raise RuntimeError(f"grid_sampler(): expected grid and input to have same batch size, but got {sizes}")
    dims = input.ndim - 2
    if grid.shape[-1] != dims:
        raise RuntimeError(f"grid_sampler(): expected grid to have size {dims} in last dimension, but got grid with "
                           f"sizes {list(grid.shape)}")
    for axis in range(2, input.ndim):
        if input.shape[axis] == 0:
            raise RuntimeError(f"grid_sampler(): expected input to have non-empty spatial dimensions, but input has "
                               f"sizes {list(input.shape)} with dimension {axis} being empty")
    if mode == "bicubic" and dims != 2:
        raise RuntimeError("grid_sampler(): bicubic interpolation only supports 4D input")
    if input.dtype != grid.dtype:
        raise RuntimeError(f"grid_sampler(): expected input and grid to have the same dtype, but input has "
                           f"{input.dtype.name} and grid has {grid.dtype.name}")
    if not input.dtype.is_floating_point:
        raise NotImplementedError(f"grid_sample: expected a floating-point input and grid, got {input.dtype.name}")
    return GridSample.apply(input, grid, mode=mode, padding_mode=padding_mode, align_corners=bool(align_corners))


def affine_grid(theta, size, align_corners=None):
    """``torch.nn.functional.affine_grid``: the sampling grid ``(N, H, W, 2)`` (``size`` of 4) or
    ``(N, D, H, W, 3)`` (``size`` of 5) of the affine matrices ``theta`` ``(N, 2, 3)`` or ``(N, 3, 4)``."""
    if align_corners is None:
        warnings.warn(_ALIGN_CORNERS_CHANGED, stacklevel=2)
        align_corners = False
    if not theta.dtype.is_floating_point:
        raise ValueError(f"Expected theta to have floating point type, but got {theta.dtype}")
    size = list(size)
    if len(size) in (4, 5):
        dims = len(size) - 2
        if theta.ndim != 3 or tuple(theta.shape[-2:]) != (dims, dims + 1):
            raise ValueError(f"Expected a batch of {dims}D affine matrices of shape Nx{dims}x{dims + 1} for size "
                             f"{size}. Got {theta.shape}.")
    else:
        raise NotImplementedError(f"affine_grid only supports 4D and 5D sizes, for 2D and 3D affine transforms, "
                                  f"respectively. Got size {size}.")
    spatial = size[2:]
    if align_corners and min(spatial) == 1:
        warnings.warn("Since version 1.3.0, affine_grid behavior has changed for unit-size grids when "
                      "align_corners=True. This is not an intended use case of affine_grid. See the documentation "
                      "of affine_grid for details.", stacklevel=2)
    elif min(size) <= 0:
        raise ValueError(f"Expected non-zero, positive output size. Got {size}")
    if size[0] != theta.shape[0]:
        raise RuntimeError(f"affine_grid: size {size} asks for a batch of {size[0]}, but theta holds "
                           f"{theta.shape[0]} matrices (shape {list(theta.shape)})")
    return AffineGrid.apply(theta, size=tuple(size), align_corners=bool(align_corners))
