"""``channel_shuffle``: interleave the channels of ``groups`` groups (ShuffleNet's shuffle), as PyTorch's.

Channel ``g * (C / groups) + i`` moves to ``i * groups + g``: a reshape to ``(N, groups, C / groups, ...)``, a
swap of those two axes and a reshape back, so it is differentiable and exports through those ops (the sizes are
read from the input, so the batch stays dynamic).
"""

from __future__ import annotations


def channel_shuffle(input, groups: int):
    """``torch.nn.functional.channel_shuffle`` (and ``torch.channel_shuffle``) on ``(N, C, *)`` input."""
    if input.ndim <= 2:
        raise RuntimeError(f"channel_shuffle expects input with > 2 dims, but got input with sizes "
                           f"{list(input.shape)}")
    if groups <= 0:
        raise RuntimeError(f"Number of groups to divide channels in must be positive. Value of groups:{groups}")
    batch, channels, *rest = input.shape
    if channels % groups:
        raise RuntimeError(f"Number of channels must be divisible by groups. Got {channels} channels and {groups} "
                           "groups.")
    grouped = input.reshape(batch, groups, channels // groups, *rest)
    return grouped.transpose(1, 2).reshape(batch, channels, *rest)
