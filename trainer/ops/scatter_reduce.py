"""Scattering with a reduction: ``scatter_reduce`` (sum, prod, mean, amax, amin; with or without ``self``'s own
values) and ``index_reduce``, which is ``scatter_reduce`` with one index per slice along ``dim``.

The gradients are PyTorch's: ``mean`` divides by each position's count; ``prod`` divides the product by the
factor, with the product of the others taken directly where one factor is zero; ``amax``/``amin`` share the
gradient evenly among the values that reach the extreme.
"""

from __future__ import annotations

import numpy as np

from trainer import dtypes
from trainer.autograd.higher_order import graph_tensors, linear_backward
from trainer.autograd.op import Function
from trainer.backend import xp_of
from trainer.ops._operands import normalize_dim, quiet_fp_errors
from trainer.ops.compare import where
from trainer.ops.indexing import Index, _check_index_range, _scatter_key, _scatter_operands
from trainer.ops.shape import expand, reshape
from trainer.tensor import Tensor

REDUCTIONS = ("sum", "prod", "mean", "amax", "amin")
_UFUNCS = {"sum": "add", "mean": "add", "prod": "multiply", "amax": "maximum", "amin": "minimum"}


def _reduce_at(xp, ufunc: str, out, key, values) -> None:
    """``out[key] = ufunc(out[key], values)`` with repeated indices each taking part (NumPy's ``ufunc.at``)."""
    if xp is np:
        getattr(np, ufunc).at(out, key, values)
        return
    import cupyx

    scatter = {"add": cupyx.scatter_add, "maximum": cupyx.scatter_max, "minimum": cupyx.scatter_min}.get(ufunc)
    if scatter is not None:
        scatter(out, key, values)
        return
    # CuPy has no scattered product: that one runs on the host
    host = out.get()
    np.multiply.at(host, tuple(k.get() if hasattr(k, "get") else k for k in key), values.get())
    out[...] = xp.asarray(host)


def reduction_identity(reduce: str, dtype):
    """The value a position starts from when ``self`` is left out: the reduction's identity element."""
    if reduce in ("sum", "mean"):
        return 0
    if reduce == "prod":
        return 1
    if dtype.kind == "b":
        return reduce == "amin"
    if dtypes.is_floating(dtype):
        return -np.inf if reduce == "amax" else np.inf
    return np.iinfo(dtype).min if reduce == "amax" else np.iinfo(dtype).max


