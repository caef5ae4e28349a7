"""``histogramdd``: counts (or summed weights) of points in a D-dimensional grid of bins, the points being the
rows of a tensor whose innermost dimension has size D; optionally as a density. Not differentiable, as in
PyTorch (outputs stay on the graph with a backward that refuses to run).

Each dimension's bins follow ``histogram``'s rules: a count over a range (the data's span by default) or a 1-D
tensor of edges; bin ``i`` holds ``[edges[i], edges[i + 1])``, the last bin also its right edge.
"""

from __future__ import annotations

import math
from collections import namedtuple
from numbers import Integral

from trainer.autograd.op import Function
from trainer.backend import xp_of
from trainer.ops._operands import quiet_fp_errors
from trainer.ops.histogram import _linspace, _outer_edges
from trainer.tensor import Tensor

Histogramdd = namedtuple("Histogramdd", ["hist", "bin_edges"])  # torch.return_types.histogramdd


class HistogramddCounts(Function):
    """The histogram of the rows of a 2-D ``points`` over the grid of ``edges`` (one array per column)."""

    @staticmethod
    def forward(ctx, points, *edges_and_weight, dims, density):
        xp = xp_of(points)
        edges, weight = edges_and_weight[:dims], edges_and_weight[dims:]
        bins = tuple(e.shape[0] - 1 for e in edges)
        if dims == 0:  # no coordinates: PyTorch counts nothing
            return (xp.zeros((), points.dtype),)
        flat = xp.zeros(points.shape[0], xp.int64)
        inside = xp.ones(points.shape[0], bool)
        for d, e in enumerate(edges):
            values = points[:, d]
            position = xp.searchsorted(e, values, side="right") - 1
            position = xp.where(values == e[-1], bins[d] - 1, position)
            inside &= (values >= e[0]) & (values <= e[-1])
            flat = flat * bins[d] + xp.clip(position, 0, bins[d] - 1)
        weights = weight[0].reshape(-1)[inside] if weight else None
        size = 1
        for b in bins:
            size *= b
        hist = xp.bincount(flat[inside], weights=weights, minlength=size).astype(points.dtype, copy=False)
        hist = hist.reshape(bins)
        if density:
            with quiet_fp_errors(xp):  # no data at all: 0 / 0 is nan, as in PyTorch
                hist = hist / hist.sum()
                for d, e in enumerate(edges):
                    shape = [1] * dims
                    shape[d] = bins[d]
                    hist = hist / xp.diff(e).reshape(shape)
        return (hist, *(e.copy() for e in edges))

    @staticmethod
    def backward(ctx, *grads):
        raise RuntimeError("derivative for aten::histogramdd is not implemented")


def _check_input(input, weight):  # noqa: A002 - PyTorch's names
    if not input.dtype.is_floating_point:
        raise NotImplementedError(f"\"histogramdd\" not implemented for '{input.dtype.name}'")
    if input.ndim < 2:
        raise RuntimeError("torch.histogramdd: input tensor should have at least 2 dimensions")
    if weight is None:
        return
    if tuple(weight.shape) != tuple(input.shape[:-1]):
        raise RuntimeError(f"torch.histogramdd: if weight tensor is provided it should have the same shape as the "
                           f"input tensor excluding its innermost dimension, but got input with shape "
                           f"{list(input.shape)} and weight with shape {list(weight.shape)}")
    if weight._data.dtype != input._data.dtype:
        raise RuntimeError(f"torch.histogramdd: if weight tensor is provided, input tensor and weight tensor should "
                           f"have the same dtype, but got input {input.dtype.name} and weight {weight.dtype.name}")


def _edges_given(input, bins) -> list[Tensor]:  # noqa: A002
    """Each dimension's edge tensor, checked as PyTorch checks them."""
    for d, edges in enumerate(bins):
        if not isinstance(edges, Tensor):
            raise TypeError(f"expected Tensor as element {d} in argument 1, but got {type(edges).__name__}")
        if edges.ndim != 1:
            raise RuntimeError(f"torch.histogramdd: bins tensor should have one dimension, but got {edges.ndim} "
                               f"dimensions in the bins tensor for dimension {d}")
        if edges._data.dtype != input._data.dtype:
            raise RuntimeError(f"torch.histogramdd: input tensor and bins tensors should have the same dtype, but "
                               f"got input with dtype {input.dtype.name} and bins for dimension {d} with dtype "
                               f"{edges.dtype.name}")
        if edges.shape[0] < 1:
            raise RuntimeError(f"torch.histogramdd: bins tensor should have at least 1 element, but got 0 elements "
                               f"for dimension {d}")
    return [edges.detach() for edges in bins]


def _edges_counted(points: Tensor, counts, range_) -> list[Tensor]:
    """Equal-width edges for ``counts[d]`` bins over each dimension's range (or its data's span)."""
    dims = points.shape[-1]
    if range_ is not None and len(range_) != 2 * dims:
        raise RuntimeError(f"torch.histogramdd: for a {dims}-dimensional histogram range should have {2 * dims} "
                           f"elements, but got {len(range_)}")
    xp = xp_of(points._data)
    edges = []
    for d, count in enumerate(counts):
        if int(count) <= 0:
            raise RuntimeError(f"torch.histogram(): bins must be > 0, but got {count} for dimension {d}")
        pair = None if range_ is None else range_[2 * d: 2 * d + 2]
        low, high = _outer_edges(points[:, d], pair, d)
        edges.append(Tensor._wrap(_linspace(xp, low, high, int(count) + 1, points._data.dtype)))
    return edges


def histogramdd(input, bins, *, range=None, weight=None, density=False):  # noqa: A002 - PyTorch's names
    """``(hist, bin_edges)``: the D-dimensional histogram of the rows of ``input`` (shape ``(..., D)``), with
    ``bins`` an int (the same count in each dimension), D ints, or D 1-D tensors of edges."""
    _check_input(input, weight)
    dims = input.shape[-1]
    if isinstance(bins, Integral):
        bins = [bins] * dims
    bins = list(bins)
    if len(bins) != dims:
        raise RuntimeError("histogramdd: The size of bins must be equal to the innermost dimension of the input.")
    points = input.reshape(math.prod(input.shape[:-1]), dims)
    if bins and isinstance(bins[0], Tensor):
        edges = _edges_given(input, bins)
    else:
        edges = _edges_counted(points.detach(), bins, range)
    extra = () if weight is None else (weight,)
    counts = HistogramddCounts.apply(points, *edges, *extra, dims=dims, density=bool(density))
    if isinstance(counts, Tensor):  # no dimensions: the count alone
        return Histogramdd(counts, ())
    return Histogramdd(counts[0], tuple(counts[1:]))
