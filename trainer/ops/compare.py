"""Comparisons and logic (never differentiable), plus maximum, minimum and where."""

from __future__ import annotations

from trainer.autograd.op import Function
from trainer.backend import xp_of
from trainer.ops._operands import binary_ufunc, broadcast_shapes, promote, scalar_tensor, unbroadcast
from trainer.ops.complex_checks import ORDERING_KERNELS, reject_complex, reject_complex_kernel
from trainer.tensor import Tensor


def _comparison(name, ufunc_name):
    ordering_kernel = ORDERING_KERNELS.get(ufunc_name)

    def forward(ctx, a, b):
        if ordering_kernel is not None:
            reject_complex_kernel(ordering_kernel, a, b)
        return binary_ufunc(a, b, getattr(xp_of(a), ufunc_name))

    return type(name, (Function,), {"forward": staticmethod(forward), "__doc__": f"Elementwise ``{ufunc_name}``."})


Equal = _comparison("Equal", "equal")
NotEqual = _comparison("NotEqual", "not_equal")
Less = _comparison("Less", "less")
LessOrEqual = _comparison("LessOrEqual", "less_equal")
Greater = _comparison("Greater", "greater")
GreaterOrEqual = _comparison("GreaterOrEqual", "greater_equal")
And = _comparison("And", "logical_and")
Or = _comparison("Or", "logical_or")
Xor = _comparison("Xor", "logical_xor")
BitwiseAnd = _comparison("BitwiseAnd", "bitwise_and")
BitwiseOr = _comparison("BitwiseOr", "bitwise_or")
BitwiseXor = _comparison("BitwiseXor", "bitwise_xor")


class Not(Function):
    @staticmethod
    def forward(ctx, a):
        return xp_of(a).logical_not(a)


class BitwiseNot(Function):
    @staticmethod
    def forward(ctx, a):
        return xp_of(a).invert(a)


class Maximum(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return binary_ufunc(a, b, xp_of(a).maximum)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        return _split_by_winner(ctx, g, a, b, a > b)

    @staticmethod
    def backward_graph(ctx, g):
        a, b = ctx.saved_tensors
        return _split_by_winner_graph(ctx, g, a, b, a > b)


class Minimum(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return binary_ufunc(a, b, xp_of(a).minimum)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        return _split_by_winner(ctx, g, a, b, a < b)

    @staticmethod
    def backward_graph(ctx, g):
        a, b = ctx.saved_tensors
        return _split_by_winner_graph(ctx, g, a, b, a < b)


def _split_by_winner(ctx, g, a, b, a_wins):
    """The gradient goes to the winning operand; on a tie each gets half, as in PyTorch."""
    xp = xp_of(g)
    tie = a == b
    need_a, need_b = ctx.needs_input_grad
    ga = unbroadcast(xp.where(a_wins, g, xp.where(tie, g / 2, 0)), a.shape) if need_a else None
    gb = unbroadcast(xp.where(a_wins, 0, xp.where(tie, g / 2, g)), b.shape) if need_b else None
    return ga, gb


def _split_by_winner_graph(ctx, g, a, b, a_wins):
    """``_split_by_winner`` for a tensor gradient, with the same selections."""
    a_wins, tie = Tensor._wrap(a_wins), Tensor._wrap(a == b)
    zero = g.new_zeros(())
    need_a, need_b = ctx.needs_input_grad
    ga = Where.apply(a_wins, g, Where.apply(tie, g / 2, zero)).sum_to_size(a.shape) if need_a else None
    gb = Where.apply(a_wins, zero, Where.apply(tie, g / 2, g)).sum_to_size(b.shape) if need_b else None
    return ga, gb


def select_grad(mask, g):
    """``g`` where ``mask`` holds and 0 elsewhere, for arrays and (recorded) tensors alike. Selected rather than
    multiplied, as in PyTorch, so that an inf or NaN gradient where ``mask`` is false stays out."""
    if isinstance(g, Tensor):
        return Where.apply(Tensor._wrap(mask), g, g.new_zeros(()))
    return xp_of(g).where(mask, g, 0)


class Where(Function):
    @staticmethod
    def forward(ctx, cond, a, b):
        ctx.cond = cond
        ctx.shapes = a.shape, b.shape
        try:
            return xp_of(a).where(cond, a, b)
        except ValueError:
            broadcast_shapes(cond.shape, a.shape, b.shape)
            raise

    @staticmethod
    def backward(ctx, g):
        cond = ctx.cond
        sa, sb = ctx.shapes
        _, need_a, need_b = ctx.needs_input_grad
        ga = unbroadcast(select_grad(cond, g), sa) if need_a else None
        gb = unbroadcast(select_grad(~cond, g), sb) if need_b else None
        return None, ga, gb

    @staticmethod
    def backward_graph(ctx, g):
        sa, sb = ctx.shapes
        _, need_a, need_b = ctx.needs_input_grad
        ga = select_grad(ctx.cond, g).sum_to_size(sa) if need_a else None
        gb = select_grad(~ctx.cond, g).sum_to_size(sb) if need_b else None
        return None, ga, gb


def eq(a, b):
    return Equal.apply(*promote(a, b))


def ne(a, b):
    return NotEqual.apply(*promote(a, b))


def lt(a, b):
    return Less.apply(*promote(a, b))


def le(a, b):
    return LessOrEqual.apply(*promote(a, b))


def gt(a, b):
    return Greater.apply(*promote(a, b))


def ge(a, b):
    return GreaterOrEqual.apply(*promote(a, b))


def logical_and(a, b):
    return And.apply(*promote(a, b))


def logical_or(a, b):
    return Or.apply(*promote(a, b))


def logical_xor(a, b):
    return Xor.apply(*promote(a, b))


def logical_not(a):
    return Not.apply(a)


def maximum(a, b):
    a, b = promote(a, b)
    reject_complex(a, "maximum not implemented for complex tensors.", RuntimeError)
    return Maximum.apply(a, b)


def minimum(a, b):
    a, b = promote(a, b)
    reject_complex(a, "minimum not implemented for complex tensors.", RuntimeError)
    return Minimum.apply(a, b)


def where(condition, a, b):
    from trainer import dtypes
    from trainer.ops.tensor_ops import cast

    if condition._data.dtype.kind != "b":
        condition = cast(condition, dtypes.bool)
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):  # where(mask, 1, 0): the numbers' own dtype
        a = scalar_tensor(a, condition, dtypes.result_type([], [dtypes.scalar_dtype(a), dtypes.scalar_dtype(b)]))
    a, b = promote(a, b)
    return Where.apply(condition, a, b)


def equal(a, b) -> bool:
    """``torch.equal``: same shape and same values."""
    return a.shape == b.shape and bool(xp_of(a._data).array_equal(a._data, b._data))


def allclose(a, b, rtol=1e-5, atol=1e-8, equal_nan=False) -> bool:
    return bool(xp_of(a._data).allclose(a._data, b._data, rtol=rtol, atol=atol, equal_nan=equal_nan))


def isclose(a, b, rtol=1e-5, atol=1e-8, equal_nan=False):
    return Tensor._wrap(xp_of(a._data).isclose(a._data, b._data, rtol=rtol, atol=atol, equal_nan=equal_nan))
