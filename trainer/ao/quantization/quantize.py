"""Eager-mode preparation for quantization-aware training, as ``torch.ao.quantization.quantize``:
``propagate_qconfig_`` hands each module its parent's ``qconfig``; ``prepare_qat`` swaps float layers for their QAT
versions (fake-quantized weights) and gives each quantizable leaf an ``activation_post_process`` fake-quantize
module, run on its output by a forward hook registered first (on its input by a pre-hook when the activation
observer keeps no memory); ``prepare`` does the second part alone (observers for post-training calibration).

``convert`` (swapping to int8 modules) lives in ``convert.py``. A prepared model exports to ONNX as
QuantizeLinear/DequantizeLinear pairs; converted models do not export."""

from __future__ import annotations

import copy
import inspect
import warnings

from trainer import nn
from trainer.ao.nn.intrinsic.fused import _FusedModule
from trainer.ao.nn.quantized.functional_modules import FloatFunctional, QFunctional
from trainer.ao.quantization.observer import PerChannelMinMaxObserver
from trainer.ao.quantization.quantization_mappings import (
    _get_special_act_post_process,
    _has_special_act_post_process,
    get_default_qat_module_mappings,
    get_default_qconfig_propagation_list,
)
from trainer.ao.quantization.stubs import DeQuantStub, QuantWrapper
from trainer.nn.utils.parametrize import is_parametrized, type_before_parametrizations

__all__ = ["add_quant_dequant", "prepare", "prepare_qat", "propagate_qconfig_", "swap_module"]

# PyTorch swaps these for observed "quantizable" versions when preparing; trainer has none
_NEEDS_QUANTIZABLE_VERSION = (nn.LSTM, nn.MultiheadAttention)


def propagate_qconfig_(module, qconfig_dict=None, prepare_custom_config_dict=None):
    """Give every sub-module a ``qconfig`` attribute: its own if set, else the entry of ``qconfig_dict`` for its
    qualified name or its type, else its parent's (``None`` at the top without one)."""
    _propagate_qconfig_helper(module, qconfig_dict or {}, prepare_custom_config_dict=prepare_custom_config_dict or {})


def _propagate_qconfig_helper(module, qconfig_dict, qconfig_parent=None, prefix="", prepare_custom_config_dict=None):
    module_qconfig = qconfig_dict.get(type_before_parametrizations(module), qconfig_parent)
    module_qconfig = qconfig_dict.get(prefix, module_qconfig)
    module_qconfig = getattr(module, "qconfig", module_qconfig)
    _assert_valid_qconfig(module_qconfig, module)
    module.qconfig = module_qconfig
    for name, child in module.named_children():
        module_prefix = prefix + "." + name if prefix else name
        # modules marked non-traceable (top level only, as PyTorch checks them) keep no qconfig
        if prepare_custom_config_dict is None or not (
                name in prepare_custom_config_dict.get("non_traceable_module_name", [])
                or type(child) in prepare_custom_config_dict.get("non_traceable_module_class", [])):
            _propagate_qconfig_helper(child, qconfig_dict, module_qconfig, module_prefix)


def _assert_valid_qconfig(qconfig, mod) -> None:
    if qconfig is None or qconfig.weight is None:
        return
    if isinstance(mod, (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)) and isinstance(
            qconfig.weight(), PerChannelMinMaxObserver):
        raise AssertionError("Per channel weight observer is not supported yet for ConvTranspose{n}d.")


def _observer_forward_hook(self, input, output):
    """Runs the module's activation fake-quantize module on its output."""
    return self.activation_post_process(output)


def _observer_forward_pre_hook(self, input):
    """Runs the module's activation fake-quantize module on its input."""
    return self.activation_post_process(input[0])


def _register_activation_post_process_hook(module, pre_hook=False):
    if not hasattr(module, "activation_post_process"):
        raise AssertionError("Expect activation_post_process attribute already attached to the module")
    # first in line: the user's own hooks see the fake-quantized output
    if pre_hook:
        module.register_forward_pre_hook(_observer_forward_pre_hook, prepend=True)
    else:
        module.register_forward_hook(_observer_forward_hook, prepend=True)


