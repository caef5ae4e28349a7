"""Quantized tensors in the graph: a quantized tensor's ONNX value is its integer representation (uint8 for
``quint8``, int8 for ``qint8``); its grid (scale, zero point) is fixed when tracing and written as constants where an
op needs it. The lowerings of the events ``trainer.quantized_tensor`` announces (``QuantizePerTensor`` ->
QuantizeLinear, ``Dequantize`` -> DequantizeLinear, ``QuantizedReshape`` -> Reshape ...), and the emitters the
quantized layers and functions share (``exporter.quantized_kernels``).

ONNX divides by the scale where trainer (fbgemm) multiplies by its float32 reciprocal in one fused multiply-add, so
QuantizeLinear can put a value lying within float32 rounding of a half-way point one step away from trainer's integer
(measured: about 4 in a million standard normal values). A quantization at the model's edge (QuantStub,
``quantize_per_tensor``) is QuantizeLinear all the same, the form int8 runtimes look for; inside the quantized region,
where requantizing from one grid onto another makes such half-way points common, the lowerings reproduce trainer's
float32 arithmetic step by step (``quantized_exactly``) and give its integers.
"""

import numpy as np
from onnx import TensorProto

from exporter.emitter import onnx_dtype
from exporter.errors import UnsupportedOpError
from exporter.lowerings import lowering
from trainer import quantized_types as qt
from trainer.quantized_array import QuantizedArray


def integer_type(g, qdtype) -> np.dtype:
    """The ONNX integer type that holds ``qdtype``'s integers: ``quint8`` -> uint8, ``qint8`` -> int8."""
    if qdtype not in (qt.quint8, qt.qint8):
        raise UnsupportedOpError(f"a {qdtype!r} tensor (in module '{g.scope or '<root>'}') has no ONNX form: "
                                 "QuantizeLinear/DequantizeLinear and the integer ops take 8-bit integers "
                                 "(trainer.quint8 or trainer.qint8)")
    return np.dtype(qdtype.underlying)


def host(value):
    """``value`` on the host: a CuPy array copied to NumPy (graph constants are NumPy arrays), others as they are."""
    return value.get() if type(value).__module__.startswith("cupy") else value


def host_grid(data: QuantizedArray) -> QuantizedArray:
    """A quantized storage with its integers and per-channel parameters on the host."""
    return QuantizedArray(host(data.int_repr), data.qdtype, host(data.scale), host(data.zero_point), data.axis)


def zero_point_of(g, zero_point, qdtype, axis=None) -> str:
    return g.const(np.asarray(host(zero_point), dtype=np.int64).astype(integer_type(g, qdtype)).reshape(
        () if axis is None else (-1,)))


def scale_of(g, scale, axis=None) -> str:
    return g.const(np.asarray(host(scale), dtype=np.float32).reshape(() if axis is None else (-1,)))


def quantized(g, x: str, scale, zero_point, qdtype, axis=None) -> str:
    """QuantizeLinear of the float32 ``x`` onto the grid (per channel along ``axis``)."""
    if g.dtype(x) != np.float32:
        x = g.op("Cast", x, to=TensorProto.FLOAT)
    extra = {} if axis is None else {"axis": axis}
    return g.op("QuantizeLinear", x, scale_of(g, scale, axis), zero_point_of(g, zero_point, qdtype, axis), **extra)


def quantized_fused(g, x: str, inverse: str, zero_point: str, low: int, high: int, dtype) -> str:
    """fbgemm's quantization ``clamp(nearbyint(fma(x, inverse, zero_point)), low, high)``, with ``inverse`` the
    float32 reciprocal of the scale and ``zero_point`` as float64 values: the float32 product is exact in float64, so
    float64 arithmetic then one rounding to float32 gives the fused result."""
    wide = g.op("Cast", x, to=TensorProto.DOUBLE)
    fused = g.op("Cast", g.op("Add", g.op("Mul", wide, inverse), zero_point), to=TensorProto.FLOAT)
    return onto_grid(g, fused, None, 0, low, high, dtype)


