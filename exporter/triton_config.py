"""A Triton ``config.pbtxt`` for an exported model: its inputs, outputs, batch limit and dynamic batching."""

from __future__ import annotations

import onnx

# onnx TensorProto element types -> Triton DataType names
_TRITON_TYPES = {
    onnx.TensorProto.BOOL: "TYPE_BOOL", onnx.TensorProto.UINT8: "TYPE_UINT8", onnx.TensorProto.UINT16: "TYPE_UINT16",
    onnx.TensorProto.UINT32: "TYPE_UINT32", onnx.TensorProto.UINT64: "TYPE_UINT64", onnx.TensorProto.INT8: "TYPE_INT8",
    onnx.TensorProto.INT16: "TYPE_INT16", onnx.TensorProto.INT32: "TYPE_INT32", onnx.TensorProto.INT64: "TYPE_INT64",
    onnx.TensorProto.FLOAT16: "TYPE_FP16", onnx.TensorProto.FLOAT: "TYPE_FP32", onnx.TensorProto.DOUBLE: "TYPE_FP64",
    onnx.TensorProto.STRING: "TYPE_STRING", onnx.TensorProto.BFLOAT16: "TYPE_BF16",
}


def triton_config(model: onnx.ModelProto, name: str, max_batch_size: int = 0) -> str:
    """The text of ``config.pbtxt``. With ``max_batch_size > 0`` the first dim of every input and output is the
    batch (left out of ``dims``, as Triton expects) and requests are batched dynamically; other dynamic dims
    are ``-1``."""
    lines = [f'name: "{name}"', 'platform: "onnxruntime_onnx"', f"max_batch_size: {max_batch_size}"]
    for field, values in (("input", model.graph.input), ("output", model.graph.output)):
        entries = [_entry(value, max_batch_size > 0) for value in values]
        lines.append(f"{field} [\n" + ",\n".join(entries) + "\n]")
    if max_batch_size > 0:
        lines.append("dynamic_batching { }")
    return "\n".join(lines) + "\n"


def _entry(value: onnx.ValueInfoProto, batched: bool) -> str:
    tensor = value.type.tensor_type
    dims = [d.dim_value if d.HasField("dim_value") else -1 for d in tensor.shape.dim]
    if batched:
        dims = dims[1:]
    return (f'  {{\n    name: "{value.name}"\n    data_type: {_TRITON_TYPES[tensor.elem_type]}\n'
            f"    dims: [ {', '.join(str(d) for d in dims)} ]\n  }}")
