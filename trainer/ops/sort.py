"""Sorting: sort, argsort, topk and kthvalue, each giving values and their int64 indices.

Ties keep the lower index first (a stable sort, also ONNX TopK's rule) and nan sorts as the largest
value, as in PyTorch. Gradients go back to the elements each value was taken from.
"""

from __future__ import annotations

from trainer.autograd.higher_order import linear_backward
from trainer.autograd.op import Function
from trainer.backend import xp_of
from trainer.ops._operands import normalize_dim
from trainer.ops.complex_checks import reject_complex, reject_complex_kernel
from trainer.ops.reduce import ValuesIndices


def _order(a, axis, descending):
    """Indices that sort ``a`` along ``axis``, stable in both directions."""
    xp = xp_of(a)
    if not descending:
        return xp.argsort(a, axis=axis, kind="stable")
    # ascending over the reversed axis, read backwards: descending, and equal values keep index order
    n = a.shape[axis]
    return n - 1 - xp.flip(xp.argsort(xp.flip(a, axis), axis=axis, kind="stable"), axis)


class Selection(Function):
    """Values picked out of ``a`` by indices along ``dim``; the gradient is scattered back to them."""

    @staticmethod
    def backward(ctx, g, *_):
        shape, dim, indices = ctx.meta
        xp = xp_of(g)
        out = xp.zeros(shape, g.dtype)
        xp.put_along_axis(out, indices, g, axis=dim)
        return out

    @staticmethod
    def backward_graph(ctx, g, *_):
        _, dim, indices = ctx.meta
        return linear_backward(ctx, g, lambda v: xp_of(v).take_along_axis(v, indices, axis=dim).reshape(g.shape))


class Sort(Selection):
    @staticmethod
    def forward(ctx, a, dim, descending=False):
        indices = _order(a, dim, descending)
        ctx.meta = a.shape, dim, indices
        return xp_of(a).take_along_axis(a, indices, axis=dim), indices.astype("int64", copy=False)


class TopK(Selection):
    @staticmethod
    def forward(ctx, a, k, dim, largest=True):
        indices = _order(a, dim, largest)
        indices = xp_of(a).take(indices, xp_of(a).arange(k), axis=dim)
        ctx.meta = a.shape, dim, indices
        return xp_of(a).take_along_axis(a, indices, axis=dim), indices.astype("int64", copy=False)


class KthValue(Selection):
    """The ``k``-th smallest value along ``dim`` (counting from 1) and its index."""

    @staticmethod
    def forward(ctx, a, k, dim, keepdim=False):
        xp = xp_of(a)
        indices = xp.take(_order(a, dim, False), xp.arange(k - 1, k), axis=dim)
        ctx.meta = a.shape, dim, indices
        values = xp.take_along_axis(a, indices, axis=dim)
        if not keepdim:
            values, indices = values.squeeze(dim), indices.squeeze(dim)
        return values, indices.astype("int64", copy=False)

    @staticmethod
    def backward(ctx, g, *_):
        shape, dim, indices = ctx.meta
        return Selection.backward(ctx, g.reshape(indices.shape))


def _as_1d(a, dim):
    """A 0-d tensor is sorted as one element: ``dim`` must be 0 or -1."""
    normalize_dim(dim, 0)
    return a.reshape(1), 0


def _values_indices(values, indices, was_0d):
    if was_0d:
        return ValuesIndices(values.reshape(()), indices.reshape(()))
    return ValuesIndices(values, indices)


def sort(a, dim=-1, descending=False, stable=False):
    """``(values, indices)``; the sort is always stable, which ``stable=False`` also allows."""
    reject_complex(a, "Sort does not support complex dtypes on CPU", RuntimeError)
    was_0d = not a._data.ndim
    a, dim = _as_1d(a, dim) if was_0d else (a, normalize_dim(dim, a._data.ndim))
    return _values_indices(*Sort.apply(a, dim=dim, descending=bool(descending)), was_0d)


def argsort(a, dim=-1, descending=False, *, stable=False):
    return sort(a, dim, descending, stable).indices


def msort(a):
    return sort(a, 0).values


def _check_k(k, size, what):
    if not 0 <= k <= size:
        raise RuntimeError(f"{what}: got k={k}, expected 0 <= k <= {size} (the size of the dimension)")


def topk(a, k, dim=-1, largest=True, sorted=True):  # noqa: A002 - PyTorch's name
    """The ``k`` largest (or smallest) values along ``dim`` and their indices, in sorted order."""
    reject_complex(a, "topk does not support complex dtypes on CPU", RuntimeError)
    was_0d = not a._data.ndim
    a, dim = _as_1d(a, dim) if was_0d else (a, normalize_dim(dim, a._data.ndim))
    _check_k(k, a._data.shape[dim], "topk(): selected index k out of range")
    return _values_indices(*TopK.apply(a, k=int(k), dim=dim, largest=bool(largest)), was_0d)


def kthvalue(a, k, dim=-1, keepdim=False):
    reject_complex_kernel("kthvalue", a._data)
    was_0d = not a._data.ndim
    a, dim = _as_1d(a, dim) if was_0d else (a, normalize_dim(dim, a._data.ndim))
    size = a._data.shape[dim]
    if not 1 <= k <= size:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {dim}: got k={k}, "
                           f"expected 1 <= k <= {size}")
    return _values_indices(*KthValue.apply(a, k=int(k), dim=dim, keepdim=keepdim or was_0d), was_0d)