def _scatter_reduced(a, key, src, reduce, include_self):
    xp = xp_of(a)
    out = a.copy()
    if not include_self:
        out[key] = reduction_identity(reduce, a.dtype)
    _reduce_at(xp, _UFUNCS[reduce], out, key, src)
    if reduce == "mean":
        count = xp.full(a.shape, int(include_self), dtype=np.int64)
        _reduce_at(xp, "add", count, key, xp.ones(src.shape, np.int64))
        count = xp.maximum(count, 1)
        out = (out / count if dtypes.is_inexact(a.dtype) else out // count).astype(a.dtype, copy=False)
    return out


class ScatterReduce(Function):
    """``a`` with each ``src`` element combined (by ``reduce``) into the position ``index`` names along ``axis``."""

    @staticmethod
    def forward(ctx, a, index, src, axis, reduce, include_self):
        key = _scatter_key(xp_of(a), index, axis)
        out = _scatter_reduced(a, key, src, reduce, include_self)
        if reduce in ("prod", "amax", "amin"):  # sum and mean need only the positions
            ctx.save_for_backward(a, src, out)
            ctx.index = index, axis  # prod's second derivative scatters again
        ctx.meta = key, reduce, include_self, a.shape, src.shape
        return out

    @staticmethod
    def backward(ctx, g):
        key, reduce, include_self, a_shape, src_shape = ctx.meta
        xp = xp_of(g)
        with quiet_fp_errors(xp):
            if reduce == "sum":
                ga, gs = g, g[key]
            elif reduce == "mean":
                count = xp.full(a_shape, int(include_self), dtype=g.dtype)
                _reduce_at(xp, "add", count, key, xp.ones(src_shape, g.dtype))
                count[count == 0] = 1
                ga, gs = g / count, g[key] / count[key]
            elif reduce == "prod":
                ga, gs = _prod_grads(xp, g, *ctx.saved_tensors, key, include_self)
            else:
                a, src, out = ctx.saved_tensors
                value = out[key]
                self_hits = (a == out).astype(g.dtype)
                src_hits = (src == value).astype(g.dtype)
                shares = self_hits.copy()
                _reduce_at(xp, "add", shares, key, src_hits)
                spread = g / shares
                ga, gs = self_hits * spread, src_hits * spread[key]
        if not include_self:  # the positions written to never saw self's value
            ga = ga.copy()
            ga[key] = 0
        return ga, None, gs

    @staticmethod
    def backward_graph(ctx, g):
        key, reduce, include_self, a_shape, src_shape = ctx.meta
        need_a, _, need_src = ctx.needs_input_grad
        if reduce in ("sum", "mean"):
            # linear in (a, src) together: each gradient's adjoint is the forward with the other input zero
            xp, dtype = xp_of(g._data), g._data.dtype
            zero_a, zero_src = xp.zeros(a_shape, dtype), xp.zeros(src_shape, dtype)
            ga = (linear_backward(ctx, g, lambda v: _scatter_reduced(v, key, zero_src, reduce, include_self),
                                  position=0) if need_a else None)
            gs = (linear_backward(ctx, g, lambda v: _scatter_reduced(zero_a, key, v, reduce, include_self),
                                  position=2) if need_src else None)
            return ga, None, gs
        if reduce == "prod":
            ga, gs = _prod_grads_graph(ctx, g, key, include_self)
        else:
            # the extreme's gradient is g spread over its ties: linear in g, with piecewise-constant shares
            a, src, out = ctx.saved_tensors
            xp = xp_of(a)
            self_hits = (a == out).astype(a.dtype)
            src_hits = (src == out[key]).astype(a.dtype)
            shares = self_hits.copy()
            _reduce_at(xp, "add", shares, key, src_hits)
            spread = g / Tensor._wrap(shares)
            ga = spread * Tensor._wrap(self_hits)
            gs = Index.apply(spread, key=key) * Tensor._wrap(src_hits)
        if not include_self:
            keep = xp_of(g._data).ones(a_shape, g._data.dtype)
            keep[key] = 0
            ga = ga * Tensor._wrap(keep)
        return (ga if need_a else None), None, (gs if need_src else None)


def _prod_grads(xp, g, a, src, out, key, include_self):
    """The product's gradients as PyTorch computes them: the product over the other factors, taken directly
    (not as product / factor) where a factor is zero."""
    masked_self = xp.where(a == 0, 1, a)
    ga = g * _scatter_reduced(masked_self, key, src, "prod", include_self) / masked_self
    src_zero = src == 0
    zeros_there = xp.zeros(a.shape, g.dtype)
    _reduce_at(xp, "add", zeros_there, key, src_zero.astype(g.dtype))
    single_zero = src_zero & (zeros_there[key] == 1)
    others = _scatter_reduced(a, key, xp.where(single_zero, 1, src), "prod", include_self)
    gs = xp.where(single_zero, (g * others)[key], (g * out)[key] / xp.where(src_zero, 1, src))
    return ga, gs


def _prod_grads_graph(ctx, g, key, include_self):
    """``_prod_grads`` written with differentiable ops (the scattered product is this op again), so that it can
    be differentiated to any order: ``a``'s gradient is ``g`` times the product of the sources at its position,
    a source's is ``g`` times the product of the other factors there."""
    a, src, out = graph_tensors(ctx)
    index, axis = ctx.index
    index = Tensor._wrap(index)
    ga = g * ScatterReduce.apply(a.new_ones(a.shape), index, src, axis=axis, reduce="prod", include_self=True)
    src_zero = src._data == 0
    zeros_there = xp_of(src_zero).zeros(a.shape, g._data.dtype)
    _reduce_at(xp_of(src_zero), "add", zeros_there, key, src_zero.astype(g._data.dtype))
    single_zero = Tensor._wrap(src_zero & (zeros_there[key] == 1))
    # the lone zero factor of a position left out: the product of the others, taken directly
    others = ScatterReduce.apply(a, index, where(single_zero, 1.0, src), axis=axis, reduce="prod",
                                 include_self=include_self)
    divided = Index.apply(g * out, key=key) / where(Tensor._wrap(src_zero), 1.0, src)
    gs = where(single_zero, Index.apply(g * others, key=key), divided)
    return ga, gs


def scatter_reduce(a, dim, index, src, reduce, *, include_self=True):
    if reduce not in REDUCTIONS:
        raise RuntimeError(f"reduce argument must be either sum, prod, mean, amax or amin, got {reduce}")
    if index._data.dtype.kind not in "iu":
        raise RuntimeError("scatter(): Expected dtype int32/int64 for index")
    axis = normalize_dim(dim, a.ndim)
    if index.ndim == a.ndim and index.numel():  # PyTorch reports a bad index as a RuntimeError here
        lo, hi = int(index._data.min()), int(index._data.max())
        if lo < 0 or hi >= a.shape[axis]:
            raise RuntimeError(f"index {hi if hi >= a.shape[axis] else lo} is out of bounds for dimension {axis} "
                               f"with size {a.shape[axis]}")
    axis, src = _scatter_operands("scatter_reduce", a, dim, index, src)
    return ScatterReduce.apply(a, index, src, axis=axis, reduce=reduce, include_self=bool(include_self))


def index_reduce(a, dim, index, source, reduce, *, include_self=True):
    """``scatter_reduce`` of the slices of ``source`` along ``dim`` into the slices of ``a`` that ``index`` names."""
    if reduce not in ("prod", "mean", "amax", "amin"):
        raise RuntimeError(f"index_reduce(): Expected reduce to be one of prod, mean, amax or amin but got {reduce}.")
    axis = normalize_dim(dim, a.ndim)
    if index.ndim > 1:
        raise IndexError(f"index_reduce_(): Index is supposed to be a vector, but got dim: {index.ndim} with type: "
                         f"{index.dtype.name} and size: {list(index.shape)}")
    if index._data.dtype.kind not in "iu":
        raise RuntimeError(f"index_reduce_(): Expected dtype int32/int64 for index but got: {index.dtype.name}")
    if source._data.dtype != a._data.dtype:
        raise RuntimeError(f"index_reduce_(): self ({a.dtype.name}) and source ({source.dtype.name}) must have the "
                           "same scalar type")
    source_axis = normalize_dim(dim, source.ndim)
    if index.numel() != (source.shape[source_axis] if source.ndim else 1):
        raise RuntimeError(f"index_reduce_(): Number of indices ({index.numel()}) should be equal to "
                           f"source.size(dim): ({source.shape[source_axis] if source.ndim else 1}), for dim: {dim}")
    if source.ndim != a.ndim or any(d != axis and s != n for d, (s, n) in enumerate(zip(source.shape, a.shape))):
        raise RuntimeError(f"index_reduce_(): source of shape {list(source.shape)} must match self's shape "
                           f"{list(a.shape)} in every dim but {axis}")
    _check_index_range("index_reduce", index, a.shape[axis], axis)
    # one index per slice along ``axis``: the same index for every element of that slice
    column = reshape(index, *(1 if d != axis else -1 for d in range(a.ndim)))
    return ScatterReduce.apply(a, expand(column, *source.shape), source, axis=axis, reduce=reduce,
                               include_self=bool(include_self))
