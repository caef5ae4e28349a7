"""``torch.ao.nn.quantized.Conv1d/2d/3d``: int8 convolutions on quint8 inputs, built from prepared (observed or QAT)
convolutions by ``from_float``; a conv-bn QAT module has its batch norm folded into the weight first. The state_dict
holds ``weight`` (the qint8 tensor), ``bias`` (float), ``scale`` and ``zero_point``, as PyTorch's."""

from __future__ import annotations

import trainer
from trainer import dtypes
from trainer import quantized_types as qt
from trainer.ao.nn.intrinsic import fused as nni
from trainer.ao.nn.intrinsic.qat import conv_fused as nniqat
from trainer.ao.nn.quantized.kernels import quantized_conv
from trainer.ao.nn.quantized.utils import _quantize_weight, load_output_grid, save_output_grid
from trainer.nn.modules import conv as float_conv
from trainer.nn.modules.module import Module
from trainer.nn.utils.fusion import fuse_conv_bn_weights

__all__ = ["Conv1d", "Conv2d", "Conv3d"]


class _ConvNd(Module):
    """What the quantized convolutions share; ``_DIMS`` is the number of spatial dimensions."""

    _DIMS: int
    _FLOAT_MODULE: type
    _NNIQAT_CONV_BN_MODULE: type | None
    _NNI_CONV_RELU_MODULE: type | None
    _FOLDED_QAT_MODULES: tuple = ()  # QAT modules besides _NNIQAT_CONV_BN_MODULE whose batch norm is folded in
    _RELU = False

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True,
                 padding_mode="zeros", device=None, dtype=None):
        super().__init__()
        if out_channels <= 0:
            raise ValueError(f"out_channels must be greater than 0, got {out_channels}")
        if in_channels % groups != 0:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups != 0:
            raise ValueError("out_channels must be divisible by groups")
        if padding_mode != "zeros":
            raise ValueError(f"'padding_mode' {padding_mode} is not supported by trainer's quantized convolution "
                             "(only 'zeros')")
        if isinstance(padding, str):
            raise ValueError(f"padding={padding!r} is not supported by the quantized convolution: give the "
                             "padding as numbers")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = self._tuple(kernel_size)
        self.stride, self.padding, self.dilation = self._tuple(stride), self._tuple(padding), self._tuple(dilation)
        self.transposed = False
        self.output_padding = self._tuple(0)
        self.groups = groups
        self.padding_mode = padding_mode
        qweight = trainer._make_per_tensor_quantized_tensor(
            trainer.zeros(out_channels, in_channels // groups, *self.kernel_size, dtype=dtypes.int8), 1.0, 0)
        self.set_weight_bias(qweight, trainer.zeros(out_channels) if bias else None)
        self.scale = 1.0
        self.zero_point = 0

    @classmethod
    def _tuple(cls, value) -> tuple:
        return tuple(value) if isinstance(value, (tuple, list)) else (value,) * cls._DIMS

    def _get_name(self):
        return f"Quantized{'ConvReLU' if self._RELU else 'Conv'}{self._DIMS}d"

    def extra_repr(self):
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
             f"scale={self.scale}, zero_point={self.zero_point}")
        if self.padding != (0,) * len(self.padding):
            s += f", padding={self.padding}"
        if self.dilation != (1,) * len(self.dilation):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias() is None:
            s += ", bias=False"
        return s

    def set_weight_bias(self, w, b) -> None:
        self._weight_and_bias = (w, b)

    def _weight_bias(self):
        return self._weight_and_bias

    def weight(self):
        return self._weight_and_bias[0]

    def bias(self):
        return self._weight_and_bias[1]

    def forward(self, input):
        if input.ndim != self._DIMS + 2:
            layout = {1: "(N, C, L)", 2: "(N, C, H, W)", 3: "(N, C, D, H, W)"}[self._DIMS]
            raise ValueError(f"Input shape must be `{layout}`!")
        weight, bias = self._weight_and_bias
        return quantized_conv(input, weight, bias, self.stride, self.padding, self.dilation, self.groups, self.scale,
                              self.zero_point, relu=self._RELU,
                              op=f"conv{self._DIMS}d{'_relu' if self._RELU else ''}")

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        super()._save_to_state_dict(destination, prefix, keep_vars)
        w, b = self._weight_and_bias
        destination[prefix + "weight"] = w
        destination[prefix + "bias"] = b
        save_output_grid(self, destination, prefix)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        self.set_weight_bias(state_dict.pop(prefix + "weight"), state_dict.pop(prefix + "bias"))
        load_output_grid(self, state_dict, prefix)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, False, missing_keys, unexpected_keys,
                                      error_msgs)

    @classmethod
    def get_qconv(cls, mod, activation_post_process, weight_post_process=None):
        """The quantized convolution for ``mod``: its weight observed once more and quantized on that grid, the
        output on ``activation_post_process``'s."""
        if weight_post_process is None:
            weight_post_process = mod.qconfig.weight()
        weight_post_process(mod.weight)
        if weight_post_process.dtype is not qt.qint8:
            raise AssertionError(f"Weight observer must have a dtype of qint8, got {weight_post_process.dtype!r}")
        qweight = _quantize_weight(mod.weight.detach().float(), weight_post_process)
        qconv = cls(mod.in_channels, mod.out_channels, mod.kernel_size, mod.stride, mod.padding, mod.dilation,
                    mod.groups, mod.bias is not None, mod.padding_mode)
        qconv.set_weight_bias(qweight, None if mod.bias is None else mod.bias.detach().float())
        if activation_post_process is not None:
            act_scale, act_zp = activation_post_process.calculate_qparams()
            qconv.scale = float(act_scale)
            qconv.zero_point = int(act_zp)
        return qconv

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        """From a prepared float convolution (or ``ConvReLU`` container), or from a QAT convolution (conv-bn ones
        folded with the running statistics)."""
        if hasattr(mod, "weight_fake_quant"):
            if type(mod) is cls._NNIQAT_CONV_BN_MODULE or type(mod) in cls._FOLDED_QAT_MODULES:
                mod.weight, mod.bias = fuse_conv_bn_weights(mod.weight, mod.bias, mod.bn.running_mean,
                                                            mod.bn.running_var, mod.bn.eps, mod.bn.weight,
                                                            mod.bn.bias)
            if not hasattr(mod, "activation_post_process"):
                raise AssertionError("Input QAT module must have observer attached")
            return cls.get_qconv(mod, mod.activation_post_process, mod.weight_fake_quant)
        if type(mod) is not cls._FLOAT_MODULE:
            raise AssertionError(f"nnq.{cls.__name__}.from_float only works for {cls._FLOAT_MODULE.__name__} but "
                                 f"got: {type(mod).__name__}")
        if not hasattr(mod, "qconfig"):
            raise AssertionError("Input float module must have qconfig defined.")
        activation_post_process = getattr(mod, "activation_post_process", None)
        if type(mod) is cls._NNI_CONV_RELU_MODULE:
            mod = mod[0]
        return cls.get_qconv(mod, activation_post_process, mod.qconfig.weight())


class Conv1d(_ConvNd):
    """Quantized ``Conv1d``: quint8 ``(N, C, L)`` in, quint8 out."""

    _DIMS = 1
    _FLOAT_MODULE = float_conv.Conv1d
    _NNIQAT_CONV_BN_MODULE = nniqat.ConvBn1d
    _NNI_CONV_RELU_MODULE = nni.ConvReLU1d


class Conv2d(_ConvNd):
    """Quantized ``Conv2d``: quint8 ``(N, C, H, W)`` in, quint8 out."""

    _DIMS = 2
    _FLOAT_MODULE = float_conv.Conv2d
    _NNIQAT_CONV_BN_MODULE = nniqat.ConvBn2d
    _NNI_CONV_RELU_MODULE = nni.ConvReLU2d


class Conv3d(_ConvNd):
    """Quantized ``Conv3d``: quint8 ``(N, C, D, H, W)`` in, quint8 out."""

    _DIMS = 3
    _FLOAT_MODULE = float_conv.Conv3d
    _NNIQAT_CONV_BN_MODULE = nniqat.ConvBn3d
    _NNI_CONV_RELU_MODULE = nni.ConvReLU3d
