"""``torch.ao.nn.quantized.BatchNorm2d``/``BatchNorm3d``: inference batch norm on quantized inputs with the float
running statistics and affine parameters, requantized on the output grid (``scale``/``zero_point`` buffers, as
PyTorch's); ``from_float`` takes a prepared float ``BatchNorm`` (or ``BNReLU`` container) and its observer's grid.
See ``batch_norm_kernel`` for the arithmetic."""

from __future__ import annotations

import trainer
from trainer.ao.nn.intrinsic import fused as nni
from trainer.ao.nn.quantized.batch_norm_kernel import quantized_batch_norm
from trainer.nn.modules import batchnorm as float_batchnorm

__all__ = ["BatchNorm2d", "BatchNorm3d"]


class _BatchNorm(float_batchnorm._BatchNorm):
    """What the quantized batch norms share; ``_DIMS`` is the number of spatial dimensions."""

    _DIMS: int
    _NNI_BN_RELU_MODULE: type
    _RELU = False

    def __init__(self, num_features, eps=1e-5, momentum=0.1, device=None, dtype=None):
        super().__init__(num_features, eps, momentum, True, True, device=device, dtype=dtype)
        self.register_buffer("scale", trainer.tensor(1.0, device=device, dtype=dtype))
        self.register_buffer("zero_point", trainer.tensor(0, device=device, dtype=dtype))

    def forward(self, input):
        return quantized_batch_norm(input, self.weight, self.bias, self.running_mean, self.running_var, self.eps,
                                    float(self.scale), int(self.zero_point), self._DIMS, self._RELU)

    def _get_name(self):
        return f"Quantized{'BNReLU' if self._RELU else 'BatchNorm'}{self._DIMS}d"

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        """From a prepared float batch norm (or its ``BNReLU`` container): its parameters and statistics, and the
        output grid its observer chose."""
        activation_post_process = mod.activation_post_process
        if type(mod) is cls._NNI_BN_RELU_MODULE:
            mod = mod[0]
        scale, zero_point = activation_post_process.calculate_qparams()
        new_mod = cls(mod.num_features, mod.eps)
        new_mod.weight = mod.weight
        new_mod.bias = mod.bias
        new_mod.running_mean = mod.running_mean
        new_mod.running_var = mod.running_var
        new_mod.scale = scale
        new_mod.zero_point = zero_point
        return new_mod

    @classmethod
    def from_reference(cls, bn, output_scale, output_zero_point):
        """From a float batch norm and an output grid given directly."""
        qbn = cls(bn.num_features, bn.eps, bn.momentum, device=bn.weight.device, dtype=bn.weight.dtype)
        qbn.weight = bn.weight
        qbn.bias = bn.bias
        qbn.running_mean = bn.running_mean
        qbn.running_var = bn.running_var
        qbn.scale = output_scale
        qbn.zero_point = output_zero_point
        return qbn


class BatchNorm2d(_BatchNorm):
    """Quantized ``BatchNorm2d``: ``(N, C, H, W)`` in, on the output grid out."""

    _DIMS = 2
    _NNI_BN_RELU_MODULE = nni.BNReLU2d
    _expected_dims = (4,)


class BatchNorm3d(_BatchNorm):
    """Quantized ``BatchNorm3d``: ``(N, C, D, H, W)`` in, on the output grid out."""

    _DIMS = 3
    _NNI_BN_RELU_MODULE = nni.BNReLU3d
    _expected_dims = (5,)
