"""``torch.ao.nn.intrinsic.qat`` convolutions: ``ConvBn``/``ConvBnReLU`` (batch norm kept as a child and folded into
the fake-quantized weight, as PyTorch's ``_ConvBnNd`` trains it) and ``ConvReLU``.

The conv-bn forward is PyTorch's one-pass approximation: the weight is scaled by ``bn.weight / running_std`` before
fake quantization (the grid the folded inference weight will use), the convolution's output is divided back by that
factor, the conv bias added, and the batch norm applied as usual, so its batch statistics and running statistics
evolve as in the float model. ``freeze_bn_stats`` switches the batch norm to its running statistics for the rest
of training."""

from __future__ import annotations

import math

import trainer
from trainer.ao.nn.intrinsic import fused as nni
from trainer.ao.nn.qat import conv as nnqat
from trainer.ao.nn.qat.linear import _check_qconfig
from trainer.nn import functional as F
from trainer.nn import init
from trainer.nn.modules import conv as float_conv
from trainer.nn.modules.activation import ReLU
from trainer.nn.modules.batchnorm import BatchNorm1d, BatchNorm2d, BatchNorm3d
from trainer.nn.parameter import Parameter
from trainer.nn.utils.fusion import fuse_conv_bn_weights

__all__ = [
    "ConvBn1d",
    "ConvBn2d",
    "ConvBn3d",
    "ConvBnReLU1d",
    "ConvBnReLU2d",
    "ConvBnReLU3d",
    "ConvReLU1d",
    "ConvReLU2d",
    "ConvReLU3d",
    "freeze_bn_stats",
    "update_bn_stats",
]


class _BnStatsSwitch:
    """The batch-norm switches shared by the fused QAT modules that keep a ``bn`` child."""

    def reset_running_stats(self):
        self.bn.reset_running_stats()

    def update_bn_stats(self):
        """Let the batch norm normalise by batch statistics and update its running ones (training)."""
        self.freeze_bn = False
        self.bn.training = True
        return self

    def freeze_bn_stats(self):
        """Normalise by the running statistics from now on, and stop updating them."""
        self.freeze_bn = True
        self.bn.training = False
        return self

    def train(self, mode=True):
        # a frozen batch norm stays in eval mode whatever model.train() says
        self.training = mode
        if not self.freeze_bn:
            for module in self.children():
                module.train(mode)
        return self

    def _init_bn(self, bn, freeze_bn: bool, qconfig) -> None:
        """PyTorch's order of construction: qconfig, ``bn``, ``weight_fake_quant``; then the statistics switch."""
        if not qconfig:
            raise AssertionError("qconfig must be provided for QAT module")
        self.qconfig = qconfig
        self.freeze_bn = freeze_bn if self.training else True
        self.bn = bn
        self.weight_fake_quant = self.qconfig.weight()

    def _start_bn_stats(self, freeze_bn: bool) -> None:
        if self.training and not freeze_bn:
            self.update_bn_stats()
        else:
            self.freeze_bn_stats()

    def _scaled_weight_forward(self, input, run):
        """``bn(run(x, fake_quant(W * gamma / running_std)) / (gamma / running_std) + b)``: ``run`` applies the
        layer's linear map with a zero bias."""
        running_std = trainer.sqrt(self.bn.running_var + self.bn.eps)
        scale_factor = self.bn.weight / running_std
        weight_shape = [1] * self.weight.ndim
        weight_shape[0] = -1
        bias_shape = [1] * self.weight.ndim
        bias_shape[1] = -1
        scaled_weight = self.weight_fake_quant(self.weight * scale_factor.reshape(weight_shape))
        zero_bias = trainer.zeros(self.weight.shape[0], device=scaled_weight.device, dtype=input.dtype)
        out = run(input, scaled_weight, zero_bias) / scale_factor.reshape(bias_shape)
        if self.bias is not None:
            out = out + self.bias.reshape(bias_shape)
        return self.bn(out)


class _ConvBnNd(_BnStatsSwitch, float_conv._ConvNd, nni._FusedModule):
    """A convolution and its batch norm trained as one fake-quantized convolution."""

    _BN_MODULE: type
    _FLOAT_MODULE: type
    _FLOAT_CONV_MODULE: type
    _FLOAT_BN_MODULE: type | None
    _FLOAT_RELU_MODULE: type | None = None
    _FUSED_FLOAT_MODULE: type | None = None

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=None,
                 padding_mode="zeros", eps=1e-05, momentum=0.1, freeze_bn=False, qconfig=None):
        float_conv._ConvNd.__init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                                    False, padding_mode)
        self._init_bn(self._FLOAT_BN_MODULE(out_channels, eps, momentum, True, True), freeze_bn, qconfig)
        if bias:
            self.bias = Parameter(trainer.empty(out_channels))
        else:
            self.register_parameter("bias", None)
        self.reset_bn_parameters()
        self._start_bn_stats(freeze_bn)

    def reset_bn_parameters(self):
        self.bn.reset_running_stats()
        init.uniform_(self.bn.weight)
        init.zeros_(self.bn.bias)
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in)
            init.uniform_(self.bias, -bound, bound)

    _conv_forward = nnqat._ConvNd._conv_forward

    def _forward(self, input):
        return self._scaled_weight_forward(input, self._conv_forward)

    def forward(self, input):
        return self._forward(input)

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        """The QAT module sharing the parameters and statistics of the fused float container ``mod``."""
        if type(mod) is not cls._FLOAT_MODULE:
            raise AssertionError(f"qat.{cls.__name__}.from_float only works for {cls._FLOAT_MODULE.__name__}, got "
                                 f"{type(mod).__name__}")
        _check_qconfig(mod)
        conv, bn = mod[0], mod[1]
        qat_convbn = cls(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                         conv.dilation, conv.groups, conv.bias is not None, conv.padding_mode, bn.eps, bn.momentum,
                         False, mod.qconfig)
        qat_convbn.weight = conv.weight
        qat_convbn.bias = conv.bias
        _share_bn(qat_convbn.bn, bn)
        return qat_convbn

    def to_float(self):
        """The float convolution with the batch norm folded in (running statistics), followed by a ReLU in a
        ``ConvReLU`` container for the ReLU variants."""
        conv = nnqat.float_copy(self)
        conv.weight, conv.bias = fuse_conv_bn_weights(conv.weight, conv.bias, self.bn.running_mean,
                                                      self.bn.running_var, self.bn.eps, self.bn.weight, self.bn.bias)
        if self._FLOAT_RELU_MODULE is not None:
            conv_relu = self._FUSED_FLOAT_MODULE(conv, self._FLOAT_RELU_MODULE())
            conv_relu.train(self.training)
            return conv_relu
        conv.train(self.training)
        return conv


