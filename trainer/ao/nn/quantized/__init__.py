"""``torch.ao.nn.quantized``: the int8 layers ``convert`` swaps in for prepared float and QAT layers (static
quantization: quint8 activations, qint8 weights, fbgemm's arithmetic), and ``Quantize``/``DeQuantize`` at the
edges of the quantized region."""

from trainer.ao.nn.quantized import dynamic, functional  # noqa: E402 - builds on Linear above
from trainer.ao.nn.quantized.activation import ELU, Hardswish, LeakyReLU, ReLU6
from trainer.ao.nn.quantized.batchnorm import BatchNorm2d, BatchNorm3d
from trainer.ao.nn.quantized.conv import Conv1d, Conv2d, Conv3d
from trainer.ao.nn.quantized.functional_modules import FloatFunctional, QFunctional
from trainer.ao.nn.quantized.linear import Linear, LinearPackedParams
from trainer.ao.nn.quantized.stubs import DeQuantize, Quantize

__all__ = ["BatchNorm2d", "BatchNorm3d", "Conv1d", "Conv2d", "Conv3d", "DeQuantize", "ELU", "FloatFunctional",
           "Hardswish", "LeakyReLU", "Linear",
           "LinearPackedParams", "QFunctional", "Quantize", "ReLU6"]
