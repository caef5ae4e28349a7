"""Converting ONNX's serialised values (tensors, sequences, optionals) to runtime values and back."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import numpy_helper


def tensor_to_array(tensor: onnx.TensorProto) -> np.ndarray:
    """A TensorProto as a NumPy array; string tensors become object arrays of ``str``."""
    array = numpy_helper.to_array(tensor)
    if tensor.data_type == onnx.TensorProto.STRING:
        return strings(array)
    return array


def strings(array) -> np.ndarray:
    """An object array of ``str`` (ONNX strings are UTF-8 bytes on the wire)."""
    array = np.asarray(array, dtype=object)
    flat = [v.decode("utf-8", errors="surrogateescape") if isinstance(v, bytes) else str(v) for v in array.flat]
    return np.array(flat, dtype=object).reshape(array.shape)


def sparse_to_array(sparse: onnx.SparseTensorProto) -> np.ndarray:
    values = tensor_to_array(sparse.values)
    dense = np.zeros(tuple(sparse.dims), dtype=values.dtype)
    indices = tensor_to_array(sparse.indices) if sparse.HasField("indices") else np.zeros((0,), np.int64)
    if indices.ndim == 1:  # linearised indices into the flattened dense tensor
        dense.reshape(-1)[indices] = values
    else:
        dense[tuple(indices.T)] = values
    return dense


def proto_to_value(proto):
    """A TensorProto, SequenceProto or OptionalProto as the runtime's value (array, list or None)."""
    if isinstance(proto, onnx.TensorProto):
        return tensor_to_array(proto)
    if isinstance(proto, onnx.SequenceProto):
        kind = proto.elem_type
        if kind == onnx.SequenceProto.TENSOR:
            return [tensor_to_array(t) for t in proto.tensor_values]
        if kind == onnx.SequenceProto.SEQUENCE:
            return [proto_to_value(s) for s in proto.sequence_values]
        if kind == onnx.SequenceProto.OPTIONAL:
            return [proto_to_value(o) for o in proto.optional_values]
        if kind == onnx.SequenceProto.UNDEFINED:
            return []
        raise ValueError(f"sequences of element type {kind} are not supported")
    if isinstance(proto, onnx.OptionalProto):
        kind = proto.elem_type
        if kind == onnx.OptionalProto.TENSOR:
            return tensor_to_array(proto.tensor_value)
        if kind == onnx.OptionalProto.SEQUENCE:
            return proto_to_value(proto.sequence_value)
        if kind == onnx.OptionalProto.OPTIONAL:
            return proto_to_value(proto.optional_value)
        return None
    raise TypeError(f"cannot convert {type(proto).__name__} to a runtime value")
