"""``torch.nonzero_static``: ``nonzero`` with a fixed number of rows, so the result's shape does not depend on the
values (what compilers and exporters need)."""

from __future__ import annotations

from trainer.creation import full
from trainer.ops.indexing import nonzero
from trainer.ops.join import cat


def nonzero_static(input, *, size, fill_value=-1):
    """The first ``size`` rows of ``nonzero(input)``, padded with rows of ``fill_value`` when there are fewer."""
    if isinstance(size, bool) or not isinstance(size, int):
        raise TypeError(f"nonzero_static(): argument 'size' must be int, not {type(size).__name__}")
    if size < 0:
        raise RuntimeError("nonzero_static: 'size' must be an non-negative integer")
    found = nonzero(input)
    if found.shape[0] >= size:
        return found[:size]
    padding = full((size - found.shape[0], found.shape[1]), fill_value, dtype=found.dtype, device=found.device)
    return cat([found, padding])
