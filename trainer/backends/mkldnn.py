"""``trainer.backends.mkldnn``: PyTorch's oneDNN (MKL-DNN) switches. trainer does not use oneDNN, so it is not
available; ``enabled``, ``deterministic`` and ``allow_tf32`` are kept, validated as in PyTorch (booleans only), so
that scripts setting them, directly or in a ``flags()`` block, run unchanged."""

from __future__ import annotations

import sys
import types
from contextlib import contextmanager

VERBOSE_OFF = 0
VERBOSE_ON = 1
VERBOSE_ON_CREATION = 2

# PyTorch's defaults; allow_tf32 is False since trainer never computes float32 in TF32 on the CPU
_settings = {"enabled": True, "deterministic": False, "allow_tf32": False}
_SETTER_NAMES = {"enabled": "set_enabled_mkldnn", "deterministic": "set_deterministic_mkldnn",
                 "allow_tf32": "_set_onednn_allow_tf32"}


def _set(name: str, value) -> None:
    if not isinstance(value, bool):
        raise RuntimeError(f"{_SETTER_NAMES[name]} expects a bool, but got {type(value).__name__}")
    _settings[name] = value


def is_available() -> bool:
    return False


def is_acl_available() -> bool:
    return False


class verbose:
    """oneDNN's verbose messages for a block; without oneDNN, any level but ``VERBOSE_OFF`` fails as it does in a
    PyTorch build without oneDNN."""

    def __init__(self, level):
        self.level = level

    def __enter__(self):
        if self.level == VERBOSE_OFF:
            return None
        raise AssertionError("Failed to set MKLDNN into verbose mode. Please consider to disable this verbose scope.")

    def __exit__(self, exc_type, exc_val, exc_tb):
        return False


def set_flags(_enabled=None, _deterministic=None, _allow_tf32=None):
    """Set the given switches (None leaves one as it is); returns the previous ``(enabled, deterministic,
    allow_tf32)``."""
    previous = (_settings["enabled"], _settings["deterministic"], _settings["allow_tf32"])
    for name, value in (("enabled", _enabled), ("deterministic", _deterministic), ("allow_tf32", _allow_tf32)):
        if value is not None:
            _set(name, value)
    return previous


@contextmanager
def flags(enabled=False, deterministic=False, allow_tf32=True):
    previous = set_flags(enabled, deterministic, allow_tf32)
    try:
        yield
    finally:
        set_flags(*previous)


class _MkldnnBackendModule(types.ModuleType):
    """This module, with the switches as validated properties (PyTorch checks them on assignment)."""

    enabled = property(lambda self: _settings["enabled"], lambda self, value: _set("enabled", value))
    deterministic = property(lambda self: _settings["deterministic"], lambda self, value: _set("deterministic", value))
    allow_tf32 = property(lambda self: _settings["allow_tf32"], lambda self, value: _set("allow_tf32", value))


sys.modules[__name__].__class__ = _MkldnnBackendModule
