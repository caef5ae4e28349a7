"""The lowering table for ops that read or make complex tensors, the helpers that work on complex values stored as
(real, imag) pairs along a trailing dimension of 2 (see ``exporter.complex_values``), and the layout ops on them.

A value's traced shape and dtype (``g.shape``, ``g.dtype``) stay the complex ones; the ONNX tensor has one more
dimension, so the pairs dimension is always addressed as ``-1``. Layout ops that take non-negative axes move the
pairs as they are (Transpose, Reshape, Squeeze, Unsqueeze); every other op that moves, selects or sums elements
with real coefficients runs its real lowering once on the real part and once on the imaginary part.
"""

from collections.abc import Callable

import numpy as np

from exporter.lowerings import LOWERINGS
from exporter.lowerings.shape import reshape as reshape_real
from trainer import dtypes

COMPLEX_LOWERINGS: dict[str, Callable] = {}


def complex_lowering(*ops: str):
    """Register the decorated function as the lowering of each trainer op in ``ops`` when it involves complex
    tensors."""

    def register(fn: Callable) -> Callable:
        for op in ops:
            if op in COMPLEX_LOWERINGS:
                raise ValueError(f"two complex lowerings registered for trainer op {op}")
            COMPLEX_LOWERINGS[op] = fn
        return fn

    return register


# ----------------------------------------------------------------- helpers
def is_complex(g, name: str) -> bool:
    return g.dtype(name).kind == "c"


def real_dtype(g, name: str) -> np.dtype:
    """The dtype of the ONNX tensor holding ``name``: a complex value's part dtype, a floating value's own."""
    return dtypes.from_numpy(g.dtype(name)).to_real().np


def part(g, z: str, which: int) -> str:
    """The real (``which`` 0) or imaginary (1) part of the complex value ``z``, as a real value of its shape."""
    out = g.op("Gather", z, g.const(np.int64(which)), axis=-1)
    return g.record(out, g.shape(z), real_dtype(g, z))


def zeros_like(g, x: str) -> str:
    zeros = g.op("Expand", g.const(np.zeros((), dtype=real_dtype(g, x))), g.op("Shape", x))
    return g.record(zeros, g.shape(x), real_dtype(g, x))


def parts(g, x: str) -> tuple[str, str]:
    """``(real, imag)`` of a complex or floating value (a real value's imaginary part is zeros)."""
    if is_complex(g, x):
        return part(g, x, 0), part(g, x, 1)
    return x, zeros_like(g, x)


def pairs(g, re: str, im: str) -> str:
    """The complex value ``re + 1j * im`` (two real values of one shape) as pairs."""
    last = g.ints([-1])
    return g.op("Concat", g.op("Unsqueeze", re, last), g.op("Unsqueeze", im, last), axis=-1)


def as_pairs(g, x: str) -> str:
    """A complex value as it is; a floating one with a zero imaginary part."""
    return x if is_complex(g, x) else pairs(g, *parts(g, x))


def conjugate(g, z: str, dtype) -> str:
    return g.op("Mul", z, g.const(np.array([1, -1], dtype=dtype)))


# ----------------------------------------------------------------- layout ops on the pairs themselves
@complex_lowering("Transpose")
def transpose(g, z, perm):
    return g.op("Transpose", z, perm=[*perm, len(perm)])


@complex_lowering("Reshape")
def reshape(g, z, shape):
    return reshape_real(g, z, (*shape, 2))


@complex_lowering("Squeeze")
def squeeze(g, z, axes):
    return g.op("Squeeze", z, g.ints(axes))


@complex_lowering("Unsqueeze")
def unsqueeze(g, z, axis):
    return g.op("Unsqueeze", z, g.ints([axis]))


@complex_lowering("ToDevice", "Clone")
def identity(g, z, **_):
    return g.op("Identity", z)


# ----------------------------------------------------------------- ops applied to each part
_PARTWISE = ("Index", "IndexSelect", "Gather", "Flatten", "Expand", "Tile", "Flip", "Roll", "UnfoldDim", "Concat",
             "Stack", "Split", "Unbind", "Diagonal", "Trilu", "Where", "Sum", "Mean", "Resize")


@complex_lowering(*_PARTWISE)
def partwise(g, *inputs, **attrs):
    """The op's real lowering on the real parts, then on the imaginary parts: exact for ops that are linear with
    real coefficients. Floating inputs count as complex; index and mask inputs are shared by both."""
    lower = LOWERINGS[g.op_name]
    if attrs.get("dtype") is not None:  # a sum's accumulation dtype: its parts accumulate in the real one
        attrs["dtype"] = attrs["dtype"].to_real()
    split = [parts(g, x) if dtypes.is_inexact(g.dtype(x)) else (x, x) for x in inputs]
    re = lower(g, *(s[0] for s in split), **attrs)
    im = lower(g, *(s[1] for s in split), **attrs)
    if isinstance(re, str):
        return pairs(g, re, im)
    return tuple(pairs(g, r, i) for r, i in zip(re, im))
