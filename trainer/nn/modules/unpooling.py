"""``MaxUnpool1d``/``2d``/``3d``: the partial inverse of max pooling, given the pool's indices."""

from __future__ import annotations

from trainer.nn.modules.module import Module
from trainer.ops import unpool


def _tuple(value, n):
    return tuple(value) if isinstance(value, (list, tuple)) else (value,) * n


class _MaxUnpoolNd(Module):
    _rank: int
    _function: staticmethod

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = _tuple(kernel_size, self._rank)
        self.stride = _tuple(stride if stride is not None else kernel_size, self._rank)
        self.padding = _tuple(padding, self._rank)

    def forward(self, input, indices, output_size=None):
        return self._function(input, indices, self.kernel_size, self.stride, self.padding, output_size)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool1d(_MaxUnpoolNd):
    _rank = 1
    _function = staticmethod(unpool.max_unpool1d)


class MaxUnpool2d(_MaxUnpoolNd):
    _rank = 2
    _function = staticmethod(unpool.max_unpool2d)


class MaxUnpool3d(_MaxUnpoolNd):
    _rank = 3
    _function = staticmethod(unpool.max_unpool3d)
