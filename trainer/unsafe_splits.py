"""``torch.unsafe_split``, ``unsafe_split_with_sizes`` and ``unsafe_chunk``: in PyTorch they skip the checks that
guard in-place writes to the pieces; their values and gradients are those of the checked functions, which
these are."""

from __future__ import annotations

from trainer.ops.join import chunk, split
from trainer.ops.views import split_with_sizes


def unsafe_split(input, split_size, dim=0):
    return split(input, split_size, dim)


def unsafe_split_with_sizes(input, split_sizes, dim=0):
    return split_with_sizes(input, split_sizes, dim)


def unsafe_chunk(input, chunks, dim=0):
    return chunk(input, chunks, dim)
