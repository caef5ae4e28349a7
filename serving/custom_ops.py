"""Python kernels for operators of custom domains, as onnxruntime-extensions' ``@onnx_op`` provides them.

``register_custom_op("com.example", "ScaledTanh", fn)`` makes every session built afterwards run nodes
``com.example::ScaledTanh`` with ``fn(*inputs, **attributes)``: inputs are the node's arrays (NumPy on the CPU,
CuPy on CUDA; ``None`` for an omitted optional input), attributes are passed by name, decoded to Python values. It
returns one array, or a tuple of them, one per output. A node of a custom domain without a registered kernel is
refused when the session is built, naming its domain and operator.
"""

from __future__ import annotations

from collections.abc import Callable

from serving.errors import InvalidArgumentError
from serving.kernels import registry
from serving.kernels.fused import FUSED_DOMAIN

# Domains whose operators the runtime defines: a Python kernel must not replace theirs.
_RESERVED = {registry.ONNX_DOMAIN, registry.ML_DOMAIN, "ai.onnx.preview.training", FUSED_DOMAIN}


def register_custom_op(domain: str, op_type: str, fn: Callable, since_version: int = 1) -> None:
    """Run ``domain::op_type`` nodes at opset ``since_version`` and above with ``fn`` (replacing a kernel
    registered before for the same operator and version)."""
    if not isinstance(domain, str) or not isinstance(op_type, str) or not op_type:
        raise InvalidArgumentError(f"domain and op_type must be strings, got {domain!r} and {op_type!r}")
    if registry.canonical_domain(domain) in _RESERVED:
        raise InvalidArgumentError(
            f"domain {domain or 'ai.onnx'!r} belongs to ONNX or to the runtime; custom operators need a domain of "
            "their own, such as 'com.example'")
    if not callable(fn):
        raise InvalidArgumentError(f"fn must be callable, got {type(fn).__name__}")
    if not isinstance(since_version, int) or since_version < 1:
        raise InvalidArgumentError(f"since_version must be an int >= 1, got {since_version!r}")

    def kernel(ctx, *inputs, **attributes):  # any inputs and attributes: fn itself says what it takes
        return fn(*inputs, **attributes)

    registry.unregister(domain, op_type, since_version)
    registry.kernel(op_type, since_version, domain)(kernel)


def unregister_custom_op(domain: str, op_type: str, since_version: int = 1) -> None:
    """Forget the kernel registered for ``domain::op_type`` at ``since_version`` (none: nothing to do)."""
    if registry.canonical_domain(domain) in _RESERVED:
        raise InvalidArgumentError(f"domain {domain or 'ai.onnx'!r} holds the runtime's own kernels")
    registry.unregister(domain, op_type, since_version)
