"""``torch.ao.nn.intrinsic.quantized``: the int8 versions of the fused modules, conv + ReLU and linear + ReLU (the
ReLU applied by clamping the requantized output at its zero point)."""

from trainer.ao.nn.intrinsic.quantized.bn_relu import BNReLU2d, BNReLU3d
from trainer.ao.nn.intrinsic.quantized.conv_relu import ConvReLU1d, ConvReLU2d, ConvReLU3d
from trainer.ao.nn.intrinsic.quantized.linear_relu import LinearReLU

__all__ = ["BNReLU2d", "BNReLU3d", "ConvReLU1d", "ConvReLU2d", "ConvReLU3d", "LinearReLU"]
