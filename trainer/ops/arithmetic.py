"""Arithmetic with broadcasting: add, sub, mul, div, pow, neg, remainder, fmod, atan2, hypot, lerp."""

from __future__ import annotations

import numpy as np

from trainer.autograd.higher_order import constant_backward, graph_tensors
from trainer.autograd.op import Function
from trainer.backend import xp_of
from trainer.dtypes import is_floating
from trainer.ops._operands import binary_ufunc, promote, quiet_fp_errors, unbroadcast
from trainer.ops.bfloat16_opmath import bfloat16_opmath
from trainer.ops.holomorphic import holomorphic
from trainer.tensor import Tensor


class Add(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = a.shape, b.shape
        return binary_ufunc(a, b, xp_of(a).add)

    @staticmethod
    def backward(ctx, g):
        sa, sb = ctx.shapes
        need_a, need_b = ctx.needs_input_grad
        return (unbroadcast(g, sa) if need_a else None), (unbroadcast(g, sb) if need_b else None)

    @staticmethod
    def backward_graph(ctx, g):
        sa, sb = ctx.shapes
        need_a, need_b = ctx.needs_input_grad
        return (g.sum_to_size(sa) if need_a else None), (g.sum_to_size(sb) if need_b else None)


class Sub(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = a.shape, b.shape
        return binary_ufunc(a, b, xp_of(a).subtract)

    @staticmethod
    def backward(ctx, g):
        sa, sb = ctx.shapes
        need_a, need_b = ctx.needs_input_grad
        return (unbroadcast(g, sa) if need_a else None), (unbroadcast(-g, sb) if need_b else None)

    @staticmethod
    def backward_graph(ctx, g):
        sa, sb = ctx.shapes
        need_a, need_b = ctx.needs_input_grad
        return (g.sum_to_size(sa) if need_a else None), ((-g).sum_to_size(sb) if need_b else None)


def _needs(ctx) -> tuple:
    """Which inputs ``ctx`` will differentiate (all, where forward runs without recording)."""
    return getattr(ctx, "needs_input_grad", (True, True))


@holomorphic
class Mul(Function):
    @staticmethod
    def forward(ctx, a, b):
        # each operand only for the other's gradient, as PyTorch saves them: an in-place change to an operand
        # whose partner needs no gradient is then no error
        need_a, need_b = _needs(ctx)
        ctx.save_for_backward(a if need_b else None, b if need_a else None)
        ctx.shapes = a.shape, b.shape
        return binary_ufunc(a, b, xp_of(a).multiply)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        (sa, sb), (need_a, need_b) = ctx.shapes, ctx.needs_input_grad
        return (unbroadcast(g * b, sa) if need_a else None), (unbroadcast(g * a, sb) if need_b else None)

    @staticmethod
    def backward_graph(ctx, g):
        a, b = graph_tensors(ctx)
        (sa, sb), (need_a, need_b) = ctx.shapes, ctx.needs_input_grad
        return ((g * b).sum_to_size(sa) if need_a else None), ((g * a).sum_to_size(sb) if need_b else None)


@holomorphic
@bfloat16_opmath
class Div(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a if _needs(ctx)[1] else None, b)  # a only for b's gradient
        ctx.a_shape = a.shape
        return binary_ufunc(a, b, xp_of(a).true_divide)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        ga = unbroadcast(g / b, ctx.a_shape) if need_a else None
        gb = unbroadcast(-g * a / (b * b), b.shape) if need_b else None
        return ga, gb

    @staticmethod
    def backward_graph(ctx, g):
        a, b = graph_tensors(ctx)
        need_a, need_b = ctx.needs_input_grad
        ga = (g / b).sum_to_size(ctx.a_shape) if need_a else None
        gb = (-g * a / (b * b)).sum_to_size(b.shape) if need_b else None
        return ga, gb


class FloorDiv(Function):
    """Division rounded down (``//``); its gradient is zero almost everywhere."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = a.shape, b.shape
        return binary_ufunc(a, b, xp_of(a).floor_divide)

    @staticmethod
    def backward(ctx, g):
        return _zero_grads(ctx, g)

    backward_graph = staticmethod(constant_backward)


@bfloat16_opmath
class TruncDiv(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = a.shape, b.shape
        xp = xp_of(a)
        if is_floating(a.dtype):
            return xp.trunc(binary_ufunc(a, b, xp.true_divide))
        q = binary_ufunc(a, b, xp.floor_divide)
        return q + ((q < 0) & (q * b != a))

    @staticmethod
    def backward(ctx, g):
        return _zero_grads(ctx, g)

    backward_graph = staticmethod(constant_backward)


def _zero_grads(ctx, g):
    """Rounded division is piecewise constant: PyTorch gives zero gradients, not none."""
    xp = xp_of(g)
    return tuple(xp.zeros(shape, g.dtype) if need else None for shape, need in zip(ctx.shapes, ctx.needs_input_grad))


class Remainder(Function):
    """Python's (and PyTorch's) modulo: the result takes the sign of the divisor."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return binary_ufunc(a, b, xp_of(a).remainder)

    @staticmethod
    def backward(ctx, g):
        # a % b == a - b * floor(a / b)
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        ga = unbroadcast(g, a.shape) if need_a else None
        gb = unbroadcast(-g * xp_of(a).floor_divide(a, b), b.shape) if need_b else None
        return ga, gb

    @staticmethod
    def backward_graph(ctx, g):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        ga = g.sum_to_size(a.shape) if need_a else None
        # floor(a / b) is piecewise constant: a constant factor
        gb = (-g * Tensor._wrap(xp_of(a).floor_divide(a, b))).sum_to_size(b.shape) if need_b else None
        return ga, gb


@holomorphic
@bfloat16_opmath
class Pow(Function):
    @staticmethod
    def forward(ctx, a, b):
        xp = xp_of(a)
        if a.dtype.kind in "iu" and b.ndim == 0 and b < 0:
            raise RuntimeError("Integers to negative integer powers are not allowed.")
        out = binary_ufunc(a, b, xp.power)
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, g):
        a, b, out = ctx.saved_tensors
        xp = xp_of(a)
        need_a, need_b = ctx.needs_input_grad
        ga = gb = None
        if need_a:
            # b * a**(b-1), written so that a == 0 with b >= 1 stays finite
            ga = unbroadcast(xp.where(b == 0, 0, g * b * xp.power(a, b - 1)), a.shape)
        if need_b:
            gb = unbroadcast(xp.where((a == 0) & (b >= 0), 0, g * out * xp.log(xp.where(a == 0, 1, a))), b.shape)
        return ga, gb

    @staticmethod
    def backward_graph(ctx, g):
        from trainer.ops.compare import where

        a, b, out = graph_tensors(ctx)
        need_a, need_b = ctx.needs_input_grad
        ga = gb = None
        if need_a:
            ga = where(b == 0, 0.0, g * b * a ** (b - 1)).sum_to_size(a.shape)
        if need_b:
            base_zero = (a == 0) & (b >= 0)
            gb = where(base_zero, 0.0, g * out * where(a == 0, 1.0, a).log()).sum_to_size(b.shape)
        return ga, gb


