"""``torch.ao.nn.quantized.ConvTranspose1d/2d/3d``: int8 transposed convolutions on quint8 inputs, built from
prepared float ones by ``from_float``. The arithmetic is fbgemm's, as for the quantized convolutions (``kernels``):
exact integer sums of the centred input and weight, then the same float32 requantization with the bias. The weight
is ``(C_in, C_out / groups, *kernel)`` and quantized per tensor (PyTorch has no per-channel transposed convolution);
the state_dict holds ``weight``, ``bias``, ``scale`` and ``zero_point``, as PyTorch's."""

from __future__ import annotations

import numpy as np

import trainer
from trainer import dtypes
from trainer import quantized_types as qt
from trainer.ao.nn.quantized.conv import _ConvNd
from trainer.ao.nn.quantized.kernels import _activation, _centered_weight, _requantized
from trainer.ao.nn.quantized.utils import _quantize_weight
from trainer.autograd import no_grad
from trainer.nn.modules import conv as float_conv
from trainer.nn.modules.module import Module
from trainer.tensor import Tensor

__all__ = ["ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d"]

_PER_CHANNEL = (qt.per_channel_affine, qt.per_channel_symmetric, qt.per_channel_affine_float_qparams)


def _quantized_conv_transpose(dims: int, input, weight, bias, stride, padding, output_padding, groups, dilation,
                              scale: float, zero_point: int):
    op = f"conv_transpose{dims}d"
    data = _activation(input, op)
    w = weight._data
    if w.axis is not None:
        raise RuntimeError(f"quantized::{op} (fbgemm): per-channel quantized weights are not supported for "
                           "transposed convolutions; quantize the weight per tensor")
    if data.ndim != dims + 2:
        raise RuntimeError(f"quantized::{op}: expected a {dims + 2}-D input (N, C, *spatial), got {data.ndim}-D")
    centered = data.int_repr.astype(np.float64) - np.float64(data.zero_point)
    conv = getattr(trainer.nn.functional, op)
    with no_grad():
        acc = conv(Tensor._wrap(centered), Tensor._wrap(_centered_weight(w)), None, stride, padding, output_padding,
                   groups, dilation)._data
    return _requantized(acc, data, w, bias, scale, zero_point, False, channel_axis=1)


def conv_transpose1d(input, weight, bias, stride=1, padding=0, output_padding=0, groups=1, dilation=1, scale=1.0,
                     zero_point=0):
    """``quantized::conv_transpose1d`` on a quint8 ``(N, C_in, L)`` input and a qint8 per-tensor weight."""
    return _quantized_conv_transpose(1, input, weight, bias, stride, padding, output_padding, groups, dilation, scale,
                                     zero_point)


def conv_transpose2d(input, weight, bias, stride=1, padding=0, output_padding=0, groups=1, dilation=1, scale=1.0,
                     zero_point=0):
    """``quantized::conv_transpose2d`` on a quint8 ``(N, C_in, H, W)`` input and a qint8 per-tensor weight."""
    return _quantized_conv_transpose(2, input, weight, bias, stride, padding, output_padding, groups, dilation, scale,
                                     zero_point)


def conv_transpose3d(input, weight, bias, stride=1, padding=0, output_padding=0, groups=1, dilation=1, scale=1.0,
                     zero_point=0):
    """``quantized::conv_transpose3d`` on a quint8 ``(N, C_in, D, H, W)`` input and a qint8 per-tensor weight."""
    return _quantized_conv_transpose(3, input, weight, bias, stride, padding, output_padding, groups, dilation, scale,
                                     zero_point)


