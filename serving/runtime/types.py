"""ONNX types as a user of ONNX Runtime sees them: ``tensor(float)``, ``seq(tensor(int64))``, dims."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper

from serving.errors import InvalidModelError

# ONNX Runtime's spelling of each element type in "tensor(...)" strings.
_ELEM_NAMES = {
    onnx.TensorProto.FLOAT: "float", onnx.TensorProto.UINT8: "uint8", onnx.TensorProto.INT8: "int8",
    onnx.TensorProto.UINT16: "uint16", onnx.TensorProto.INT16: "int16", onnx.TensorProto.INT32: "int32",
    onnx.TensorProto.INT64: "int64", onnx.TensorProto.STRING: "string", onnx.TensorProto.BOOL: "bool",
    onnx.TensorProto.FLOAT16: "float16", onnx.TensorProto.DOUBLE: "double", onnx.TensorProto.UINT32: "uint32",
    onnx.TensorProto.UINT64: "uint64", onnx.TensorProto.COMPLEX64: "complex64",
    onnx.TensorProto.COMPLEX128: "complex128", onnx.TensorProto.BFLOAT16: "bfloat16",
}


def elem_type_name(elem_type: int) -> str:
    if elem_type not in _DEFINED:
        raise _undefined(elem_type)
    return _ELEM_NAMES.get(elem_type) or onnx.TensorProto.DataType.Name(elem_type).lower()


def elem_numpy_dtype(elem_type: int) -> np.dtype:
    if elem_type == onnx.TensorProto.STRING:
        return np.dtype(object)
    if elem_type not in _DEFINED:
        raise _undefined(elem_type)
    return np.dtype(helper.tensor_dtype_to_np_dtype(elem_type))


# The checker leaves the element types of graph inputs and outputs unchecked; a damaged file can hold any int.
_DEFINED = frozenset(v for v in onnx.TensorProto.DataType.values() if v != onnx.TensorProto.UNDEFINED)


def _undefined(elem_type: int) -> InvalidModelError:
    return InvalidModelError(
        f"element type {elem_type} is not an ONNX TensorProto.DataType (expected one of {sorted(_DEFINED)})")


def type_string(type_proto: onnx.TypeProto) -> str:
    kind = type_proto.WhichOneof("value")
    if kind == "tensor_type" or kind == "sparse_tensor_type":
        inner = getattr(type_proto, kind)
        name = elem_type_name(inner.elem_type)
        return f"tensor({name})" if kind == "tensor_type" else f"sparse_tensor({name})"
    if kind == "sequence_type":
        return f"seq({type_string(type_proto.sequence_type.elem_type)})"
    if kind == "optional_type":
        return f"optional({type_string(type_proto.optional_type.elem_type)})"
    if kind == "map_type":
        return f"map({elem_type_name(type_proto.map_type.key_type)},{type_string(type_proto.map_type.value_type)})"
    return "unknown"


def dims(type_proto: onnx.TypeProto) -> list[int | str | None] | None:
    """The shape of a tensor type: ints for fixed dims, names for symbolic ones, None where unknown."""
    if type_proto.WhichOneof("value") != "tensor_type" or not type_proto.tensor_type.HasField("shape"):
        return None
    out: list[int | str | None] = []
    for dim in type_proto.tensor_type.shape.dim:
        kind = dim.WhichOneof("value")
        out.append(dim.dim_value if kind == "dim_value" else dim.dim_param if kind == "dim_param" else None)
    return out
