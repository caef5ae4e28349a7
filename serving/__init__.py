"""Sardonyx's serving side: an ONNX runtime on NumPy (CPU) or CuPy (CUDA), and a gRPC server.

`InferenceSession` mirrors `onnxruntime.InferenceSession` for in-process use; `sardonyx-serve`
serves a Triton-style model repository over the KServe v2 / Triton gRPC protocol. This package
depends on neither `trainer` nor `exporter`, so a deployment installs nothing of the training side.
"""

__all__: list[str] = []
