"""Type conversion kernels: Cast, CastLike and BitCast over every ONNX tensor type.

NumPy (with ml_dtypes for bfloat16, the float8/float6/float4 formats and the 4- and 2-bit integers) does
the element conversion; ONNX adds saturation for float8 and round modes for float8e8m0 on top. Types that
CuPy cannot hold (ml_dtypes' and strings) are converted on the host.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np
from onnx import helper, numpy_helper

from serving.kernels.registry import kernel
from serving.kernels.tensor import host, native

_SATURATING_FLOAT8 = frozenset(np.dtype(t) for t in (ml_dtypes.float8_e4m3fn, ml_dtypes.float8_e4m3fnuz,
                                                       ml_dtypes.float8_e5m2, ml_dtypes.float8_e5m2fnuz))
_E8M0 = np.dtype(ml_dtypes.float8_e8m0fnu)
_ROUND_MODES = ("up", "down", "nearest")


def _from_strings(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    # Python's float() reads "INF", "+inf", "-Inf", "NaN" and scientific notation, case-insensitively
    if dtype.kind in "iu":
        try:
            return x.astype(dtype)
        except ValueError:  # "2.5" into an integer type: through float, truncating
            pass
    return x.astype(np.float64).astype(dtype)


def _to_strings(x: np.ndarray) -> np.ndarray:
    if not native(x.dtype):
        x = x.astype(np.float32)
    return x.astype(np.str_).astype(object)


def cast(xp, x, dtype, saturate: int = 1, round_mode: str = "up"):
    """``x`` converted to the NumPy ``dtype`` with ONNX's rules (object dtype means an ONNX string tensor)."""
    dtype = np.dtype(dtype)
    if x.dtype == dtype:
        return x
    if round_mode not in _ROUND_MODES:
        raise ValueError(f"Cast: unknown round_mode {round_mode!r}, expected one of {_ROUND_MODES}")
    if dtype.kind == "O":
        return _to_strings(host(x))
    if x.dtype.kind == "O":
        return _from_strings(x, dtype)
    if not (native(dtype) and native(x.dtype)):
        xp, x = np, host(x)  # ml_dtypes types live on the host
    if dtype == _E8M0:
        return numpy_helper.to_float8e8m0(x, bool(saturate), round_mode).astype(dtype)
    if dtype in _SATURATING_FLOAT8 and saturate:
        # out-of-range values (infinities included) clamp to the largest finite value; NaN stays NaN
        info = ml_dtypes.finfo(dtype)
        x = xp.clip(x.astype(np.float32), float(info.min), float(info.max))
    with np.errstate(over="ignore", invalid="ignore"):  # ONNX defines out-of-range casts: no warnings
        return x.astype(dtype)


@kernel("Cast")
def Cast(ctx, input, *, to, saturate=1, round_mode="up"):
    return cast(ctx.xp, input, helper.tensor_dtype_to_np_dtype(to), saturate, round_mode)


@kernel("CastLike", since=15)
def CastLike(ctx, input, target_type, *, saturate=1, round_mode="up"):
    return cast(ctx.xp, input, target_type.dtype, saturate, round_mode)


def _bits(dtype: np.dtype) -> int:
    if native(dtype):
        return dtype.itemsize * 8
    return (ml_dtypes.iinfo if "int" in dtype.name else ml_dtypes.finfo)(dtype).bits


@kernel("BitCast", since=26)
def BitCast(ctx, input, *, to):
    dtype = np.dtype(helper.tensor_dtype_to_np_dtype(to))
    if dtype.kind == "O" or input.dtype.kind == "O":
        raise ValueError("BitCast: string tensors have no fixed bit pattern to reinterpret")
    if _bits(dtype) != _bits(input.dtype):
        raise ValueError(f"BitCast: {input.dtype} ({_bits(input.dtype)} bits) and {dtype} ({_bits(dtype)} bits) "
                         "must have the same bit width")
    x = input if native(dtype) and native(input.dtype) else host(input)
    # ml_dtypes keeps a sub-byte value in the low bits of its byte, so a byte view carries the bit pattern over
    return x.view(dtype)
