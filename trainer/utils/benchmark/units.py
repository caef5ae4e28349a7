"""Time units and rounding for printed measurements, as ``torch.utils.benchmark`` computes them.

PyTorch evaluates these through ``torch.tensor(python_float)``, i.e. in float32; the same float32 steps are mirrored
here with NumPy scalars so that units, digit counts and trimmed values come out identical at every boundary.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

_UNIT_BY_THOUSANDS_EXPONENT = {-3: "ns", -2: "us", -1: "ms"}
_SCALE_OF_UNIT = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1}
_ENGLISH_UNIT = {"ns": "nanosecond", "us": "microsecond", "ms": "millisecond", "s": "second"}


def log10_float32(x: float) -> float:
    """``torch.tensor(x).log10().item()``: log10 of ``x`` rounded to float32, as a float32 value.

    Evaluated in float64 and then rounded, because NumPy's float32 log10 can be an ulp off (it gives
    -6.0000005 for 1e-6, where PyTorch gives -6.0, which changes the unit chosen)."""
    with np.errstate(divide="ignore", invalid="ignore"):  # torch returns -inf/nan silently
        return float(np.float32(np.log10(np.float64(np.float32(x)))))


def select_unit(t: float) -> tuple[str, float]:
    """The unit (and its scale in seconds) that shows ``t`` seconds with one to three leading digits."""
    unit = _UNIT_BY_THOUSANDS_EXPONENT.get(int(log10_float32(t) // 3), "s")
    return unit, _SCALE_OF_UNIT[unit]


def unit_to_english(u: str) -> str:
    return _ENGLISH_UNIT[u]


def trim_sigfig(x: float, n: int) -> float:
    """``x`` rounded to ``n`` significant figures (3.14159, 2 -> 3.1), in float32 as PyTorch rounds it."""
    if n != int(n):
        raise AssertionError("Number of significant figures must be an integer")
    magnitude = int(np.ceil(log10_float32(abs(x))))
    scale = 10 ** (magnitude - n)
    return float(np.round(np.float32(x / scale)) * np.float32(scale))


def ordered_unique(elements: Iterable[Any]) -> list[Any]:
    """The distinct elements in order of first appearance."""
    return list(dict.fromkeys(elements))
