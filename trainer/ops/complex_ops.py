"""Complex numbers: ``real``, ``imag``, ``conj``, ``angle``, ``sgn``, ``polar``, ``complex``, ``view_as_real`` /
``view_as_complex``, with PyTorch's gradients (the conjugate Wirtinger derivative, see
``trainer.ops.holomorphic``).

trainer is eager: ``conj`` conjugates at once, so there is no lazy conjugate or negative bit (``is_conj`` and
``is_neg`` are always False, ``resolve_conj``/``resolve_neg`` return their input). ``real``, ``imag``,
``view_as_real`` and ``view_as_complex`` are views sharing their input's memory, as in PyTorch: an in-place change
through one changes the input. While autograd records, such a change is refused (trainer locates a view's elements
in its base by position, which a view of another element type does not have) instead of leaving the input behind.
"""

from __future__ import annotations

import math

from trainer import dtypes
from trainer.autograd.higher_order import graph_tensors
from trainer.autograd.op import Function
from trainer.autograd.view_writes import data_address
from trainer.backend import xp_of
from trainer.ops._dtype_errors import scalar_type_name
from trainer.ops._operands import promote, quiet_fp_errors
from trainer.tensor import Tensor


def _is_complex(t) -> bool:
    return t._data.dtype.kind == "c"


def _complex_dtype_of(real_np_dtype):
    return dtypes.from_numpy(real_np_dtype).to_complex().np


