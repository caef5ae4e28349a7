"""Where a session computes: NumPy on the CPU, CuPy on a CUDA device."""

from __future__ import annotations

import contextlib

import numpy as np

from serving.errors import InvalidArgumentError

_CUDA_INSTALL_HINT = (
    "CuPy is not installed, so CUDA devices are unavailable. Install the CUDA extra that matches "
    "your toolkit: pip install 'sardonyx[cuda12]' or pip install 'sardonyx[cuda13]'."
)


class Device:
    """A device in PyTorch's spelling (``"cpu"``, ``"cuda"``, ``"cuda:1"``) and its array module."""

    def __init__(self, spec: str = "cpu"):
        if not isinstance(spec, str):
            raise InvalidArgumentError(f"device must be a string such as 'cpu' or 'cuda:0', got {spec!r}")
        kind, _, index = spec.partition(":")
        if kind not in ("cpu", "cuda") or (index and not index.isdigit()) or (kind == "cpu" and index not in ("", "0")):
            raise InvalidArgumentError(f"unknown device {spec!r}: expected 'cpu', 'cuda' or 'cuda:N'")
        self.type = kind
        self.index = int(index) if index else 0
        if kind == "cpu":
            self.xp = np
        else:
            try:
                import cupy
            except ImportError as exc:
                raise InvalidArgumentError(_CUDA_INSTALL_HINT) from exc
            self.xp = cupy

    def __repr__(self) -> str:
        return "cpu" if self.type == "cpu" else f"cuda:{self.index}"

    def scope(self):
        """A context in which CuPy allocates on this device (a no-op on the CPU)."""
        return self.xp.cuda.Device(self.index) if self.type == "cuda" else contextlib.nullcontext()

    def put(self, array):
        """``array`` on this device. Strings, and the ml_dtypes types CuPy cannot hold (bfloat16, float8,
        int4, ...; NumPy kind "V"), stay on the host, where their kernels compute."""
        if self.type == "cpu" or not isinstance(array, np.ndarray) or array.dtype.kind in "OV":
            return array
        with self.scope():
            return self.xp.asarray(array)


def to_host(value):
    """A value with every CuPy array in it copied to NumPy (sequences and optionals included)."""
    if isinstance(value, list):
        return [to_host(v) for v in value]
    if value is None or isinstance(value, (np.ndarray, dict)):
        return value
    get = getattr(value, "get", None)
    return get() if get is not None else np.asarray(value)