def quantized_exactly(g, x: str, scale, zero_point, qdtype) -> str:
    """``quantize_per_tensor``'s integers exactly (``quantized_fused`` on the grid's constants)."""
    inverse = g.const(np.float64(np.float32(1) / np.float32(scale)))
    return quantized_fused(g, x, inverse, g.const(np.float64(zero_point)), qdtype.min, qdtype.max,
                           integer_type(g, qdtype))


def dequantized(g, q: str, scale, zero_point, qdtype, axis=None) -> str:
    """DequantizeLinear: ``float32(q - zero_point) * float32(scale)``, trainer's ``dequantize`` per tensor."""
    extra = {} if axis is None else {"axis": axis}
    return g.op("DequantizeLinear", q, scale_of(g, scale, axis), zero_point_of(g, zero_point, qdtype, axis), **extra)


def dequantized_fused(g, q: str, scale, zero_point) -> str:
    """PyTorch's vector dequantization ``fma(q, scale, -zero_point * scale)`` in float32: the float32 scale times an
    8-bit integer is exact in float64, so float64 arithmetic then one rounding gives the fused result."""
    scale32 = np.float32(scale)
    offset = np.float32(np.float32(-zero_point) * scale32)
    wide = g.op("Cast", q, to=TensorProto.DOUBLE)
    wide = g.op("Add", g.op("Mul", wide, g.const(np.float64(scale32))), g.const(np.float64(offset)))
    return g.op("Cast", wide, to=TensorProto.FLOAT)


def onto_grid(g, values: str, multiplier, zero_point: int, low: int, high: int, dtype) -> str:
    """``clamp(nearbyint(float32(values * multiplier)) + zero_point, low, high)`` as ``dtype`` integers: the last
    step of every requantization trainer's kernels make (``multiplier`` None: ``values`` already scaled)."""
    if multiplier is not None:
        values = g.op("Mul", values, multiplier if isinstance(multiplier, str) else g.const(
            np.asarray(multiplier, dtype=np.float32)))
    shifted = g.op("Add", g.op("Round", values), g.const(np.float32(zero_point)))
    clipped = g.op("Clip", shifted, g.const(np.float32(low)), g.const(np.float32(high)))
    return g.op("Cast", clipped, to=onnx_dtype(dtype))


# ----------------------------------------------------------------- the events trainer.quantized_tensor announces
@lowering("QuantizePerTensor")
def quantize_per_tensor(g, x, scale, zero_point, dtype):
    return quantized(g, x, scale, zero_point, dtype)


@lowering("QuantizePerChannel")
def quantize_per_channel(g, x, scale, zero_point, axis, dtype):
    if np.asarray(zero_point).dtype.kind == "f":
        raise UnsupportedOpError(f"quantize_per_channel in module '{g.scope or '<root>'}' has floating-point zero "
                                 "points (per_channel_affine_float_qparams); ONNX's QuantizeLinear takes integer "
                                 "zero points only")
    return quantized(g, x, scale, zero_point, dtype, axis)


@lowering("Dequantize")
def dequantize(g, q, scale, zero_point, axis, dtype):
    if axis is not None and np.asarray(zero_point).dtype.kind == "f":
        raise UnsupportedOpError(f"dequantize in module '{g.scope or '<root>'}' of a tensor with floating-point zero "
                                 "points (per_channel_affine_float_qparams): ONNX's DequantizeLinear takes integer "
                                 "zero points only")
    return dequantized(g, q, scale, zero_point, dtype, axis)


@lowering("QuantizedReshape")
def quantized_reshape(g, q, shape):
    return g.op("Reshape", q, g.sizes(shape))


@lowering("QuantizedFlatten")
def quantized_flatten(g, q, start_dim, end_dim):
    rank = g.rank(q)
    parts = [g.dims(q, range(start_dim))] if start_dim else []
    parts.append(g.ints([-1]))
    if end_dim + 1 < rank:
        parts.append(g.dims(q, range(end_dim + 1, rank)))
    return g.op("Reshape", q, parts[0] if len(parts) == 1 else g.op("Concat", *parts, axis=0))


@lowering("IntRepr", "QuantizedClone")
def integers(g, q):
    return g.op("Identity", q)
