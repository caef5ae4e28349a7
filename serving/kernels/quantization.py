"""Linear quantisation: QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear and the integer matmul/conv ops.

Scales and zero points come per tensor (a scalar), per axis (a 1-D tensor along ``axis``) or per block
(the input's shape with the ``axis`` dimension divided into blocks of ``block_size``). Integer results round
half to even and saturate to the target type's range.

The sub-byte and float8/float4 types exist only as ml_dtypes NumPy arrays, which CuPy cannot hold, so
the ops that produce or read them compute on the host and hand back a host array.
"""

from __future__ import annotations

import math

import ml_dtypes
import numpy as np
from onnx import TensorProto
from onnx.helper import tensor_dtype_to_np_dtype

from serving.kernels.conv import convolve, resolve_pads, window_defaults
from serving.kernels.registry import kernel
from serving.runtime.device import to_host

# Integer target types and their saturation range.
_INTEGER_RANGES = {
    np.dtype(np.uint8): (0, 255),
    np.dtype(np.int8): (-128, 127),
    np.dtype(np.uint16): (0, 65535),
    np.dtype(np.int16): (-32768, 32767),
    np.dtype(ml_dtypes.uint4): (0, 15),
    np.dtype(ml_dtypes.int4): (-8, 7),
    np.dtype(ml_dtypes.uint2): (0, 3),
    np.dtype(ml_dtypes.int2): (-2, 1),
}

# Float targets that can overflow to NaN/inf, so saturation clips them to their largest finite value first.
_FLOAT8 = {
    np.dtype(ml_dtypes.float8_e4m3fn),
    np.dtype(ml_dtypes.float8_e4m3fnuz),
    np.dtype(ml_dtypes.float8_e5m2),
    np.dtype(ml_dtypes.float8_e5m2fnuz),
}

# Float targets without inf/NaN: ml_dtypes' cast saturates them on its own.
_SMALL_FLOATS = {
    np.dtype(ml_dtypes.float4_e2m1fn),
    np.dtype(ml_dtypes.float6_e2m3fn),
    np.dtype(ml_dtypes.float6_e3m2fn),
}


def _is_ml_dtype(dtype) -> bool:
    """Whether ``dtype`` is an ml_dtypes extension type (host-only)."""
    return np.dtype(dtype).type.__module__.startswith("ml_dtypes")


def _broadcastable(xp, param, shape, axis, block_size, what):
    """``param`` (a scale or zero point) reshaped or repeated so that it broadcasts against ``shape``."""
    if param.ndim == 0 or (param.ndim == 1 and param.size == 1 and not block_size):
        return param.reshape(())
    rank = len(shape)
    if not -rank <= axis < rank:
        raise ValueError(f"axis {axis} is out of range for an input of rank {rank}")
    axis %= rank
    if block_size:
        if block_size < 0:
            raise ValueError(f"block_size must be positive, got {block_size}")
        expected = tuple(math.ceil(d / block_size) if i == axis else d for i, d in enumerate(shape))
        if param.shape != expected:
            raise ValueError(
                f"{what} has shape {param.shape}; blocked quantisation of an input of shape {tuple(shape)} "
                f"along axis {axis} with block_size {block_size} expects {expected}"
            )
        index = xp.arange(shape[axis]) // block_size
        return xp.take(param, index, axis=axis)
    if param.ndim != 1 or param.size != shape[axis]:
        raise ValueError(
            f"{what} has shape {param.shape}; per-axis quantisation along axis {axis} of an input of shape "
            f"{tuple(shape)} expects a 1-D tensor of length {shape[axis]} (or set block_size)"
        )
    dims = [1] * rank
    dims[axis] = param.size
    return param.reshape(dims)


def _target_dtype(zero_point, output_dtype) -> np.dtype:
    if zero_point is not None:
        if output_dtype and np.dtype(tensor_dtype_to_np_dtype(output_dtype)) != zero_point.dtype:
            raise ValueError(
                f"output_dtype {TensorProto.DataType.Name(output_dtype)} does not match the zero point's "
                f"dtype {zero_point.dtype}"
            )
        return np.dtype(zero_point.dtype)
    return np.dtype(tensor_dtype_to_np_dtype(output_dtype)) if output_dtype else np.dtype(np.uint8)


