"""``with trainer.device(...):``: the device becomes the factories' default inside the block, as
``set_default_device`` would make it, and the previous default comes back at its end (blocks nest, per thread)."""

from __future__ import annotations

import threading

from trainer.default_device import default_device, set_default_device

_state = threading.local()


def enter_device(dev):
    """Make ``dev`` the default device, remembering the one it replaces; returns ``dev`` (the ``as`` target)."""
    if not hasattr(_state, "previous"):
        _state.previous = []
    replaced = default_device()
    set_default_device(dev)
    _state.previous.append(replaced)
    return dev


def exit_device() -> None:
    """Restore the default device that the innermost ``with device(...)`` block replaced."""
    set_default_device(_state.previous.pop())
