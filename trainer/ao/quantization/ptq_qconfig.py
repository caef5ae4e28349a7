"""PyTorch's post-training (static) quantization configurations: ``default_qconfig`` and its debug, per-channel,
weight-only, activation-only, float16 and symmetric-qnnpack variants, ``get_default_qconfig(backend)`` with
PyTorch's per-backend choices, and ``qconfig_equals``."""

from __future__ import annotations

import copy
import warnings
from collections import namedtuple

from trainer import dtypes
from trainer import quantized_types as qt
from trainer.ao.quantization.fake_quantize import default_fake_quant, default_weight_fake_quant
from trainer.ao.quantization.histogram_observer import HistogramObserver
from trainer.ao.quantization.observer import (
    MinMaxObserver,
    PerChannelMinMaxObserver,
    _PartialWrapper,
    default_observer,
    default_per_channel_weight_observer,
    default_weight_observer,
)
from trainer.ao.quantization.passthrough_observers import (
    NoopObserver,
    default_debug_observer,
    default_reuse_input_observer,
)
from trainer.ao.quantization.placeholder_observer import PlaceholderObserver
from trainer.ao.quantization.qconfig import QConfig
from trainer.nn.modules.linear import Identity
from trainer.nn.modules.module import Module

__all__ = [
    "QConfigAny",
    "QConfigDynamic",
    "default_activation_only_qconfig",
    "default_debug_qconfig",
    "default_per_channel_qconfig",
    "default_per_channel_symmetric_qnnpack_qconfig",
    "default_qconfig",
    "default_quint8_weight_qconfig",
    "default_reuse_input_qconfig",
    "default_symmetric_qnnpack_qconfig",
    "default_weight_only_qconfig",
    "float16_static_qconfig",
    "get_default_qconfig",
    "per_channel_weight_observer_range_neg_127_to_127",
    "qconfig_equals",
    "weight_observer_range_neg_127_to_127",
]

_PTQ_BACKENDS = ["fbgemm", "x86", "qnnpack", "onednn"]

QConfigAny = QConfig | None


class QConfigDynamic(namedtuple("QConfigDynamic", ["activation", "weight"])):
    """The former dynamic-quantization ``QConfig`` (deprecated in PyTorch, which now uses ``QConfig`` for both)."""

    __slots__ = ()

    def __new__(cls, activation=Identity, weight=Identity):
        warnings.warn("`QConfigDynamic` is going to be deprecated in PyTorch 1.12, please use `QConfig` instead",
                      FutureWarning, stacklevel=2)
        if isinstance(weight, Module):
            raise ValueError("QConfigDynamic received observer instance, please pass observer class instead. Use "
                             "MyObserver.with_args(x=1) to override arguments to constructor if needed")
        return super().__new__(cls, activation, weight)


# signed 8-bit weights kept off -128 (and a floor on the scale) for XNNPACK's requantization limits
weight_observer_range_neg_127_to_127 = MinMaxObserver.with_args(dtype=qt.qint8, qscheme=qt.per_tensor_symmetric,
                                                                quant_min=-127, quant_max=127, eps=2**-12)
per_channel_weight_observer_range_neg_127_to_127 = PerChannelMinMaxObserver.with_args(
    dtype=qt.qint8, qscheme=qt.per_channel_symmetric, quant_min=-127, quant_max=127, eps=2**-12)

default_qconfig = QConfig(activation=default_observer, weight=default_weight_observer)
default_debug_qconfig = QConfig(weight=default_weight_observer, activation=default_debug_observer)
default_per_channel_qconfig = QConfig(activation=default_observer, weight=default_per_channel_weight_observer)
float16_static_qconfig = QConfig(activation=PlaceholderObserver.with_args(dtype=dtypes.float16),
                                 weight=PlaceholderObserver.with_args(dtype=dtypes.float16))
default_weight_only_qconfig = QConfig(activation=Identity, weight=default_weight_fake_quant)
default_activation_only_qconfig = QConfig(activation=default_fake_quant, weight=Identity)
default_reuse_input_qconfig = QConfig(activation=default_reuse_input_observer, weight=NoopObserver)
default_quint8_weight_qconfig = QConfig(activation=HistogramObserver, weight=MinMaxObserver)

_SYMMETRIC_QNNPACK_ACTIVATION = HistogramObserver.with_args(dtype=qt.qint8, reduce_range=False, eps=2**-12)
default_symmetric_qnnpack_qconfig = QConfig(activation=_SYMMETRIC_QNNPACK_ACTIVATION,
                                            weight=weight_observer_range_neg_127_to_127)
default_per_channel_symmetric_qnnpack_qconfig = QConfig(activation=_SYMMETRIC_QNNPACK_ACTIVATION,
                                                        weight=per_channel_weight_observer_range_neg_127_to_127)


def get_default_qconfig(backend="x86", version=0):
    """The post-training qconfig PyTorch recommends for ``backend``: histogram-observed 8-bit activations (7-bit on
    x86/fbgemm, whose kernels could overflow otherwise) and symmetric 8-bit weights, per channel except on
    qnnpack."""
    if backend not in _PTQ_BACKENDS:
        raise AssertionError(f"backend: {backend} not supported. backend must be one of {_PTQ_BACKENDS}")
    if version != 0:
        raise AssertionError(f"Version number: {version} in get_default_qconfig is not supported. Version number "
                             "must be 0")
    reduce_range = backend in ("x86", "fbgemm")
    weight = default_weight_observer if backend == "qnnpack" else default_per_channel_weight_observer
    return QConfig(activation=HistogramObserver.with_args(reduce_range=reduce_range), weight=weight)


def _obs_or_fq_ctr_equals(ctr1, ctr2) -> bool:
    if isinstance(ctr1, _PartialWrapper) and isinstance(ctr2, _PartialWrapper):
        return _partial_wrapper_equals(ctr1, ctr2)
    return ctr1 == ctr2


def _partial_wrapper_equals(ctr1: _PartialWrapper, ctr2: _PartialWrapper) -> bool:
    """Same class and bound arguments (``functools.partial`` itself compares by identity); a fake-quantize's
    ``observer`` argument is compared the same way."""
    keywords1, keywords2 = copy.copy(ctr1.p.keywords), copy.copy(ctr2.p.keywords)
    observers_equal = True
    if "observer" in keywords1 and "observer" in keywords2:
        observers_equal = _obs_or_fq_ctr_equals(keywords1.pop("observer"), keywords2.pop("observer"))
    return (observers_equal and keywords1 == keywords2 and ctr1.p.func == ctr2.p.func
            and ctr1.p.args == ctr2.p.args)


def qconfig_equals(q1: QConfigAny, q2: QConfigAny) -> bool:
    """Whether two qconfigs build the same observers: the same classes with the same bound arguments."""
    if q1 is None or q2 is None:
        return q1 == q2
    try:
        return _obs_or_fq_ctr_equals(q1.activation, q2.activation) and _obs_or_fq_ctr_equals(q1.weight, q2.weight)
    except AttributeError:  # not QConfigs: plain comparison, as PyTorch
        return q1 == q2
