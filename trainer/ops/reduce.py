"""Reductions: sum, mean, prod, max/min (whole tensor or along a dim), argmax/argmin, var, std, logsumexp, norm,
nansum/nanmean, count_nonzero, aminmax, median; the scans cumsum and cumprod; and diff."""

from __future__ import annotations

import builtins  # this module defines sum/max/min as ops, shadowing the builtins
from collections import namedtuple

from trainer import dtypes
from trainer.amp import cast_policy
from trainer.autograd.higher_order import LinearMap, graph_tensors, snapshot
from trainer.autograd.op import Function
from trainer.backend import xp_of
from trainer.ops._operands import normalize_dim, normalize_dims, quiet_fp_errors
from trainer.ops.bfloat16_opmath import bfloat16_opmath
from trainer.ops.complex_checks import reject_complex, reject_complex_kernel
from trainer.ops.holomorphic import holomorphic
from trainer.tensor import Tensor

ValuesIndices = namedtuple("ValuesIndices", ["values", "indices"])  # torch.return_types.max and friends
MinMax = namedtuple("MinMax", ["min", "max"])  # torch.return_types.aminmax


def _expand_back(g, shape, axes, keepdim):
    """Broadcast a reduced gradient back over the input's shape."""
    xp = xp_of(g)
    if axes is None:
        return xp.broadcast_to(g.reshape((1,) * len(shape)) if len(shape) else g, shape)
    if not keepdim:
        g = xp.expand_dims(g, axes)
    return xp.broadcast_to(g, shape)


def _expand_back_graph(g, shape, axes, keepdim):
    """``_expand_back`` for a tensor gradient, recorded (``create_graph``)."""
    if axes is None:
        return g.reshape((1,) * len(shape)).expand(shape)
    if not keepdim:
        g = g.reshape([1 if i in axes else s for i, s in enumerate(shape)])
    return g.expand(shape)


def _count(shape, axes) -> int:
    n = 1
    for i, s in enumerate(shape):
        if axes is None or i in axes:
            n *= s
    return n


@bfloat16_opmath
class Sum(Function):
    @staticmethod
    def forward(ctx, a, axes=None, keepdim=False, dtype=None):
        ctx.meta = a.shape, axes, keepdim
        if dtype is None and a.dtype.kind in "biu":
            dtype = dtypes.int64
        return a.sum(axis=axes, keepdims=keepdim, dtype=None if dtype is None else dtype.np)

    @staticmethod
    def backward(ctx, g):
        return _expand_back(g, *ctx.meta)

    @staticmethod
    def backward_graph(ctx, g):
        return _expand_back_graph(g, *ctx.meta)


@bfloat16_opmath
class Mean(Function):
    @staticmethod
    def forward(ctx, a, axes=None, keepdim=False):
        ctx.meta = a.shape, axes, keepdim
        return a.mean(axis=axes, keepdims=keepdim, dtype=a.dtype)

    @staticmethod
    def backward(ctx, g):
        shape, axes, keepdim = ctx.meta
        return _expand_back(g / builtins.max(_count(shape, axes), 1), shape, axes, keepdim)

    @staticmethod
    def backward_graph(ctx, g):
        shape, axes, keepdim = ctx.meta
        return _expand_back_graph(g / builtins.max(_count(shape, axes), 1), shape, axes, keepdim)


