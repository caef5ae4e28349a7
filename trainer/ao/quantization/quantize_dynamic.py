"""``quantize_dynamic``: post-training dynamic quantization, as ``torch.ao.quantization.quantize_dynamic``: the
layers the qconfig spec names get their weights quantized (int8) or rounded (float16) once, and quantize their
float inputs on the fly.

The default spec and mapping are PyTorch's: Linear, LSTM, GRU and the LSTM, GRU and RNN cells."""

from __future__ import annotations

import copy
import itertools

from trainer import dtypes, nn
from trainer import quantized_types as qt
from trainer.ao.nn.quantized import dynamic as nnqd
from trainer.ao.quantization.convert import convert
from trainer.ao.quantization.dynamic_qconfig import default_dynamic_qconfig, float16_dynamic_qconfig
from trainer.ao.quantization.quantize import propagate_qconfig_
from trainer.nn.modules.attention import NonDynamicallyQuantizableLinear

__all__ = ["DEFAULT_DYNAMIC_QUANT_MODULE_MAPPINGS", "get_default_dynamic_quant_module_mappings", "quantize_dynamic"]

DEFAULT_DYNAMIC_QUANT_MODULE_MAPPINGS = {
    nn.Linear: nnqd.Linear,
    NonDynamicallyQuantizableLinear: nnqd.Linear,
    nn.LSTM: nnqd.LSTM,
    nn.GRU: nnqd.GRU,
    nn.LSTMCell: nnqd.LSTMCell,
    nn.GRUCell: nnqd.GRUCell,
    nn.RNNCell: nnqd.RNNCell,
}

# the module types PyTorch's default spec quantizes
_DEFAULT_SPEC_TYPES = (nn.Linear, nn.LSTM, nn.GRU, nn.LSTMCell, nn.RNNCell, nn.GRUCell)


def get_default_dynamic_quant_module_mappings() -> dict:
    """A copy of the float-to-dynamic module mapping ``quantize_dynamic`` uses."""
    return copy.copy(DEFAULT_DYNAMIC_QUANT_MODULE_MAPPINGS)


def _default_qconfig(dtype, error: type):
    if dtype is qt.qint8:
        return default_dynamic_qconfig
    if dtype is dtypes.float16:
        return float16_dynamic_qconfig
    raise error(f"Don't know how to quantize with default settings for {dtype}. Provide full qconfig please "
                "(trainer's dynamic layers take trainer.qint8 or trainer.float16)")


def quantize_dynamic(model, qconfig_spec=None, dtype=qt.qint8, mapping=None, inplace=False):
    """Swap the sub-modules ``qconfig_spec`` selects (a dict from qualified name or type to ``QConfig``, or a set of
    names and types quantized with ``dtype``'s default qconfig; by default Linear and the recurrent layers) for
    their dynamically quantized versions from ``mapping``. The model is put in eval mode; a copy unless
    ``inplace``."""
    if qconfig_spec is None:
        qconfig_spec = dict.fromkeys(_DEFAULT_SPEC_TYPES, _default_qconfig(dtype, ValueError))
    elif isinstance(qconfig_spec, set):
        qconfig_spec = dict(zip(qconfig_spec, itertools.repeat(_default_qconfig(dtype, RuntimeError))))
    if mapping is None:
        mapping = get_default_dynamic_quant_module_mappings()
    if not inplace:
        model = copy.deepcopy(model)
    model.eval()
    propagate_qconfig_(model, qconfig_spec)
    convert(model, mapping, inplace=True)
    return model
