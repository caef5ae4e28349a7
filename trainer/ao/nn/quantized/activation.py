"""``torch.ao.nn.quantized.ReLU6``, ``Hardswish``, ``ELU`` and ``LeakyReLU``: the activations ``convert`` puts in place
of prepared float ones, on quantized inputs (see ``functional`` for their arithmetic). ``Hardswish`` and
``LeakyReLU`` keep their output grid as ``scale``/``zero_point`` buffers, ``ELU`` as attributes, as PyTorch's."""

from __future__ import annotations

import trainer
from trainer import dtypes
from trainer.ao.nn.quantized import functional as qF
from trainer.nn.modules import activation as float_activation

__all__ = ["ELU", "Hardswish", "LeakyReLU", "ReLU6"]


class ReLU6(float_activation.ReLU):
    """``min(max(zero_point, q), q(6))``: the input's grid."""

    def forward(self, input):
        return qF.relu6(input, self.inplace)

    def _get_name(self):
        return "QuantizedReLU6"

    @staticmethod
    def from_float(mod, use_precomputed_fake_quant=False):
        return ReLU6(mod.inplace)


class Hardswish(float_activation.Hardswish):
    """Quantized ``Hardswish`` with output grid ``(scale, zero_point)``."""

    def __init__(self, scale, zero_point, device=None, dtype=None):
        super().__init__()
        self.register_buffer("scale", trainer.tensor(scale, device=device, dtype=dtype))
        self.register_buffer("zero_point", trainer.tensor(zero_point, device=device, dtype=dtypes.int64))

    def forward(self, input):
        return qF.hardswish(input, float(self.scale), int(self.zero_point))

    def _get_name(self):
        return "QuantizedHardswish"

    @staticmethod
    def from_float(mod, use_precomputed_fake_quant=False):
        scale, zero_point = mod.activation_post_process.calculate_qparams()
        return Hardswish(float(scale), int(zero_point))


class ELU(float_activation.ELU):
    """Quantized ``ELU`` with output grid ``(scale, zero_point)``."""

    def __init__(self, scale, zero_point, alpha=1.0):
        super().__init__(alpha)
        self.scale = scale
        self.zero_point = zero_point

    def forward(self, input):
        return qF.elu(input, self.scale, self.zero_point, self.alpha)

    def _get_name(self):
        return "QuantizedELU"

    @staticmethod
    def from_float(mod, use_precomputed_fake_quant=False):
        scale, zero_point = mod.activation_post_process.calculate_qparams()
        return ELU(float(scale), int(zero_point), mod.alpha)


class LeakyReLU(float_activation.LeakyReLU):
    """Quantized ``LeakyReLU`` with output grid ``(scale, zero_point)``."""

    def __init__(self, scale, zero_point, negative_slope=1e-2, inplace=False, device=None, dtype=None):
        super().__init__(negative_slope, inplace)
        self.register_buffer("scale", trainer.tensor(scale, device=device, dtype=dtype))
        self.register_buffer("zero_point", trainer.tensor(zero_point, device=device, dtype=dtypes.int64))

    def forward(self, input):
        return qF.leaky_relu(input, self.negative_slope, self.inplace, float(self.scale), int(self.zero_point))

    def _get_name(self):
        return "QuantizedLeakyReLU"

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        scale, zero_point = mod.activation_post_process.calculate_qparams()
        return cls(float(scale), int(zero_point), mod.negative_slope, mod.inplace)
