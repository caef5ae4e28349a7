"""``Fn``: a plain function wrapped as a module, so that the exporter tests can export single ops."""

from trainer import nn


class Fn(nn.Module):
    """A module whose forward is ``fn(x)``."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)
