"""Pooling layers: ``MaxPool1d/2d/3d``, ``AvgPool1d/2d/3d``, ``AdaptiveAvgPool1d/2d/3d``,
``AdaptiveMaxPool1d/2d/3d``, with PyTorch's arguments and repr."""

from __future__ import annotations

# the other pooling layers, kept in modules of their own, at PyTorch's path
from trainer.nn.modules.fractional_pool import FractionalMaxPool2d, FractionalMaxPool3d  # noqa: F401
from trainer.nn.modules.lp_pooling import LPPool1d, LPPool2d, LPPool3d, _LPPoolNd  # noqa: F401
from trainer.nn.modules.module import Module
from trainer.nn.modules.unpooling import MaxUnpool1d, MaxUnpool2d, MaxUnpool3d, _MaxUnpoolNd  # noqa: F401
from trainer.nn.modules.utils import _single
from trainer.ops import pool as _pool


class _MaxPoolNd(Module):
    _function: staticmethod  # the functional form for this layer's rank

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices: bool = False,
                 ceil_mode: bool = False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def forward(self, input):
        return self._function(input, self.kernel_size, self.stride, self.padding, self.dilation,
                              ceil_mode=self.ceil_mode, return_indices=self.return_indices)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool1d(_MaxPoolNd):
    _function = staticmethod(_pool.max_pool1d)


class MaxPool2d(_MaxPoolNd):
    _function = staticmethod(_pool.max_pool2d)


class MaxPool3d(_MaxPoolNd):
    _function = staticmethod(_pool.max_pool3d)


class _AvgPoolNd(Module):
    """What every average pool shares (PyTorch's base class of them): its repr."""

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class _DivisorAvgPoolNd(_AvgPoolNd):
    """The 2-D and 3-D average pools, which (unlike the 1-D one) take ``divisor_override``."""

    _function: staticmethod

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False, count_include_pad: bool = True,
                 divisor_override=None):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input):
        return self._function(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                              self.count_include_pad, self.divisor_override)


class AvgPool1d(_AvgPoolNd):
    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False, count_include_pad: bool = True):
        super().__init__()
        self.kernel_size = _single(kernel_size)
        self.stride = _single(stride if stride is not None else kernel_size)
        self.padding = _single(padding)
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad

    def forward(self, input):
        return _pool.avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                                self.count_include_pad)


class AvgPool2d(_DivisorAvgPoolNd):
    _function = staticmethod(_pool.avg_pool2d)


class AvgPool3d(_DivisorAvgPoolNd):
    _function = staticmethod(_pool.avg_pool3d)


class _AdaptiveAvgPoolNd(Module):
    _function: staticmethod

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, input):
        return self._function(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_AdaptiveAvgPoolNd):
    _function = staticmethod(_pool.adaptive_avg_pool1d)


class AdaptiveAvgPool2d(_AdaptiveAvgPoolNd):
    _function = staticmethod(_pool.adaptive_avg_pool2d)


class AdaptiveAvgPool3d(_AdaptiveAvgPoolNd):
    _function = staticmethod(_pool.adaptive_avg_pool3d)


class _AdaptiveMaxPoolNd(Module):
    _function: staticmethod

    def __init__(self, output_size, return_indices: bool = False):
        super().__init__()
        self.output_size = output_size
        self.return_indices = return_indices

    def forward(self, input):
        return self._function(input, self.output_size, self.return_indices)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool1d(_AdaptiveMaxPoolNd):
    _function = staticmethod(_pool.adaptive_max_pool1d)


class AdaptiveMaxPool2d(_AdaptiveMaxPoolNd):
    _function = staticmethod(_pool.adaptive_max_pool2d)


class AdaptiveMaxPool3d(_AdaptiveMaxPoolNd):
    _function = staticmethod(_pool.adaptive_max_pool3d)
