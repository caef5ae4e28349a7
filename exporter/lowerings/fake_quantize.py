"""Fake quantization as ONNX's QDQ form: QuantizeLinear then DequantizeLinear (per channel with ``axis``), the pair
ONNX Runtime and TensorRT run in int8.

ONNX saturates to the whole int8 or uint8 range, so those two ranges map directly (int8 when ``quant_min < 0``, as
torch.onnx chooses); the 7-bit ranges that ``reduce_range`` gives, (0, 127) and (-64, 63), add a Clip between
the pair, as torch.onnx does for (0, 127). Any other range is refused. The arithmetic runs in float32 (the dtype
QuantizeLinear takes at every opset; the scale is float32 in trainer too), casting other float inputs there and
back; ONNX divides by the scale where PyTorch multiplies by its reciprocal, which can move a value lying within
float rounding of a tie by one step of the grid.
"""

import numpy as np
from onnx import TensorProto

from exporter.emitter import onnx_dtype
from exporter.errors import ExportError
from exporter.lowerings import lowering
from trainer.dtypes import is_floating

# (quant_min, quant_max) -> the ONNX integer type and whether the range needs a Clip inside that type's range
_RANGES = {(-128, 127): (np.int8, False), (0, 255): (np.uint8, False), (0, 127): (np.uint8, True),
           (-64, 63): (np.int8, True)}


@lowering("FakeQuantizePerTensorAffine")
def fake_quantize_per_tensor_affine(g, x, scale, zero_point, quant_min, quant_max):
    integer_type, clipped = _grid(g, quant_min, quant_max)
    info = np.iinfo(integer_type)
    if not info.min <= zero_point <= info.max:
        raise ExportError(f"fake quantization in module '{g.scope or '<root>'}' has zero_point {zero_point}, which "
                          f"{np.dtype(integer_type).name} (ONNX's type for the range [{quant_min}, {quant_max}]) "
                          "cannot hold")
    scale = g.const(np.float32(scale))
    zero_point = g.const(np.asarray(zero_point, dtype=integer_type))
    return _quantized_then_dequantized(g, x, scale, zero_point, integer_type, clipped, quant_min, quant_max, {})


@lowering("FakeQuantizePerChannelAffine")
def fake_quantize_per_channel_affine(g, x, scale, zero_point, axis, quant_min, quant_max):
    integer_type, clipped = _grid(g, quant_min, quant_max)
    if is_floating(g.dtype(zero_point)):
        raise ExportError(f"fake quantization in module '{g.scope or '<root>'}' has floating-point zero points "
                          "(per_channel_affine_float_qparams); ONNX's QuantizeLinear takes int8 or uint8 zero points "
                          "only")
    if g.dtype(scale) != np.float32:
        scale = g.op("Cast", scale, to=TensorProto.FLOAT)
    zero_point = g.op("Cast", zero_point, to=onnx_dtype(integer_type))
    return _quantized_then_dequantized(g, x, scale, zero_point, integer_type, clipped, quant_min, quant_max,
                                       {"axis": axis})


def _grid(g, quant_min, quant_max):
    if (quant_min, quant_max) not in _RANGES:
        supported = ", ".join(str(r) for r in _RANGES)
        raise ExportError(f"fake quantization in module '{g.scope or '<root>'}' uses the range (quant_min, quant_max) "
                          f"= ({quant_min}, {quant_max}), which ONNX's QuantizeLinear/DequantizeLinear cannot express; "
                          f"supported ranges are {supported} (the int8 and uint8 ranges and their reduce_range halves)")
    return _RANGES[quant_min, quant_max]


def _quantized_then_dequantized(g, x, scale, zero_point, integer_type, clipped, quant_min, quant_max, axis):
    dtype = g.dtype(x)
    if dtype != np.float32:
        x = g.op("Cast", x, to=TensorProto.FLOAT)
    quantized = g.op("QuantizeLinear", x, scale, zero_point, **axis)
    if clipped:
        quantized = g.op("Clip", quantized, g.const(np.asarray(quant_min, dtype=integer_type)),
                         g.const(np.asarray(quant_max, dtype=integer_type)))
    out = g.op("DequantizeLinear", quantized, scale, zero_point, **axis)
    return out if dtype == np.float32 else g.op("Cast", out, to=onnx_dtype(dtype))
