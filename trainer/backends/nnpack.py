"""``trainer.backends.nnpack``: PyTorch's NNPACK switch. trainer's convolutions never call NNPACK, so it is not
available; the ``enabled`` setting is kept (and validated) so that scripts setting it run unchanged."""

from __future__ import annotations

from contextlib import contextmanager

__all__ = ["flags", "is_available", "set_flags"]

_nnpack_enabled = True


def is_available() -> bool:
    return False


def set_flags(_enabled):
    """Set whether NNPACK is enabled; returns the previous setting as a one-element tuple."""
    global _nnpack_enabled
    if not isinstance(_enabled, bool):
        raise RuntimeError(f"set_enabled_NNPACK expects a bool, but got {type(_enabled).__name__}")
    previous = (_nnpack_enabled,)
    _nnpack_enabled = _enabled
    return previous


@contextmanager
def flags(enabled=False):
    """A block with NNPACK enabled or not (off by default, as in PyTorch)."""
    previous = set_flags(enabled)
    try:
        yield
    finally:
        set_flags(previous[0])
