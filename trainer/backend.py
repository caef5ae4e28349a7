"""Devices and the array module behind them: NumPy on the CPU, CuPy on CUDA devices.

Every numeric routine is written once against ``xp``; this module is the one place that decides
which module ``xp`` is for a device or an array.
"""

from __future__ import annotations

import numpy as np

from trainer.meta_arrays import MetaArray, meta_xp

_CUDA_INSTALL_HINT = (
    "CuPy is not installed, so CUDA devices are unavailable. Install the CUDA extra that matches "
    "your toolkit: pip install 'sardonyx[cuda12]' or pip install 'sardonyx[cuda13]'."
)


def _cupy():
    """Import CuPy on first use; raise an actionable error when it is absent."""
    try:
        import cupy
    except ImportError as exc:
        raise RuntimeError(_CUDA_INSTALL_HINT) from exc
    return cupy


def cupy_available() -> bool:
    try:
        import cupy
    except ImportError:
        return False
    try:
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # CuPy present but no driver or no device
        return False


class device:
    """A device in PyTorch's spelling: ``device("cpu")``, ``device("cuda")``, ``device("cuda", 1)``."""

    __slots__ = ("type", "index")

    def __init__(self, type: str | device, index: int | None = None):
        if isinstance(type, device):
            self.type, self.index = type.type, type.index
            return
        if not isinstance(type, str):
            raise TypeError(f"device() expects a string such as 'cpu' or 'cuda:0', got {type!r}")
        kind, _, idx = type.partition(":")
        if kind not in ("cpu", "cuda", "meta"):
            raise RuntimeError(f"Expected one of cpu, cuda, meta device type at start of device string: {type}")
        if idx:
            if index is not None:
                raise RuntimeError(f"device string {type!r} already has an index; do not pass index too")
            if not idx.isdigit():
                raise RuntimeError(f"Invalid device string: {type!r}")
            index = int(idx)
        if kind == "cpu" and index not in (None, 0):
            raise RuntimeError(f"CPU device index must be 0 or absent, got {index}")
        self.type, self.index = kind, index

    def __repr__(self):
        return f"device(type='{self.type}'" + (f", index={self.index})" if self.index is not None else ")")

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other):
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self):
        return hash((self.type, self.index))

    def __enter__(self):  # ``with device("meta"):`` makes it the factories' default device, as PyTorch's does
        from trainer.device_context import enter_device

        return enter_device(self)

    def __exit__(self, *exc):
        from trainer.device_context import exit_device

        exit_device()
        return False


CPU = device("cpu")
META = device("meta")


def as_device(spec) -> device:
    """Normalise ``None``, a string, an int (a CUDA ordinal) or a ``device`` into a ``device``."""
    if spec is None:
        return CPU
    if isinstance(spec, device):
        return spec
    if isinstance(spec, int):
        return device("cuda", spec)
    return device(spec)


def get_xp(dev: device):
    """The array module for a device; raises a clear error when CUDA cannot be used."""
    if dev.type == "cpu":
        return np
    if dev.type == "meta":
        return meta_xp
    cupy = _cupy()
    count = cupy.cuda.runtime.getDeviceCount()
    index = dev.index or 0
    if index >= count:
        raise RuntimeError(f"CUDA device {index} requested but only {count} CUDA device(s) are visible")
    return cupy


def xp_of(array):
    """The array module an array belongs to (the ``cupy.get_array_module`` idiom without CuPy)."""
    if isinstance(array, (np.ndarray, np.generic)):
        return np
    if type(array) is MetaArray:
        return meta_xp
    module = getattr(array, "array_module", None)  # a storage made of arrays (sparse COO): the module of those
    return module if module is not None else _cupy().get_array_module(array)


def device_of(array) -> device:
    if isinstance(array, (np.ndarray, np.generic)):
        return CPU
    if type(array) is MetaArray:
        return META
    if getattr(array, "array_module", None) is not None:  # a storage made of arrays (sparse COO)
        return device_of(array.values)
    return device("cuda", array.device.id)


def cuda_context(dev: device):
    """A context manager that makes ``dev`` current for CuPy allocations (no-op on the CPU and the meta device)."""
    if dev.type != "cuda":
        return _NullContext()
    return _cupy().cuda.Device(dev.index or 0)


class _NullContext:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def to_device(array, dev: device):
    """Copy ``array`` to ``dev``; returns ``array`` itself when it is already there."""
    if device_of(array) == dev:
        return array
    if dev.type == "meta":  # only the shape and dtype go there
        return MetaArray(array.shape, array.dtype)
    if dev.type == "cpu":
        return array.get()
    cupy = get_xp(dev)
    with cupy.cuda.Device(dev.index or 0):
        return cupy.asarray(array)
