"""PyTorch's thread-local switches on how the backward engine works: ``set_multithreading_enabled``,
``enforce_grad_layout_policy`` and the ``is_view_replay_enabled`` query.

trainer's backward always runs on the calling thread, keeps each accumulated gradient in the layout the backward
pass produced it in, and finds a view's elements by position rather than by replaying how it was made
(``trainer.autograd.view_writes``). The first two settings are kept and reported, so that programs that switch
them run unchanged; they change nothing in what trainer computes. View replay is never used, so its query says
False.
"""

from __future__ import annotations

import functools
import threading


class _EngineModes(threading.local):
    multithreading = True
    grad_layout_enforced = True


_modes = _EngineModes()


def is_multithreading_enabled() -> bool:
    return _modes.multithreading


def is_view_replay_enabled() -> bool:
    return False


def _require_bool(api: str, value) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{api}(): argument 'enabled' (position 1) must be bool, not {type(value).__name__}")
    return value


class _ModeSwitch:
    """Sets its mode when made and puts the previous one back on leaving a ``with`` block; as a decorator, each
    call of the function runs with the mode set."""

    _flag: str
    _api: str

    def __init__(self, mode) -> None:
        self.mode = _require_bool(self._api, mode)
        self.prev = getattr(_modes, self._flag)
        setattr(_modes, self._flag, self.mode)

    def __enter__(self) -> None:
        pass

    def __exit__(self, exc_type, exc_value, traceback) -> None:
        setattr(_modes, self._flag, self.prev)

    def clone(self):
        return self.__class__(self.mode)

    def __call__(self, func):
        @functools.wraps(func)
        def decorated(*args, **kwargs):
            with self.clone():
                return func(*args, **kwargs)

        return decorated


class set_multithreading_enabled(_ModeSwitch):
    """Whether backward may run on per-device worker threads (it always runs on the calling thread in trainer)."""

    _flag, _api = "multithreading", "set_multithreading_enabled"


class enforce_grad_layout_policy(_ModeSwitch):
    """Whether accumulated gradients are made to take their parameter's strides (trainer keeps them as produced,
    as PyTorch does with the policy off)."""

    _flag, _api = "grad_layout_enforced", "set_grad_layout_enforcement_enabled"

    def __init__(self, enable: bool = True) -> None:
        super().__init__(enable)

    def __call__(self, func):
        setattr(_modes, self._flag, self.prev)  # as a decorator it only applies while the function runs
        return super().__call__(func)
