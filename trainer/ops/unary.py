"""Elementwise functions of one tensor: abs, exp, log, sqrt, rsqrt, sin, cos, tanh, sigmoid, relu, clamp,
the rounding family (sign, floor, ceil, round, trunc, frac), erf, and the isnan/isinf/nan_to_num checks."""

from __future__ import annotations

import math

from trainer import dtypes
from trainer.autograd.higher_order import constant_backward, graph_tensors
from trainer.autograd.op import Function
from trainer.backend import xp_of
from trainer.dtypes import is_floating, is_inexact
from trainer.ops._operands import promote, quiet_fp_errors
from trainer.ops.activation import _erf
from trainer.ops.bfloat16_opmath import bfloat16_opmath
from trainer.ops.compare import select_grad, where
from trainer.ops.complex_checks import reject_complex, reject_complex_kernel
from trainer.ops.holomorphic import holomorphic
from trainer.tensor import Tensor
from trainer.type_info import array_finfo


class Abs(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return xp_of(a).abs(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g * xp_of(a).sign(a)

    @staticmethod
    def backward_graph(ctx, g):
        (a,) = ctx.saved_tensors
        if a.dtype.kind == "c":  # z / |z| varies with z (a real sign is piecewise constant): differentiate it too
            from trainer.ops.complex_ops import sgn

            return g * sgn(graph_tensors(ctx)[0])
        return g * Tensor._wrap(xp_of(a).sign(a))


@holomorphic
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

    @staticmethod
    def backward_graph(ctx, g):
        (out,) = graph_tensors(ctx)
        return g * out


@holomorphic
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

    @staticmethod
    def backward_graph(ctx, g):
        (a,) = graph_tensors(ctx)
        return g / a


@bfloat16_opmath
@holomorphic
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

    @staticmethod
    def backward_graph(ctx, g):
        (out,) = graph_tensors(ctx)
        return g / (2 * out)


@bfloat16_opmath
@holomorphic
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

    @staticmethod
    def backward_graph(ctx, g):
        (out,) = graph_tensors(ctx)
        return -0.5 * g * out * out * out


@bfloat16_opmath
@holomorphic
class Sin(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return xp_of(a).sin(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g * xp_of(a).cos(a)

    @staticmethod
    def backward_graph(ctx, g):
        (a,) = graph_tensors(ctx)
        return g * a.cos()


@bfloat16_opmath
@holomorphic
class Cos(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return xp_of(a).cos(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return -g * xp_of(a).sin(a)

    @staticmethod
    def backward_graph(ctx, g):
        (a,) = graph_tensors(ctx)
        return -g * a.sin()


@bfloat16_opmath
@holomorphic
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

    @staticmethod
    def backward_graph(ctx, g):
        (out,) = graph_tensors(ctx)
        return g * (1 - out * out)


@bfloat16_opmath
@holomorphic
class Sigmoid(Function):
    @staticmethod
    def forward(ctx, a):
        xp = xp_of(a)
        if a.dtype.kind == "c":  # complex numbers have no sign to split by: the formula itself, as PyTorch
            with quiet_fp_errors(xp):
                out = 1 / (1 + xp.exp(-a))
        else:
            # split by sign so that exp never overflows
            e = xp.exp(-xp.abs(a))
            out = xp.where(a >= 0, 1 / (1 + e), e / (1 + e)).astype(a.dtype, copy=False)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g * out * (1 - out)

    @staticmethod
    def backward_graph(ctx, g):
        (out,) = graph_tensors(ctx)
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

    @staticmethod
    def backward_graph(ctx, g):
        (out,) = ctx.saved_tensors
        return g * Tensor._wrap(out > 0)


@bfloat16_opmath
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
        return select_grad(_within_bounds(ctx), g)

    backward_graph = backward


def _within_bounds(ctx):
    """Where clamp's input lay within its bounds: where its gradient passes."""
    (a,) = ctx.saved_tensors
    lo, hi = ctx.bounds
    if lo is None:
        return a <= hi
    return a >= lo if hi is None else (a >= lo) & (a <= hi)


class IsNaN(Function):
    """The checks give bool tensors, which are never differentiable."""

    @staticmethod
    def forward(ctx, a):
        return xp_of(a).isnan(a)


class IsInf(Function):
    @staticmethod
    def forward(ctx, a):
        return xp_of(a).isinf(a)


class IsFinite(Function):
    @staticmethod
    def forward(ctx, a):
        return xp_of(a).isfinite(a)


@bfloat16_opmath
class NanToNum(Function):
    """nan, +inf and -inf replaced by numbers; the gradient passes only where the input was finite."""

    @staticmethod
    def forward(ctx, a, nan=0.0, posinf=None, neginf=None):
        ctx.save_for_backward(a)
        return xp_of(a).nan_to_num(a, nan=nan, posinf=posinf, neginf=neginf)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g * xp_of(a).isfinite(a)

    @staticmethod
    def backward_graph(ctx, g):
        (a,) = ctx.saved_tensors
        return g * Tensor._wrap(xp_of(a).isfinite(a))


class Rounding(Function):
    """Piecewise-constant functions: PyTorch gives them a zero gradient, not none."""

    @staticmethod
    def backward(ctx, g):
        return xp_of(g).zeros_like(g)

    backward_graph = staticmethod(constant_backward)


class Sign(Rounding):
    @staticmethod
    def forward(ctx, a):
        if a.dtype.kind == "b":
            return a.copy()
        xp = xp_of(a)
        # PyTorch's sign of NaN is 0
        return xp.where(xp.isnan(a), 0, xp.sign(a)).astype(a.dtype, copy=False) if is_floating(a.dtype) else xp.sign(a)


class Floor(Rounding):
    @staticmethod
    def forward(ctx, a):
        return xp_of(a).floor(a) if is_floating(a.dtype) else a.copy()


class Ceil(Rounding):
    @staticmethod
    def forward(ctx, a):
        return xp_of(a).ceil(a) if is_floating(a.dtype) else a.copy()


class Trunc(Rounding):
    @staticmethod
    def forward(ctx, a):
        return xp_of(a).trunc(a) if is_floating(a.dtype) else a.copy()


@bfloat16_opmath
class Round(Rounding):
    """Half to even, as PyTorch; ``decimals`` scales by a power of ten around the rounding."""

    @staticmethod
    def forward(ctx, a, decimals=0):
        xp = xp_of(a)
        if not is_floating(a.dtype):
            return a.copy()
        if decimals == 0:
            return xp.rint(a)
        with quiet_fp_errors(xp):
            if decimals > 0:
                scale = 10.0 ** decimals
                return (xp.rint(a * scale) / scale).astype(a.dtype, copy=False)
            scale = 10.0 ** -decimals  # dividing by the power, not multiplying by its inverse, as PyTorch does
            return (xp.rint(a / scale) * scale).astype(a.dtype, copy=False)


class Frac(Function):
    @staticmethod
    def forward(ctx, a):
        return a - xp_of(a).trunc(a)

    @staticmethod
    def backward(ctx, g):
        return g

    backward_graph = backward


@bfloat16_opmath
class Erf(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return _erf(xp_of(a), a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g * (2 / math.sqrt(math.pi)) * xp_of(a).exp(-a * a)

    @staticmethod
    def backward_graph(ctx, g):
        (a,) = graph_tensors(ctx)
        return g * (2 / math.sqrt(math.pi)) * (-a * a).exp()


def _floating(a):
    """Integer inputs of exp/log/... compute in the default float dtype, as in PyTorch."""
    return promote(a, min_category_float=True)[0]


def abs(a):
    if a._data.dtype.kind == "b":
        raise NotImplementedError("\"abs_cpu\" not implemented for 'Bool': abs takes a numeric tensor")
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
    if a.is_quantized:  # PyTorch's quantized kernel: the integers clamped at the zero point
        from trainer.ao.nn.quantized import functional as quantized_functional

        return quantized_functional.relu(a)
    reject_complex(a, "clamp is not supported for complex types")
    return Relu.apply(a)


def clamp(a, min=None, max=None):
    from trainer.tensor import Tensor

    reject_complex(a, "clamp is not supported for complex types")
    if min is None and max is None:
        raise RuntimeError("clamp: at least one of 'min' or 'max' must not be None")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        # PyTorch's gradients: to ``a`` where min <= a <= max, to a bound where it replaced ``a`` (NaN stays)
        out = a if min is None else where(a < min, min, a)
        return out if max is None else where(out > max, max, out)
    if a._data.dtype.kind in "biu":  # an integer tensor clamped to a float bound becomes float, as in PyTorch
        a = promote(a, *(bound for bound in (min, max) if bound is not None))[0]
    return Clip.apply(a, min=min, max=max)


clip = clamp


def isnan(a):
    return IsNaN.apply(a)


def isinf(a):
    return IsInf.apply(a)


def isfinite(a):
    return IsFinite.apply(a)


def nan_to_num(a, nan=0.0, posinf=None, neginf=None):
    if not is_inexact(a._data.dtype):
        return a.clone()  # an integer tensor holds no nan or inf
    if a.dtype is dtypes.bfloat16:  # computed in float32, whose own limits would round to inf
        limits = array_finfo(a._data.dtype)
        posinf, neginf = (limits.max if posinf is None else posinf), (limits.min if neginf is None else neginf)
    return NanToNum.apply(a, nan=float(nan), posinf=None if posinf is None else float(posinf),
                          neginf=None if neginf is None else float(neginf))


def sign(a):
    reject_complex(a, "Unlike NumPy, torch.sign is not intended to support complex numbers. Please use "
                      "torch.sgn instead.")
    return Sign.apply(a)


def floor(a):
    reject_complex(a, "floor is not supported for complex inputs")
    return Floor.apply(a)


def ceil(a):
    reject_complex(a, "ceil is not supported for complex inputs")
    return Ceil.apply(a)


def trunc(a):
    reject_complex(a, "trunc is not supported for complex inputs")
    return Trunc.apply(a)


fix = trunc


def round(a, *, decimals=0):
    reject_complex_kernel("round", a._data)
    if decimals != 0 and not is_floating(a._data.dtype):
        raise NotImplementedError(f"round with decimals={decimals} is not implemented for {a.dtype.name} tensors; "
                                  "round a floating-point tensor, or leave decimals at 0")
    return Round.apply(a, decimals=int(decimals))


def _require_floating(a, name):
    if not is_floating(a._data.dtype):
        raise NotImplementedError(f"{name}() is not implemented for {a.dtype.name} tensors; "
                                  f"expected a floating-point tensor (convert with .float())")


def frac(a):
    _require_floating(a, "frac")
    return Frac.apply(a)


def erf(a):
    return Erf.apply(_floating(a))
