"""``trainer.backends.opt_einsum``: PyTorch's switches for contracting ``einsum`` along a path opt_einsum
optimises. trainer's ``einsum`` hands each equation to NumPy's (or CuPy's) einsum in one call and never computes
an opt_einsum path, so it is not available here whether or not the package is installed; ``enabled`` and
``strategy`` follow PyTorch's behaviour without opt_einsum (``enabled`` False, ``strategy`` None, and turning them
on through ``set_flags``/``flags`` raises PyTorch's ``ValueError``)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any

enabled = False
strategy = None


def is_available() -> bool:
    return False


def get_opt_einsum() -> Any:
    """The opt_einsum package trainer uses: None, as it uses none."""
    return None


def _set_enabled(_enabled: bool) -> None:
    if _enabled:
        raise ValueError(f"opt_einsum is not available, so setting `enabled` to {_enabled} will not reap the benefits "
                         "of calculating an optimal path for einsum. torch.einsum will fall back to contracting from "
                         "left to right. To enable this optimal path calculation, please install opt-einsum.")
    global enabled
    enabled = _enabled


def _set_strategy(_strategy: str) -> None:
    raise ValueError(f"opt_einsum is not available, so setting `strategy` to {_strategy} will not be meaningful. "
                     "torch.einsum will bypass path calculation and simply contract from left to right. Please "
                     "install opt_einsum or unset `strategy`.")


def set_flags(_enabled=None, _strategy=None):
    previous = (enabled, None)
    if _enabled is not None:
        _set_enabled(_enabled)
    if _strategy is not None:
        _set_strategy(_strategy)
    return previous


@contextmanager
def flags(enabled=None, strategy=None):
    previous = set_flags(enabled, strategy)
    try:
        yield
    finally:
        set_flags(*previous)
