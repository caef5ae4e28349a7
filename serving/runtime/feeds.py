"""Checking what a caller feeds against the types a graph declares for its inputs.

Each input's type is read from its ``TypeProto`` once, when the session is built: a run of a small model
costs a few microseconds, and walking the protos again on every call cost as much as the model itself.
"""

from __future__ import annotations

import numpy as np
import onnx

from serving.errors import InvalidArgumentError
from serving.runtime import types
from serving.runtime.values import strings


class FeedCheck:
    """One declared input type: ``check(name, value)`` returns the value the graph takes, or raises
    ``InvalidArgumentError`` saying what was fed and what the model expects."""

    def __init__(self, type_proto: onnx.TypeProto):
        self.kind = type_proto.WhichOneof("value")
        self.type_string = types.type_string(type_proto)
        self.inner = None
        if self.kind == "tensor_type":
            self.dtype = types.elem_numpy_dtype(type_proto.tensor_type.elem_type)
            self.shape = types.dims(type_proto)
            self.fixed = () if self.shape is None else tuple(
                (axis, want) for axis, want in enumerate(self.shape) if isinstance(want, int))
        elif self.kind == "sequence_type":
            self.inner = FeedCheck(type_proto.sequence_type.elem_type)
        elif self.kind == "optional_type":
            self.inner = FeedCheck(type_proto.optional_type.elem_type)

    def check(self, name: str, value):
        if self.kind == "tensor_type":
            return self._tensor(name, value)
        if self.kind == "sequence_type":
            if not isinstance(value, (list, tuple)):
                raise InvalidArgumentError(
                    f"input {name!r} is a {self.type_string}: pass a list, got {type(value).__name__}")
            return [self.inner.check(f"{name}[{i}]", v) for i, v in enumerate(value)]
        if self.kind == "optional_type":
            return None if value is None else self.inner.check(name, value)
        return value

    def _tensor(self, name: str, value):
        if value is None:
            raise InvalidArgumentError(f"input {name!r} is None; expected a {self.type_string} array")
        if not hasattr(value, "dtype") or not hasattr(value, "shape"):
            value = np.asarray(value)
        expected = self.dtype
        if expected.kind == "O":
            if value.dtype.kind not in "OUS":
                raise InvalidArgumentError(f"input {name!r} expects tensor(string), got an array of {value.dtype}")
            value = strings(value)
        elif value.dtype != expected:
            raise InvalidArgumentError(
                f"input {name!r} expects {self.type_string} (numpy {expected}), got an array of "
                f"{value.dtype}; convert it with .astype(numpy.{expected})"
            )
        shape = self.shape
        if shape is not None:
            if len(shape) != value.ndim:
                raise InvalidArgumentError(
                    f"input {name!r} expects rank {len(shape)} with shape {shape}, got shape {list(value.shape)}")
            got = value.shape
            for axis, want in self.fixed:
                if got[axis] != want:
                    raise InvalidArgumentError(
                        f"input {name!r} expects shape {shape}, got {list(got)}: dimension {axis} must be {want}")
        return value
