"""Sardonyx's serving side: an ONNX runtime on NumPy (CPU) or CuPy (CUDA), and a gRPC server.

`InferenceSession` mirrors `onnxruntime.InferenceSession` for in-process use; `sardonyx-serve`
serves a Triton-style model repository over the KServe v2 / Triton gRPC protocol. This package
depends on neither `trainer` nor `exporter`, so a deployment installs nothing of the training side.
"""

from serving.errors import (
    InvalidArgumentError,
    InvalidModelError,
    KernelError,
    SessionError,
    UnsupportedOperatorError,
)
from serving.session import InferenceSession, ModelMetadata, NodeArg

__all__ = [
    "InferenceSession",
    "InvalidArgumentError",
    "InvalidModelError",
    "KernelError",
    "ModelMetadata",
    "NodeArg",
    "SessionError",
    "UnsupportedOperatorError",
]
