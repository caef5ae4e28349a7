"""``FusedMovingAvgObsFakeQuantize``: the observer and fake-quantize module that PyTorch's default QAT
configuration (``get_default_qat_qconfig``'s ``version=1``) builds, observing, choosing the grid and fake-quantizing
in one ``fused_moving_avg_obs_fake_quant`` step; and the ``default_fused_*`` constructors."""

from __future__ import annotations

import trainer
from trainer import dtypes
from trainer import quantized_types as qt
from trainer.ao.quantization.fake_quantize import FakeQuantize
from trainer.ao.quantization.observer import MovingAverageMinMaxObserver, MovingAveragePerChannelMinMaxObserver
from trainer.ops.fused_moving_avg_obs_fake_quant import fused_moving_avg_obs_fake_quant


class FusedMovingAvgObsFakeQuantize(FakeQuantize):
    """``FakeQuantize`` whose observer is a moving-average min/max observer and whose forward runs
    ``fused_moving_avg_obs_fake_quant`` on the observer's ``min_val``/``max_val`` and this module's ``scale`` and
    ``zero_point``. Those buffers hold the grid the fused step chose (FBGEMM's choice, which can differ from the
    observer's ``calculate_qparams``, as in PyTorch); the switches are int64 buffers here, as PyTorch's."""

    def __init__(self, observer=MovingAverageMinMaxObserver, quant_min: int = 0, quant_max: int = 255,
                 **observer_kwargs):
        super().__init__(observer, quant_min, quant_max, **observer_kwargs)
        if not isinstance(self.activation_post_process,
                          (MovingAverageMinMaxObserver, MovingAveragePerChannelMinMaxObserver)):
            raise AssertionError("Fused observer+fake_quant module only works with MovingAverageMinMaxObserver, got "
                                 f"{type(self.activation_post_process).__name__}")
        self.register_buffer("fake_quant_enabled", trainer.tensor([1], dtype=dtypes.int64))
        self.register_buffer("observer_enabled", trainer.tensor([1], dtype=dtypes.int64))
        self.is_symmetric_quant = self.activation_post_process.qscheme in (qt.per_tensor_symmetric,
                                                                           qt.per_channel_symmetric)

    def extra_repr(self):
        return (f"fake_quant_enabled={self.fake_quant_enabled}, observer_enabled={self.observer_enabled}, "
                f"scale={self.scale}, zero_point={self.zero_point}, dtype={self.dtype}, "
                f"quant_min={self.activation_post_process.quant_min}, "
                f"quant_max={self.activation_post_process.quant_max}, qscheme={self.qscheme}, "
                f"reduce_range={self.activation_post_process.reduce_range}")

    def forward(self, X):  # noqa: N803 - PyTorch's argument name
        observer = self.activation_post_process
        return fused_moving_avg_obs_fake_quant(X, self.observer_enabled, self.fake_quant_enabled, observer.min_val,
                                               observer.max_val, self.scale, self.zero_point,
                                               observer.averaging_constant, observer.quant_min, observer.quant_max,
                                               self.ch_axis, self.is_per_channel, self.is_symmetric_quant)


default_fused_act_fake_quant = FusedMovingAvgObsFakeQuantize.with_args(observer=MovingAverageMinMaxObserver,
                                                                       quant_min=0, quant_max=255, dtype=qt.quint8)
default_fused_wt_fake_quant = FusedMovingAvgObsFakeQuantize.with_args(observer=MovingAverageMinMaxObserver,
                                                                      quant_min=-128, quant_max=127, dtype=qt.qint8,
                                                                      qscheme=qt.per_tensor_symmetric)
default_fused_per_channel_wt_fake_quant = FusedMovingAvgObsFakeQuantize.with_args(
    observer=MovingAveragePerChannelMinMaxObserver, quant_min=-128, quant_max=127, dtype=qt.qint8,
    qscheme=qt.per_channel_symmetric)
# int8 weights without -128, so that the grid is symmetric (XNNPACK's constraint)
fused_wt_fake_quant_range_neg_127_to_127 = FusedMovingAvgObsFakeQuantize.with_args(
    observer=MovingAverageMinMaxObserver, quant_min=-127, quant_max=127, dtype=qt.qint8,
    qscheme=qt.per_tensor_symmetric, eps=2**-12)
fused_per_channel_wt_fake_quant_range_neg_127_to_127 = FusedMovingAvgObsFakeQuantize.with_args(
    observer=MovingAveragePerChannelMinMaxObserver, quant_min=-127, quant_max=127, dtype=qt.qint8,
    qscheme=qt.per_channel_symmetric, eps=2**-12)
