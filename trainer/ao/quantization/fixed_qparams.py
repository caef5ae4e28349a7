"""Fixed quantization parameters for activations whose range is known in advance (sigmoid and softmax in [0, 1],
tanh in [-1, 1]): PyTorch's ``FixedQParamsObserver`` and ``FixedQParamsFakeQuantize``, which ``prepare_qat`` puts
after those layers instead of the qconfig's activation fake-quantize module."""

from __future__ import annotations

import trainer
from trainer import dtypes
from trainer import quantized_types as qt
from trainer.ao.quantization.fake_quantize import FakeQuantize
from trainer.ao.quantization.observer import ObserverBase

__all__ = [
    "FixedQParamsFakeQuantize",
    "FixedQParamsObserver",
    "default_fixed_qparams_range_0to1_fake_quant",
    "default_fixed_qparams_range_0to1_observer",
    "default_fixed_qparams_range_neg1to1_fake_quant",
    "default_fixed_qparams_range_neg1to1_observer",
]


class FixedQParamsObserver(ObserverBase):
    """An observer that records nothing: its scale and zero point are the ones given (per tensor only)."""

    def __init__(self, scale, zero_point, dtype=qt.quint8, qscheme=qt.per_tensor_affine, quant_min=0, quant_max=255,
                 is_dynamic=False, **kwargs):
        if is_dynamic:
            raise NotImplementedError("FixedQParamsObserver doesn't support dynamic quantization")
        super().__init__(dtype=dtype, is_dynamic=is_dynamic, **kwargs)
        self.quant_min = quant_min
        self.quant_max = quant_max
        self.register_buffer("scale", trainer.tensor([scale], dtype=dtypes.float32))
        self.register_buffer("zero_point", trainer.tensor([zero_point], dtype=dtypes.int32))
        self.qscheme = qscheme

    def forward(self, X):  # noqa: N803 - PyTorch's argument name
        return X

    def calculate_qparams(self):
        return self.scale, self.zero_point


class FixedQParamsFakeQuantize(FakeQuantize):
    """Fake quantization on the fixed grid of its ``FixedQParamsObserver``."""

    def __init__(self, observer):
        super().__init__(observer=observer)
        if type(self.activation_post_process) is not FixedQParamsObserver:
            raise AssertionError(f"{self.__class__.__name__}'s observer must be a {FixedQParamsObserver.__name__}")
        self._observer_ctr = observer
        self.scale = self.activation_post_process.scale
        self.zero_point = self.activation_post_process.zero_point
        if self.qscheme not in (qt.per_tensor_affine, qt.per_tensor_symmetric):
            raise AssertionError("Only per tensor quantization is supported FixedQParamsFakeQuantize module, got "
                                 f"qscheme:{self.qscheme}")

    def calculate_qparams(self):
        return self.scale, self.zero_point

    def extra_repr(self):
        return (f"fake_quant_enabled={self.fake_quant_enabled}, observer_enabled={self.observer_enabled}, "
                f"scale={self.scale}, zero_point={self.zero_point}, dtype={self.dtype}, "
                f"quant_min={self.activation_post_process.quant_min}, "
                f"quant_max={self.activation_post_process.quant_max}, qscheme={self.qscheme}")


default_fixed_qparams_range_neg1to1_observer = FixedQParamsObserver.with_args(scale=2.0 / 256.0, zero_point=128,
                                                                              dtype=qt.quint8, quant_min=0,
                                                                              quant_max=255)
default_fixed_qparams_range_0to1_observer = FixedQParamsObserver.with_args(scale=1.0 / 256.0, zero_point=0,
                                                                           dtype=qt.quint8, quant_min=0,
                                                                           quant_max=255)
default_fixed_qparams_range_neg1to1_fake_quant = FixedQParamsFakeQuantize.with_args(
    observer=default_fixed_qparams_range_neg1to1_observer)
default_fixed_qparams_range_0to1_fake_quant = FixedQParamsFakeQuantize.with_args(
    observer=default_fixed_qparams_range_0to1_observer)
