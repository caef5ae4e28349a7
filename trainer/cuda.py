"""``trainer.cuda``: whether CUDA can be used, and per-device seeding, as in ``torch.cuda``."""

from __future__ import annotations

from trainer.amp import cuda_amp as amp  # noqa: F401 - torch.cuda.amp
from trainer.backend import _cupy, cupy_available, device
from trainer.random import default_generator


def is_available() -> bool:
    """True when CuPy is installed and sees at least one CUDA device."""
    return cupy_available()


def device_count() -> int:
    return _cupy().cuda.runtime.getDeviceCount() if cupy_available() else 0


def current_device() -> int:
    return _cupy().cuda.runtime.getDevice()


def set_device(index: int) -> None:
    _cupy().cuda.runtime.setDevice(int(device(index if isinstance(index, str) else "cuda", None).index or index))


def synchronize() -> None:
    if cupy_available():
        _cupy().cuda.Device().synchronize()


def manual_seed(seed: int) -> None:
    """Seed the current CUDA device's generator (a no-op without CUDA, as in PyTorch)."""
    if cupy_available():
        default_generator(device("cuda", current_device())).manual_seed(seed)


def manual_seed_all(seed: int) -> None:
    for index in range(device_count()):
        default_generator(device("cuda", index)).manual_seed(seed)
