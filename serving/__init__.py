"""Sardonyx's serving side: an ONNX runtime on NumPy (CPU) or CuPy (CUDA), and a gRPC server.

`InferenceSession` mirrors `onnxruntime.InferenceSession` for in-process use; `sardonyx-serve`
serves a Triton-style model repository over the KServe v2 / Triton gRPC protocol. This package
depends on neither `trainer` nor `exporter`, so a deployment installs nothing of the training side.
"""

from serving import float_errors  # noqa: F401 - NumPy's float warnings silenced in serving, as ONNX Runtime is silent
from serving.custom_ops import register_custom_op, unregister_custom_op
from serving.errors import (
    InvalidArgumentError,
    InvalidModelError,
    KernelError,
    RunTerminatedError,
    SessionError,
    UnsupportedOperatorError,
)
from serving.io_binding import IOBinding
from serving.options import ExecutionMode, GraphOptimizationLevel, RunOptions, SessionOptions
from serving.ort_value import OrtValue
from serving.providers import get_all_providers, get_available_providers, get_device
from serving.session import InferenceSession, ModelMetadata, NodeArg
from serving.version import __version__, get_version_string

__all__ = [
    "ExecutionMode",
    "GraphOptimizationLevel",
    "IOBinding",
    "InferenceSession",
    "InvalidArgumentError",
    "InvalidModelError",
    "KernelError",
    "ModelMetadata",
    "NodeArg",
    "OrtValue",
    "RunOptions",
    "RunTerminatedError",
    "SessionOptions",
    "SessionError",
    "UnsupportedOperatorError",
    "__version__",
    "get_all_providers",
    "get_available_providers",
    "get_device",
    "get_version_string",
    "register_custom_op",
    "unregister_custom_op",
]
