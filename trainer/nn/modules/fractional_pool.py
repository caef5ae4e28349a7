"""Fractional max-pooling layers: ``FractionalMaxPool2d`` and ``FractionalMaxPool3d``, with PyTorch's arguments.

``_random_samples``, when given, is kept as a buffer (as PyTorch does), so every call pools with the same windows.
"""

from __future__ import annotations

from trainer.nn.modules.module import Module
from trainer.nn.modules.utils import _ntuple
from trainer.ops import fractional_pool as _fractional_pool


class _FractionalMaxPoolNd(Module):
    _rank: int
    _function: staticmethod  # the functional form for this layer's rank

    def __init__(self, kernel_size, output_size=None, output_ratio=None, return_indices: bool = False,
                 _random_samples=None):
        super().__init__()
        name = type(self).__name__
        as_tuple = _ntuple(self._rank)
        kernels = as_tuple(kernel_size)
        if self._rank == 3 and not all(k > 0 for k in kernels):
            raise ValueError(f"kernel_size must be greater than 0, but got {kernel_size}")
        self.kernel_size = kernels
        self.return_indices = return_indices
        self.register_buffer("_random_samples", _random_samples)
        self.output_size = as_tuple(output_size) if output_size is not None else None
        self.output_ratio = as_tuple(output_ratio) if output_ratio is not None else None
        if output_size is None and output_ratio is None:
            raise ValueError(f"{name} requires specifying either an output size, or a pooling ratio")
        if output_size is not None and output_ratio is not None:
            raise ValueError("only one of output_size and output_ratio may be specified")
        if self.output_ratio is not None and not all(0 < r < 1 for r in self.output_ratio):
            raise ValueError(f"output_ratio must be between 0 and 1 (got {output_ratio})")

    def forward(self, input):
        return self._function(input, self.kernel_size, self.output_size, self.output_ratio, self.return_indices,
                              _random_samples=self._random_samples)


class FractionalMaxPool2d(_FractionalMaxPoolNd):
    _rank = 2
    _function = staticmethod(_fractional_pool.fractional_max_pool2d)


class FractionalMaxPool3d(_FractionalMaxPoolNd):
    _rank = 3
    _function = staticmethod(_fractional_pool.fractional_max_pool3d)
