"""``trainer.sparse.check_sparse_tensor_invariants``: PyTorch's switch for checking the index invariants of sparse
tensors when they are constructed (a context manager, a decorator, and ``enable()``/``disable()``)."""

from __future__ import annotations

import functools


class check_sparse_tensor_invariants:  # noqa: N801 - PyTorch's name
    """Checks are off by default; a constructor's ``check_invariants`` argument overrides the switch."""

    _enabled = False

    @staticmethod
    def is_enabled() -> bool:
        return check_sparse_tensor_invariants._enabled

    @staticmethod
    def enable() -> None:
        check_sparse_tensor_invariants._enabled = True

    @staticmethod
    def disable() -> None:
        check_sparse_tensor_invariants._enabled = False

    def __init__(self, enable: bool = True):
        self.state = enable
        self.saved_state = None

    def __enter__(self):
        if self.saved_state is not None:
            raise RuntimeError("This context manager instance is already activated. Use a different context manager "
                               "instance for context nesting.")
        self.saved_state = self.is_enabled()
        check_sparse_tensor_invariants._enabled = self.state

    def __exit__(self, exc_type, exc_value, traceback):
        check_sparse_tensor_invariants._enabled = self.saved_state
        self.saved_state = None

    def __call__(self, function):
        @functools.wraps(function)
        def checked(*args, **kwargs):
            with type(self)(self.state):
                return function(*args, **kwargs)

        return checked
