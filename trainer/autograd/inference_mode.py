"""``inference_mode``: ``no_grad`` for code that will never be differentiated, as PyTorch spells it.

Inside ``inference_mode()`` nothing is recorded and ``is_inference_mode_enabled()`` is True; ``inference_mode(False)``
leaves grad mode as it is. PyTorch also marks each tensor made inside as an "inference tensor" and refuses to
save one for backward later; trainer does not mark tensors (that would cost every tensor creation a check), so
``Tensor.is_inference()`` stays False and such tensors may be used in recorded ops afterwards.

The flag is thread-local, like grad mode.
"""

from __future__ import annotations

import functools
import threading

from trainer.autograd import grad_mode


class _InferenceState(threading.local):
    enabled = False


_state = _InferenceState()


def is_inference_mode_enabled() -> bool:
    return _state.enabled


class inference_mode:  # noqa: N801 - PyTorch's public name
    """Context manager and decorator (``@inference_mode``, ``@inference_mode()`` or ``@inference_mode(False)``)."""

    def __new__(cls, mode=True):
        if not isinstance(mode, bool) and callable(mode):  # bare ``@inference_mode`` decorates at once
            return cls(True)(mode)
        return super().__new__(cls)

    def __init__(self, mode: bool = True):
        self.mode = mode

    def __enter__(self) -> None:
        self._prev = _state.enabled, grad_mode._state.enabled
        _state.enabled = self.mode
        if self.mode:
            grad_mode._state.enabled = False

    def __exit__(self, *exc) -> bool:
        _state.enabled, grad_mode._state.enabled = self._prev
        return False

    def __call__(self, fn):
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with inference_mode(mode):
                return fn(*args, **kwargs)

        return wrapper

    def clone(self) -> inference_mode:
        return self.__class__(self.mode)