def _activation_is_memoryless(qconfig) -> bool:
    """Whether the activation observer keeps no history (a moving average with constant 1)."""
    act = qconfig.activation()
    observer = getattr(act, "activation_post_process", act)
    return getattr(observer, "averaging_constant", None) == 1


def _has_no_children_ignoring_parametrizations(module) -> bool:
    if len(module._modules) == 0:
        return True
    if is_parametrized(module):
        return len(module._modules) == 1 and "parametrizations" in module._modules
    return False


def _get_unique_devices_(module) -> set:
    return {p.device for p in module.parameters()} | {b.device for b in module.buffers()}


def _add_observer_(module, qconfig_propagation_list=None, non_leaf_module_list=None, device=None,
                   custom_module_class_mapping=None):
    """Give each quantizable leaf (and each fused or listed non-leaf module) with a qconfig its activation
    fake-quantize module and hook; ``DeQuantStub`` gets none."""
    if qconfig_propagation_list is None:
        qconfig_propagation_list = get_default_qconfig_propagation_list()
    custom_module_class_mapping = custom_module_class_mapping or {}
    if device is None:
        devices = _get_unique_devices_(module)
        if len(devices) > 1:
            raise AssertionError(f"_add_observer_ only works with cpu or single-device CUDA modules, but got devices "
                                 f"{devices}")
        device = next(iter(devices)) if devices else None

    def needs_observation(m):
        return getattr(m, "qconfig", None) is not None

    def insert_activation_post_process(m, special_act_post_process=None):
        if needs_observation(m) and not isinstance(m, DeQuantStub):
            make = m.qconfig.activation if special_act_post_process is None else special_act_post_process
            m.add_module("activation_post_process", make_activation_observer(m.qconfig, device, make))
            _register_activation_post_process_hook(m, pre_hook=_activation_is_memoryless(m.qconfig))

    for name, child in module.named_children():
        child_type = type_before_parametrizations(child)
        if child_type is nn.Dropout:
            continue
        if isinstance(child, (FloatFunctional, QFunctional)):  # its ops run the observer themselves
            if needs_observation(child):
                child.activation_post_process = make_activation_observer(child.qconfig, device)
            continue
        if isinstance(child, _FusedModule) or (non_leaf_module_list is not None
                                               and child_type in non_leaf_module_list):
            insert_activation_post_process(child)
        elif _has_special_act_post_process(child):
            insert_activation_post_process(child, _get_special_act_post_process(child))
        elif needs_observation(child) and child_type in custom_module_class_mapping:
            observed_child = custom_module_class_mapping[child_type].from_float(child)
            setattr(module, name, observed_child)
            insert_activation_post_process(observed_child)
        else:
            if needs_observation(child) and isinstance(child, _NEEDS_QUANTIZABLE_VERSION):
                raise NotImplementedError(f"cannot prepare {name} ({child_type.__name__}) for quantization: PyTorch "
                                          "swaps it for its observed torch.ao.nn.quantizable version, which trainer "
                                          "does not have; set its qconfig to None to leave it in float")
            _add_observer_(child, qconfig_propagation_list, non_leaf_module_list, device,
                           custom_module_class_mapping)

    # leaves observe their output; the input is observed by the QuantStub before them
    quantizable = not isinstance(module, nn.Sequential) and type_before_parametrizations(module) in \
        qconfig_propagation_list
    if quantizable and (_has_no_children_ignoring_parametrizations(module) or hasattr(module, "weight_fake_quant")):
        insert_activation_post_process(module)


def make_activation_observer(qconfig, device, make=None):
    """A new activation observer from ``qconfig`` (or from ``make``), on ``device``."""
    activation = (qconfig.activation if make is None else make)()
    if device is not None:
        activation.to(device)
    return activation


