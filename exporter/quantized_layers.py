"""The quantized layers ``convert`` and ``quantize_dynamic`` put in a model, lowered module by module: their kernels
compute on the integers directly, outside trainer's ops, so the tracer lowers each such module from its forward hook
(see ``exporter.quantized_kernels``).

The int8 convolution and linear layers are exported as ConvInteger / MatMulInteger (exact int32 accumulation of
``(x_q - x_zp) * (w_q - w_zp)``) followed by fbgemm's float32 requantization, step by step:

    y = (float32(acc) + float32(bias) / act_times_w_scale) * (act_times_w_scale / float32(out_scale))
    out = clamp(nearbyint(y) + out_zero_point, out_zero_point if relu else 0, 255)

which gives trainer's integers exactly. QLinearConv with an int32 bias (ONNX's QOperator form) rounds the bias to the
accumulator's grid and requantizes in one step, and the QDQ form around a float Conv/Gemm sums in float32: both move
some outputs by one step of the grid (measured on a 16 -> 32 channel 3x3 layer with ONNX Runtime: about 3 in 10,000
integers for QLinearConv, 2 in 10,000 for the QDQ form, which ONNX Runtime fuses into QLinearConv). The weights are
int8 initializers named after their ``state_dict`` keys; per-channel weight scales fold into the per-channel
multiplier.

The dynamically quantized Linear chooses its input grid at run time as fbgemm does (``choose_input_qparams``, over
0..127 with ``reduce_range``): ONNX's DynamicQuantizeLinear always takes 0..255, so the graph computes trainer's grid
from ReduceMin/ReduceMax itself, then MatMulInteger and fbgemm's float rescaling.
"""

from __future__ import annotations

import numpy as np
from onnx import TensorProto

from exporter.errors import UnsupportedOpError
from exporter.lowerings.quantized_tensors import (
    host,
    host_grid,
    integer_type,
    onto_grid,
    quantized_fused,
    zero_point_of,
)
from trainer import dtypes
from trainer import quantized_types as qt
from trainer.ao.nn.intrinsic.quantized import LinearReLU
from trainer.ao.nn.quantized import batch_norm_kernel, conv
from trainer.ao.nn.quantized import linear as quantized_linear
from trainer.ao.nn.quantized.batchnorm import _BatchNorm
from trainer.ao.nn.quantized.dynamic import Linear as DynamicLinear
from trainer.ao.nn.quantized.dynamic_kernels import _SMALL_SCALE_THRESHOLD

_F32, _F64 = TensorProto.FLOAT, TensorProto.DOUBLE


def lowering_of(module):
    """The lowering ``fn(g, module, input_tensor, input_name) -> name`` of a quantized layer, or None."""
    if isinstance(module, DynamicLinear):
        return dynamic_linear
    if isinstance(module, (quantized_linear.Linear, LinearReLU)):
        return linear
    if isinstance(module, conv._ConvNd):
        return convolution
    if isinstance(module, _BatchNorm):
        return batch_norm
    return None


