"""``torch.ao.nn.quantized.dynamic.Linear``: float32 in, float32 out, with the weight stored as qint8 (quantized once,
by ``from_float``, on the grid of its qconfig's weight observer) or float16. An int8 layer quantizes each input on
its own range as it arrives (see ``dynamic_kernels``). The state_dict is the static layer's: ``scale`` and
``zero_point`` (unused, kept for PyTorch's keys), ``_packed_params.dtype`` and ``_packed_params._packed_params``."""

from __future__ import annotations

from trainer import dtypes
from trainer import quantized_types as qt
from trainer.ao.nn.intrinsic import fused as nni
from trainer.ao.nn.quantized import linear as nnq
from trainer.ao.nn.quantized.dynamic_kernels import dynamic_linear_fp16, dynamic_linear_int8
from trainer.ao.nn.quantized.utils import _quantize_weight
from trainer.nn.modules.attention import NonDynamicallyQuantizableLinear
from trainer.nn.modules.linear import Linear as FloatLinear

__all__ = ["Linear"]


class Linear(nnq.Linear):
    """``y = x @ W.T + b`` with ``W`` quantized (qint8) or rounded to float16."""

    _version = 4  # version 4 quantizes inputs over 7 bits (reduce_range), as fbgemm needs; older ones over 8

    def __init__(self, in_features, out_features, bias_=True, dtype=qt.qint8):
        super().__init__(in_features, out_features, bias_, dtype=dtype)
        self.version = 4

    def forward(self, x):
        weight, bias = self._weight_bias()
        if self._packed_params.dtype is dtypes.float16:
            return dynamic_linear_fp16(x, weight, bias)
        return dynamic_linear_int8(x, weight, bias, reduce_range=self.version is not None and self.version >= 4)

    def _get_name(self):
        return "DynamicQuantizedLinear"

    def extra_repr(self):
        text = f"in_features={self.in_features}, out_features={self.out_features}, dtype={self._packed_params.dtype}"
        if self._packed_params.dtype is qt.qint8:
            text += f", qscheme={self.weight().qscheme()}"
        return text

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        # PyTorch reads the saved version from the state_dict's metadata (None, so 8-bit inputs, when a plain dict
        # is loaded); trainer's state_dicts carry no metadata, so the layer keeps its own version unless told
        self.version = local_metadata.get("version", self.version)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, False, missing_keys, unexpected_keys,
                                      error_msgs)

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        """The dynamic layer for a float ``Linear`` (or ``LinearReLU`` container, whose ReLU is dropped as
        PyTorch's does) with a ``qconfig``: the weight passes through the qconfig's weight observer (PyTorch's
        ``default_dynamic_qconfig``'s when it has none) and is quantized on its grid, or kept as float16."""
        float_modules = (FloatLinear, NonDynamicallyQuantizableLinear, nni.LinearReLU)
        if type(mod) not in float_modules:
            names = [m.__name__ for m in float_modules]
            raise AssertionError(f"nn.quantized.dynamic.Linear.from_float only works for one of{names}, got "
                                 f"{type(mod)}")
        if not hasattr(mod, "qconfig"):
            raise AssertionError("Input float module must have qconfig defined")
        if type(mod) is nni.LinearReLU:
            mod = mod[0]
        if mod.qconfig is not None and mod.qconfig.weight is not None:
            weight_observer = mod.qconfig.weight()
        else:
            from trainer.ao.quantization.dynamic_qconfig import default_dynamic_qconfig

            weight_observer = default_dynamic_qconfig.weight()
        dtype = weight_observer.dtype
        if dtype is not qt.qint8 and dtype is not dtypes.float16:
            raise AssertionError("The only supported dtypes for dynamic quantized linear are qint8 and float16, got: "
                                 f"{dtype}")
        weight_observer(mod.weight)
        weight = mod.weight.detach().float()
        qweight = _quantize_weight(weight, weight_observer) if dtype is qt.qint8 else weight
        qlinear = cls(mod.in_features, mod.out_features, dtype=dtype)
        qlinear.set_weight_bias(qweight, None if mod.bias is None else mod.bias.detach())
        return qlinear