class Real(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.dtype = a.dtype
        return a.real

    @staticmethod
    def backward(ctx, g):  # a real gradient, as a complex one with no imaginary part
        return g.astype(ctx.dtype)

    @staticmethod
    def backward_graph(ctx, g):
        return complex(g, g.new_zeros(()).expand_as(g))


class Imag(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.dtype = a.dtype
        return a.imag

    @staticmethod
    def backward(ctx, g):  # d/d(conj z) of imag(z), scaled as PyTorch: g * 1j
        return g.astype(ctx.dtype) * 1j

    @staticmethod
    def backward_graph(ctx, g):
        return complex(g.new_zeros(()).expand_as(g), g)


class Conj(Function):
    @staticmethod
    def forward(ctx, a):
        return a.conj()

    @staticmethod
    def backward(ctx, g):
        return g.conj()

    @staticmethod
    def backward_graph(ctx, g):
        return Conj.apply(g)


class Complex(Function):
    """``real + 1j * imag`` from two real tensors of one floating dtype."""

    @staticmethod
    def forward(ctx, re, im):
        out = re.astype(_complex_dtype_of(re.dtype))  # broadcasting, as PyTorch's complex does
        out = out + im * 1j
        ctx.shapes = re.shape, im.shape
        return out

    @staticmethod
    def backward(ctx, g):
        from trainer.ops._operands import unbroadcast

        (sr, si), (need_r, need_i) = ctx.shapes, ctx.needs_input_grad
        return (unbroadcast(g.real, sr) if need_r else None), (unbroadcast(g.imag, si) if need_i else None)

    @staticmethod
    def backward_graph(ctx, g):
        (sr, si), (need_r, need_i) = ctx.shapes, ctx.needs_input_grad
        return (real(g).sum_to_size(sr) if need_r else None), (imag(g).sum_to_size(si) if need_i else None)


class ViewAsReal(Function):
    """A complex tensor as a real one with a last dimension of 2: (real, imag)."""

    @staticmethod
    def forward(ctx, a):
        return _as_pairs(a)

    @staticmethod
    def backward(ctx, g):
        return _pairs_to_complex(g)

    @staticmethod
    def backward_graph(ctx, g):
        return view_as_complex(g)


class ViewAsComplex(Function):
    @staticmethod
    def forward(ctx, a):
        return a.view(_complex_dtype_of(a.dtype))[..., 0]

    @staticmethod
    def backward(ctx, g):
        return xp_of(g).stack([g.real, g.imag], axis=-1)

    @staticmethod
    def backward_graph(ctx, g):
        return view_as_real(g)


def _as_pairs(a):
    """A complex array as (real, imag) pairs in a new last dimension, sharing its memory."""
    return a[..., None].view(a.real.dtype)


def _pairs_to_complex(a):
    out = a[..., 0].astype(_complex_dtype_of(a.dtype))
    out.imag = a[..., 1]
    return out


class Angle(Function):
    """The argument of a complex number; for a real one, 0 or pi (NaN stays NaN) with a zero gradient."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        xp = xp_of(a)
        if a.dtype.kind == "c":
            return xp.angle(a)
        # as PyTorch: pi for negative numbers only (-0.0 gives 0), NaN for NaN
        return xp.where(a < 0, math.pi, xp.where(xp.isnan(a), a, 0)).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        xp = xp_of(a)
        if a.dtype.kind != "c":
            return xp.zeros_like(g)
        # d angle / d(conj z) as PyTorch scales it: g * 1j * z / |z|^2, and 0 at z == 0
        squared = a.real * a.real + a.imag * a.imag
        with quiet_fp_errors(xp):
            grad = g * 1j * a / xp.where(squared == 0, 1, squared)
        return xp.where(squared == 0, 0, grad).astype(a.dtype, copy=False)

    @staticmethod
    def backward_graph(ctx, g):
        from trainer.ops.compare import where

        (a,) = graph_tensors(ctx)
        if not _is_complex(a):
            return g.new_zeros(()).expand_as(g).clone()
        squared = real(a) * real(a) + imag(a) * imag(a)
        at_zero = Tensor._wrap(squared._data == 0)
        return where(at_zero, 0, g * 1j * a / where(at_zero, 1.0, squared))


# ----------------------------------------------------------------- functions


def real(input):
    """The real part, a view; a real tensor is its own real part."""
    return Real.apply(input)._mark_view_of(input) if _is_complex(input) else input


def imag(input):
    if not _is_complex(input):
        raise RuntimeError("imag is not implemented for tensors with non-complex dtypes.")
    return Imag.apply(input)._mark_view_of(input)


def conj(input):
    """The complex conjugate, computed at once (trainer has no lazy conjugate bit); a real tensor itself."""
    return Conj.apply(input) if _is_complex(input) else input


conj_physical = conj


def resolve_conj(input):
    """``input``: trainer conjugates eagerly, so there is never a conjugate bit to resolve."""
    return input


def resolve_neg(input):
    """``input``: trainer negates eagerly, so there is never a negative bit to resolve."""
    return input


def is_conj(input) -> bool:
    return False


def is_neg(input) -> bool:
    return False


def angle(input):
    if not (_is_complex(input) or dtypes.is_floating(input._data.dtype)):
        input = promote(input, min_category_float=True)[0]  # integers give the default float, as in PyTorch
    return Angle.apply(input)


def sgn(input):
    """``z / |z|`` (0 where z == 0) for complex tensors; ``sign`` for real ones."""
    if not _is_complex(input):
        from trainer.ops.unary import sign

        return sign(input)
    from trainer.ops.compare import where

    magnitude = input.abs()
    at_zero = Tensor._wrap(magnitude._data == 0)
    # a safe divisor, so that the masked-out branch puts no NaN into the gradient
    return where(at_zero, 0, input / where(at_zero, 1.0, magnitude))


def _require_same_floating(name, a, b, what) -> None:
    for t in (a, b):
        if not dtypes.is_floating(t._data.dtype) or t.dtype is dtypes.bfloat16:
            raise RuntimeError(f"Expected both inputs to be Half, Float or Double tensors but got "
                               f"{scalar_type_name(a.dtype)} and {scalar_type_name(b.dtype)}")
    if a.dtype is not b.dtype:
        raise RuntimeError(f"Expected object of scalar type {scalar_type_name(a.dtype)} but got scalar type "
                           f"{scalar_type_name(b.dtype)} for second argument: {name} needs {what} of one dtype")


def complex(real, imag):  # noqa: A001 - PyTorch's name
    """The complex tensor ``real + 1j * imag``, from two real tensors of one floating dtype."""
    _require_same_floating("complex", real, imag, "real and imag")
    return Complex.apply(real, imag)


def polar(abs, angle):  # noqa: A002 - PyTorch's names
    """The complex tensor with magnitude ``abs`` and argument ``angle``."""
    _require_same_floating("polar", abs, angle, "abs and angle")
    return complex(abs * angle.cos(), abs * angle.sin())


def view_as_real(input):
    if not _is_complex(input):
        raise RuntimeError("view_as_real is only supported for complex tensors")
    return ViewAsReal.apply(input)._mark_view_of(input)


def view_as_complex(input):
    if input.ndim == 0 or input.shape[-1] != 2:
        raise RuntimeError("Tensor must have a last dimension of size 2")
    if input.dtype not in (dtypes.float32, dtypes.float64):
        raise RuntimeError(f"view_as_complex is only supported for float and double tensors, but got a tensor of "
                           f"scalar type: {scalar_type_name(input.dtype)}")
    _require_complex_layout(input._data)
    return ViewAsComplex.apply(input)._mark_view_of(input)


def _require_complex_layout(pairs) -> None:
    """PyTorch's conditions for reading (real, imag) pairs as complex numbers in place."""
    if pairs.strides[-1] != pairs.itemsize:
        raise RuntimeError("Tensor must have a last dimension with stride 1")
    if any(s % (2 * pairs.itemsize) for s in pairs.strides[:-1]):
        raise RuntimeError("Tensor must have a stride divisible by 2 for all but last dimension")
    if data_address(pairs) % (2 * pairs.itemsize):
        raise RuntimeError("Tensor must have a storage_offset divisible by 2")
