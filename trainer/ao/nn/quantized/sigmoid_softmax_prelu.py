"""``torch.ao.nn.quantized.Sigmoid``, ``Softmax`` and ``PReLU``: the float activations on quantized inputs, with the
output grid their observer chose (see ``activation_kernels`` for the arithmetic). As PyTorch's, ``Sigmoid`` and
``Softmax`` keep the grid as plain attributes (empty state_dict), and ``PReLU`` its quint8 weight as a plain
attribute too."""

from __future__ import annotations

import warnings

import trainer
from trainer import quantized_types as qt
from trainer.ao.nn.quantized import activation_kernels as kernels
from trainer.nn.modules import activation as float_activation
from trainer.nn.modules.module import Module

__all__ = ["PReLU", "Sigmoid", "Softmax"]


class Sigmoid(float_activation.Sigmoid):
    """Quantized ``Sigmoid`` with output grid ``(output_scale, output_zero_point)`` (it prints as ``Sigmoid()``, as
    PyTorch's)."""

    def __init__(self, output_scale: float, output_zero_point: int):
        super().__init__()
        self.output_scale = output_scale
        self.output_zero_point = output_zero_point

    def forward(self, input):
        return kernels.sigmoid(input, self.output_scale, self.output_zero_point)

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        scale, zero_point = mod.activation_post_process.calculate_qparams()
        return cls(float(scale), int(zero_point))


class Softmax(float_activation.Softmax):
    """Quantized ``Softmax`` along ``dim`` with output grid ``(scale, zero_point)``."""

    def __init__(self, dim=None, scale=1.0, zero_point=0):
        super().__init__(dim)
        self.scale = scale
        self.zero_point = zero_point

    def forward(self, input):
        dim = self.dim
        if dim is None:  # PyTorch's legacy choice of dimension (with its deprecation warning)
            dim = 0 if input.ndim in (0, 1, 3) else 1
            warnings.warn("Implicit dimension choice for softmax has been deprecated. Change the call to include "
                          "dim=X as an argument.", stacklevel=2)
        return kernels.softmax(input, dim, self.scale, self.zero_point)

    def _get_name(self):
        return "QuantizedSoftmax"

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        scale, zero_point = mod.activation_post_process.calculate_qparams()
        return cls(mod.dim, float(scale), int(zero_point))

    @classmethod
    def from_reference(cls, mod, scale, zero_point):
        return cls(mod.dim, float(scale), int(zero_point))


class PReLU(Module):
    """Quantized ``PReLU``: slopes quantized (quint8, per tensor) on their observer's grid, output on
    ``(scale, zero_point)``."""

    def __init__(self, output_scale: float, output_zero_point: int, num_parameters: int = 1):
        super().__init__()
        self.num_parameters = num_parameters
        self.scale = output_scale
        self.zero_point = output_zero_point
        self.set_weight(trainer.quantize_per_tensor(trainer.randn(num_parameters), 1.0, 0, qt.quint8))

    def set_weight(self, w) -> None:
        self.weight = w

    def forward(self, input):
        return kernels.prelu(input, self.weight, self.scale, self.zero_point)

    def _get_name(self):
        return "QuantizedPReLU"

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        scale, zero_point = mod.activation_post_process.calculate_qparams()
        return cls._with_weight_of(mod, float(scale), int(zero_point))

    @classmethod
    def from_reference(cls, mod, scale, zero_point):
        return cls._with_weight_of(mod, float(scale), int(zero_point))

    @classmethod
    def _with_weight_of(cls, mod, scale: float, zero_point: int):
        """The slopes of the float ``mod`` observed by its qconfig's weight observer and quantized (quint8) on that
        grid."""
        qprelu = cls(scale, zero_point, mod.num_parameters)
        float_wt = mod.weight.detach().float()
        observer = mod.qconfig.weight()
        observer(float_wt)
        if observer.dtype is not qt.quint8:
            warnings.warn(f"PReLU's weight observer should have dtype quint8 but got {observer.dtype!r}",
                          stacklevel=3)
        wt_scale, wt_zp = observer.calculate_qparams()
        qprelu.set_weight(trainer.quantize_per_tensor(float_wt, float(wt_scale), int(wt_zp), qt.quint8))
        return qprelu