class _ConvTransposeNd(_ConvNd):
    """What the quantized transposed convolutions share; ``_DIMS`` is the number of spatial dimensions."""

    _NNIQAT_CONV_BN_MODULE = None
    _NNI_CONV_RELU_MODULE = None

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, padding_mode="zeros", device=None, dtype=None):
        Module.__init__(self)
        if padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for {type(self).__name__}')
        if in_channels % groups != 0:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups != 0:
            raise ValueError("out_channels must be divisible by groups")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = self._tuple(kernel_size)
        self.stride, self.padding, self.dilation = self._tuple(stride), self._tuple(padding), self._tuple(dilation)
        self.transposed = True
        self.output_padding = self._tuple(output_padding)
        self.groups = groups
        self.padding_mode = padding_mode
        qweight = trainer._make_per_tensor_quantized_tensor(
            trainer.zeros(in_channels, out_channels // groups, *self.kernel_size, dtype=dtypes.int8), 1.0, 0)
        self.set_weight_bias(qweight, trainer.zeros(out_channels) if bias else None)
        self.scale = 1.0
        self.zero_point = 0

    def _get_name(self):
        return f"QuantizedConvTranspose{self._DIMS}d"

    def extra_repr(self):
        s = super().extra_repr()
        if self.output_padding != (0,) * len(self.output_padding):
            # PyTorch prints output_padding after dilation and before groups
            head, sep, tail = s.partition(", groups=") if ", groups=" in s else s.partition(", bias=False")
            s = f"{head}, output_padding={self.output_padding}{sep}{tail}"
        return s

    def forward(self, input):
        if input.ndim != self._DIMS + 2:
            layout = {1: "(N, C, L)", 2: "(N, C, H, W)", 3: "(N, C, D, H, W)"}[self._DIMS]
            raise ValueError(f"Input shape must be `{layout}`!")
        weight, bias = self._weight_and_bias
        return _quantized_conv_transpose(self._DIMS, input, weight, bias, self.stride, self.padding,
                                         self.output_padding, self.groups, self.dilation, self.scale, self.zero_point)

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        """From a prepared float transposed convolution: the weight observed once more and quantized (qint8, per
        tensor) on that grid, the output on the activation observer's."""
        if type(mod) is not cls._FLOAT_MODULE:
            raise AssertionError(f" nnq.{cls.__name__}.from_float only works for {cls._FLOAT_MODULE.__name__}")
        if not hasattr(mod, "qconfig"):
            raise AssertionError("Input float module must have qconfig defined.")
        weight_post_process = mod.qconfig.weight()
        if weight_post_process.qscheme in _PER_CHANNEL:
            raise AssertionError("Per channel weight observer is not supported yet for ConvTranspose{n}d.")
        weight_post_process(mod.weight)
        if weight_post_process.dtype is not qt.qint8:
            raise AssertionError(f"Weight observer must have a dtype of qint8, got {weight_post_process.dtype!r}")
        qweight = _quantize_weight(mod.weight.detach().float(), weight_post_process)
        qconv = cls(mod.in_channels, mod.out_channels, mod.kernel_size, mod.stride, mod.padding, mod.output_padding,
                    mod.groups, mod.bias is not None, mod.dilation, mod.padding_mode)
        qconv.set_weight_bias(qweight, None if mod.bias is None else mod.bias.detach().float())
        observer = getattr(mod, "activation_post_process", None)
        if observer is not None and observer.dtype is not dtypes.float32:
            act_scale, act_zp = observer.calculate_qparams()
            qconv.scale = float(act_scale)
            qconv.zero_point = int(act_zp)
        return qconv


class ConvTranspose1d(_ConvTransposeNd):
    """Quantized ``ConvTranspose1d``: quint8 ``(N, C, L)`` in, quint8 out."""

    _DIMS = 1
    _FLOAT_MODULE = float_conv.ConvTranspose1d


class ConvTranspose2d(_ConvTransposeNd):
    """Quantized ``ConvTranspose2d``: quint8 ``(N, C, H, W)`` in, quint8 out."""

    _DIMS = 2
    _FLOAT_MODULE = float_conv.ConvTranspose2d


class ConvTranspose3d(_ConvTransposeNd):
    """Quantized ``ConvTranspose3d``: quint8 ``(N, C, D, H, W)`` in, quint8 out."""

    _DIMS = 3
    _FLOAT_MODULE = float_conv.ConvTranspose3d
