"""Process-wide switches that PyTorch scripts set at start-up: deterministic algorithms, float32 matmul
precision and warn-always.

They are recorded and read back exactly as in PyTorch, but trainer's kernels do not consult them: the NumPy
kernels are deterministic and run matmuls in full float32 anyway (PyTorch ignores these switches on the CPU too),
and the CuPy kernels are not checked against the deterministic-algorithms list or switched to TF32.
"""

from __future__ import annotations

import builtins
import warnings

_deterministic = {"mode": False, "warn_only": False}
_DEBUG_MODES = {"default": 0, "warn": 1, "error": 2}
_MATMUL_PRECISIONS = ("highest", "high", "medium")
_matmul_precision = ["highest"]
_warn_always = [False]


def use_deterministic_algorithms(mode: bool, *, warn_only: bool = False) -> None:
    """Record whether only deterministic algorithms may be used (and whether breaking that only warns)."""
    for name, value in (("mode", mode), ("warn_only", warn_only)):
        if not isinstance(value, builtins.bool):
            raise TypeError(f"use_deterministic_algorithms(): argument '{name}' must be bool, not "
                            f"{type(value).__name__}")
    _deterministic["mode"], _deterministic["warn_only"] = mode, warn_only


def are_deterministic_algorithms_enabled() -> bool:
    return _deterministic["mode"]


def is_deterministic_algorithms_warn_only_enabled() -> bool:
    return _deterministic["warn_only"]


def set_deterministic_debug_mode(debug_mode: str | int) -> None:
    """``0``/``"default"``: off; ``1``/``"warn"``: deterministic, warn only; ``2``/``"error"``: deterministic."""
    if isinstance(debug_mode, str):
        if debug_mode not in _DEBUG_MODES:
            raise RuntimeError("invalid value of debug_mode, expected one of `default`, `warn`, `error`, but got "
                               f"{debug_mode}")
        debug_mode = _DEBUG_MODES[debug_mode]
    elif not isinstance(debug_mode, builtins.int) or isinstance(debug_mode, builtins.bool):
        raise TypeError(f"debug_mode must be str or int, but got {type(debug_mode).__name__}")
    if debug_mode not in (0, 1, 2):
        raise RuntimeError(f"invalid value of debug_mode, expected 0, 1, or 2, but got {debug_mode}")
    use_deterministic_algorithms(debug_mode != 0, warn_only=debug_mode == 1)


def get_deterministic_debug_mode() -> int:
    if not _deterministic["mode"]:
        return 0
    return 1 if _deterministic["warn_only"] else 2


def set_float32_matmul_precision(precision: str) -> None:
    """``"highest"``, ``"high"`` or ``"medium"``; as in PyTorch, any other value warns and changes nothing."""
    if precision not in _MATMUL_PRECISIONS:
        warnings.warn(f"{precision} is not one of 'highest', 'high', or 'medium'; the current "
                      "set_float32_matmul_precision call has no effect.", UserWarning, stacklevel=2)
        return
    _matmul_precision[0] = precision


def get_float32_matmul_precision() -> str:
    return _matmul_precision[0]


def set_warn_always(b: bool) -> None:
    """Record PyTorch's warn-always switch; trainer issues every warning through Python's ``warnings``, whose
    own filters decide how often it is shown."""
    _warn_always[0] = builtins.bool(b)


def is_warn_always_enabled() -> bool:
    return _warn_always[0]