class Fmod(Function):
    """C's fmod: the result takes the sign of the dividend."""

    @staticmethod
    def forward(ctx, a, b):
        xp = xp_of(a)
        if a.dtype.kind in "biu" and bool((b == 0).any()):
            raise RuntimeError("ZeroDivisionError: fmod of an integer tensor by zero")
        ctx.save_for_backward(a, b)
        return binary_ufunc(a, b, xp.fmod)

    @staticmethod
    def backward(ctx, g):
        # fmod(a, b) == a - b * trunc(a / b)
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        ga = unbroadcast(g, a.shape) if need_a else None
        gb = unbroadcast(-g * xp_of(a).trunc(a / b), b.shape) if need_b else None
        return ga, gb

    @staticmethod
    def backward_graph(ctx, g):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        ga = g.sum_to_size(a.shape) if need_a else None
        gb = (-g * Tensor._wrap(xp_of(a).trunc(a / b))).sum_to_size(b.shape) if need_b else None
        return ga, gb


@bfloat16_opmath
class Atan2(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return binary_ufunc(a, b, xp_of(a).arctan2)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        with quiet_fp_errors(xp_of(a)):
            scale = g / (a * a + b * b)
        ga = unbroadcast(scale * b, a.shape) if need_a else None
        gb = unbroadcast(-scale * a, b.shape) if need_b else None
        return ga, gb

    @staticmethod
    def backward_graph(ctx, g):
        a, b = graph_tensors(ctx)
        need_a, need_b = ctx.needs_input_grad
        scale = g / (a * a + b * b)
        ga = (scale * b).sum_to_size(a.shape) if need_a else None
        gb = (-scale * a).sum_to_size(b.shape) if need_b else None
        return ga, gb


@bfloat16_opmath
class Hypot(Function):
    @staticmethod
    def forward(ctx, a, b):
        out = binary_ufunc(a, b, xp_of(a).hypot)
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, g):
        a, b, out = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        with quiet_fp_errors(xp_of(a)):
            scale = g / out
        ga = unbroadcast(scale * a, a.shape) if need_a else None
        gb = unbroadcast(scale * b, b.shape) if need_b else None
        return ga, gb

    @staticmethod
    def backward_graph(ctx, g):
        a, b, out = graph_tensors(ctx)
        need_a, need_b = ctx.needs_input_grad
        scale = g / out
        ga = (scale * a).sum_to_size(a.shape) if need_a else None
        gb = (scale * b).sum_to_size(b.shape) if need_b else None
        return ga, gb


