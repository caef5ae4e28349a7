"""``QConfig``: which observer or fake-quantize constructors a layer's activations and weights get, and PyTorch's
default quantization-aware-training configurations per backend."""

from __future__ import annotations

from collections import namedtuple

from trainer import quantized_types as qt
from trainer.ao.quantization.fake_quantize import (
    FakeQuantize,
    default_fake_quant,
    default_per_channel_weight_fake_quant,
    default_weight_fake_quant,
)
from trainer.ao.quantization.fused_fake_quantize import (
    FusedMovingAvgObsFakeQuantize,
    default_fused_act_fake_quant,
    default_fused_per_channel_wt_fake_quant,
    default_fused_wt_fake_quant,
    fused_per_channel_wt_fake_quant_range_neg_127_to_127,
    fused_wt_fake_quant_range_neg_127_to_127,
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
# the fused version of ``default_qat_qconfig``
default_qat_qconfig_v2 = QConfig(activation=default_fused_act_fake_quant, weight=default_fused_wt_fake_quant)


def get_default_qat_qconfig(backend="x86", version=1):
    """The QAT configuration PyTorch recommends for ``backend`` (``x86``, ``fbgemm``, ``qnnpack``, ``onednn``):
    8-bit activations (7-bit on x86/fbgemm, whose kernels could overflow otherwise) and 8-bit symmetric weights,
    per channel except on qnnpack. ``version=1`` (the default) builds the fused ``FusedMovingAvgObsFakeQuantize``
    modules, ``version=0`` separate observers in ``FakeQuantize``."""
    if backend not in _QAT_BACKENDS:
        raise AssertionError(f"backend: {backend} not supported. backend must be one of {_QAT_BACKENDS}")
    if version not in (0, 1):
        raise AssertionError(f"Version number: {version} in get_default_qat_qconfig is not supported. Version number "
                             "must be 0 or 1")
    reduce_range = backend in ("x86", "fbgemm")
    fake_quantize = FakeQuantize if version == 0 else FusedMovingAvgObsFakeQuantize
    activation = fake_quantize.with_args(observer=MovingAverageMinMaxObserver, quant_min=0, quant_max=255,
                                         **({} if backend == "onednn" else {"reduce_range": reduce_range}))
    if version == 0:
        weight = default_weight_fake_quant if backend == "qnnpack" else default_per_channel_weight_fake_quant
    else:
        weight = default_fused_wt_fake_quant if backend == "qnnpack" else default_fused_per_channel_wt_fake_quant
    return QConfig(activation=activation, weight=weight)


def _symmetric_qnnpack_activation():
    """Signed 8-bit activations for qnnpack's symmetric configurations (``eps`` keeps scales XNNPACK accepts)."""
    return FusedMovingAvgObsFakeQuantize.with_args(observer=MovingAverageMinMaxObserver, quant_min=-128,
                                                   quant_max=127, dtype=qt.qint8, reduce_range=False, eps=2**-12)


default_symmetric_qnnpack_qat_qconfig = QConfig(activation=_symmetric_qnnpack_activation(),
                                                weight=fused_wt_fake_quant_range_neg_127_to_127)
default_per_channel_symmetric_qnnpack_qat_qconfig = QConfig(
    activation=_symmetric_qnnpack_activation(), weight=fused_per_channel_wt_fake_quant_range_neg_127_to_127)
