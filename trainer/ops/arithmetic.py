"""Arithmetic with broadcasting: add, sub, mul, div, pow, neg, remainder."""

from __future__ import annotations

import numpy as np

from trainer.autograd.op import Function
from trainer.backend import xp_of
from trainer.ops._operands import binary_ufunc, promote, unbroadcast
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


class Mul(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return binary_ufunc(a, b, xp_of(a).multiply)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        return (unbroadcast(g * b, a.shape) if need_a else None), (unbroadcast(g * a, b.shape) if need_b else None)


class Div(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return binary_ufunc(a, b, xp_of(a).true_divide)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        ga = unbroadcast(g / b, a.shape) if need_a else None
        gb = unbroadcast(-g * a / (b * b), b.shape) if need_b else None
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


class TruncDiv(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = a.shape, b.shape
        xp = xp_of(a)
        if a.dtype.kind == "f":
            return xp.trunc(binary_ufunc(a, b, xp.true_divide))
        q = binary_ufunc(a, b, xp.floor_divide)
        return q + ((q < 0) & (q * b != a))

    @staticmethod
    def backward(ctx, g):
        return _zero_grads(ctx, g)


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
    return Mul.apply(*promote(a, b))


def div(a, b, *, rounding_mode=None):
    if rounding_mode is None:
        return Div.apply(*promote(a, b, min_category_float=True))
    if rounding_mode == "floor":
        return FloorDiv.apply(*promote(a, b))
    if rounding_mode == "trunc":
        return TruncDiv.apply(*promote(a, b))
    raise ValueError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found '{rounding_mode}'")


def true_divide(a, b):
    return div(a, b)


def remainder(a, b):
    return Remainder.apply(*promote(a, b))


def pow(a, b):
    return Pow.apply(*promote(a, b))


def neg(a):
    return Neg.apply(a)


def square(a):
    return mul(a, a)
