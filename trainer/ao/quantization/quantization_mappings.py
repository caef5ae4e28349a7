"""Which float modules quantization-aware training swaps for which QAT modules, and which modules get an output
fake-quantize module when prepared, as ``torch.ao.quantization.quantization_mappings`` lists them (restricted to
the module types trainer has)."""

from __future__ import annotations

import copy

from trainer import nn
from trainer.ao.nn import intrinsic as nni
from trainer.ao.nn import qat as nnqat
from trainer.ao.nn.intrinsic import qat as nniqat
from trainer.ao.quantization.fixed_qparams import (
    default_fixed_qparams_range_0to1_fake_quant,
    default_fixed_qparams_range_neg1to1_fake_quant,
)
from trainer.ao.quantization.stubs import DeQuantStub, QuantStub
from trainer.nn.modules.attention import NonDynamicallyQuantizableLinear
from trainer.nn.utils.parametrize import type_before_parametrizations

__all__ = [
    "DEFAULT_MODULE_TO_ACT_POST_PROCESS",
    "DEFAULT_QAT_MODULE_MAPPINGS",
    "get_default_qat_module_mappings",
    "get_default_qconfig_propagation_list",
]

DEFAULT_QAT_MODULE_MAPPINGS = {
    nn.Conv2d: nnqat.Conv2d,
    nn.Conv3d: nnqat.Conv3d,
    nn.Linear: nnqat.Linear,
    NonDynamicallyQuantizableLinear: nnqat.Linear,
    # intrinsic modules
    nni.ConvBn1d: nniqat.ConvBn1d,
    nni.ConvBn2d: nniqat.ConvBn2d,
    nni.ConvBn3d: nniqat.ConvBn3d,
    nni.ConvBnReLU1d: nniqat.ConvBnReLU1d,
    nni.ConvBnReLU2d: nniqat.ConvBnReLU2d,
    nni.ConvBnReLU3d: nniqat.ConvBnReLU3d,
    nni.ConvReLU2d: nniqat.ConvReLU2d,
    nni.ConvReLU3d: nniqat.ConvReLU3d,
    nni.LinearReLU: nniqat.LinearReLU,
    nni.LinearBn1d: nniqat.LinearBn1d,
}

# the float (and QAT) modules PyTorch has static int8 versions of: they get an output observer when prepared
_STATIC_QUANT_FLOAT_MODULES = {
    QuantStub, DeQuantStub, nn.BatchNorm2d, nn.BatchNorm3d, nn.Dropout, nn.Conv1d, nn.Conv2d, nn.Conv3d,
    nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d, nn.ELU, nn.Embedding, nn.EmbeddingBag, nn.GroupNorm,
    nn.Hardswish, nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d, nn.LayerNorm, nn.LeakyReLU,
    NonDynamicallyQuantizableLinear, nn.Linear, nn.ReLU6, nn.PReLU,
    nni.BNReLU2d, nni.BNReLU3d, nni.ConvReLU1d, nni.ConvReLU2d, nni.ConvReLU3d, nni.LinearReLU,
    nniqat.ConvBn1d, nniqat.ConvBn2d, nniqat.ConvBn3d, nniqat.ConvBnReLU1d, nniqat.ConvBnReLU2d, nniqat.ConvBnReLU3d,
    nniqat.ConvReLU2d, nniqat.ConvReLU3d, nniqat.LinearReLU, nniqat.LinearBn1d,
    nnqat.Linear, nnqat.Conv2d, nnqat.Conv3d,
}
# ... and those it has dynamically quantized versions of
_DYNAMIC_QUANT_FLOAT_MODULES = {
    nn.GRUCell, nn.Linear, NonDynamicallyQuantizableLinear, nn.LSTM, nn.GRU, nn.LSTMCell, nn.RNNCell,
    nni.LinearReLU, nn.EmbeddingBag, nn.Embedding,
}
_INCLUDE_QCONFIG_PROPAGATE_LIST = {nn.Sequential}

# activations with a known output range get a fixed grid instead of the qconfig's activation observer
DEFAULT_MODULE_TO_ACT_POST_PROCESS = {
    nn.Hardsigmoid: default_fixed_qparams_range_0to1_fake_quant,
    nn.Sigmoid: default_fixed_qparams_range_0to1_fake_quant,
    nn.Softmax: default_fixed_qparams_range_0to1_fake_quant,
    nn.Tanh: default_fixed_qparams_range_neg1to1_fake_quant,
}


def get_default_qat_module_mappings() -> dict:
    """A copy of the float-to-QAT module mapping ``prepare_qat`` uses."""
    return copy.deepcopy(DEFAULT_QAT_MODULE_MAPPINGS)


def get_default_qconfig_propagation_list() -> set:
    """The module types that get an output observer (fake-quantize module) when they are leaves of a prepared
    model."""
    return set(_STATIC_QUANT_FLOAT_MODULES | set(DEFAULT_QAT_MODULE_MAPPINGS) | _DYNAMIC_QUANT_FLOAT_MODULES
               | _INCLUDE_QCONFIG_PROPAGATE_LIST)


def _get_special_act_post_process(module):
    return DEFAULT_MODULE_TO_ACT_POST_PROCESS.get(type_before_parametrizations(module))


def _has_special_act_post_process(module) -> bool:
    return module.training and type(module) in DEFAULT_MODULE_TO_ACT_POST_PROCESS
