"""``LPPool1d``/``2d``/``3d``: power-average pooling, ``(sum over each window of x ** p) ** (1 / p)``."""

from __future__ import annotations

from trainer.nn.modules.module import Module
from trainer.ops import pool_forms


class _LPPoolNd(Module):
    _function: staticmethod

    def __init__(self, norm_type, kernel_size, stride=None, ceil_mode: bool = False):
        super().__init__()
        self.norm_type = norm_type
        self.kernel_size = kernel_size
        self.stride = stride
        self.ceil_mode = ceil_mode

    def forward(self, input):
        return self._function(input, float(self.norm_type), self.kernel_size, self.stride, self.ceil_mode)

    def extra_repr(self) -> str:
        return (f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"ceil_mode={self.ceil_mode}")


class LPPool1d(_LPPoolNd):
    _function = staticmethod(pool_forms.lp_pool1d)


class LPPool2d(_LPPoolNd):
    _function = staticmethod(pool_forms.lp_pool2d)


class LPPool3d(_LPPoolNd):
    _function = staticmethod(pool_forms.lp_pool3d)
