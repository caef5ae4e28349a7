"""``pdist``: the p-norm distance between every pair of rows of an ``(N, M)`` input, as PyTorch's.

The output lists the pairs ``i < j`` in row-major order (``N * (N - 1) / 2`` of them). The gradient follows
PyTorch's ``_pdist_backward``: zero for pairs at distance 0 (and, for ``p < 1``, for coordinates that agree),
shared by every coordinate that ties for the maximum when ``p`` is infinite.
"""

from __future__ import annotations

import math

import numpy as np

from trainer.autograd.higher_order import LinearMap, graph_tensors
from trainer.autograd.op import Function
from trainer.backend import xp_of
from trainer.ops.compare import where
from trainer.ops.indexing import _scatter_add
from trainer.tensor import Tensor


def _pairs(xp, n):
    first, second = np.triu_indices(n, 1)
    return xp.asarray(first), xp.asarray(second)


def _norm(xp, diff, p):
    magnitude = xp.abs(diff)
    if p == 0:
        return (magnitude != 0).sum(axis=1).astype(diff.dtype)
    if p == 1:
        return magnitude.sum(axis=1)
    if p == 2:
        return xp.sqrt((diff * diff).sum(axis=1))
    if math.isinf(p):
        # rows without coordinates are at distance 0 (the empty sum); CuPy's max takes no ``initial``
        return magnitude.max(axis=1) if diff.shape[1] else magnitude.sum(axis=1)
    return (magnitude ** p).sum(axis=1) ** (1 / p)


def _norm_grad(xp, diff, dist, p):
    """d(dist)/d(diff) per pair and coordinate, with PyTorch's zeros where the derivative is undefined."""
    if p == 0:
        return xp.zeros_like(diff)
    sign = xp.sign(diff)
    if p == 1:
        return sign
    at_distance = dist[:, None]
    if math.isinf(p):
        return sign * (xp.abs(diff) == at_distance)
    safe = xp.where(at_distance == 0, 1, at_distance)
    if p == 2:
        grad = diff / safe
    else:
        magnitude = xp.abs(diff)
        with np.errstate(divide="ignore"):
            grad = sign * xp.where(magnitude == 0, 0, magnitude ** (p - 1)) / safe ** (p - 1)
    return xp.where(at_distance == 0, 0, grad)


class Pdist(Function):
    """``(N, M)`` -> ``(N * (N - 1) / 2,)``: ``||x_i - x_j||_p`` for ``i < j``."""

    @staticmethod
    def forward(ctx, x, *, p):
        xp = xp_of(x)
        first, second = _pairs(xp, x.shape[0])
        diff = x[first] - x[second]
        dist = _norm(xp, diff, p)
        ctx.save_for_backward(x, diff, dist)
        ctx.geometry = (x.shape, p)
        return dist

    @staticmethod
    def backward(ctx, g):
        _, diff, dist = ctx.saved_tensors
        shape, p = ctx.geometry
        xp = xp_of(g)
        first, second = _pairs(xp, shape[0])
        return _pair_differences_adjoint(_norm_grad(xp, diff, dist, p) * g[:, None], first, second, shape)

    @staticmethod
    def backward_graph(ctx, g):
        x, _, dist = graph_tensors(ctx)
        diff_array, dist_array = ctx.saved_tensors[1:]
        shape, p = ctx.geometry
        xp = xp_of(g._data)
        first, second = _pairs(xp, shape[0])

        def pick(v):  # the pair differences: a linear map of x
            return v[first] - v[second]

        diff = LinearMap.apply(x, apply=pick, adjoint=lambda v: _pair_differences_adjoint(v, first, second, shape))
        grad = _norm_grad_graph(diff, diff_array, dist, dist_array, p) * g[:, None]
        return LinearMap.apply(grad, apply=lambda v: _pair_differences_adjoint(v, first, second, shape), adjoint=pick)


def _pair_differences_adjoint(grad, first, second, shape):
    """Each pair's row of ``grad`` added to its first row's and taken from its second row's."""
    xp = xp_of(grad)
    gx = xp.zeros(shape, dtype=grad.dtype)
    _scatter_add(xp, gx, first, grad)
    _scatter_add(xp, gx, second, -grad)
    return gx


def _norm_grad_graph(diff, diff_array, dist, dist_array, p):
    """``_norm_grad`` with differentiable ops on the tensors ``diff`` and ``dist``; the masks where PyTorch puts
    zeros come from their arrays."""
    xp = xp_of(diff_array)
    if p == 0:
        return diff * 0
    sign = Tensor._wrap(xp.sign(diff_array))
    if p == 1:
        return sign
    if math.isinf(p):
        return Tensor._wrap(xp.sign(diff_array) * (xp.abs(diff_array) == dist_array[:, None]))
    at_zero = Tensor._wrap(dist_array[:, None] == 0)
    safe = where(at_zero, 1.0, dist[:, None])
    if p == 2:
        grad = diff / safe
    else:
        flat = Tensor._wrap(diff_array == 0)
        magnitude = where(flat, 1.0, diff.abs())
        grad = where(flat, 0.0, sign * magnitude ** (p - 1)) / safe ** (p - 1)
    return where(at_zero, 0.0, grad)


def pdist(input, p: float = 2):
    """``torch.nn.functional.pdist`` (and ``torch.pdist``)."""
    if input.ndim != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input.ndim}D")
    if not input.dtype.is_floating_point:
        raise RuntimeError("pdist only supports floating-point dtypes")
    if p < 0:
        raise RuntimeError("pdist only supports non-negative p values")
    return Pdist.apply(input, p=float(p))
