"""``set_default_device`` / ``get_default_device``: where creation functions put tensors when given no device.

As in PyTorch the setting is per thread, and it applies to the factory functions (``tensor``, ``zeros``,
``randn``, ``arange``, ...), not to ``from_numpy`` or to ops on existing tensors.
"""

from __future__ import annotations

import threading

from trainer.backend import CPU, as_device, get_xp

_state = threading.local()


def set_default_device(device) -> None:
    """Make ``device`` (``"cpu"``, ``"cuda"``, ``"cuda:1"``, an ordinal or a ``device``) the default; ``None``
    restores the CPU. A CUDA device is checked at once, so a missing CuPy is reported here."""
    if device is None:
        _state.device = CPU
        return
    dev = as_device(device)
    get_xp(dev)  # raises the install hint, or the "only N devices" error, now rather than at first use
    _state.device = dev


def default_device():
    """The default device as set (``cuda`` without an index stays so, meaning the current CUDA device)."""
    return getattr(_state, "device", CPU)


def get_default_device():
    """The default device with its index resolved, as PyTorch returns it (``cuda:0`` rather than ``cuda``)."""
    dev = default_device()
    if dev.type == "cuda" and dev.index is None:
        return as_device(get_xp(dev).cuda.runtime.getDevice())
    return dev
