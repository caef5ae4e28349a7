"""``QConfig``: which observer or fake-quantize constructors a layer's activations and weights get, and PyTorch's
default quantization-aware-training configurations per backend."""

from __future__ import annotations

from collections import namedtuple

from trainer.ao.quantization.fake_quantize import (
    FakeQuantize,
    default_fake_quant,
    default_per_channel_weight_fake_quant,
    default_weight_fake_quant,
)
from trainer.ao.quantization.observer import MovingAverageMinMaxObserver
from trainer.nn.modules.module import Module

_QAT_BACKENDS = ["fbgemm", "x86", "qnnpack", "onednn"]


class QConfig(namedtuple("QConfig", ["activation", "weight"])):
    """Observer (or fake-quantize) constructors for activations and weights: classes or ``with_args`` results, not
    instances, since preparing a model builds one per layer."""

    __slots__ = ()

    def __new__(cls, activation, weight):
        if isinstance(activation, Module) or isinstance(weight, Module):
            raise ValueError("QConfig received observer instance, please pass observer class instead. Use "
                             "MyObserver.with_args(x=1) to override arguments to constructor if needed")
        return super().__new__(cls, activation, weight)


default_qat_qconfig = QConfig(activation=default_fake_quant, weight=default_weight_fake_quant)


def get_default_qat_qconfig(backend="x86", version=0):
    """The QAT configuration PyTorch recommends for ``backend`` (``x86``, ``fbgemm``, ``qnnpack``, ``onednn``):
    8-bit activations (7-bit on x86/fbgemm, whose kernels could overflow otherwise) and 8-bit symmetric weights,
    per channel except on qnnpack."""
    if backend not in _QAT_BACKENDS:
        raise AssertionError(f"backend: {backend} not supported. backend must be one of {_QAT_BACKENDS}")
    if version != 0:
        raise NotImplementedError(f"get_default_qat_qconfig(version={version}) needs the fused observer and fake "
                                  "quantization module (FusedMovingAvgObsFakeQuantize), which trainer does not "
                                  "have; pass version=0 for the same grids from FakeQuantize")
    reduce_range = backend in ("x86", "fbgemm")
    activation = FakeQuantize.with_args(observer=MovingAverageMinMaxObserver, quant_min=0, quant_max=255,
                                        **({} if backend == "onednn" else {"reduce_range": reduce_range}))
    weight = default_weight_fake_quant if backend == "qnnpack" else default_per_channel_weight_fake_quant
    return QConfig(activation=activation, weight=weight)
