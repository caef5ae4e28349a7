"""``nanmedian`` and ``mode``, each giving values and the int64 index each came from, as in PyTorch."""

from __future__ import annotations

import numpy as np

from trainer.backend import xp_of
from trainer.ops._operands import normalize_dim
from trainer.ops.sort import KthValue, _as_1d, _values_indices, sort


def nanmedian(a, dim=None, keepdim=False):
    """The lower median of the values that are not NaN (NaN where all are); with ``dim``, also its index."""
    if dim is None:
        return nanmedian(a.reshape(-1), 0).values
    was_0d = not a._data.ndim
    a, axis = _as_1d(a, dim) if was_0d else (a, normalize_dim(dim, a._data.ndim))
    if not a.shape[axis]:
        raise IndexError(f"nanmedian(): Expected reduction dim {axis} to have non-zero size.")
    ordered = sort(a, axis)  # NaN sorts last
    count = (~a.isnan()).sum(axis, keepdim=True)
    k = ((count - 1) // 2).clamp(min=0)
    values, indices = ordered.values.gather(axis, k), ordered.indices.gather(axis, k)
    if not (keepdim or was_0d):
        values, indices = values.squeeze(axis), indices.squeeze(axis)
    return _values_indices(values, indices, was_0d)


class Mode(KthValue):
    """The most frequent value along ``dim`` (the smallest among ties) and the last index holding it; the gradient
    goes to that element, as KthValue's does."""

    @staticmethod
    def forward(ctx, a, dim, keepdim=False):
        xp = xp_of(a)
        ordered = xp.sort(a, axis=dim)
        n = a.shape[dim]
        shape = [1] * a.ndim
        shape[dim] = n
        positions = xp.arange(n).reshape(shape)
        first = xp.ones_like(ordered, dtype=bool)
        xp.copyto(xp.moveaxis(first, dim, 0)[1:], xp.moveaxis(ordered, dim, 0)[1:] != xp.moveaxis(ordered, dim, 0)[:-1])
        run_start = xp.maximum.accumulate(xp.where(first, positions, 0), axis=dim)
        # the first longest run is the smallest of the most frequent values
        best = xp.argmax(positions - run_start, axis=dim)
        value = xp.take_along_axis(ordered, xp.expand_dims(best, dim), axis=dim)
        indices = xp.max(xp.where(a == value, positions, -1), axis=dim, keepdims=True)
        ctx.meta = a.shape, dim, indices
        values = xp.take_along_axis(a, indices, axis=dim)
        if not keepdim:
            values, indices = values.squeeze(dim), indices.squeeze(dim)
        return values, indices.astype(np.int64, copy=False)


def mode(a, dim=-1, keepdim=False):
    was_0d = not a._data.ndim
    a, axis = _as_1d(a, dim) if was_0d else (a, normalize_dim(dim, a._data.ndim))
    if not a.shape[axis]:
        raise IndexError(f"mode(): Expected reduction dim {axis} to have non-zero size.")
    return _values_indices(*Mode.apply(a, dim=axis, keepdim=keepdim or was_0d), was_0d)
