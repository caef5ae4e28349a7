"""``torch.ao.nn.intrinsic.quantized.LinearReLU``: the quantized ``Linear`` with the ReLU fused into the
requantization, converted from a ``LinearReLU`` container or the QAT ``LinearReLU``."""

from __future__ import annotations

from trainer import quantized_types as qt
from trainer.ao.nn.intrinsic import fused as nni
from trainer.ao.nn.quantized import linear as nnq
from trainer.ao.nn.quantized.kernels import quantized_linear

__all__ = ["LinearReLU"]


class LinearReLU(nnq.Linear):
    """Quantized ``Linear`` + ``ReLU``."""

    _FLOAT_MODULE = nni.LinearReLU

    def __init__(self, in_features, out_features, bias=True, dtype=qt.qint8):
        super().__init__(in_features, out_features, bias, dtype)

    def forward(self, x):
        weight, bias = self._weight_bias()
        return quantized_linear(x, weight, bias, self.scale, self.zero_point, relu=True, op="linear_relu")

    def _get_name(self):
        return "QuantizedLinearReLU"
