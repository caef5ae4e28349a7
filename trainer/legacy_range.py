"""``trainer.range``: PyTorch's deprecated inclusive range, ``[start, end]`` in steps of ``step``, of the default
float dtype unless told otherwise (``arange`` is the half-open one)."""

from __future__ import annotations

import math
import warnings

import numpy as np

from trainer.backend import cuda_context
from trainer.creation import _finish, _target


def range(start=0, end=None, step=1, *, dtype=None, device=None, requires_grad=False):  # noqa: A001
    warnings.warn("trainer.range is deprecated and will be removed in a future release because its behavior is "
                  "inconsistent with Python's range builtin. Instead, use trainer.arange, which produces values in "
                  "[start, end).", UserWarning, stacklevel=2)
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if (step > 0 and end < start) or (step < 0 and end > start):
        raise RuntimeError("upper bound and lower bound inconsistent with step sign")
    count = int(math.floor((end - start) / step)) + 1
    dev, xp, dt = _target(device, dtype)
    with cuda_context(dev):
        values = start + xp.arange(count, dtype=np.float64) * step  # in double, then cast, as PyTorch computes
        return _finish(values.astype(dt.np), requires_grad)
