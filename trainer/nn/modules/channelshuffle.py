"""``ChannelShuffle``: interleave the channels of ``groups`` groups (ShuffleNet)."""

from __future__ import annotations

from trainer.nn.modules.module import Module
from trainer.ops.channel_shuffle import channel_shuffle


class ChannelShuffle(Module):
    def __init__(self, groups: int):
        super().__init__()
        self.groups = groups

    def forward(self, input):
        return channel_shuffle(input, self.groups)

    def extra_repr(self) -> str:
        return f"groups={self.groups}"
