"""Running scans along a dim: ``cummax``/``cummin`` (values and the index each came from) and
``logcumsumexp``, as in PyTorch. None has an ONNX form: ONNX's only scan is CumSum.
"""

from __future__ import annotations

import numpy as np

from trainer import dtypes
from trainer.autograd.higher_order import LinearMap, graph_tensors, snapshot
from trainer.autograd.op import Function
from trainer.backend import xp_of
from trainer.ops._operands import normalize_dim, promote, quiet_fp_errors
from trainer.ops.compare import where
from trainer.ops.complex_checks import reject_complex_kernel
from trainer.ops.indexing import _scatter_add
from trainer.ops.reduce import ValuesIndices
from trainer.tensor import Tensor
from trainer.type_info import array_finfo


def _along(xp, shape, axis, indices):
    """The full index of ``indices`` (positions along ``axis``) into an array of ``shape``, for ``add.at``."""
    grids = list(xp.meshgrid(*(xp.arange(n) for n in shape), indexing="ij", sparse=True))
    grids[axis] = indices
    return tuple(grids)


def _running_index(xp, is_new, axis):
    """For each position, the last position at or before it along ``axis`` where ``is_new`` holds."""
    shape = [1] * is_new.ndim
    shape[axis] = is_new.shape[axis]
    positions = xp.arange(is_new.shape[axis]).reshape(shape)
    return xp.maximum.accumulate(xp.where(is_new, positions, 0), axis=axis)


class CumExtreme(Function):
    """The running max (or min) along ``dim``; ties and NaNs move the index to the latest position, as in
    PyTorch. The gradient goes to the element each running value is."""

    @staticmethod
    def forward(ctx, a, dim, largest=True):
        xp = xp_of(a)
        scan = xp.maximum if largest else xp.minimum
        with quiet_fp_errors(xp):  # NaN propagates as in PyTorch; NumPy warns about it for bfloat16 only
            values = scan.accumulate(a, axis=dim)
        is_new = a == values
        if dtypes.is_floating(a.dtype):
            is_new |= xp.isnan(a)
        indices = _running_index(xp, is_new, dim)
        ctx.meta = a.shape, dim, indices
        return values, indices.astype(np.int64, copy=False)

    @staticmethod
    def backward(ctx, g, g_indices):
        shape, dim, indices = ctx.meta
        xp = xp_of(g)
        out = xp.zeros(shape, g.dtype)
        _scatter_add(xp, out, _along(xp, shape, dim, indices), g)
        return out

    @staticmethod
    def backward_graph(ctx, g, g_indices):
        # linear in g: its adjoint picks, at each position, the element its running value is
        _, dim, indices = ctx.meta
        frozen = snapshot(ctx)
        return LinearMap.apply(g, apply=lambda v: CumExtreme.backward(frozen, v, None),
                               adjoint=lambda v: xp_of(v).take_along_axis(v, indices, axis=dim))


def _logcumsumexp(xp, a, axis, reverse=False):
    """``log(cumsum(exp(a)))`` along ``axis`` as a running ``logaddexp``: exact at any range of values."""
    if reverse:
        return xp.flip(_logcumsumexp(xp, xp.flip(a, axis), axis), axis)
    with quiet_fp_errors(xp):
        if xp is np:
            return np.logaddexp.accumulate(a, axis=axis)
        out = xp.moveaxis(a.copy(), axis, 0)
        for i in range(1, out.shape[0]):  # CuPy has no ufunc.accumulate for logaddexp
            out[i] = xp.logaddexp(out[i - 1], out[i])
        return xp.moveaxis(out, 0, axis)


class LogCumSumExp(Function):
    @staticmethod
    def forward(ctx, a, dim):
        out = _logcumsumexp(xp_of(a), a, dim)
        ctx.save_for_backward(a, out)
        ctx.dim = dim
        return out

    @staticmethod
    def backward(ctx, g):
        # d out_i / d a_j = exp(a_j - out_i) for i >= j. The sum over i is a reversed log-cumsum-exp of
        # log|g_i| - out_i, taken separately for positive and negative g so that nothing overflows.
        a, out = ctx.saved_tensors
        xp = xp_of(a)
        with quiet_fp_errors(xp):
            positive = _logcumsumexp(xp, xp.log(xp.maximum(g, 0)) - out, ctx.dim, reverse=True)
            negative = _logcumsumexp(xp, xp.log(xp.maximum(-g, 0)) - out, ctx.dim, reverse=True)
            return xp.exp(a + positive) - xp.exp(a + negative)

    @staticmethod
    def backward_graph(ctx, g):
        # PyTorch's form on the graph: the log-cumsum-exps (this op, reversed) of log|g| - out, one per sign of g,
        # with the lowest finite number standing in for the log of the gradients of the other sign
        a, out = graph_tensors(ctx)
        dim, lowest = ctx.dim, float(array_finfo(g._data.dtype).min)

        def spread(mask):
            mask = Tensor._wrap(mask)
            log_g = where(mask, where(mask, g.abs(), 1.0).log(), lowest)
            return (LogCumSumExp.apply((log_g - out).flip(dim), dim=dim).flip(dim) + a).exp()

        with quiet_fp_errors(xp_of(g._data)):  # the stand-in minus a positive out may round to -inf, as in PyTorch
            return spread(g._data > 0) - spread(g._data < 0)


def _scan_dim(a, dim):
    if not a._data.ndim:
        normalize_dim(dim, 0)
        return a.reshape(1), 0, True
    return a, normalize_dim(dim, a._data.ndim), False


def cummax(a, dim):
    return _cum_extreme(a, dim, largest=True)


def cummin(a, dim):
    return _cum_extreme(a, dim, largest=False)


def _cum_extreme(a, dim, largest):
    reject_complex_kernel("cummax" if largest else "cummin", a._data)
    a, axis, was_0d = _scan_dim(a, dim)
    values, indices = CumExtreme.apply(a, dim=axis, largest=largest)
    if was_0d:
        values, indices = values.reshape(()), indices.reshape(())
    return ValuesIndices(values, indices)


def logcumsumexp(a, dim):
    a = promote(a, min_category_float=True)[0]
    a, axis, was_0d = _scan_dim(a, dim)
    out = LogCumSumExp.apply(a, dim=axis)
    return out.reshape(()) if was_0d else out
