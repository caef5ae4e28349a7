"""``torch.ao.nn.quantized.Linear``: an int8 linear layer on quint8 inputs, built from a prepared (observed or
QAT) ``Linear`` by ``from_float``: the weight quantized on its observer's grid, the output on the activation
observer's. The weight and float bias live in a ``LinearPackedParams`` child, whose state_dict entry
``_packed_params._packed_params`` is the ``(weight, bias)`` pair, as PyTorch saves its packed parameters."""

from __future__ import annotations

import trainer
from trainer import dtypes
from trainer import quantized_types as qt
from trainer.ao.nn.intrinsic import fused as nni
from trainer.ao.nn.intrinsic.qat.linear_fused import LinearBn1d as QATLinearBn1d
from trainer.ao.nn.quantized.dynamic_kernels import round_weight_to_float16
from trainer.ao.nn.quantized.kernels import quantized_linear
from trainer.ao.nn.quantized.utils import OutputGridModule, _hide_packed_params_repr, _quantize_weight
from trainer.nn.modules.attention import NonDynamicallyQuantizableLinear
from trainer.nn.modules.linear import Linear as FloatLinear
from trainer.nn.modules.module import Module
from trainer.nn.utils.fusion import fuse_linear_bn_weights
from trainer.nn.utils.parametrize import type_before_parametrizations

__all__ = ["Linear", "LinearPackedParams"]


class LinearPackedParams(Module):
    """Holds a quantized linear layer's qint8 weight and float bias (PyTorch packs them for fbgemm; trainer keeps
    the quantized tensor, which is what unpacking gives back)."""

    _version = 3

    def __init__(self, dtype=qt.qint8):
        super().__init__()
        if dtype is not qt.qint8 and dtype is not dtypes.float16:
            raise RuntimeError(f"Unsupported dtype on quantized linear: {dtype!r} (expected trainer.qint8, or "
                               "trainer.float16 for dynamic quantization)")
        self.dtype = dtype
        if dtype is qt.qint8:
            weight = trainer._make_per_tensor_quantized_tensor(trainer.zeros(1, 1, dtype=dtypes.int8), 1.0, 0)
        else:
            weight = trainer.zeros(1, 1)
        self.set_weight_bias(weight, None)

    def set_weight_bias(self, weight, bias) -> None:
        if self.dtype is dtypes.float16:  # fbgemm packs float16 weights: unpacking gives the rounded values
            weight = round_weight_to_float16(weight)
        self._packed_params = (weight, bias)

    def _weight_bias(self):
        return self._packed_params

    def forward(self, x):
        return x

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        super()._save_to_state_dict(destination, prefix, keep_vars)
        destination[prefix + "dtype"] = self.dtype
        destination[prefix + "_packed_params"] = self._weight_bias()

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        self.dtype = state_dict.pop(prefix + "dtype", self.dtype)
        weight, bias = state_dict.pop(prefix + "_packed_params")
        self.set_weight_bias(weight, bias)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, False, missing_keys, unexpected_keys,
                                      error_msgs)

    def __repr__(self):
        return repr(self._weight_bias())


class Linear(OutputGridModule):
    """``y_q = quantize(x_q @ w_q.T + bias)`` on fbgemm's int8 grid; ``scale`` and ``zero_point`` are the output's."""

    _version = 3
    _FLOAT_MODULE = (FloatLinear, NonDynamicallyQuantizableLinear)

    def __init__(self, in_features, out_features, bias_=True, dtype=qt.qint8):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        bias = trainer.zeros(out_features) if bias_ else None
        if dtype is dtypes.float16:  # dynamic quantization's float16 weights
            qweight = trainer.zeros(out_features, in_features)
        else:
            qweight = trainer._make_per_tensor_quantized_tensor(
                trainer.zeros(out_features, in_features, dtype=dtypes.int8), 1.0, 0)
        self._packed_params = LinearPackedParams(dtype)
        self._packed_params.set_weight_bias(qweight, bias)
        self.scale = 1.0
        self.zero_point = 0

    def _get_name(self):
        return "QuantizedLinear"

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, scale={self.scale}, "
                f"zero_point={self.zero_point}, qscheme={self.weight().qscheme()}")

    def __repr__(self):
        return _hide_packed_params_repr(self, LinearPackedParams)

    def forward(self, x):
        weight, bias = self._weight_bias()
        return quantized_linear(x, weight, bias, self.scale, self.zero_point, op="linear")

    def _weight_bias(self):
        return self._packed_params._weight_bias()

    def weight(self):
        return self._weight_bias()[0]

    def bias(self):
        return self._weight_bias()[1]

    def set_weight_bias(self, w, b) -> None:
        self._packed_params.set_weight_bias(w, b)

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        """The quantized layer for a prepared ``Linear`` (or QAT ``Linear``/``LinearReLU``/``LinearBn1d``, whose
        batch norm is folded in first): the weight passes once more through its observer (unless
        ``use_precomputed_fake_quant``) and is quantized on the grid it gives."""
        if hasattr(mod, "weight_fake_quant"):
            if type_before_parametrizations(mod) is QATLinearBn1d:
                mod.weight, mod.bias = fuse_linear_bn_weights(mod.weight, mod.bias, mod.bn.running_mean,
                                                              mod.bn.running_var, mod.bn.eps, mod.bn.weight,
                                                              mod.bn.bias)
            weight_post_process = mod.weight_fake_quant
            activation_post_process = mod.activation_post_process
        else:
            float_modules = cls._FLOAT_MODULE if isinstance(cls._FLOAT_MODULE, tuple) else (cls._FLOAT_MODULE,)
            if type_before_parametrizations(mod) not in float_modules:
                names = ", ".join(m.__name__ for m in float_modules)
                raise AssertionError(f"nnq.{cls.__name__}.from_float only works for {names}, but got: {type(mod)}")
            if not hasattr(mod, "qconfig"):
                raise AssertionError("Input float module must have qconfig defined")
            activation_post_process = mod.activation_post_process
            if type_before_parametrizations(mod) is nni.LinearReLU:
                mod = mod[0]
            weight_post_process = mod.qconfig.weight()
        if not use_precomputed_fake_quant:
            weight_post_process(mod.weight)
        dtype = weight_post_process.dtype
        act_scale, act_zp = activation_post_process.calculate_qparams()
        if dtype is not qt.qint8:
            raise AssertionError(f"Weight observer must have dtype trainer.qint8, got {dtype!r}")
        qweight = _quantize_weight(mod.weight.detach().float(), weight_post_process)
        qlinear = cls(mod.in_features, mod.out_features, dtype=dtype)
        qlinear.set_weight_bias(qweight, None if mod.bias is None else mod.bias.detach().float())
        qlinear.scale = float(act_scale)
        qlinear.zero_point = int(act_zp)
        return qlinear
