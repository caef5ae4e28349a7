"""The weight-only quantization configuration of embeddings, as ``torch.ao.quantization`` defines it: each row of
the weight quantized to quint8 with its own float scale and zero point (``per_channel_affine_float_qparams``),
activations left in float32."""

from __future__ import annotations

from trainer import quantized_types as qt
from trainer.ao.quantization.observer import PerChannelMinMaxObserver
from trainer.ao.quantization.placeholder_observer import PlaceholderObserver
from trainer.ao.quantization.qconfig import QConfig

__all__ = ["default_float_qparams_observer", "float_qparams_weight_only_qconfig"]

default_float_qparams_observer = PerChannelMinMaxObserver.with_args(
    dtype=qt.quint8, qscheme=qt.per_channel_affine_float_qparams, ch_axis=0)

float_qparams_weight_only_qconfig = QConfig(activation=PlaceholderObserver, weight=default_float_qparams_observer)
