"""Whether operations are recorded for autograd: ``no_grad``, ``enable_grad``, ``set_grad_enabled``.

The flag is thread-local, as in PyTorch, so a data-loading thread cannot switch it off for the
training loop.
"""

from __future__ import annotations

import functools
import threading


class _GradState(threading.local):
    enabled = True


_state = _GradState()


def is_grad_enabled() -> bool:
    return _state.enabled


class _GradModeContext:
    """Base for the context managers below; each also works as a decorator."""

    _mode: bool

    def __new__(cls, func=None):
        """``@no_grad`` also works without parentheses, decorating ``func`` at once, as in PyTorch."""
        context = super().__new__(cls)
        return context if func is None else context(func)

    def __enter__(self):
        self._prev = _state.enabled
        _state.enabled = self._mode

    def __exit__(self, *exc):
        _state.enabled = self._prev
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradModeContext):
    """Record nothing inside the block: results never require grad."""

    _mode = False


class enable_grad(_GradModeContext):
    """Record operations again inside a ``no_grad`` block."""

    _mode = True


class set_grad_enabled(_GradModeContext):
    """Switch recording on or off; applies at once, and as a context manager restores on exit."""

    def __new__(cls, mode: bool):
        return object.__new__(cls)

    def __init__(self, mode: bool):
        self._mode = bool(mode)
        self._prev = _state.enabled
        _state.enabled = self._mode

    def __enter__(self):
        pass

    def __call__(self, fn):
        _state.enabled = self._prev
        mode = self._mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)

        return wrapper
