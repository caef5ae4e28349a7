"""``MaxUnpool1d``/``2d``/``3d``: the partial inverse of max pooling, given the pool's indices."""

from __future__ import annotations

from trainer.nn.modules.module import Module
from trainer.nn.modules.utils import _ntuple
from trainer.ops import unpool


class _MaxUnpoolNd(Module):
    _rank: int
    _function: staticmethod

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        as_tuple = _ntuple(self._rank)
        self.kernel_size = as_tuple(kernel_size)
        self.stride = as_tuple(stride if stride is not None else kernel_size)
        self.padding = as_tuple(padding)

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
