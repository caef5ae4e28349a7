"""PyTorch-style dtype objects and PyTorch's type-promotion rules over NumPy dtypes."""

from __future__ import annotations

import builtins

import ml_dtypes
import numpy as np

# The public names below (bool, int, float) shadow the builtins on purpose, as in PyTorch.
_py_bool, _py_int, _py_float = builtins.bool, builtins.int, builtins.float


class dtype:
    """A tensor element type, compared and printed as in PyTorch (``trainer.float32``)."""

    __slots__ = ("name", "np", "is_floating_point", "is_complex", "is_signed", "itemsize", "_category")

    def __init__(self, name: str, np_dtype, category: int):
        self.name = name
        self.np = np.dtype(np_dtype)
        self.is_floating_point = category == _FLOAT
        self.is_complex = category == _COMPLEX
        self.is_signed = category >= _FLOAT or self.np.kind == "i"
        self.itemsize = self.np.itemsize
        self._category = category

    def to_real(self) -> dtype:
        """The real dtype of a complex one (``complex64`` -> ``float32``); a real dtype itself."""
        return _BY_NUMPY[np.empty(0, self.np).real.dtype] if self.is_complex else self

    def to_complex(self) -> dtype:
        """The complex dtype whose parts are this floating dtype (``float64`` -> ``complex128``); PyTorch's
        ``complex32`` has no NumPy counterpart, so the half-precision types give ``complex64``."""
        if self.is_complex:
            return self
        if not self.is_floating_point:
            raise RuntimeError(f"to_complex is only supported for floating point types, not {self!r}")
        return complex128 if self is float64 else complex64

    def __repr__(self):
        return f"trainer.{self.name}"

    def __reduce__(self):  # dtypes are singletons; copying one must return the same object
        return self.name


_BOOL, _INT, _FLOAT, _COMPLEX = 0, 1, 2, 3

bool = dtype("bool", np.bool_, _BOOL)  # noqa: A001 - PyTorch's public name
uint8 = dtype("uint8", np.uint8, _INT)
int8 = dtype("int8", np.int8, _INT)
int16 = dtype("int16", np.int16, _INT)
int32 = dtype("int32", np.int32, _INT)
int64 = dtype("int64", np.int64, _INT)
float16 = dtype("float16", np.float16, _FLOAT)
float32 = dtype("float32", np.float32, _FLOAT)
float64 = dtype("float64", np.float64, _FLOAT)
# NumPy has no bfloat16: ml_dtypes (which onnx depends on) gives arrays of it; NumPy sees it as a void kind ("V")
bfloat16 = dtype("bfloat16", ml_dtypes.bfloat16, _FLOAT)
complex64 = dtype("complex64", np.complex64, _COMPLEX)
complex128 = dtype("complex128", np.complex128, _COMPLEX)

# PyTorch's aliases
half, float, double = float16, float32, float64  # noqa: A001
short, int, long = int16, int32, int64  # noqa: A001
cfloat, cdouble = complex64, complex128

ALL = (bool, uint8, int8, int16, int32, int64, float16, float32, float64, bfloat16, complex64, complex128)
_BY_NUMPY = {d.np: d for d in ALL}
_BY_NAME = {d.name: d for d in ALL}

_default_float = float32


def get_default_dtype() -> dtype:
    return _default_float


def is_inexact(np_dtype) -> _py_bool:
    """Whether arrays of ``np_dtype`` hold floating or complex numbers: the dtypes autograd differentiates."""
    return np_dtype.kind in "fc" or np_dtype == bfloat16.np


def is_floating(np_dtype) -> _py_bool:
    """Whether arrays of ``np_dtype`` hold real floating-point numbers (bfloat16 included)."""
    return np_dtype.kind == "f" or np_dtype == bfloat16.np


def set_default_dtype(d: dtype) -> None:
    global _default_float
    if not isinstance(d, dtype) or not d.is_floating_point:
        raise TypeError(f"set_default_dtype expects a floating point dtype, got {d!r}")
    _default_float = d


def from_numpy(np_dtype) -> dtype:
    """The trainer dtype for a NumPy dtype; a clear error for types a tensor cannot hold."""
    try:
        return _BY_NUMPY[np.dtype(np_dtype)]
    except (KeyError, TypeError):
        supported = ", ".join(d.name for d in ALL)
        raise TypeError(f"can't convert array of type {np.dtype(np_dtype)}; supported types are {supported}") from None


def as_dtype(spec) -> dtype:
    """Accept a trainer dtype, a NumPy dtype, a Python type or a name such as ``"float32"``."""
    if isinstance(spec, dtype):
        return spec
    if spec is _py_float:
        return _default_float
    if spec is _py_int:
        return int64
    if spec is _py_bool:
        return bool
    if isinstance(spec, str) and spec in _BY_NAME:
        return _BY_NAME[spec]
    return from_numpy(spec)


def promote_types(a: dtype, b: dtype) -> dtype:
    """``torch.promote_types``: the smallest dtype both ``a`` and ``b`` convert to safely."""
    if a is b:
        return a
    if {a._category, b._category} == {_FLOAT, _COMPLEX}:  # complex64 and float64 meet in complex128
        return promote_types(a.to_real(), b.to_real()).to_complex()
    if a._category != b._category:
        return a if a._category > b._category else b
    if a is bool:
        return b
    if b is bool:
        return a
    if {a, b} == {bfloat16, float16}:  # neither holds the other: PyTorch (unlike ml_dtypes) meets them in float32
        return float32
    return _BY_NUMPY[np.promote_types(a.np, b.np)]


def scalar_dtype(value) -> dtype:
    """The dtype PyTorch gives a Python scalar: bool, int64 or the default float."""
    if isinstance(value, _py_bool) or isinstance(value, np.bool_):
        return bool
    if isinstance(value, (_py_int, np.integer)):
        return int64
    if isinstance(value, (_py_float, np.floating)):
        return _default_float
    if isinstance(value, (complex, np.complexfloating)):
        return _default_float.to_complex()
    raise TypeError(f"expected a number (bool, int, float or complex), got {type(value).__name__}")


def result_type(dims: list[tuple[dtype, _py_int]], scalars: list[dtype] = ()) -> dtype:
    """PyTorch's ``result_type`` over tensor operands and Python scalars.

    ``dims`` lists ``(dtype, ndim)`` per tensor operand. Tensors with dimensions decide the type;
    zero-dimensional tensors only matter when they are of a higher category (bool < int < float <
    complex), and Python scalars only when they are of a higher category than every tensor; a float
    scalar then gives the default float dtype (PyTorch's "wrapped number" rule). A complex operand that
    lifts a floating result keeps that result's precision (``float64`` and a complex64 scalar: complex128).
    """
    dimensioned = zero_dim = None
    for d, ndim in dims:
        if ndim:
            dimensioned = d if dimensioned is None else promote_types(dimensioned, d)
        else:
            zero_dim = d if zero_dim is None else promote_types(zero_dim, d)
    out = dimensioned
    if zero_dim is not None:
        out = zero_dim if out is None else _lifted(out, zero_dim)
    for s in scalars:
        out = s if out is None else _lifted(out, _default_float if s._category == _FLOAT else s)
    return out


def _lifted(out: dtype, other: dtype) -> dtype:
    """``out`` unless ``other`` is of a higher category; a complex ``other`` keeps a floating ``out``'s precision."""
    if other._category <= out._category:
        return out
    return out.to_complex() if other.is_complex and out.is_floating_point else other