@bfloat16_opmath
class Lerp(Function):
    """``start + weight * (end - start)``; ``weight`` is a third tensor input, or the number ``scalar``."""

    @staticmethod
    def forward(ctx, start, end, weight=None, scalar=None):
        xp = xp_of(start)
        w = scalar if weight is None else weight
        ctx.save_for_backward(start, end, weight)
        ctx.meta = start.shape, end.shape, scalar
        diff = binary_ufunc(end, start, xp.subtract)
        # PyTorch's form: from the nearer end, so that weight 1 gives exactly ``end``
        out = xp.where(xp.abs(w) < 0.5, start + w * diff, end - diff * (1 - w))
        return out.astype(start.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        start, end, weight = ctx.saved_tensors
        shape_start, shape_end, scalar = ctx.meta
        w = scalar if weight is None else weight
        need = ctx.needs_input_grad
        grads = [unbroadcast(g * (1 - w), shape_start) if need[0] else None,
                 unbroadcast(g * w, shape_end) if need[1] else None]
        if weight is not None:
            grads.append(unbroadcast(g * (end - start), weight.shape) if need[2] else None)
        return tuple(grads)

    @staticmethod
    def backward_graph(ctx, g):
        start, end, weight = graph_tensors(ctx)
        shape_start, shape_end, scalar = ctx.meta
        w = scalar if weight is None else weight
        need = ctx.needs_input_grad
        grads = [(g * (1 - w)).sum_to_size(shape_start) if need[0] else None,
                 (g * w).sum_to_size(shape_end) if need[1] else None]
        if weight is not None:
            grads.append((g * (end - start)).sum_to_size(weight.shape) if need[2] else None)
        return tuple(grads)


class Neg(Function):
    @staticmethod
    def forward(ctx, a):
        if a.dtype.kind == "b":
            raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. "
                               "If you are trying to invert a mask, use the `~` or `logical_not()` operator instead.")
        return -a

    @staticmethod
    def backward(ctx, g):
        return -g

    backward_graph = backward


def add(a, b, *, alpha=1):
    a, b = promote(a, b)
    if alpha != 1:  # scaled after promotion, so that alpha does not change the result dtype
        a, b = promote(a, mul(b, alpha))
    return Add.apply(a, b)


def sub(a, b, *, alpha=1):
    if _is_bool(a) or _is_bool(b):
        raise RuntimeError("Subtraction, the `-` operator, with a bool tensor is not supported. "
                           "If you are trying to invert a mask, use the `~` or `logical_not()` operator instead.")
    a, b = promote(a, b)
    if alpha != 1:
        a, b = promote(a, mul(b, alpha))
    return Sub.apply(a, b)


def _is_bool(operand) -> bool:
    if isinstance(operand, Tensor):
        return operand._data.dtype.kind == "b"
    return isinstance(operand, (bool, np.bool_))


def mul(a, b):
    if getattr(a, "is_sparse", False) or getattr(b, "is_sparse", False):  # SparseTensor's own products
        return a * b
    return Mul.apply(*promote(a, b))


def div(a, b, *, rounding_mode=None):
    if rounding_mode is None:
        return Div.apply(*promote(a, b, min_category_float=True))
    if rounding_mode == "floor":
        return FloorDiv.apply(*promote(a, b))
    if rounding_mode == "trunc":
        return TruncDiv.apply(*promote(a, b))
    raise RuntimeError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
                       f"'{rounding_mode}'")


def true_divide(a, b):
    return div(a, b)


def remainder(a, b):
    return Remainder.apply(*promote(a, b))


def pow(a, b):
    return Pow.apply(*promote(a, b))


def neg(a):
    return Neg.apply(a)


def square(a):
    if _is_bool(a):  # as PyTorch: a bool tensor squares to int64
        a = a.long()
    return mul(a, a)


def fmod(a, b):
    return Fmod.apply(*promote(a, b))


def atan2(a, b):
    return Atan2.apply(*promote(a, b, min_category_float=True))


arctan2 = atan2


def hypot(a, b):
    if not isinstance(b, Tensor):
        raise TypeError(f"hypot(): argument 'other' must be Tensor, not {type(b).__name__}")
    a, b = promote(a, b)
    if not is_floating(a._data.dtype):
        raise NotImplementedError(f"hypot() is not implemented for {a.dtype.name} tensors; "
                                  "expected floating-point tensors")
    return Hypot.apply(a, b)


def lerp(start, end, weight):
    """``start + weight * (end - start)``, with ``weight`` a number or a tensor."""
    if not is_floating(start._data.dtype):
        raise NotImplementedError(f"lerp() is not implemented for {start.dtype.name} tensors; "
                                  "expected floating-point tensors")
    for name, t in (("end", end), ("weight", weight)):
        if isinstance(t, Tensor) and t.dtype != start.dtype and (name == "end" or t._data.ndim):
            raise RuntimeError(f"expected dtype {start.dtype.name} for `{name}` but got dtype {t.dtype.name}")
    if isinstance(weight, Tensor):
        if weight.dtype != start.dtype:  # a 0-d weight of another float dtype, as PyTorch allows
            weight = weight.to(start.dtype)
        return Lerp.apply(start, end, weight)
    return Lerp.apply(start, end, scalar=float(weight))
