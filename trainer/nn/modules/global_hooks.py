"""Hooks that apply to every module, registered once (``torch.nn.modules.module.register_module_forward_hook`` and
friends, PyTorch's tools for debugging and profiling whole programs). ``Module`` reads these registries: around a
call the global forward and backward hooks run before the module's own, and the registration hooks may replace
each parameter, buffer or sub-module as it is registered. Each function returns a ``RemovableHandle``.

PyTorch's deprecated ``register_module_backward_hook`` is left out, as trainer's ``Module`` has only full backward
hooks.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

from trainer.utils.hooks import RemovableHandle

_global_forward_pre_hooks: OrderedDict[int, Callable] = OrderedDict()
_global_forward_hooks: OrderedDict[int, Callable] = OrderedDict()
_global_forward_hooks_with_kwargs: dict[int, bool] = {}
_global_forward_hooks_always_called: dict[int, bool] = {}
_global_backward_pre_hooks: OrderedDict[int, Callable] = OrderedDict()
_global_backward_hooks: OrderedDict[int, Callable] = OrderedDict()
# the ids of every global hook above: Module.__call__ looks at this one dict to know whether any is registered
_global_call_hook_ids: dict[int, bool] = {}

_global_parameter_registration_hooks: OrderedDict[int, Callable] = OrderedDict()
_global_buffer_registration_hooks: OrderedDict[int, Callable] = OrderedDict()
_global_module_registration_hooks: OrderedDict[int, Callable] = OrderedDict()


def _register_call_hook(hooks: OrderedDict, hook: Callable, *extra: dict) -> RemovableHandle:
    handle = RemovableHandle(hooks, extra_dict=[_global_call_hook_ids, *extra])
    hooks[handle.id] = hook
    _global_call_hook_ids[handle.id] = True
    return handle


def register_module_forward_pre_hook(hook: Callable) -> RemovableHandle:
    """``hook(module, args)`` runs before every module's ``forward`` (before the module's own pre-hooks); a
    non-None result replaces the positional arguments (a non-tuple becomes a 1-tuple)."""
    return _register_call_hook(_global_forward_pre_hooks, hook)


def register_module_forward_hook(hook: Callable, *, with_kwargs: bool = False,
                                 always_call: bool = False) -> RemovableHandle:
    """``hook(module, args, output)`` (``hook(module, args, kwargs, output)`` with ``with_kwargs``) runs after every
    module's ``forward`` (before the module's own forward hooks); a non-None result replaces the output. With
    ``always_call`` it also runs when the call raises, and the exception then goes on."""
    handle = _register_call_hook(_global_forward_hooks, hook, _global_forward_hooks_with_kwargs,
                                 _global_forward_hooks_always_called)
    if with_kwargs:
        _global_forward_hooks_with_kwargs[handle.id] = True
    if always_call:
        _global_forward_hooks_always_called[handle.id] = True
    return handle


def register_module_full_backward_pre_hook(hook: Callable) -> RemovableHandle:
    """``hook(module, grad_output)`` runs when the gradients of a module's outputs are known, for every module; a
    non-None result (as many gradients) replaces ``grad_output``."""
    return _register_call_hook(_global_backward_pre_hooks, hook)


def register_module_full_backward_hook(hook: Callable) -> RemovableHandle:
    """``hook(module, grad_input, grad_output)`` runs, for every module, when the gradients of its tensor arguments
    are known, before the module's own full backward hooks; a non-None result replaces ``grad_input``."""
    return _register_call_hook(_global_backward_hooks, hook)


def _register(hooks: OrderedDict, hook: Callable) -> RemovableHandle:
    handle = RemovableHandle(hooks)
    hooks[handle.id] = hook
    return handle


def register_module_parameter_registration_hook(hook: Callable) -> RemovableHandle:
    """``hook(module, name, param)`` runs whenever a module registers a parameter (not None); a non-None result is
    registered instead."""
    return _register(_global_parameter_registration_hooks, hook)


def register_module_buffer_registration_hook(hook: Callable) -> RemovableHandle:
    """``hook(module, name, buffer)`` runs whenever a module registers a buffer; a non-None result is registered
    instead."""
    return _register(_global_buffer_registration_hooks, hook)


def register_module_module_registration_hook(hook: Callable) -> RemovableHandle:
    """``hook(module, name, submodule)`` runs whenever a module registers a sub-module; a non-None result is
    registered instead."""
    return _register(_global_module_registration_hooks, hook)


def registered(hooks: OrderedDict, module, name: str, value):
    """``value`` after each registration hook of ``hooks`` had its say, as ``module`` registers it as ``name``."""
    for hook in tuple(hooks.values()):
        output = hook(module, name, value)
        if output is not None:
            value = output
    return value