def _saturate_integer(xp, values, dtype):
    low, high = _INTEGER_RANGES[dtype]
    return xp.clip(xp.rint(values), low, high).astype(dtype)


@kernel("QuantizeLinear", since=10)
def QuantizeLinear(ctx, x, y_scale, y_zero_point=None, *, axis=1, saturate=1, block_size=0, output_dtype=0,
                   precision=0):
    dtype = _target_dtype(y_zero_point, output_dtype)
    if dtype not in _INTEGER_RANGES and dtype not in _FLOAT8 and dtype not in _SMALL_FLOATS:
        raise ValueError(f"QuantizeLinear cannot quantise to {dtype}: expected an 8/16-bit, 4/2-bit or float8/4 type")
    xp = np if _is_ml_dtype(dtype) or _is_ml_dtype(x.dtype) or _is_ml_dtype(y_scale.dtype) else ctx.xp
    if xp is np:
        x, y_scale, y_zero_point = to_host(x), to_host(y_scale), to_host(y_zero_point)
    scale = _broadcastable(xp, y_scale, x.shape, axis, block_size, "y_scale")
    if precision:
        compute = np.dtype(tensor_dtype_to_np_dtype(precision))
        scaled = x.astype(compute) / scale.astype(compute)
    else:
        scaled = x / scale
    if dtype in _INTEGER_RANGES:
        scaled = xp.rint(scaled)
    if y_zero_point is not None:
        zero = _broadcastable(xp, y_zero_point, x.shape, axis, block_size, "y_zero_point")
        scaled = scaled + zero.astype(np.float32)
    if dtype in _INTEGER_RANGES:
        return _saturate_integer(xp, scaled, dtype)
    if dtype in _FLOAT8 and saturate:
        largest = float(ml_dtypes.finfo(dtype).max)
        scaled = np.clip(scaled, -largest, largest)
    return scaled.astype(np.float32).astype(dtype)


@kernel("DequantizeLinear", since=10)
def DequantizeLinear(ctx, x, x_scale, x_zero_point=None, *, axis=1, block_size=0, output_dtype=0):
    out_dtype = np.dtype(tensor_dtype_to_np_dtype(output_dtype)) if output_dtype else x_scale.dtype
    host = _is_ml_dtype(x.dtype) or _is_ml_dtype(x_scale.dtype) or _is_ml_dtype(out_dtype)
    xp = np if host else ctx.xp
    if host:
        x, x_scale, x_zero_point = to_host(x), to_host(x_scale), to_host(x_zero_point)
    values = x.astype(np.float32)
    if x_zero_point is not None:
        if x_zero_point.dtype != x.dtype:
            raise ValueError(f"x_zero_point has dtype {x_zero_point.dtype} but x has {x.dtype}; they must match")
        values = values - _broadcastable(xp, x_zero_point, x.shape, axis, block_size, "x_zero_point").astype(
            np.float32
        )
    scale = _broadcastable(xp, x_scale, x.shape, axis, block_size, "x_scale").astype(np.float32)
    y = (values * scale).astype(out_dtype)
    return ctx.xp.asarray(y) if host and ctx.xp is not np and not _is_ml_dtype(out_dtype) else y


@kernel("DynamicQuantizeLinear", since=11)
def DynamicQuantizeLinear(ctx, x):
    xp = ctx.xp
    # The range always includes 0 so that 0 is exactly representable.
    high = xp.maximum(x.max(), 0).astype(np.float32)
    low = xp.minimum(x.min(), 0).astype(np.float32)
    scale = xp.where(high == low, xp.float32(1), high - low) / xp.float32(255)
    zero_point = xp.rint(xp.clip(-low / scale, 0, 255))
    y = _saturate_integer(xp, xp.rint(x / scale) + zero_point, np.dtype(np.uint8))
    return y, xp.asarray(scale, dtype=x.dtype), xp.asarray(zero_point).astype(np.uint8)


def _minus_zero_point(xp, value, zero_point, axis_of_channels):
    """``value - zero_point`` in float64 (exact for 8/16-bit integers); a 1-D zero point runs along one axis."""
    out = value.astype(np.float64)
    if zero_point is None:
        return out
    zero_point = zero_point.astype(np.float64)
    if zero_point.ndim == 1 and zero_point.size > 1:
        shape = [1] * value.ndim
        shape[axis_of_channels] = zero_point.size
        zero_point = zero_point.reshape(shape)
    return out - zero_point