@holomorphic
class Prod(Function):
    @staticmethod
    def forward(ctx, a, axis=None, keepdim=False):
        ctx.save_for_backward(a)
        ctx.meta = axis, keepdim
        if a.dtype.kind in "biu":
            return a.prod(axis=axis, keepdims=keepdim, dtype="int64")
        return a.prod(axis=axis, keepdims=keepdim)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        axis, keepdim = ctx.meta
        xp = xp_of(a)
        # product of all other elements, by exclusive cumulative products from both sides (zero-safe)
        flat = a.reshape(-1) if axis is None else xp.moveaxis(a, axis, -1)
        ones = xp.ones_like(flat[..., :1])
        left = xp.cumprod(xp.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
        right = xp.flip(xp.cumprod(xp.concatenate([ones, xp.flip(flat, -1)[..., :-1]], axis=-1), axis=-1), -1)
        others = left * right
        if axis is None:
            return (g.reshape(()) * others).reshape(a.shape)
        gg = g if keepdim else xp.expand_dims(g, axis)
        return xp.moveaxis(others, -1, axis) * gg

    @staticmethod
    def backward_graph(ctx, g):
        from trainer.ops.join import cat

        (a,) = graph_tensors(ctx)
        axis, keepdim = ctx.meta
        # the same zero-safe product of the others, from cumulative products (differentiable to any order)
        flat = a.reshape(-1) if axis is None else a.movedim(axis, -1)
        ones = flat.new_ones((*flat.shape[:-1], 1))
        left = cat([ones, flat[..., :-1]], -1).cumprod(-1)
        right = cat([ones, flat.flip(-1)[..., :-1]], -1).cumprod(-1).flip(-1)
        others = left * right
        if axis is None:
            return (g.reshape(()) * others).reshape(a.shape)
        return others.movedim(-1, axis) * (g if keepdim else g.unsqueeze(axis))


class MaxAll(Function):
    """Max over the whole tensor (or several dims, as ``amax``): the gradient is shared among ties."""

    pick = "max"

    @staticmethod
    def forward(ctx, a, axes=None, keepdim=False):
        if a.size == 0:
            raise RuntimeError(f"{type(ctx).pick}(): Expected reduction dim to be specified for input.numel() == 0.")
        out = getattr(a, type(ctx).pick)(axis=axes, keepdims=keepdim)
        ctx.save_for_backward(a, out)
        ctx.meta = axes, keepdim
        return out

    @staticmethod
    def backward(ctx, g):
        a, out = ctx.saved_tensors
        axes, keepdim = ctx.meta
        out_b = _expand_back(out, a.shape, axes, keepdim)
        mask = a == out_b
        count = mask.sum(axis=axes, keepdims=True)
        return _expand_back(g, a.shape, axes, keepdim) * mask / count

    @staticmethod
    def backward_graph(ctx, g):
        # linear in g: the ties that share it are fixed
        a, out = ctx.saved_tensors
        axes, keepdim = ctx.meta
        mask = a == _expand_back(out, a.shape, axes, keepdim)
        share = Tensor._wrap((mask / mask.sum(axis=axes, keepdims=True)).astype(g._data.dtype, copy=False))
        return _expand_back_graph(g, a.shape, axes, keepdim) * share


class MinAll(MaxAll):
    pick = "min"


class MaxDim(Function):
    """``max(dim)``: values and the index of each; the gradient goes to the chosen index only."""

    pick = "argmax"

    @staticmethod
    def forward(ctx, a, dim, keepdim=False):
        xp = xp_of(a)
        if a.shape[dim] == 0:
            raise IndexError(f"{type(ctx).pick[3:]}(): Expected reduction dim {dim} to have non-zero size.")
        idx = getattr(xp, type(ctx).pick)(a, axis=dim)
        idx_k = xp.expand_dims(idx, dim)
        values = xp.take_along_axis(a, idx_k, axis=dim)
        ctx.meta = a.shape, dim, keepdim, idx_k
        if not keepdim:
            values = values.squeeze(dim)
        return values, (idx_k if keepdim else idx).astype("int64", copy=False)

    @staticmethod
    def backward(ctx, g, g_idx):
        shape, dim, keepdim, idx_k = ctx.meta
        xp = xp_of(g)
        out = xp.zeros(shape, g.dtype)
        xp.put_along_axis(out, idx_k, g if keepdim else xp.expand_dims(g, dim), axis=dim)
        return out

    @staticmethod
    def backward_graph(ctx, g, g_idx):
        _, dim, keepdim, idx_k = ctx.meta
        frozen = snapshot(ctx)
        return LinearMap.apply(g, apply=lambda v: MaxDim.backward(frozen, v, None),
                               adjoint=lambda v: _taken(v, idx_k, dim, keepdim))


def _taken(a, idx_k, dim, keepdim):
    """The elements of ``a`` at ``idx_k`` along ``dim``: what ``MaxDim`` picks, for fixed indices."""
    picked = xp_of(a).take_along_axis(a, idx_k, axis=dim)
    return picked if keepdim else picked.squeeze(dim)


class MinDim(MaxDim):
    pick = "argmin"


class ArgMax(Function):
    pick = "argmax"

    @staticmethod
    def forward(ctx, a, dim=None, keepdim=False):
        xp = xp_of(a)
        if dim is None:
            idx = getattr(xp, type(ctx).pick)(a.reshape(-1))
            return xp.asarray(idx, dtype="int64").reshape((1,) * a.ndim if keepdim else ())
        return getattr(xp, type(ctx).pick)(a, axis=dim, keepdims=keepdim).astype("int64", copy=False)


class ArgMin(ArgMax):
    pick = "argmin"


class All(Function):
    """Whether every element is true (nonzero); never differentiable."""

    pick = "all"

    @staticmethod
    def forward(ctx, a, axes=None, keepdim=False):
        return getattr(a, type(ctx).pick)(axis=axes, keepdims=keepdim)


class Any(All):
    pick = "any"


def _squared_magnitude(centered):
    """``|x|^2``, real for complex ``x`` too: a complex variance is the mean of ``|x - mean|^2``. The backward
    ``g * centered * 2 / dof`` is then PyTorch's conjugate Wirtinger derivative for both dtypes."""
    if centered.dtype.kind == "c":
        return centered.real * centered.real + centered.imag * centered.imag
    return centered * centered


@bfloat16_opmath
class Var(Function):
    @staticmethod
    def forward(ctx, a, axes=None, correction=1, keepdim=False):
        n = _count(a.shape, axes)
        mean = a.mean(axis=axes, keepdims=True)
        centered = a - mean
        ctx.save_for_backward(centered, a)  # a: for a create_graph backward, which recomputes centered from it
        ctx.meta = axes, keepdim, builtins.max(n - correction, 0)
        with quiet_fp_errors(xp_of(a)):
            return _squared_magnitude(centered).sum(axis=axes, keepdims=keepdim) / builtins.max(n - correction, 0)

    @staticmethod
    def backward(ctx, g):
        centered, _ = ctx.saved_tensors
        axes, keepdim, dof = ctx.meta
        return _expand_back(g, centered.shape, axes, keepdim) * centered * (2 / dof)

    @staticmethod
    def backward_graph(ctx, g):
        (_, a) = graph_tensors(ctx)
        axes, keepdim, dof = ctx.meta
        centered = a - a.mean(axes, keepdim=True)
        return _expand_back_graph(g, a.shape, axes, keepdim) * centered * (2 / dof)


@bfloat16_opmath
class Std(Function):
    @staticmethod
    def forward(ctx, a, axes=None, correction=1, keepdim=False):
        n = _count(a.shape, axes)
        centered = a - a.mean(axis=axes, keepdims=True)
        dof = builtins.max(n - correction, 0)
        with quiet_fp_errors(xp_of(a)):
            out = xp_of(a).sqrt(_squared_magnitude(centered).sum(axis=axes, keepdims=keepdim) / dof)
        ctx.save_for_backward(centered, out, a)  # a: as Var's
        ctx.meta = axes, keepdim, dof
        return out

    @staticmethod
    def backward(ctx, g):
        centered, out, _ = ctx.saved_tensors
        axes, keepdim, dof = ctx.meta
        xp = xp_of(g)
        with quiet_fp_errors(xp):
            scale = xp.where(out == 0, 0, g / (out * dof))  # as PyTorch: zero spread, zero gradient (not nan)
        return _expand_back(scale, centered.shape, axes, keepdim) * centered

    @staticmethod
    def backward_graph(ctx, g):
        from trainer.ops.compare import where

        _, out, a = graph_tensors(ctx)
        axes, keepdim, dof = ctx.meta
        centered = a - a.mean(axes, keepdim=True)
        scale = where(out == 0, 0.0, g / (out * dof))
        return _expand_back_graph(scale, a.shape, axes, keepdim) * centered


@bfloat16_opmath
class LogSumExp(Function):
    @staticmethod
    def forward(ctx, a, axes=None, keepdim=False):
        xp = xp_of(a)
        peak = a.max(axis=axes, keepdims=True) if a.size else xp.zeros((1,) * a.ndim, a.dtype)
        peak = xp.where(xp.isfinite(peak), peak, 0)  # all -inf (or an inf) must not turn into nan
        with quiet_fp_errors(xp):
            out = xp.log(xp.exp(a - peak).sum(axis=axes, keepdims=True)) + peak
        ctx.save_for_backward(a, out)
        ctx.meta = axes, keepdim
        return out if keepdim else out.squeeze(axis=axes)

    @staticmethod
    def backward(ctx, g):
        a, out = ctx.saved_tensors
        axes, keepdim = ctx.meta
        with quiet_fp_errors(xp_of(a)):  # inf - inf: nan, as in PyTorch
            return _expand_back(g, a.shape, axes, keepdim) * xp_of(a).exp(a - out)

    @staticmethod
    def backward_graph(ctx, g):
        a, _ = graph_tensors(ctx)
        axes, keepdim = ctx.meta
        return _expand_back_graph(g, a.shape, axes, keepdim) * (a - a.logsumexp(axes, keepdim=True)).exp()


@bfloat16_opmath
class Norm(Function):
    """The vector p-norm over ``axes``: p is a number, ``inf`` or ``-inf`` (``'fro'`` arrives as 2)."""

    @staticmethod
    def forward(ctx, a, p=2.0, axes=None, keepdim=False):
        xp = xp_of(a)
        size = xp.abs(a)
        if a.size == 0 and abs(p) == float("inf"):
            raise RuntimeError("norm(): cannot compute the inf-norm of an empty tensor: the max has no identity")
        if p == float("inf") or p == float("-inf"):
            out = (size.max if p > 0 else size.min)(axis=axes, keepdims=keepdim)
        elif p == 0:
            out = (a != 0).sum(axis=axes, keepdims=keepdim).astype(a.dtype)
        elif p == 1:
            out = size.sum(axis=axes, keepdims=keepdim)
        elif p == 2:
            out = xp.sqrt((a * a).sum(axis=axes, keepdims=keepdim))
        else:
            with quiet_fp_errors(xp):  # a negative p over zeros is inf, as in PyTorch
                out = (size ** p).sum(axis=axes, keepdims=keepdim) ** (1 / p)
        ctx.save_for_backward(a, out)
        ctx.meta = p, axes, keepdim
        return out

    @staticmethod
    def backward(ctx, g):
        a, out = ctx.saved_tensors
        p, axes, keepdim = ctx.meta
        xp = xp_of(a)
        norm = _expand_back(out, a.shape, axes, keepdim)
        g = _expand_back(g, a.shape, axes, keepdim)
        if p == 0:
            return None  # a count of nonzeros: PyTorch gives no gradient at all
        if p == 1:
            return g * xp.sign(a)
        if p == float("inf") or p == float("-inf"):
            # shared among the elements that reach the extreme, as PyTorch does
            hits = xp.abs(a) == norm
            return g * xp.sign(a) * hits / hits.sum(axis=axes, keepdims=True)
        with quiet_fp_errors(xp):
            if p == 2:
                scale = a / norm
            else:
                scale = a * xp.abs(a) ** (p - 2) / norm ** (p - 1)
        return g * xp.where(norm == 0, 0, scale)

    @staticmethod
    def backward_graph(ctx, g):
        from trainer.ops.compare import where

        a, out = graph_tensors(ctx)
        p, axes, keepdim = ctx.meta
        norm = _expand_back_graph(out, a.shape, axes, keepdim)
        g = _expand_back_graph(g, a.shape, axes, keepdim)
        if p == 0:
            return None
        sign = Tensor._wrap(xp_of(a._data).sign(a._data))
        if p == 1:
            return g * sign
        if p == float("inf") or p == float("-inf"):
            hits = xp_of(a._data).abs(a._data) == norm._data
            return g * sign * Tensor._wrap((hits / hits.sum(axis=axes, keepdims=True)).astype(a._data.dtype))
        scale = a / norm if p == 2 else a * a.abs() ** (p - 2) / norm ** (p - 1)
        return g * where(norm == 0, 0.0, scale)


@bfloat16_opmath
class CumSum(Function):
    @staticmethod
    def forward(ctx, a, dim, dtype=None):
        ctx.dim = dim
        if dtype is None and a.dtype.kind in "biu":
            dtype = dtypes.int64
        return xp_of(a).cumsum(a, axis=dim, dtype=None if dtype is None else dtype.np)

    @staticmethod
    def backward(ctx, g):
        return _reverse_cumsum(g, ctx.dim)

    @staticmethod
    def backward_graph(ctx, g):
        return g.flip(ctx.dim).cumsum(ctx.dim).flip(ctx.dim)


def _reverse_cumsum(g, dim):
    """Sums from each position to the end: what each element of a cumulative sum feeds."""
    xp = xp_of(g)
    return xp.flip(xp.cumsum(xp.flip(g, dim), axis=dim), dim)


@bfloat16_opmath
@holomorphic
class CumProd(Function):
    @staticmethod
    def forward(ctx, a, dim):
        out = xp_of(a).cumprod(a, axis=dim, dtype="int64" if a.dtype.kind in "biu" else None)
        ctx.save_for_backward(a, out)
        ctx.dim = dim
        return out

    @staticmethod
    def backward(ctx, g):
        a, out = ctx.saved_tensors
        xp = xp_of(a)
        dim = ctx.dim
        n = a.shape[dim]
        if a.size == 0:
            return xp.zeros_like(a)
        position = xp.arange(n).reshape((n,) + (1,) * (a.ndim - dim - 1))
        is_zero = a == 0
        # first zero along dim (n where there is none): before it, dividing by a is safe
        first_zero = xp.where(is_zero.any(axis=dim, keepdims=True), is_zero.argmax(axis=dim, keepdims=True), n)
        before = position < first_zero
        with quiet_fp_errors(xp):
            grad = xp.where(before, _reverse_cumsum(g * out, dim) / xp.where(before, a, 1), 0)
        # at the first zero: its prefix product times the sums of g * (product of the later factors)
        later = xp.cumprod(xp.where(position <= first_zero, 1, a), axis=dim)
        at_zero = (g * later * (position >= first_zero)).sum(axis=dim, keepdims=True)
        prefix = xp.take_along_axis(out, xp.maximum(first_zero - 1, 0), axis=dim)
        prefix = xp.where(first_zero == 0, 1, prefix)
        return xp.where(position == first_zero, prefix * at_zero, grad).astype(a.dtype, copy=False)

    @staticmethod
    def backward_graph(ctx, g):
        from trainer.ops.compare import where
        from trainer.ops.indexing import Gather

        a, out = graph_tensors(ctx)
        a_array = ctx.saved_tensors[0]
        xp, dim, n = xp_of(a_array), ctx.dim, a_array.shape[ctx.dim]
        if a_array.size == 0:
            return g.new_zeros(a.shape)
        # the array backward's formula on the graph; the positions of the zeros are constants
        position = xp.arange(n).reshape((n,) + (1,) * (a_array.ndim - dim - 1))
        is_zero = a_array == 0
        first_zero = xp.where(is_zero.any(axis=dim, keepdims=True), is_zero.argmax(axis=dim, keepdims=True), n)
        before = Tensor._wrap(position < first_zero)
        grad = where(before, (g * out).flip(dim).cumsum(dim).flip(dim) / where(before, a, 1.0), 0.0)
        # the product of the later factors, as a cumulative product whose earlier factors (the first zero's
        # included) are one: this op again, whose own zeros all come later
        later = CumProd.apply(where(Tensor._wrap(position <= first_zero), 1.0, a), dim=dim)
        at_zero = (g * later * Tensor._wrap((position >= first_zero).astype(a_array.dtype))).sum(dim, keepdim=True)
        prefix = Gather.apply(out, Tensor._wrap(xp.maximum(first_zero - 1, 0)), axis=dim)
        prefix = where(Tensor._wrap(first_zero == 0), 1.0, prefix)
        return where(Tensor._wrap(xp.broadcast_to(position == first_zero, a_array.shape)), prefix * at_zero, grad)


class CountNonzero(Function):
    @staticmethod
    def forward(ctx, a, axes=None):
        return xp_of(a).asarray((a != 0).sum(axis=axes), dtype="int64")


@bfloat16_opmath
class NanSum(Function):
    @staticmethod
    def forward(ctx, a, axes=None, keepdim=False, dtype=None):
        xp = xp_of(a)
        ctx.save_for_backward(a)
        ctx.meta = axes, keepdim
        if dtype is None and a.dtype.kind in "biu":
            dtype = dtypes.int64
        return xp.nansum(a, axis=axes, keepdims=keepdim, dtype=None if dtype is None else dtype.np)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return _expand_back(g, a.shape, *ctx.meta) * ~xp_of(a).isnan(a)

    @staticmethod
    def backward_graph(ctx, g):
        (a,) = ctx.saved_tensors
        return _expand_back_graph(g, a.shape, *ctx.meta) * Tensor._wrap(~xp_of(a).isnan(a))


@bfloat16_opmath
class NanMean(Function):
    @staticmethod
    def forward(ctx, a, axes=None, keepdim=False):
        xp = xp_of(a)
        present = ~xp.isnan(a)
        count = present.sum(axis=axes, keepdims=keepdim)
        ctx.save_for_backward(present, count)
        ctx.meta = axes, keepdim
        with quiet_fp_errors(xp):
            return (xp.nansum(a, axis=axes, keepdims=keepdim) / count).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        present, count = ctx.saved_tensors
        axes, keepdim = ctx.meta
        with quiet_fp_errors(xp_of(g)):
            share = g / count
        return _expand_back(share, present.shape, axes, keepdim) * present

    @staticmethod
    def backward_graph(ctx, g):
        present, count = ctx.saved_tensors
        axes, keepdim = ctx.meta
        share = g / Tensor._wrap(count.astype(g._data.dtype))
        return _expand_back_graph(share, present.shape, axes, keepdim) * Tensor._wrap(present)


def _median_positions(a, axis):
    """Where each lane's lower median sits among its sorted values: at the first nan if it has one."""
    xp = xp_of(a)
    order = xp.argsort(a, axis=axis, kind="stable")  # nan sorts last, in index order
    n = a.shape[axis]
    nans = xp.isnan(a).sum(axis=axis, keepdims=True)
    return order, xp.where(nans > 0, n - nans, (n - 1) // 2)


class MedianAll(Function):
    """The lower median of every element; the gradient is shared among the elements equal to it."""

    @staticmethod
    def forward(ctx, a):
        xp = xp_of(a)
        flat = a.reshape(-1)
        if flat.size == 0:
            out = xp.asarray(xp.nan, dtype=a.dtype)
        else:
            order, pos = _median_positions(flat, 0)
            out = flat[order[pos]].reshape(())
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, g):
        a, out = ctx.saved_tensors
        hits = (a == out) | (xp_of(a).isnan(a) & xp_of(a).isnan(out))
        return g * hits / builtins.max(int(hits.sum()), 1)

    @staticmethod
    def backward_graph(ctx, g):
        a, out = ctx.saved_tensors
        hits = (a == out) | (xp_of(a).isnan(a) & xp_of(a).isnan(out))
        return g * Tensor._wrap((hits / builtins.max(int(hits.sum()), 1)).astype(g._data.dtype, copy=False))


class MedianDim(MaxDim):
    """``median(dim)``: the lower median of each lane and its index; the gradient goes to that index."""

    @staticmethod
    def forward(ctx, a, dim, keepdim=False):
        xp = xp_of(a)
        if a.shape[dim] == 0:
            raise IndexError(f"median(): Expected reduction dim {dim} to have non-zero size.")
        order, pos = _median_positions(a, dim)
        idx_k = xp.take_along_axis(order, pos, axis=dim)
        values = xp.take_along_axis(a, idx_k, axis=dim)
        ctx.meta = a.shape, dim, keepdim, idx_k
        if not keepdim:
            values, idx_k = values.squeeze(dim), idx_k.squeeze(dim)
        return values, idx_k.astype("int64", copy=False)


def _axes(a, dim):
    axes = normalize_dims(dim, a._data.ndim)
    return axes if a._data.ndim else None  # a 0-d tensor's only dims, 0 and -1, mean all of it


def sum(a, dim=None, keepdim=False, *, dtype=None):
    return Sum.apply(a, axes=_axes(a, dim), keepdim=keepdim, dtype=None if dtype is None else dtypes.as_dtype(dtype))


def mean(a, dim=None, keepdim=False, *, dtype=None):
    if dtype is not None:
        a = a.to(dtypes.as_dtype(dtype))
    if not dtypes.is_inexact(a._data.dtype):
        raise RuntimeError("mean(): could not infer output dtype. Input dtype must be either a floating point or "
                           f"complex dtype. Got: {a.dtype.name}")
    return Mean.apply(a, axes=_axes(a, dim), keepdim=keepdim)


@cast_policy.fp32
def prod(a, dim=None, keepdim=False):
    axis = None if dim is None else normalize_dim(dim, a._data.ndim)
    return Prod.apply(a, axis=axis if a._data.ndim else None, keepdim=keepdim)


def _max_min(a, dim, keepdim, other, all_cls, dim_cls, binary):
    from trainer.tensor import Tensor

    if isinstance(dim, Tensor):
        other, dim = dim, None
    if other is not None:
        return binary(a, other)
    reject_complex(a, f"{'max' if all_cls is MaxAll else 'min'}(): does not support complex input", RuntimeError)
    if dim is None:
        return all_cls.apply(a)
    dim = normalize_dim(dim, a._data.ndim)
    if not a._data.ndim:  # as PyTorch: the one element, at index 0, still 0-d
        a, keepdim = a.reshape(1), False
    values, indices = dim_cls.apply(a, dim=dim, keepdim=keepdim)
    return ValuesIndices(values, indices)


def max(a, dim=None, keepdim=False, *, other=None):
    """``max(a)``, ``max(a, dim, keepdim)`` -> (values, indices), or ``max(a, other)`` elementwise."""
    from trainer.ops.compare import maximum

    return _max_min(a, dim, keepdim, other, MaxAll, MaxDim, maximum)


def min(a, dim=None, keepdim=False, *, other=None):
    from trainer.ops.compare import minimum

    return _max_min(a, dim, keepdim, other, MinAll, MinDim, minimum)


def amax(a, dim=(), keepdim=False):
    reject_complex_kernel("max_values", a._data)
    return MaxAll.apply(a, axes=_axes(a, dim if dim != () else None), keepdim=keepdim)


def amin(a, dim=(), keepdim=False):
    reject_complex_kernel("min_values", a._data)
    return MinAll.apply(a, axes=_axes(a, dim if dim != () else None), keepdim=keepdim)


def argmax(a, dim=None, keepdim=False):
    reject_complex(a, "argmax(): does not support complex input", RuntimeError)
    return ArgMax.apply(a, dim=None if dim is None else normalize_dim(dim, a._data.ndim), keepdim=keepdim)


def argmin(a, dim=None, keepdim=False):
    reject_complex(a, "argmin(): does not support complex input", RuntimeError)
    return ArgMin.apply(a, dim=None if dim is None else normalize_dim(dim, a._data.ndim), keepdim=keepdim)


def all(a, dim=None, keepdim=False):
    return All.apply(a, axes=_axes(a, dim), keepdim=keepdim)


def any(a, dim=None, keepdim=False):
    return Any.apply(a, axes=_axes(a, dim), keepdim=keepdim)


def _correction(unbiased, correction) -> int:
    if correction is not None:
        return correction
    return 1 if unbiased is None or unbiased else 0


def var(a, dim=None, unbiased=None, keepdim=False, *, correction=None):
    if isinstance(dim, bool):  # var(x, False): the old positional ``unbiased``
        dim, unbiased = None, dim
    return Var.apply(a, axes=_axes(a, dim), correction=_correction(unbiased, correction), keepdim=keepdim)


def std(a, dim=None, unbiased=None, keepdim=False, *, correction=None):
    if isinstance(dim, bool):
        dim, unbiased = None, dim
    return Std.apply(a, axes=_axes(a, dim), correction=_correction(unbiased, correction), keepdim=keepdim)


def _require_floating(a, name):
    if not dtypes.is_inexact(a._data.dtype):
        raise RuntimeError(f"{name}(): expected input to have floating point dtype but got {a.dtype.name}")


def logsumexp(a, dim, keepdim=False):
    if not dtypes.is_inexact(a._data.dtype):  # integers are summed in the default float, as in PyTorch
        a = a.to(dtypes.get_default_dtype())
    return LogSumExp.apply(a, axes=_axes(a, dim), keepdim=keepdim)


def _norm_order(p) -> float:
    if p in ("fro", None):
        return 2.0
    if isinstance(p, str):
        raise ValueError(f"norm(): p={p!r} is not supported; expected a number, inf, -inf or 'fro' "
                         "(the nuclear norm needs an SVD, which trainer does not have)")
    return float(p)


def norm(a, p="fro", dim=None, keepdim=False, dtype=None):
    """The vector norm of all elements, or over ``dim`` (an int or a tuple of ints)."""
    if dtype is not None:
        a = a.to(dtypes.as_dtype(dtype))
    _require_floating(a, "norm")
    if a._data.dtype.kind == "c":  # the norm of the magnitudes: real, as in PyTorch
        a = a.abs()
    return Norm.apply(a, p=_norm_order(p), axes=_axes(a, dim), keepdim=keepdim)


def cumsum(a, dim, *, dtype=None):
    dtype = None if dtype is None else dtypes.as_dtype(dtype)
    if not a._data.ndim:  # a 0-d tensor is scanned as one element and stays 0-d
        normalize_dim(dim, 0)
        return CumSum.apply(a.reshape(1), dim=0, dtype=dtype).reshape(())
    return CumSum.apply(a, dim=normalize_dim(dim, a._data.ndim), dtype=dtype)


def cumprod(a, dim, *, dtype=None):
    if dtype is not None:
        a = a.to(dtypes.as_dtype(dtype))
    if not a._data.ndim:
        normalize_dim(dim, 0)
        return CumProd.apply(a.reshape(1), dim=0).reshape(())
    return CumProd.apply(a, dim=normalize_dim(dim, a._data.ndim))


def count_nonzero(a, dim=None):
    return CountNonzero.apply(a, axes=_axes(a, dim))


def nansum(a, dim=None, keepdim=False, *, dtype=None):
    reject_complex(a, "nansum does not support complex inputs: complex numbers have no NaN test of their own; sum "
                      "torch.nan_to_num(input) instead", RuntimeError)
    return NanSum.apply(a, axes=_axes(a, dim), keepdim=keepdim, dtype=None if dtype is None else dtypes.as_dtype(dtype))


def nanmean(a, dim=None, keepdim=False, *, dtype=None):
    if dtype is not None:
        a = a.to(dtypes.as_dtype(dtype))
    _require_floating(a, "nanmean")
    reject_complex(a, "nansum on CPU does not support complex inputs: nanmean sums with nansum; average "
                      "torch.nan_to_num(input) instead", RuntimeError)
    return NanMean.apply(a, axes=_axes(a, dim), keepdim=keepdim)


def var_mean(a, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """``(var, mean)`` over the same dims, as PyTorch returns them (a plain tuple)."""
    if isinstance(dim, bool):
        dim, unbiased = None, dim
    return var(a, dim, unbiased, keepdim, correction=correction), mean(a, dim, keepdim)


def std_mean(a, dim=None, unbiased=None, keepdim=False, *, correction=None):
    if isinstance(dim, bool):
        dim, unbiased = None, dim
    return std(a, dim, unbiased, keepdim, correction=correction), mean(a, dim, keepdim)


def aminmax(a, *, dim=None, keepdim=False):
    """``(min, max)`` as a named tuple; the whole tensor when ``dim`` is None."""
    if a._data.size == 0 and (dim is None or a._data.shape[normalize_dim(dim, a._data.ndim)] == 0):
        raise RuntimeError("aminmax(): cannot compute aminmax over an empty dimension as the operation has no "
                           "identity.")
    dims = tuple(range(a._data.ndim)) if dim is None else dim
    return MinMax(amin(a, dims, keepdim), amax(a, dims, keepdim))


def median(a, dim=None, keepdim=False):
    """The lower median of all elements, or ``(values, indices)`` along ``dim``; nan wins, as in PyTorch."""
    if dim is None:
        return MedianAll.apply(a)
    dim = normalize_dim(dim, a._data.ndim)
    if not a._data.ndim:
        a, keepdim = a.reshape(1), False
    values, indices = MedianDim.apply(a, dim=dim, keepdim=keepdim)
    return ValuesIndices(values, indices)


def diff(a, n=1, dim=-1, prepend=None, append=None):
    """The ``n``-th forward difference along ``dim``: built from slices and subtraction, so it differentiates
    and exports through those ops."""
    from trainer.ops.compare import ne
    from trainer.ops.join import cat

    if not a._data.ndim:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    if n < 0:
        raise RuntimeError(f"order must be non-negative but got {n}")
    dim = normalize_dim(dim, a._data.ndim)
    parts = [t for t in (prepend, a, append) if t is not None]
    out = cat(parts, dim) if len(parts) > 1 else a
    head = (slice(None),) * dim
    for _ in range(n):
        later, earlier = out[(*head, slice(1, None))], out[(*head, slice(None, -1))]
        out = ne(later, earlier) if out._data.dtype.kind == "b" else later - earlier
    return out