def add_quant_dequant(module):
    """Wrap each leaf with a qconfig in a ``QuantWrapper``; returns the wrapped module when ``module`` itself is
    such a leaf."""
    if _has_no_children_ignoring_parametrizations(module) and getattr(module, "qconfig", None):
        return QuantWrapper(module)
    for name, child in module.named_children():
        module._modules[name] = add_quant_dequant(child)
    return module


def prepare(model, inplace=False, allow_list=None, observer_non_leaf_module_list=None,
            prepare_custom_config_dict=None):
    """Propagate the qconfigs and attach an observer (or fake-quantize module) to each quantizable module's output
    (post-training calibration; ``prepare_qat`` for training). A copy unless ``inplace``."""
    custom_module_class_mapping = (prepare_custom_config_dict or {}).get("float_to_observed_custom_module_class", {})
    if not inplace:
        model = copy.deepcopy(model)
    qconfig_propagation_list = get_default_qconfig_propagation_list() if allow_list is None else allow_list
    propagate_qconfig_(model, qconfig_dict=None)
    if not any(getattr(m, "qconfig", None) for m in model.modules()):
        warnings.warn("None of the submodule got qconfig applied. Make sure you passed correct configuration through "
                      "`qconfig_dict` or by assigning the `.qconfig` attribute directly on submodules", stacklevel=2)
    _add_observer_(model, qconfig_propagation_list, observer_non_leaf_module_list,
                   custom_module_class_mapping=custom_module_class_mapping)
    return model


def prepare_qat(model, mapping=None, inplace=False):
    """Swap the float layers with a qconfig for their QAT versions (``mapping``, by default
    ``get_default_qat_module_mappings()``) and attach the activation fake-quantize modules. The model must be in
    training mode. A copy unless ``inplace``."""
    if not model.training:
        raise AssertionError("prepare_qat only works on models in training mode")
    if mapping is None:
        mapping = get_default_qat_module_mappings()
    if not inplace:
        model = copy.deepcopy(model)
    propagate_qconfig_(model, qconfig_dict=None)
    _convert(model, mapping)
    prepare(model, observer_non_leaf_module_list=set(mapping.values()), inplace=True)
    return model


def _convert(module, mapping):
    """Swap, in place, every sub-module whose type ``mapping`` lists (fused modules as one unit)."""
    reassign = {}
    for name, mod in module.named_children():
        if not isinstance(mod, _FusedModule):
            _convert(mod, mapping)
        reassign[name] = swap_module(mod, mapping, {})
    for key, value in reassign.items():
        module._modules[key] = value
    return module


def swap_module(mod, mapping, custom_module_class_mapping, use_precomputed_fake_quant=False):
    """``mod``'s counterpart from ``mapping`` (built by its ``from_float``) when it has a qconfig, else ``mod``;
    the forward hooks move over, except the activation observer's."""
    new_mod = mod
    if getattr(mod, "qconfig", None) is None:
        return new_mod
    mod_type = type_before_parametrizations(mod)
    if mod_type in custom_module_class_mapping:
        new_mod = custom_module_class_mapping[mod_type].from_observed(mod)
    elif mod_type in mapping:
        qmod = mapping[mod_type]
        if "use_precomputed_fake_quant" in inspect.signature(qmod.from_float).parameters:
            new_mod = qmod.from_float(mod, use_precomputed_fake_quant=use_precomputed_fake_quant)
        else:
            new_mod = qmod.from_float(mod)
    else:
        return new_mod
    for pre_hook_fn in mod._forward_pre_hooks.values():
        new_mod.register_forward_pre_hook(pre_hook_fn)
    for hook_fn in mod._forward_hooks.values():
        if hook_fn is not _observer_forward_hook:
            new_mod.register_forward_hook(hook_fn)
    devices = _get_unique_devices_(mod)
    if len(devices) > 1:
        raise AssertionError("swap_module only works with cpu or single-device CUDA modules, but got devices "
                             f"{devices}")
    if devices:
        new_mod.to(next(iter(devices)))
    return new_mod
