"""``convert``: the last step of eager-mode static quantization and quantization-aware training, as
``torch.ao.quantization.convert``: every prepared (observed or QAT) module with a ``qconfig`` whose type the mapping
lists is swapped for its int8 version (``from_float``), then the qconfigs and observers are removed.

The default mapping is PyTorch's ``DEFAULT_STATIC_QUANT_MODULE_MAPPINGS`` restricted to the int8 modules trainer has:
the stubs, Linear, Conv1d/2d/3d and their QAT and fused forms, ConvTranspose1d/2d/3d, BatchNorm2d/3d and
BNReLU2d/3d, LayerNorm, GroupNorm, InstanceNorm1d/2d/3d, ReLU6, Hardswish, ELU, LeakyReLU, PReLU, Dropout,
Embedding/EmbeddingBag (weight-only) and FloatFunctional. FX mode and the quantized recurrent layers are not there
(dynamic quantization's mapping is in ``quantize_dynamic.py``)."""

from __future__ import annotations

import copy

from trainer import nn
from trainer.ao.nn import intrinsic as nni
from trainer.ao.nn import qat as nnqat
from trainer.ao.nn import quantized as nnq
from trainer.ao.nn.intrinsic import qat as nniqat
from trainer.ao.nn.intrinsic import quantized as nniq
from trainer.ao.nn.intrinsic.fused import _FusedModule
from trainer.ao.quantization.fake_quantize import FakeQuantizeBase
from trainer.ao.quantization.observer import ObserverBase
from trainer.ao.quantization.quantize import _observer_forward_hook, _observer_forward_pre_hook, swap_module
from trainer.ao.quantization.stubs import DeQuantStub, QuantStub
from trainer.nn.modules.attention import NonDynamicallyQuantizableLinear
from trainer.nn.utils.parametrize import type_before_parametrizations

__all__ = [
    "DEFAULT_STATIC_QUANT_MODULE_MAPPINGS",
    "convert",
    "get_default_static_quant_module_mappings",
    "get_static_quant_module_class",
]

DEFAULT_STATIC_QUANT_MODULE_MAPPINGS = {
    QuantStub: nnq.Quantize,
    DeQuantStub: nnq.DeQuantize,
    nn.Conv1d: nnq.Conv1d,
    nn.Conv2d: nnq.Conv2d,
    nn.Conv3d: nnq.Conv3d,
    nn.ConvTranspose1d: nnq.ConvTranspose1d,
    nn.ConvTranspose2d: nnq.ConvTranspose2d,
    nn.ConvTranspose3d: nnq.ConvTranspose3d,
    nn.Dropout: nnq.Dropout,
    nn.Embedding: nnq.Embedding,
    nn.EmbeddingBag: nnq.EmbeddingBag,
    nn.GroupNorm: nnq.GroupNorm,
    nn.InstanceNorm1d: nnq.InstanceNorm1d,
    nn.InstanceNorm2d: nnq.InstanceNorm2d,
    nn.InstanceNorm3d: nnq.InstanceNorm3d,
    nn.LayerNorm: nnq.LayerNorm,
    nn.PReLU: nnq.PReLU,
    nn.BatchNorm2d: nnq.BatchNorm2d,
    nn.BatchNorm3d: nnq.BatchNorm3d,
    NonDynamicallyQuantizableLinear: nnq.Linear,
    nn.Linear: nnq.Linear,
    nn.ReLU6: nnq.ReLU6,
    nn.Hardswish: nnq.Hardswish,
    nn.ELU: nnq.ELU,
    nn.LeakyReLU: nnq.LeakyReLU,
    nnq.FloatFunctional: nnq.QFunctional,
    # intrinsic modules
    nni.ConvReLU1d: nniq.ConvReLU1d,
    nni.ConvReLU2d: nniq.ConvReLU2d,
    nni.ConvReLU3d: nniq.ConvReLU3d,
    nni.LinearReLU: nniq.LinearReLU,
    nni.BNReLU2d: nniq.BNReLU2d,
    nni.BNReLU3d: nniq.BNReLU3d,
    nniqat.ConvBn1d: nnq.Conv1d,
    nniqat.ConvBn2d: nnq.Conv2d,
    nniqat.ConvBn3d: nnq.Conv3d,
    nniqat.ConvBnReLU1d: nniq.ConvReLU1d,
    nniqat.ConvBnReLU2d: nniq.ConvReLU2d,
    nniqat.ConvBnReLU3d: nniq.ConvReLU3d,
    nniqat.ConvReLU2d: nniq.ConvReLU2d,
    nniqat.ConvReLU3d: nniq.ConvReLU3d,
    nniqat.LinearReLU: nniq.LinearReLU,
    nniqat.LinearBn1d: nnq.Linear,
    # QAT modules
    nnqat.Linear: nnq.Linear,
    nnqat.Conv2d: nnq.Conv2d,
    nnqat.Conv3d: nnq.Conv3d,
}


