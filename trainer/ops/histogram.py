"""``histogram``: counts (or summed weights) of a float tensor's elements in bins given by a count and a range,
or by their edges; optionally as a density. Not differentiable, as in PyTorch (its outputs stay on the graph
with a backward that refuses to run).

Equal-width edges follow PyTorch's scalar linspace; PyTorch's vectorised loop can round an inner edge one ulp
differently (in float32), which moves only an element lying exactly on that edge.
"""

from __future__ import annotations

import math
from collections import namedtuple

from trainer.autograd.op import Function
from trainer.backend import xp_of
from trainer.ops._operands import quiet_fp_errors
from trainer.tensor import Tensor

Histogram = namedtuple("Histogram", ["hist", "bin_edges"])  # torch.return_types.histogram


class HistogramCounts(Function):
    """Bin ``i`` holds the elements in ``[edges[i], edges[i + 1])``, the last bin also its right edge; elements
    outside the edges are not counted."""

    @staticmethod
    def forward(ctx, a, edges, *weight, density):
        xp = xp_of(a)
        values = a.reshape(-1)
        bins = edges.shape[0] - 1
        position = xp.searchsorted(edges, values, side="right") - 1
        position = xp.where(values == edges[-1], bins - 1, position)
        inside = (values >= edges[0]) & (values <= edges[-1])
        weights = weight[0].reshape(-1)[inside] if weight else None
        hist = xp.bincount(position[inside], weights=weights, minlength=bins).astype(a.dtype, copy=False)
        if density:
            with quiet_fp_errors(xp):  # no data at all: 0 / 0 is nan, as in PyTorch
                hist = hist / (hist.sum() * xp.diff(edges))
        return hist, edges.copy()

    @staticmethod
    def backward(ctx, *grads):
        raise RuntimeError("derivative for aten::histogram is not implemented")


def _linspace(xp, low: float, high: float, steps: int, dtype):
    """PyTorch's linspace in ``dtype``: the first half stepped up from ``low``, the second down from ``high``."""
    step = (dtype.type(high) - dtype.type(low)) / dtype.type(max(steps - 1, 1))
    index = xp.arange(steps).astype(dtype)
    halfway = steps // 2
    up = dtype.type(low) + step * index
    down = dtype.type(high) - step * (steps - 1 - index)
    return xp.where(xp.arange(steps) < halfway, up, down).astype(dtype, copy=False)


def _outer_edges(a, range_, dim=0):
    """The leftmost and rightmost edge: ``range`` or the data's min and max (0 and 1 for no data), widened by
    0.5 on each side when they coincide, as in NumPy and PyTorch."""
    if range_ is not None:
        low, high = (float(v) for v in range_)
    elif a.numel():
        low, high = float(a._data.min()), float(a._data.max())
    else:
        low, high = 0.0, 1.0
    if not (math.isfinite(low) and math.isfinite(high)):
        raise RuntimeError(f"torch.histogramdd: dimension {dim}'s range [{low:g}, {high:g}] is not finite")
    if low > high:
        raise RuntimeError(f"torch.histogramdd: min should not exceed max, but got min {low:g} max {high:g} for "
                           f"dimension {dim}")
    return (low - 0.5, high + 0.5) if low == high else (low, high)


def histogram(input, bins, *, range=None, weight=None, density=False):  # noqa: A002 - PyTorch's names
    """``(hist, bin_edges)``: ``bins`` equal-width bins over ``range`` (the data's span by default), or the bins
    between consecutive edges of a 1-D tensor ``bins``."""
    if not input.dtype.is_floating_point:
        raise NotImplementedError(f"\"histogramdd\" not implemented for '{input.dtype.name}'")
    if weight is not None:
        if tuple(weight.shape) != tuple(input.shape):
            raise RuntimeError(f"torch.histogramdd: if weight tensor is provided it should have the same shape as the "
                               f"input tensor, but got input with shape {list(input.shape)} and weight with shape "
                               f"{list(weight.shape)}")
        if weight._data.dtype != input._data.dtype:
            raise RuntimeError(f"torch.histogramdd: if weight tensor is provided, input tensor and weight tensor "
                               f"should have the same dtype, but got input {input.dtype.name} and weight "
                               f"{weight.dtype.name}")
    if isinstance(bins, Tensor):
        if bins.ndim != 1:
            raise RuntimeError(f"torch.histogramdd: bins tensor should have one dimension, but got {bins.ndim} "
                               "dimensions in the bins tensor for dimension 0")
        if bins._data.dtype != input._data.dtype:
            raise RuntimeError(f"torch.histogramdd: input tensor and bins tensors should have the same dtype, but got "
                               f"input with dtype {input.dtype.name} and bins for dimension 0 with dtype "
                               f"{bins.dtype.name}")
        if bins.shape[0] < 1:
            raise RuntimeError("torch.histogramdd: bins tensor should have at least 1 element, but got 0 elements "
                               "for dimension 0")
        edges = bins.detach()
    else:
        if int(bins) <= 0:
            raise RuntimeError(f"torch.histogram(): bins must be > 0, but got {bins} for dimension 0")
        low, high = _outer_edges(input, range)
        xp = xp_of(input._data)
        edges = Tensor._wrap(_linspace(xp, low, high, int(bins) + 1, input._data.dtype))
    extra = () if weight is None else (weight,)
    return Histogram(*HistogramCounts.apply(input, edges, *extra, density=bool(density)))