# ----------------------------------------------------------------- static int8 layers
def convolution(g, module, x, name):
    data = _quint8_input(g, module, x)
    weight, bias = module._weight_bias()
    w = host_grid(weight._data)
    channel_shape = (-1,) + (1,) * (w.int_repr.ndim - 2)
    attrs = {"strides": list(module.stride), "pads": list(module.padding) * 2, "dilations": list(module.dilation),
             "group": module.groups, "kernel_shape": list(w.int_repr.shape[2:])}
    weight_name = g.initializer(_key(g, "weight"), w.int_repr)
    x_zero_point = zero_point_of(g, data.zero_point, data.qdtype)
    points = np.asarray(w.zero_point).reshape(-1)
    if np.all(points == points[0]):
        acc = g.op("ConvInteger", name, weight_name, x_zero_point, zero_point_of(g, points[0], w.qdtype), **attrs)
    else:  # ONNX Runtime's ConvInteger takes one weight zero point: subtract w_zp[c] * (window sums of x - x_zp)
        acc = g.op("ConvInteger", name, weight_name, x_zero_point, **attrs)
        groups, out_channels = module.groups, w.int_repr.shape[0]
        ones = np.ones((groups, *w.int_repr.shape[1:]), dtype=np.int8)
        sums = g.op("ConvInteger", name, g.const(ones), x_zero_point, **attrs)
        per_channel = g.op("Gather", sums, g.ints(np.arange(out_channels) // (out_channels // groups)), axis=1)
        acc = g.op("Sub", acc, g.op("Mul", per_channel, g.const(points.astype(np.int32).reshape(channel_shape))))
    return _requantized(g, acc, data, w, bias, module, channel_shape)


def linear(g, module, x, name):
    data = _quint8_input(g, module, x)
    weight, bias = module._weight_bias()
    w = host_grid(weight._data)
    acc = g.op("MatMulInteger", name, g.initializer(_key(g, "weight"), np.ascontiguousarray(w.int_repr.T)),
               zero_point_of(g, data.zero_point, data.qdtype), _weight_zero_point(g, w))
    return _requantized(g, acc, data, w, bias, module, channel_shape=(-1,))


def _requantized(g, acc, data, w, bias, module, channel_shape):
    """fbgemm's requantization of the int32 sums ``acc`` (see the module docstring)."""
    act_times_w_scale = (np.float32(data.scale) * _weight_scales(w)).astype(np.float32)
    raw = g.op("Cast", acc, to=_F32)
    if bias is not None:
        shift = (host(bias._data).astype(np.float32) / act_times_w_scale).astype(np.float32)
        raw = g.op("Add", raw, g.const(shift.reshape(channel_shape)))
    multiplier = (act_times_w_scale / np.float32(module.scale)).astype(np.float32).reshape(channel_shape)
    relu = getattr(module, "_RELU", False) or isinstance(module, LinearReLU)
    return onto_grid(g, raw, multiplier, module.zero_point, module.zero_point if relu else 0, 255, np.uint8)


def batch_norm(g, module, x, name):
    data = _per_tensor_input(g, module, x)
    alpha, beta = batch_norm_kernel._fused_params(
        *(host(t._data) for t in (module.weight, module.bias, module.running_mean, module.running_var)), module.eps,
        float(data.scale), float(module.scale))
    shape = (-1,) + (1,) * (data.ndim - 2)
    centered = g.op("Sub", g.op("Cast", name, to=_F64), g.const(np.float64(data.zero_point)))
    fused = g.op("Add", g.op("Mul", centered, g.const(alpha.astype(np.float64).reshape(shape))),
                 g.const(beta.astype(np.float64).reshape(shape)))
    qdtype, zero_point = data.qdtype, int(module.zero_point)
    low = min(max(zero_point, qdtype.min), qdtype.max) if module._RELU else qdtype.min
    return onto_grid(g, g.op("Cast", fused, to=_F32), None, zero_point, low, qdtype.max, integer_type(g, qdtype))


# ----------------------------------------------------------------- dynamic quantization
def dynamic_linear(g, module, x, name):
    weight, bias = module._weight_bias()
    if module._packed_params.dtype is dtypes.float16:  # float16-rounded weights, summed exactly, rounded once
        product = g.op("MatMul", g.op("Cast", name, to=_F64),
                       g.const(np.ascontiguousarray(host(weight._data).astype(np.float64).T)))
        y = g.op("Cast", product, to=_F32)
        return y if bias is None else g.op("Add", y, g.const(host(bias._data).astype(np.float32)))
    reduce_range = module.version is not None and module.version >= 4
    x_scale, zero_point = _input_grid(g, name, qt.quint8.min, qt.quint8.max // 2 if reduce_range else qt.quint8.max)
    inverse = g.op("Cast", g.op("Div", g.const(np.float32(1)), x_scale), to=_F64)
    # clamped to 0..255 even under reduce_range, as fbgemm's 8-bit packing does
    q = quantized_fused(g, name, inverse, zero_point, 0, 255, np.uint8)
    w = host_grid(weight._data)
    acc = g.op("MatMulInteger", q, g.initializer(_key(g, "weight"), np.ascontiguousarray(w.int_repr.T)),
               g.op("Cast", zero_point, to=TensorProto.UINT8), _weight_zero_point(g, w))
    multiplier = g.op("Cast", g.op("Mul", x_scale, g.const(_weight_scales(w))), to=_F64)
    y = g.op("Mul", g.op("Cast", g.op("Cast", acc, to=_F32), to=_F64), multiplier)
    if bias is not None:
        y = g.op("Add", y, g.const(host(bias._data).astype(np.float32).astype(np.float64)))
    return g.op("Cast", y, to=_F32)


def _input_grid(g, x, qmin: int, qmax: int):
    """fbgemm's ``ChooseQuantizationParams`` over the run-time range of ``x`` (``choose_input_qparams``): the float32
    scale and the zero point (a float64 integer), each a scalar value."""
    def f64(value):
        return g.const(np.float64(value))

    def where(condition, a, b):
        return g.op("Where", condition, a, b)

    low = g.op("Min", g.op("Cast", g.reduce("ReduceMin", x, None, False), to=_F64), f64(0))
    high = g.op("Max", g.op("Cast", g.reduce("ReduceMax", x, None, False), to=_F64), f64(0))
    steps = qmax - qmin
    scale = g.op("Div", g.op("Sub", high, low), f64(steps))
    scale32 = g.op("Cast", scale, to=_F32)
    degenerate = g.op("Or", g.op("Equal", scale32, g.const(np.float32(0))),
                      g.op("IsInf", g.op("Div", g.const(np.float32(1)), scale32)))
    scale = where(degenerate, f64(0.1), scale)  # fbgemm keeps 1 / scale finite
    scale32 = g.op("Cast", scale, to=_F32)
    # below the smallest scale fbgemm moves the range with the scale, in float32 (compared in float32 too)
    threshold = _SMALL_SCALE_THRESHOLD
    small = g.op("Less", scale32, g.const(threshold))
    amplifier = g.op("Div", g.const(threshold), scale32)

    def amplified(bound):
        return g.op("Cast", g.op("Mul", g.op("Cast", bound, to=_F32), amplifier), to=_F64)

    low_is_zero, high_is_zero = g.op("Equal", low, f64(0)), g.op("Equal", high, f64(0))
    small_high = where(low_is_zero, f64(threshold * np.float32(steps)), where(high_is_zero, high, amplified(high)))
    small_low = where(low_is_zero, low, where(high_is_zero, f64(-threshold * np.float32(steps)), amplified(low)))
    low, high = where(small, small_low, low), where(small, small_high, high)
    scale = where(small, f64(threshold), scale)
    low_steps, high_steps = g.op("Div", low, scale), g.op("Div", high, scale)
    # the zero point from the end with the smaller terms carries the smaller rounding error
    from_low = g.op("Less", g.op("Sub", f64(abs(qmin)), g.op("Abs", low_steps)),
                    g.op("Sub", f64(abs(qmax)), g.op("Abs", high_steps)))
    initial = where(from_low, g.op("Sub", f64(qmin), low_steps), g.op("Sub", f64(qmax), high_steps))
    zero_point = g.op("Clip", g.op("Round", initial), f64(qmin), f64(qmax))
    return g.op("Cast", scale, to=_F32), zero_point


# ----------------------------------------------------------------- helpers
def _key(g, name: str) -> str:
    return f"{g.scope}.{name}" if g.scope else name


def _weight_scales(w) -> np.ndarray:
    channels = w.int_repr.shape[0]
    return np.full(channels, np.float32(w.scale)) if w.axis is None else w.scale.astype(np.float32)


def _weight_zero_point(g, w) -> str:
    """The weight's zero point for MatMulInteger: one int8 number, or one per output channel where they differ."""
    points = np.asarray(w.zero_point).reshape(-1)
    if np.all(points == points[0]):
        return zero_point_of(g, points[0], w.qdtype)
    return zero_point_of(g, points, w.qdtype, axis=0)


def _per_tensor_input(g, module, x):
    data = x._data
    if data.axis is not None:
        raise UnsupportedOpError(f"module '{g.scope}' ({module._get_name()}) got a per-channel quantized input; the "
                                 "exporter follows trainer's kernels, which take per-tensor quantized inputs")
    return data


def _quint8_input(g, module, x):
    data = _per_tensor_input(g, module, x)
    if data.qdtype is not qt.quint8:
        raise UnsupportedOpError(f"module '{g.scope}' ({module._get_name()}) got a {data.qdtype!r} input; fbgemm's "
                                 "int8 layers take trainer.quint8 activations")
    return data
