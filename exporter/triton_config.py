"""A Triton ``config.pbtxt`` for an exported model: its inputs, outputs, batch limit and dynamic batching."""

from __future__ import annotations

import onnx

from serving.runtime.types import type_string
from serving.server import dtypes


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
    return (f'  {{\n    name: "{value.name}"\n    data_type: {_config_type(value)}\n'
            f"    dims: [ {', '.join(str(d) for d in dims)} ]\n  }}")


def _config_type(value: onnx.ValueInfoProto) -> str:
    """config.pbtxt's name for a tensor's element type (``TYPE_FP32``), from the server's one table."""
    datatype = dtypes.from_onnx(type_string(value.type))
    if datatype is None:
        raise ValueError(f"{value.name!r} is a {type_string(value.type)}, which Triton's protocol cannot carry")
    return dtypes.config_pb.DataType.Name(dtypes.to_config(datatype))
