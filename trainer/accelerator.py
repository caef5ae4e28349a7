"""``trainer.accelerator``: the device-generic view of the current accelerator, as in ``torch.accelerator``; the only
accelerator trainer drives is CUDA (through CuPy), so each call answers for ``trainer.cuda``."""

from __future__ import annotations

from trainer import cuda
from trainer.backend import device


def is_available() -> bool:
    return cuda.is_available()


def current_accelerator(check_available: bool = False) -> device | None:
    """``device("cuda")`` where CUDA is usable, else None (PyTorch's answer on a CPU-only machine)."""
    return device("cuda") if cuda.is_available() else None


def device_count() -> int:
    return cuda.device_count()


def _require_accelerator() -> None:
    if not cuda.is_available():
        raise RuntimeError("Cannot access accelerator device when none is available.")


def current_device_index() -> int:
    _require_accelerator()
    return cuda.current_device()


def set_device_index(device) -> None:  # noqa: A002 - PyTorch's parameter name
    _require_accelerator()
    cuda.set_device(device)


def synchronize(device=None) -> None:  # noqa: A002
    _require_accelerator()
    cuda.synchronize()


current_device_idx = current_device_index
set_device_idx = set_device_index
