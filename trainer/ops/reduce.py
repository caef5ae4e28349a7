"""Reductions: sum, mean, prod, max/min (whole tensor or along a dim), argmax/argmin, var, std."""

from __future__ import annotations

import builtins  # this module defines sum/max/min as ops, shadowing the builtins
from collections import namedtuple

from trainer import dtypes
from trainer.autograd.op import Function
from trainer.backend import xp_of
from trainer.ops._operands import normalize_dim, normalize_dims, quiet_fp_errors

ValuesIndices = namedtuple("ValuesIndices", ["values", "indices"])  # torch.return_types.max and friends


def _expand_back(g, shape, axes, keepdim):
    """Broadcast a reduced gradient back over the input's shape."""
    xp = xp_of(g)
    if axes is None:
        return xp.broadcast_to(g.reshape((1,) * len(shape)) if len(shape) else g, shape)
    if not keepdim:
        g = xp.expand_dims(g, axes)
    return xp.broadcast_to(g, shape)


def _count(shape, axes) -> int:
    n = 1
    for i, s in enumerate(shape):
        if axes is None or i in axes:
            n *= s
    return n


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


class Mean(Function):
    @staticmethod
    def forward(ctx, a, axes=None, keepdim=False):
        ctx.meta = a.shape, axes, keepdim
        return a.mean(axis=axes, keepdims=keepdim, dtype=a.dtype)

    @staticmethod
    def backward(ctx, g):
        shape, axes, keepdim = ctx.meta
        return _expand_back(g / builtins.max(_count(shape, axes), 1), shape, axes, keepdim)


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


class Var(Function):
    @staticmethod
    def forward(ctx, a, axes=None, correction=1, keepdim=False):
        n = _count(a.shape, axes)
        mean = a.mean(axis=axes, keepdims=True)
        centered = a - mean
        ctx.save_for_backward(centered)
        ctx.meta = axes, keepdim, builtins.max(n - correction, 0)
        with quiet_fp_errors(xp_of(a)):
            return (centered * centered).sum(axis=axes, keepdims=keepdim) / builtins.max(n - correction, 0)

    @staticmethod
    def backward(ctx, g):
        (centered,) = ctx.saved_tensors
        axes, keepdim, dof = ctx.meta
        return _expand_back(g, centered.shape, axes, keepdim) * centered * (2 / dof)


class Std(Function):
    @staticmethod
    def forward(ctx, a, axes=None, correction=1, keepdim=False):
        n = _count(a.shape, axes)
        centered = a - a.mean(axis=axes, keepdims=True)
        dof = builtins.max(n - correction, 0)
        with quiet_fp_errors(xp_of(a)):
            out = xp_of(a).sqrt((centered * centered).sum(axis=axes, keepdims=keepdim) / dof)
        ctx.save_for_backward(centered, out)
        ctx.meta = axes, keepdim, dof
        return out

    @staticmethod
    def backward(ctx, g):
        centered, out = ctx.saved_tensors
        axes, keepdim, dof = ctx.meta
        xp = xp_of(g)
        with quiet_fp_errors(xp):
            scale = xp.where(out == 0, 0, g / (out * dof))  # as PyTorch: zero spread, zero gradient (not nan)
        return _expand_back(scale, centered.shape, axes, keepdim) * centered


def _axes(a, dim):
    axes = normalize_dims(dim, a._data.ndim)
    return axes if a._data.ndim else None  # a 0-d tensor's only dims, 0 and -1, mean all of it


def sum(a, dim=None, keepdim=False, *, dtype=None):
    return Sum.apply(a, axes=_axes(a, dim), keepdim=keepdim, dtype=None if dtype is None else dtypes.as_dtype(dtype))


def mean(a, dim=None, keepdim=False, *, dtype=None):
    if dtype is not None:
        a = a.to(dtypes.as_dtype(dtype))
    if a._data.dtype.kind not in "fc":
        raise RuntimeError("mean(): could not infer output dtype. Input dtype must be either a floating point or "
                           f"complex dtype. Got: {a.dtype.name}")
    return Mean.apply(a, axes=_axes(a, dim), keepdim=keepdim)


def prod(a, dim=None, keepdim=False):
    axis = None if dim is None else normalize_dim(dim, a._data.ndim)
    return Prod.apply(a, axis=axis if a._data.ndim else None, keepdim=keepdim)


def _max_min(a, dim, keepdim, other, all_cls, dim_cls, binary):
    from trainer.tensor import Tensor

    if isinstance(dim, Tensor):
        other, dim = dim, None
    if other is not None:
        return binary(a, other)
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
    return MaxAll.apply(a, axes=_axes(a, dim if dim != () else None), keepdim=keepdim)


def amin(a, dim=(), keepdim=False):
    return MinAll.apply(a, axes=_axes(a, dim if dim != () else None), keepdim=keepdim)


def argmax(a, dim=None, keepdim=False):
    return ArgMax.apply(a, dim=None if dim is None else normalize_dim(dim, a._data.ndim), keepdim=keepdim)


def argmin(a, dim=None, keepdim=False):
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