def get_default_static_quant_module_mappings() -> dict:
    """A copy of the float/QAT-to-int8 module mapping ``convert`` uses."""
    return copy.deepcopy(DEFAULT_STATIC_QUANT_MODULE_MAPPINGS)


def get_static_quant_module_class(float_module_class, additional_static_quant_mapping=None, is_reference=False):
    """The int8 module class for ``float_module_class``."""
    if is_reference:
        raise NotImplementedError("reference quantized modules (is_reference=True) are not available in trainer")
    mapping = {**DEFAULT_STATIC_QUANT_MODULE_MAPPINGS, **(additional_static_quant_mapping or {})}
    if float_module_class not in mapping:
        raise AssertionError(f"Floating point module class {float_module_class} does not have a corresponding "
                             "quantized module class")
    return mapping[float_module_class]


def convert(module, mapping=None, inplace=False, remove_qconfig=True, is_reference=False,
            convert_custom_config_dict=None, use_precomputed_fake_quant=False):
    """Swap each prepared sub-module with a ``qconfig`` for the module ``mapping`` (by default
    ``get_default_static_quant_module_mappings()``) gives its type, built by that class's ``from_float``; fused
    modules convert as one unit. Then drop the qconfigs and the observers and their hooks (``remove_qconfig``).
    The model should be in eval mode. A copy unless ``inplace``."""
    if is_reference:
        raise NotImplementedError("convert(is_reference=True) builds reference quantized modules, which trainer "
                                  "does not have; export the prepared model instead (QuantizeLinear/"
                                  "DequantizeLinear pairs)")
    if not inplace:
        module = copy.deepcopy(module)
    custom = (convert_custom_config_dict or {}).get("observed_to_quantized_custom_module_class", {})
    _convert(module, get_default_static_quant_module_mappings() if mapping is None else mapping, custom,
             use_precomputed_fake_quant)
    if remove_qconfig:
        _remove_qconfig(module)
    return module


def _convert(module, mapping, custom_module_class_mapping, use_precomputed_fake_quant):
    reassign = {}
    for name, mod in module.named_children():
        # a fused module (and a custom one) converts as a whole
        if not isinstance(mod, _FusedModule) and type_before_parametrizations(mod) not in custom_module_class_mapping:
            _convert(mod, mapping, custom_module_class_mapping, use_precomputed_fake_quant)
        reassign[name] = swap_module(mod, mapping, custom_module_class_mapping, use_precomputed_fake_quant)
    for key, value in reassign.items():
        module._modules[key] = value


def _remove_qconfig(module) -> None:
    """Drop ``qconfig``, the observer and the observer hooks from ``module`` and all its sub-modules."""
    for child in module.children():
        _remove_qconfig(child)
    if hasattr(module, "qconfig"):
        del module.qconfig
    _remove_activation_post_process(module)


def _remove_activation_post_process(module) -> None:
    observer = getattr(module, "activation_post_process", None)
    if isinstance(observer, (ObserverBase, FakeQuantizeBase)):
        delattr(module, "activation_post_process")
    for hooks, observer_hook in ((module._forward_pre_hooks, _observer_forward_pre_hook),
                                 (module._forward_hooks, _observer_forward_hook)):
        for handle_id in [key for key, hook in hooks.items() if hook is observer_hook]:
            hooks.pop(handle_id)
