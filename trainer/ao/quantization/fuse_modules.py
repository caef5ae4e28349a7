"""``fuse_modules`` / ``fuse_modules_qat``: replace runs of sub-modules (``["conv", "bn", "relu"]``) by one fused
module in the first one's place and ``Identity`` in the others', keeping the first module's forward pre-hooks and
the last one's forward hooks on the fused module."""

from __future__ import annotations

import copy

from trainer.ao.quantization.fuser_method_mappings import get_fuser_method
from trainer.nn.modules.linear import Identity
from trainer.nn.utils.parametrize import type_before_parametrizations

__all__ = ["fuse_known_modules", "fuse_modules", "fuse_modules_qat"]


def fuse_known_modules(mod_list, is_qat, additional_fuser_method_mapping=None):
    """The fused module for ``mod_list`` followed by ``Identity`` for each other position."""
    types = tuple(type_before_parametrizations(m) for m in mod_list)
    fused = get_fuser_method(types, additional_fuser_method_mapping)(is_qat, *mod_list)
    for pre_hook_fn in mod_list[0]._forward_pre_hooks.values():
        fused.register_forward_pre_hook(pre_hook_fn)
    mod_list[0]._forward_pre_hooks.clear()
    for hook_fn in mod_list[-1]._forward_hooks.values():
        fused.register_forward_hook(hook_fn)
    mod_list[-1]._forward_hooks.clear()
    new_mod = [fused]
    for _ in mod_list[1:]:
        identity = Identity()
        identity.training = mod_list[0].training
        new_mod.append(identity)
    return new_mod


def _get_module(model, submodule_key):
    module = model
    for name in submodule_key.split("."):
        module = getattr(module, name)
    return module


def _set_module(model, submodule_key, module):
    *parents, name = submodule_key.split(".")
    setattr(_get_module(model, ".".join(parents)) if parents else model, name, module)


def _fuse_modules_helper(model, modules_to_fuse, is_qat, fuser_func, fuse_custom_config_dict):
    additional = (fuse_custom_config_dict or {}).get("additional_fuser_method_mapping", {})
    mod_list = [_get_module(model, item) for item in modules_to_fuse]
    new_mod_list = fuser_func(mod_list, is_qat, additional)
    for item, new_mod in zip(modules_to_fuse, new_mod_list, strict=True):
        _set_module(model, item, new_mod)


def _fuse_modules(model, modules_to_fuse, is_qat, inplace=False, fuser_func=fuse_known_modules,
                  fuse_custom_config_dict=None):
    if not inplace:
        model = copy.deepcopy(model)
    if all(isinstance(item, str) for item in modules_to_fuse):  # one list of names
        modules_to_fuse = [modules_to_fuse]
    for module_list in modules_to_fuse:
        _fuse_modules_helper(model, module_list, is_qat, fuser_func, fuse_custom_config_dict)
    return model


def fuse_modules(model, modules_to_fuse, inplace=False, fuser_func=fuse_known_modules, fuse_custom_config_dict=None):
    """Fuse for inference: conv+bn(+relu) and linear+bn fold the batch norm (eval mode); conv+relu, linear+relu and
    bn+relu become fused containers. ``modules_to_fuse`` is a list of name lists, or one list of names."""
    return _fuse_modules(model, modules_to_fuse, is_qat=False, inplace=inplace, fuser_func=fuser_func,
                         fuse_custom_config_dict=fuse_custom_config_dict)


def fuse_modules_qat(model, modules_to_fuse, inplace=False, fuser_func=fuse_known_modules,
                     fuse_custom_config_dict=None):
    """Fuse for quantization-aware training: the batch norm stays, in a fused container that ``prepare_qat``
    turns into a module folding it into the fake-quantized weight."""
    return _fuse_modules(model, modules_to_fuse, is_qat=True, inplace=inplace, fuser_func=fuser_func,
                         fuse_custom_config_dict=fuse_custom_config_dict)
