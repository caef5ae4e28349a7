"""Elementwise functions of one tensor: abs, exp, log, sqrt, rsqrt, sin, cos, tanh, sigmoid, relu, clamp."""

from __future__ import annotations

from trainer.autograd.op import Function
from trainer.backend import xp_of
from trainer.ops._operands import promote, quiet_fp_errors


class Abs(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return xp_of(a).abs(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g * xp_of(a).sign(a)


class Exp(Function):
    @staticmethod
    def forward(ctx, a):
        out = xp_of(a).exp(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g * out


class Log(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        xp = xp_of(a)
        with quiet_fp_errors(xp):
            return xp.log(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g / a


class Sqrt(Function):
    @staticmethod
    def forward(ctx, a):
        xp = xp_of(a)
        with quiet_fp_errors(xp):
            out = xp.sqrt(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g / (2 * out)


class Rsqrt(Function):
    @staticmethod
    def forward(ctx, a):
        xp = xp_of(a)
        with quiet_fp_errors(xp):
            out = 1 / xp.sqrt(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return -0.5 * g * out * out * out


class Sin(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return xp_of(a).sin(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g * xp_of(a).cos(a)


class Cos(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return xp_of(a).cos(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return -g * xp_of(a).sin(a)


class Tanh(Function):
    @staticmethod
    def forward(ctx, a):
        out = xp_of(a).tanh(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g * (1 - out * out)


class Sigmoid(Function):
    @staticmethod
    def forward(ctx, a):
        xp = xp_of(a)
        # split by sign so that exp never overflows
        e = xp.exp(-xp.abs(a))
        out = xp.where(a >= 0, 1 / (1 + e), e / (1 + e)).astype(a.dtype, copy=False)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g * out * (1 - out)


class Relu(Function):
    @staticmethod
    def forward(ctx, a):
        out = xp_of(a).maximum(a, 0)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g * (out > 0)


class Clip(Function):
    """``clamp(min, max)``; either bound may be absent. The gradient passes where min <= x <= max."""

    @staticmethod
    def forward(ctx, a, min=None, max=None):
        xp = xp_of(a)
        ctx.save_for_backward(a)
        ctx.bounds = min, max
        out = a
        if min is not None:
            out = xp.maximum(out, min)
        if max is not None:
            out = xp.minimum(out, max)
        return out

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        lo, hi = ctx.bounds
        mask = True
        if lo is not None:
            mask = a >= lo
        if hi is not None:
            mask = mask & (a <= hi)
        return g * mask


def _floating(a):
    """Integer inputs of exp/log/... compute in the default float dtype, as in PyTorch."""
    return promote(a, min_category_float=True)[0]


def abs(a):
    return Abs.apply(a)


def exp(a):
    return Exp.apply(_floating(a))


def log(a):
    return Log.apply(_floating(a))


def sqrt(a):
    return Sqrt.apply(_floating(a))


def rsqrt(a):
    return Rsqrt.apply(_floating(a))


def sin(a):
    return Sin.apply(_floating(a))


def cos(a):
    return Cos.apply(_floating(a))


def tanh(a):
    return Tanh.apply(_floating(a))


def sigmoid(a):
    return Sigmoid.apply(_floating(a))


def relu(a):
    return Relu.apply(a)


def clamp(a, min=None, max=None):
    from trainer.tensor import Tensor

    if min is None and max is None:
        raise RuntimeError("clamp: at least one of 'min' or 'max' must not be None")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        from trainer.ops.compare import maximum, minimum

        out = a if min is None else maximum(a, min)
        return out if max is None else minimum(out, max)
    if a._data.dtype.kind in "biu":  # an integer tensor clamped to a float bound becomes float, as in PyTorch
        a = promote(a, *(bound for bound in (min, max) if bound is not None))[0]
    return Clip.apply(a, min=min, max=max)


clip = clamp