def _share_bn(target, source) -> None:
    """Make ``target`` use ``source``'s affine parameters and running statistics (the same tensors)."""
    target.weight = source.weight
    target.bias = source.bias
    target.running_mean = source.running_mean
    target.running_var = source.running_var
    target.num_batches_tracked = source.num_batches_tracked


class _ConvBnReLU:
    """The ReLU after the folded conv-bn."""

    def forward(self, input):
        return F.relu(self._forward(input))


class ConvBn1d(_ConvBnNd, float_conv.Conv1d):
    """``Conv1d`` + ``BatchNorm1d`` fused for quantization-aware training."""

    _FLOAT_MODULE, _FLOAT_CONV_MODULE, _FLOAT_BN_MODULE = nni.ConvBn1d, float_conv.Conv1d, BatchNorm1d


class ConvBn2d(_ConvBnNd, float_conv.Conv2d):
    """``Conv2d`` + ``BatchNorm2d`` fused for quantization-aware training."""

    _FLOAT_MODULE, _FLOAT_CONV_MODULE, _FLOAT_BN_MODULE = nni.ConvBn2d, float_conv.Conv2d, BatchNorm2d


class ConvBn3d(_ConvBnNd, float_conv.Conv3d):
    """``Conv3d`` + ``BatchNorm3d`` fused for quantization-aware training."""

    _FLOAT_MODULE, _FLOAT_CONV_MODULE, _FLOAT_BN_MODULE = nni.ConvBn3d, float_conv.Conv3d, BatchNorm3d


class ConvBnReLU1d(_ConvBnReLU, ConvBn1d):
    """``Conv1d`` + ``BatchNorm1d`` + ``ReLU`` fused for quantization-aware training."""

    _FLOAT_MODULE, _FLOAT_RELU_MODULE, _FUSED_FLOAT_MODULE = nni.ConvBnReLU1d, ReLU, nni.ConvReLU1d


class ConvBnReLU2d(_ConvBnReLU, ConvBn2d):
    """``Conv2d`` + ``BatchNorm2d`` + ``ReLU`` fused for quantization-aware training."""

    _FLOAT_MODULE, _FLOAT_RELU_MODULE, _FUSED_FLOAT_MODULE = nni.ConvBnReLU2d, ReLU, nni.ConvReLU2d


class ConvBnReLU3d(_ConvBnReLU, ConvBn3d):
    """``Conv3d`` + ``BatchNorm3d`` + ``ReLU`` fused for quantization-aware training."""

    _FLOAT_MODULE, _FLOAT_RELU_MODULE, _FUSED_FLOAT_MODULE = nni.ConvBnReLU3d, ReLU, nni.ConvReLU3d


class _ConvReLU:
    """A fake-quantized convolution followed by a ReLU (mixed in before the QAT convolution)."""

    _FLOAT_RELU_MODULE = ReLU

    def forward(self, input):
        return F.relu(self._conv_forward(input, self.weight_fake_quant(self.weight), self.bias))


class ConvReLU1d(_ConvReLU, nnqat.Conv1d, nni._FusedModule):
    """``Conv1d`` + ``ReLU`` fused for quantization-aware training."""

    _FLOAT_MODULE = nni.ConvReLU1d


class ConvReLU2d(_ConvReLU, nnqat.Conv2d, nni._FusedModule):
    """``Conv2d`` + ``ReLU`` fused for quantization-aware training."""

    _FLOAT_MODULE = nni.ConvReLU2d


class ConvReLU3d(_ConvReLU, nnqat.Conv3d, nni._FusedModule):
    """``Conv3d`` + ``ReLU`` fused for quantization-aware training."""

    _FLOAT_MODULE = nni.ConvReLU3d


_CONV_BN_TYPES = {ConvBn1d, ConvBn2d, ConvBn3d, ConvBnReLU1d, ConvBnReLU2d, ConvBnReLU3d}


def update_bn_stats(mod):
    """``model.apply(update_bn_stats)``: batch statistics again in every conv-bn QAT module (exactly these types,
    as PyTorch's)."""
    if type(mod) in _CONV_BN_TYPES:
        mod.update_bn_stats()


def freeze_bn_stats(mod):
    """``model.apply(freeze_bn_stats)``: running statistics from now on in every conv-bn QAT module."""
    if type(mod) in _CONV_BN_TYPES:
        mod.freeze_bn_stats()
