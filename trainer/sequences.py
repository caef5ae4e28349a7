"""Creation of regular sequences beside ``arange``/``linspace``: ``logspace`` and the index lists of a matrix's
lower and upper triangle (``tril_indices``, ``triu_indices``)."""

from __future__ import annotations

import numpy as np

from trainer import dtypes
from trainer.backend import cuda_context
from trainer.creation import _finish, _target


def logspace(start, end, steps, base=10.0, *, dtype=None, device=None, requires_grad=False):
    """``base ** e`` for ``steps`` exponents ``e`` evenly spaced from ``start`` to ``end``, as PyTorch computes
    them: ``start`` and ``end`` in the result's dtype, the exponents in it too (in float64 for integer results),
    the first half stepped up from ``start`` and the second down from ``end``, the power in float64."""
    steps = int(steps)
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    dev, xp, dt = _target(device, dtype)
    exponent_type = dt.np.type if dt.is_floating_point else np.float64
    low, high = (exponent_type(dt.np.type(v)) for v in (start, end))
    step = (high - low) / exponent_type(max(steps - 1, 1))
    with cuda_context(dev):
        index = xp.arange(steps).astype(exponent_type)
        exponents = xp.where(index < steps // 2, low + step * index, high - step * (steps - 1 - index))
        if steps == 1:  # one point is the start, as in PyTorch
            exponents = xp.full(1, low)
        return _finish(xp.power(float(base), exponents.astype(np.float64)).astype(dt.np), requires_grad)


def _triangle_indices(op, row, col, offset, dtype, device, upper):
    if row < 0:
        raise RuntimeError(f"row must be non-negative, got{row}")
    if col < 0:
        raise RuntimeError(f"col must be non-negative, got{col}")
    dev, xp, dt = _target(device, dtype, dtypes.int64)
    if dt.np.kind not in "iu":
        raise NotImplementedError(f"\"{op}\" not implemented for '{dt.name}'")
    with cuda_context(dev):
        rows, cols = (xp.triu_indices if upper else xp.tril_indices)(row, int(offset), col)
        return _finish(xp.stack([rows, cols]).astype(dt.np), False)


def tril_indices(row, col, offset=0, *, dtype=None, device=None):
    """The (row, column) indices of the lower triangle of a ``row x col`` matrix (from diagonal ``offset`` down),
    in row-major order, as a ``2 x N`` tensor."""
    return _triangle_indices("tril_indices", row, col, offset, dtype, device, upper=False)


def triu_indices(row, col, offset=0, *, dtype=None, device=None):
    """The (row, column) indices of the upper triangle of a ``row x col`` matrix (from diagonal ``offset`` up)."""
    return _triangle_indices("triu_indices", row, col, offset, dtype, device, upper=True)
