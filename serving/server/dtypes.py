"""The protocol's datatype strings and how they map to NumPy, config.pbtxt's enum and ONNX types."""

from __future__ import annotations

import ml_dtypes
import numpy as np

from serving.server.protocol import config_pb

# Wire datatype -> NumPy dtype. BYTES tensors are object arrays of bytes.
NUMPY = {
    "BOOL": np.dtype(np.bool_), "UINT8": np.dtype(np.uint8), "UINT16": np.dtype(np.uint16),
    "UINT32": np.dtype(np.uint32), "UINT64": np.dtype(np.uint64), "INT8": np.dtype(np.int8),
    "INT16": np.dtype(np.int16), "INT32": np.dtype(np.int32), "INT64": np.dtype(np.int64),
    "FP16": np.dtype(np.float16), "FP32": np.dtype(np.float32), "FP64": np.dtype(np.float64),
    "BYTES": np.dtype(object), "BF16": np.dtype(ml_dtypes.bfloat16),
}

# ONNX Runtime's element names, as InferenceSession's `NodeArg.type` spells them ("tensor(float)").
_ONNX = {
    "bool": "BOOL", "uint8": "UINT8", "uint16": "UINT16", "uint32": "UINT32", "uint64": "UINT64",
    "int8": "INT8", "int16": "INT16", "int32": "INT32", "int64": "INT64", "float16": "FP16",
    "float": "FP32", "double": "FP64", "string": "BYTES", "bfloat16": "BF16",
}

# The InferTensorContents field that carries each datatype; FP16 and BF16 travel only as raw bytes.
CONTENTS_FIELD = {
    "BOOL": "bool_contents", "UINT8": "uint_contents", "UINT16": "uint_contents", "UINT32": "uint_contents",
    "UINT64": "uint64_contents", "INT8": "int_contents", "INT16": "int_contents", "INT32": "int_contents",
    "INT64": "int64_contents", "FP32": "fp32_contents", "FP64": "fp64_contents", "BYTES": "bytes_contents",
}


def from_config(data_type: int) -> str:
    """config.pbtxt's `TYPE_FP32` -> "FP32"; TYPE_STRING is the protocol's BYTES."""
    name = config_pb.DataType.Name(data_type)[len("TYPE_"):]
    return "BYTES" if name == "STRING" else name


def to_config(datatype: str) -> int:
    return config_pb.DataType.Value("TYPE_STRING" if datatype == "BYTES" else f"TYPE_{datatype}")


def from_onnx(type_string: str) -> str | None:
    """"tensor(float)" -> "FP32"; None for what the protocol cannot carry (sequences, maps, complex)."""
    if not (type_string.startswith("tensor(") and type_string.endswith(")")):
        return None
    return _ONNX.get(type_string[len("tensor("):-1])


def from_numpy(dtype: np.dtype) -> str:
    if dtype.kind in "OSU":
        return "BYTES"
    for name, candidate in NUMPY.items():
        if candidate == dtype:
            return name
    raise TypeError(f"the protocol has no datatype for numpy {dtype}")
