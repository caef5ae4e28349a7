"""``trainer.backends.quantized``: which int8 engine quantized modules are meant for, as PyTorch's
``torch.backends.quantized`` (``engine`` to read or set, ``supported_engines`` to list).

trainer's int8 kernels follow fbgemm's arithmetic (PyTorch's x86 engine) whatever engine is set; the setting is
kept so that scripts choosing one (``torch.backends.quantized.engine = "qnnpack"``) run unchanged, and code that
reads it to pick a qconfig sees its choice.
"""

from __future__ import annotations

import sys
import types

# c10's QEngine enum, in its order
_ENGINE_NAMES = ("none", "fbgemm", "qnnpack", "onednn", "x86")
_SUPPORTED_ENGINES = ("qnnpack", "onednn", "x86", "fbgemm")  # what PyTorch's x86 builds list

_engine = "x86"


def _set_engine(value) -> None:
    global _engine
    if value is None or value == "":
        value = "none"
    if value not in _ENGINE_NAMES:
        raise RuntimeError(f"{value} is not a valid value for quantized engine")
    if value not in _SUPPORTED_ENGINES:
        raise RuntimeError(f"quantized engine {value} is not supported; supported engines are "
                           f"{list(_SUPPORTED_ENGINES)}")
    _engine = value


class _QuantizedBackendModule(types.ModuleType):
    """This module, with ``engine`` and ``supported_engines`` as properties (PyTorch validates on assignment)."""

    @property
    def engine(self) -> str:
        return _engine

    @engine.setter
    def engine(self, value) -> None:
        _set_engine(value)

    @property
    def supported_engines(self) -> list[str]:
        return list(_SUPPORTED_ENGINES)

    @supported_engines.setter
    def supported_engines(self, value) -> None:
        raise RuntimeError("Assignment not supported")


sys.modules[__name__].__class__ = _QuantizedBackendModule