@kernel("MatMulInteger", since=10)
def MatMulInteger(ctx, a, b, a_zero_point=None, b_zero_point=None):
    xp = ctx.xp
    # a_zero_point may be per row of a, b_zero_point per column of b. float64 BLAS is exact here:
    # 8-bit products summed over any realistic K stay far below 2**53.
    accumulated = xp.matmul(
        _minus_zero_point(xp, a, a_zero_point, max(a.ndim - 2, 0)),
        _minus_zero_point(xp, b, b_zero_point, b.ndim - 1),
    )
    return accumulated.astype(np.int32)


def _requantize(xp, accumulated, multiplier, y_zero_point, dtype):
    y = accumulated * multiplier.astype(np.float64)
    if y_zero_point is not None:
        y = y + y_zero_point.astype(np.float64)
    return _saturate_integer(xp, y, np.dtype(dtype))


def _per_row(param, ndim):
    """A 1-D per-row scale of a matrix operand, shaped to broadcast over the last two dimensions."""
    return param.reshape(-1, 1) if param.ndim == 1 and param.size > 1 and ndim >= 2 else param


@kernel("QLinearMatMul", since=10)
def QLinearMatMul(ctx, a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point=None):
    xp = ctx.xp
    accumulated = xp.matmul(
        _minus_zero_point(xp, a, a_zero_point, max(a.ndim - 2, 0)),
        _minus_zero_point(xp, b, b_zero_point, b.ndim - 1),
    )
    multiplier = _per_row(a_scale, a.ndim) * b_scale / y_scale
    dtype = y_zero_point.dtype if y_zero_point is not None else a.dtype
    return _requantize(xp, accumulated, multiplier, y_zero_point, dtype)


def _integer_conv(xp, x, w, *, auto_pad, dilations, group, kernel_shape, pads, strides):
    """Convolution of integer-valued float64 operands (exact: float64 holds every 8-bit product sum)."""
    if x.ndim < 3:
        raise ValueError(f"x must be (N, C, spatial...), got shape {x.shape}")
    strides, dilations = window_defaults(x.ndim, kernel_shape, strides, dilations)
    pads = resolve_pads(x.shape[2:], w.shape[2:], strides=strides, dilations=dilations, pads=pads, auto_pad=auto_pad)
    return convolve(xp, x, w, strides=strides, pads=pads, dilations=dilations, group=group)


@kernel("ConvInteger", since=10)
def ConvInteger(ctx, x, w, x_zero_point=None, w_zero_point=None, *, auto_pad="NOTSET", dilations=None, group=1,
                kernel_shape=None, pads=None, strides=None):
    xp = ctx.xp
    accumulated = _integer_conv(
        xp, _minus_zero_point(xp, x, x_zero_point, 1), _minus_zero_point(xp, w, w_zero_point, 0),
        auto_pad=auto_pad, dilations=dilations, group=group, kernel_shape=kernel_shape, pads=pads, strides=strides,
    )
    return accumulated.astype(np.int32)


@kernel("QLinearConv", since=10)
def QLinearConv(ctx, x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point=None, bias=None, *,
                auto_pad="NOTSET", dilations=None, group=1, kernel_shape=None, pads=None, strides=None):
    xp = ctx.xp
    accumulated = _integer_conv(
        xp, _minus_zero_point(xp, x, x_zero_point, 1), _minus_zero_point(xp, w, w_zero_point, 0),
        auto_pad=auto_pad, dilations=dilations, group=group, kernel_shape=kernel_shape, pads=pads, strides=strides,
    )
    channel_shape = (1, -1) + (1,) * (x.ndim - 2)
    if bias is not None:
        accumulated = accumulated + bias.astype(np.float64).reshape(channel_shape)
    # A 1-D w_scale is per output channel.
    if w_scale.ndim == 1 and w_scale.size > 1:
        if w_scale.size != w.shape[0]:
            raise ValueError(f"w_scale has {w_scale.size} entries but the weight has {w.shape[0]} output channels")
        w_scale = w_scale.reshape(channel_shape)
    dtype = y_zero_point.dtype if y_zero_point is not None else x.dtype
    return _requantize(xp, accumulated, x_scale * w_scale / y_scale, y_zero_point, dtype)
