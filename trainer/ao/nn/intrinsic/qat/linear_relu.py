"""``torch.ao.nn.intrinsic.qat.LinearReLU``: a fake-quantized ``Linear`` followed by a ReLU."""

from __future__ import annotations

from trainer.ao.nn.intrinsic import fused as nni
from trainer.ao.nn.qat import linear as nnqat
from trainer.nn import functional as F
from trainer.nn.modules.activation import ReLU
from trainer.nn.modules.linear import Linear as FloatLinear
from trainer.nn.parameter import Parameter

__all__ = ["LinearReLU"]


class LinearReLU(nnqat.Linear, nni._FusedModule):
    """``Linear`` + ``ReLU`` fused for quantization-aware training."""

    _FLOAT_MODULE = nni.LinearReLU

    def __init__(self, in_features, out_features, bias=True, qconfig=None):
        super().__init__(in_features, out_features, bias, qconfig)

    def forward(self, input):
        return F.relu(F.linear(input, self.weight_fake_quant(self.weight), self.bias))

    def to_float(self):
        """The float ``LinearReLU`` container with a copy of the parameters."""
        linear = FloatLinear(self.in_features, self.out_features, self.bias is not None)
        linear.weight = Parameter(self.weight.detach())
        if self.bias is not None:
            linear.bias = Parameter(self.bias.detach())
        return nni.LinearReLU(linear, ReLU())
