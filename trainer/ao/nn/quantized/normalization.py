"""``torch.ao.nn.quantized.LayerNorm``, ``GroupNorm`` and ``InstanceNorm1d/2d/3d``: the float normalisations on a
quantized input, with the float module's affine parameters and the output grid its observer chose kept as
``scale``/``zero_point`` buffers (state_dict: ``weight``, ``bias``, ``scale``, ``zero_point``, as PyTorch's).
The arithmetic is in ``normalization_kernel``."""

from __future__ import annotations

import trainer
from trainer.ao.nn.quantized import normalization_kernel as kernel
from trainer.nn.modules import instancenorm as float_instancenorm
from trainer.nn.modules import normalization as float_normalization

__all__ = ["GroupNorm", "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d", "LayerNorm"]


def _register_output_grid(module, scale, zero_point, device, dtype) -> None:
    module.register_buffer("scale", trainer.tensor(scale, device=device, dtype=dtype))
    module.register_buffer("zero_point", trainer.tensor(zero_point, device=device, dtype=dtype))


def _output_grid(mod) -> tuple[float, int]:
    scale, zero_point = mod.activation_post_process.calculate_qparams()
    return float(scale), int(zero_point)


class LayerNorm(float_normalization.LayerNorm):
    """Quantized ``LayerNorm`` with output grid ``(scale, zero_point)``."""

    def __init__(self, normalized_shape, weight, bias, scale, zero_point, eps=1e-5, elementwise_affine=True,
                 device=None, dtype=None):
        super().__init__(normalized_shape, eps=eps, elementwise_affine=elementwise_affine, device=device, dtype=dtype)
        self.weight = weight
        self.bias = bias
        _register_output_grid(self, scale, zero_point, device, dtype)

    def forward(self, input):
        return kernel.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps, float(self.scale),
                                 int(self.zero_point))

    def _get_name(self):
        return "QuantizedLayerNorm"

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        scale, zero_point = _output_grid(mod)
        return cls(mod.normalized_shape, mod.weight, mod.bias, scale, zero_point, mod.eps, mod.elementwise_affine)

    @classmethod
    def from_reference(cls, mod, scale, zero_point):
        return cls(mod.normalized_shape, mod.weight, mod.bias, float(scale), int(zero_point), mod.eps,
                   mod.elementwise_affine)


class GroupNorm(float_normalization.GroupNorm):
    """Quantized ``GroupNorm`` with output grid ``(scale, zero_point)``."""

    def __init__(self, num_groups, num_channels, weight, bias, scale, zero_point, eps=1e-5, affine=True, device=None,
                 dtype=None):
        super().__init__(num_groups, num_channels, eps, affine, device=device, dtype=dtype)
        self.weight = weight
        self.bias = bias
        _register_output_grid(self, scale, zero_point, device, dtype)

    def forward(self, input):
        return kernel.group_norm(input, self.num_groups, self.weight, self.bias, self.eps, float(self.scale),
                                 int(self.zero_point))

    def _get_name(self):
        return "QuantizedGroupNorm"

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        scale, zero_point = _output_grid(mod)
        return cls(mod.num_groups, mod.num_channels, mod.weight, mod.bias, scale, zero_point, mod.eps, mod.affine)


class _InstanceNorm(float_instancenorm._InstanceNorm):
    """What the quantized instance norms share: statistics always from the input (no running statistics)."""

    def __init__(self, num_features, weight, bias, scale, zero_point, eps=1e-5, momentum=0.1, affine=False,
                 track_running_stats=False, device=None, dtype=None):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device=device, dtype=dtype)
        self.weight = weight
        self.bias = bias
        _register_output_grid(self, scale, zero_point, device, dtype)

    def forward(self, input):
        return kernel.instance_norm(input, self.weight, self.bias, self.eps, float(self.scale), int(self.zero_point))

    def _get_name(self):
        return f"Quantized{type(self).__name__}"

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        scale, zero_point = _output_grid(mod)
        return cls(mod.num_features, mod.weight, mod.bias, scale, zero_point, mod.eps, mod.affine)

    @classmethod
    def from_reference(cls, mod, scale, zero_point):
        return cls(mod.num_features, mod.weight, mod.bias, float(scale), int(zero_point), mod.eps, mod.affine)


class InstanceNorm1d(_InstanceNorm):
    """Quantized ``InstanceNorm1d``: ``(N, C, L)`` in."""

    _expected_dims = (2, 3)


class InstanceNorm2d(_InstanceNorm):
    """Quantized ``InstanceNorm2d``: ``(N, C, H, W)`` in."""

    _expected_dims = (3, 4)


class InstanceNorm3d(_InstanceNorm):
    """Quantized ``InstanceNorm3d``: ``(N, C, D, H, W)`` in."""

    _expected_dims = (4, 5)
