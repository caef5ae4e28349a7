"""``torch.ao.nn.intrinsic.quantized.ConvReLU1d/2d/3d``: quantized convolutions with the ReLU fused into the
requantization, converted from ``ConvReLU`` containers and from the QAT ``ConvReLU``/``ConvBnReLU`` modules."""

from __future__ import annotations

from trainer.ao.nn.intrinsic import fused as nni
from trainer.ao.nn.intrinsic.qat import conv_fused as nniqat
from trainer.ao.nn.quantized import conv as nnq

__all__ = ["ConvReLU1d", "ConvReLU2d", "ConvReLU3d"]


class ConvReLU1d(nnq.Conv1d):
    """Quantized ``Conv1d`` + ``ReLU``."""

    _RELU = True
    _FLOAT_MODULE = nni.ConvReLU1d
    _FOLDED_QAT_MODULES = (nniqat.ConvBnReLU1d,)


class ConvReLU2d(nnq.Conv2d):
    """Quantized ``Conv2d`` + ``ReLU``."""

    _RELU = True
    _FLOAT_MODULE = nni.ConvReLU2d
    _FOLDED_QAT_MODULES = (nniqat.ConvBnReLU2d,)


class ConvReLU3d(nnq.Conv3d):
    """Quantized ``Conv3d`` + ``ReLU``."""

    _RELU = True
    _FLOAT_MODULE = nni.ConvReLU3d
    _FOLDED_QAT_MODULES = (nniqat.ConvBnReLU3d,)
