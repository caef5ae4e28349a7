"""PyTorch's qconfigs for dynamic quantization: int8 weights (per tensor or per output channel) with inputs
quantized to quint8 at each call, or float16 weights."""

from __future__ import annotations

from trainer import dtypes
from trainer.ao.quantization.observer import default_per_channel_weight_observer, default_weight_observer
from trainer.ao.quantization.placeholder_observer import PlaceholderObserver, default_dynamic_quant_observer
from trainer.ao.quantization.qconfig import QConfig

__all__ = ["default_dynamic_qconfig", "float16_dynamic_qconfig", "per_channel_dynamic_qconfig"]

default_dynamic_qconfig = QConfig(activation=default_dynamic_quant_observer, weight=default_weight_observer)
per_channel_dynamic_qconfig = QConfig(activation=default_dynamic_quant_observer,
                                      weight=default_per_channel_weight_observer)
float16_dynamic_qconfig = QConfig(activation=PlaceholderObserver.with_args(dtype=dtypes.float16, is_dynamic=True),
                                  weight=PlaceholderObserver.with_args(dtype=dtypes.float16))
