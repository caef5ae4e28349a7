"""``torch.ao.nn.quantized``: the int8 layers ``convert`` swaps in for prepared float and QAT layers (static
quantization: quint8 activations, qint8 weights, fbgemm's arithmetic), and ``Quantize``/``DeQuantize`` at the
edges of the quantized region."""

from trainer.ao.nn.quantized import dynamic, functional  # noqa: E402 - builds on Linear above
from trainer.ao.nn.quantized.activation import ELU, Hardswish, LeakyReLU, ReLU6
from trainer.ao.nn.quantized.batchnorm import BatchNorm2d, BatchNorm3d
from trainer.ao.nn.quantized.conv import Conv1d, Conv2d, Conv3d
from trainer.ao.nn.quantized.conv_transpose import ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from trainer.ao.nn.quantized.dropout import Dropout
from trainer.ao.nn.quantized.embedding_ops import Embedding, EmbeddingBag, EmbeddingPackedParams
from trainer.ao.nn.quantized.functional_modules import FloatFunctional, QFunctional
from trainer.ao.nn.quantized.linear import Linear, LinearPackedParams
from trainer.ao.nn.quantized.normalization import GroupNorm, InstanceNorm1d, InstanceNorm2d, InstanceNorm3d, LayerNorm
from trainer.ao.nn.quantized.sigmoid_softmax_prelu import PReLU, Sigmoid, Softmax
from trainer.ao.nn.quantized.stubs import DeQuantize, Quantize
from trainer.nn.modules.pooling import MaxPool2d

__all__ = ["BatchNorm2d", "BatchNorm3d", "Conv1d", "Conv2d", "Conv3d", "DeQuantize", "ELU", "FloatFunctional",
           "Hardswish", "LeakyReLU", "Linear",
           "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d", "Dropout", "Embedding", "EmbeddingBag",
           "EmbeddingPackedParams", "GroupNorm", "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d", "LayerNorm",
           "MaxPool2d", "PReLU", "Sigmoid", "Softmax",
           "LinearPackedParams", "QFunctional", "Quantize", "ReLU6"]
