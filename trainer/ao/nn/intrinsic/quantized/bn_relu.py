"""``torch.ao.nn.intrinsic.quantized.BNReLU2d``/``BNReLU3d``: the quantized batch norms with the ReLU fused into the
requantization (outputs clamped at the output zero point), converted from ``BNReLU`` containers."""

from __future__ import annotations

from trainer.ao.nn.intrinsic import fused as nni
from trainer.ao.nn.quantized import batchnorm as nnq

__all__ = ["BNReLU2d", "BNReLU3d"]


class _BNReLU:
    """The input-rank check PyTorch's fused modules make before the kernel, and ``from_reference`` from a
    ``BNReLU`` container."""

    _RELU = True
    _LAYOUT: str

    def forward(self, input):
        if len(input.shape) != self._DIMS + 2:
            raise ValueError(f"Input shape must be `{self._LAYOUT}`!")
        return super().forward(input)

    @classmethod
    def from_reference(cls, bn_relu, output_scale, output_zero_point):
        return super().from_reference(bn_relu[0], output_scale, output_zero_point)


class BNReLU2d(_BNReLU, nnq.BatchNorm2d):
    """Quantized ``BatchNorm2d`` + ``ReLU``."""

    _FLOAT_MODULE = nni.BNReLU2d
    _LAYOUT = "(N, C, H, W)"


class BNReLU3d(_BNReLU, nnq.BatchNorm3d):
    """Quantized ``BatchNorm3d`` + ``ReLU``."""

    _FLOAT_MODULE = nni.BNReLU3d
    _LAYOUT = "(N, C, D, H, W)"
