"""``torch.ao.nn.qat.Conv1d/2d/3d``: convolutions whose weight passes through their qconfig's weight fake-quantize
module on every forward."""

from __future__ import annotations

from trainer.ao.nn.intrinsic.fused import _FusedModule
from trainer.ao.nn.qat.linear import _check_qconfig
from trainer.nn.modules import conv as float_conv
from trainer.nn.parameter import Parameter

__all__ = ["Conv1d", "Conv2d", "Conv3d"]


class _ConvNd:
    """What the QAT convolutions add to the float ones (mixed in before them): ``weight_fake_quant``, the
    conversions from and to float modules."""

    _FLOAT_MODULE: type
    _FLOAT_CONV_MODULE: type

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True,
                 padding_mode="zeros", qconfig=None, device=None, dtype=None):
        factory_kwargs = {"device": device, "dtype": dtype}
        self._FLOAT_CONV_MODULE.__init__(self, in_channels, out_channels, kernel_size, stride=stride,
                                         padding=padding, dilation=dilation, groups=groups, bias=bias,
                                         padding_mode=padding_mode, **factory_kwargs)
        if not qconfig:
            raise AssertionError("qconfig must be provided for QAT module")
        self.qconfig = qconfig
        self.weight_fake_quant = qconfig.weight(factory_kwargs=factory_kwargs)

    def _conv_forward(self, input, weight, bias):
        return self._named_errors(lambda: self._function(input, weight, bias, self.stride, self.padding,
                                                         self.dilation, self.groups))

    def forward(self, input):
        return self._conv_forward(input, self.weight_fake_quant(self.weight), self.bias)

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        """The QAT layer sharing the parameters of ``mod`` (the float convolution, or the fused container whose
        first module it is); ``mod`` must carry a ``qconfig``."""
        if type(mod) is not cls._FLOAT_MODULE:
            raise AssertionError(f"qat.{cls.__name__}.from_float only works for {cls._FLOAT_MODULE.__name__}, got "
                                 f"{type(mod).__name__}")
        _check_qconfig(mod)
        qconfig = mod.qconfig
        if isinstance(mod, _FusedModule):
            mod = mod[0]
        qat_conv = cls(mod.in_channels, mod.out_channels, mod.kernel_size, stride=mod.stride, padding=mod.padding,
                       dilation=mod.dilation, groups=mod.groups, bias=mod.bias is not None,
                       padding_mode=mod.padding_mode, qconfig=qconfig)
        qat_conv.weight = mod.weight
        qat_conv.bias = mod.bias
        return qat_conv

    def to_float(self):
        """The float convolution (followed by a ReLU in the fused container, for the fused QAT modules) with a copy
        of the parameters."""
        conv = float_copy(self)
        if isinstance(self, _FusedModule):
            fused = self._FLOAT_MODULE(conv, self._FLOAT_RELU_MODULE())
            fused.train(self.training)
            return fused
        return conv


def float_copy(qat_conv):
    """The float convolution of ``qat_conv``'s settings holding copies of its weight and bias."""
    conv = qat_conv._FLOAT_CONV_MODULE(qat_conv.in_channels, qat_conv.out_channels, qat_conv.kernel_size,
                                       qat_conv.stride, qat_conv.padding, qat_conv.dilation, qat_conv.groups,
                                       qat_conv.bias is not None, qat_conv.padding_mode)
    conv.weight = Parameter(qat_conv.weight.detach())
    if qat_conv.bias is not None:
        conv.bias = Parameter(qat_conv.bias.detach())
    return conv


class Conv1d(_ConvNd, float_conv.Conv1d):
    """``Conv1d`` with ``weight_fake_quant`` built from ``qconfig.weight``."""

    _FLOAT_MODULE = _FLOAT_CONV_MODULE = float_conv.Conv1d


class Conv2d(_ConvNd, float_conv.Conv2d):
    """``Conv2d`` with ``weight_fake_quant`` built from ``qconfig.weight``."""

    _FLOAT_MODULE = _FLOAT_CONV_MODULE = float_conv.Conv2d


class Conv3d(_ConvNd, float_conv.Conv3d):
    """``Conv3d`` with ``weight_fake_quant`` built from ``qconfig.weight``."""

    _FLOAT_MODULE = _FLOAT_CONV_MODULE = float_conv.Conv3d
