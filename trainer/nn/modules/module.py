"""``Module``: the base of every layer, with PyTorch's registration, traversal, hooks and state-dict API."""

from __future__ import annotations

import itertools
import warnings
from collections import OrderedDict, namedtuple
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from trainer import dtypes
from trainer.autograd import grad_mode, no_grad, op
from trainer.creation import as_tensor
from trainer.memory_formats import preserve_format
from trainer.nn.modules import module_to_empty
from trainer.nn.modules.global_hooks import (  # noqa: F401  (the register_* functions live here in PyTorch)
    _global_backward_hooks,
    _global_backward_pre_hooks,
    _global_buffer_registration_hooks,
    _global_call_hook_ids,
    _global_forward_hooks,
    _global_forward_hooks_always_called,
    _global_forward_hooks_with_kwargs,
    _global_forward_pre_hooks,
    _global_module_registration_hooks,
    _global_parameter_registration_hooks,
    register_module_buffer_registration_hook,
    register_module_forward_hook,
    register_module_forward_pre_hook,
    register_module_full_backward_hook,
    register_module_full_backward_pre_hook,
    register_module_module_registration_hook,
    register_module_parameter_registration_hook,
    registered,
)
from trainer.nn.parameter import Buffer, Parameter
from trainer.tensor import Tensor, _parse_to
from trainer.utils.hooks import RemovableHandle


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What ``load_state_dict`` returns: the keys the model wanted but missed, and those it did not know."""

    __slots__ = ()

    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()


class Module:
    """Base class for all layers; subclasses assign ``Parameter``s and sub-``Module``s in ``__init__``
    and define ``forward``."""

    training: bool

    def __init__(self) -> None:
        # set directly: these are the registries that __setattr__ itself consults
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "_non_persistent_buffers_set", set())
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "_forward_pre_hooks", OrderedDict())
        object.__setattr__(self, "_forward_hooks", OrderedDict())
        # as in PyTorch, the hook dicts map id -> hook (prune and friends read them); these hold the ids of the
        # hooks registered with_kwargs
        object.__setattr__(self, "_forward_pre_hooks_with_kwargs", set())
        object.__setattr__(self, "_forward_hooks_with_kwargs", set())
        object.__setattr__(self, "_backward_hooks", OrderedDict())

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required "forward" function')

    # ----------------------------------------------------------------- calling and hooks
    def __call__(self, *args, **kwargs):
        if not (self._forward_pre_hooks or self._forward_hooks or self._backward_hooks or _global_call_hook_ids):
            return self.forward(*args, **kwargs)
        return self._call_with_hooks(args, kwargs)

    def _call_with_hooks(self, args: tuple, kwargs: dict):
        """A call with hooks: the global ones (``register_module_forward_hook`` and friends) run before the module's
        own; when the call raises, the global forward hooks registered with ``always_call`` still run."""
        output = None
        called = set()
        try:
            for key, hook in (*_global_forward_pre_hooks.items(), *self._forward_pre_hooks.items()):
                if key in self._forward_pre_hooks_with_kwargs:
                    result = hook(self, args, kwargs)
                    if result is not None:
                        if not (isinstance(result, tuple) and len(result) == 2):
                            raise RuntimeError("forward pre-hook must return None or a tuple of (new_args, "
                                               f"new_kwargs), but got {result}.")
                        args, kwargs = result
                else:
                    result = hook(self, args)
                    if result is not None:
                        args = result if isinstance(result, tuple) else (result,)
            backward_hooks = None
            if grad_mode._state.enabled and (self._backward_hooks or _global_backward_hooks
                                             or _global_backward_pre_hooks):
                backward_hooks = _BackwardHookCall(self, [*_global_backward_hooks.values(),
                                                          *self._backward_hooks.values()],
                                                   list(_global_backward_pre_hooks.values()))
                args = backward_hooks.tap_inputs(args)
            output = self.forward(*args, **kwargs)
            for key, hook in (*_global_forward_hooks.items(), *self._forward_hooks.items()):
                called.add(key)
                if key in self._forward_hooks_with_kwargs or key in _global_forward_hooks_with_kwargs:
                    result = hook(self, args, kwargs, output)
                else:
                    result = hook(self, args, output)
                if result is not None:
                    output = result
            if backward_hooks is not None:
                output = backward_hooks.tap_outputs(output)
            return output
        except Exception:
            for key, hook in tuple(_global_forward_hooks.items()):
                if key not in _global_forward_hooks_always_called or key in called:
                    continue
                try:
                    if key in _global_forward_hooks_with_kwargs:
                        result = hook(self, args, kwargs, output)
                    else:
                        result = hook(self, args, output)
                    if result is not None:
                        output = result
                except Exception as exc:
                    warnings.warn("global module forward hook with ``always_call=True`` raised an exception that "
                                  f"was silenced as another error was raised in forward: {exc}", stacklevel=2)
            raise

    def register_forward_pre_hook(self, hook: Callable, *, prepend: bool = False,
                                  with_kwargs: bool = False) -> RemovableHandle:
        """``hook(module, args)`` (or ``hook(module, args, kwargs)``) runs before ``forward``; a non-None
        result replaces the arguments."""
        return _add_hook(self._forward_pre_hooks, hook, prepend,
                         self._forward_pre_hooks_with_kwargs if with_kwargs else None)

    def register_forward_hook(self, hook: Callable, *, prepend: bool = False,
                              with_kwargs: bool = False) -> RemovableHandle:
        """``hook(module, args, output)`` (or ``hook(module, args, kwargs, output)``) runs after ``forward``;
        a non-None result replaces the output."""
        return _add_hook(self._forward_hooks, hook, prepend, self._forward_hooks_with_kwargs if with_kwargs else None)

    def register_full_backward_hook(self, hook: Callable, prepend: bool = False) -> RemovableHandle:
        """``hook(module, grad_input, grad_output)`` runs once the gradients of the module's tensor arguments
        are computed (None for those that need none); a non-None result (a tuple) replaces ``grad_input``."""
        return _add_hook(self._backward_hooks, hook, prepend, None)

    # ----------------------------------------------------------------- registration
    def register_parameter(self, name: str, param: Parameter | None) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError("cannot assign parameter before Module.__init__() call")
        _check_member_name(name, "parameter")
        if hasattr(self, name) and name not in self._parameters:
            raise KeyError(f"attribute '{name}' already exists")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{type(param).__name__}' object to parameter '{name}' "
                            "(trainer.nn.Parameter or None required)")
        if param is not None and param.grad_fn is not None:
            raise ValueError(f"Cannot assign non-leaf Tensor to parameter '{name}'. Model parameters must be created "
                             f"explicitly. To express '{name}' as a function of another Tensor, compute the value in "
                             "the forward() method.")
        if param is not None:
            param = registered(_global_parameter_registration_hooks, self, name, param)
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """A tensor that is state but not learnable (running statistics); ``persistent=False`` keeps it
        out of ``state_dict``."""
        if "_buffers" not in self.__dict__:
            raise AttributeError("cannot assign buffer before Module.__init__() call")
        _check_member_name(name, "buffer")
        if hasattr(self, name) and name not in self._buffers:
            raise KeyError(f"attribute '{name}' already exists")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{type(tensor).__name__}' object to buffer '{name}' "
                            "(trainer.Tensor or None required)")
        tensor = registered(_global_buffer_registration_hooks, self, name, tensor)
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        if not isinstance(module, Module) and module is not None:
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        if not isinstance(name, str):
            raise TypeError(f"module name should be a string. Got {type(name).__name__}")
        if hasattr(self, name) and name not in self._modules:
            raise KeyError(f"attribute '{name}' already exists")
        if "." in name:
            raise KeyError(f'module name can\'t contain ".", got: {name}')
        if name == "":
            raise KeyError('module name can\'t be empty string ""')
        self._modules[name] = registered(_global_module_registration_hooks, self, name, module)

    register_module = add_module

    def __setattr__(self, name: str, value: Any) -> None:
        params = self.__dict__.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameter before Module.__init__() call")
            _unregister(name, self.__dict__, self._buffers, self._modules, self._non_persistent_buffers_set)
            self.register_parameter(name, value)
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as parameter '{name}' "
                                "(trainer.nn.Parameter or None expected)")
            self.register_parameter(name, value)
        elif isinstance(value, Module):
            if "_modules" not in self.__dict__:
                raise AttributeError("cannot assign module before Module.__init__() call")
            _unregister(name, self.__dict__, self._parameters, self._buffers, self._non_persistent_buffers_set)
            self._modules[name] = registered(_global_module_registration_hooks, self, name, value)
        elif name in self.__dict__.get("_modules", ()):
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as child module '{name}' "
                                "(trainer.nn.Module or None expected)")
            self._modules[name] = registered(_global_module_registration_hooks, self, name, value)
        elif isinstance(value, Buffer) or name in self.__dict__.get("_buffers", ()):
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign '{type(value).__name__}' as buffer '{name}' "
                                "(trainer.Tensor or None expected)")
            persistent = value.persistent if isinstance(value, Buffer) else name not in self._non_persistent_buffers_set
            self.register_buffer(name, value, persistent)
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:
        # only reached when normal lookup fails: parameters, buffers and modules live in their dicts
        for registry in ("_parameters", "_buffers", "_modules"):
            members = self.__dict__.get(registry)
            if members is not None and name in members:
                return members[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        if name in self._parameters:
            del self._parameters[name]
        elif name in self._buffers:
            del self._buffers[name]
            self._non_persistent_buffers_set.discard(name)
        elif name in self._modules:
            del self._modules[name]
        else:
            object.__delattr__(self, name)

    # ----------------------------------------------------------------- traversal
    def named_modules(self, memo: set | None = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Module]]:
        if memo is None:
            memo = set()
        if self in memo:
            return
        if remove_duplicate:
            memo.add(self)
        yield prefix, self
        for name, module in self._modules.items():
            if module is not None:
                yield from module.named_modules(memo, prefix + ("." if prefix else "") + name, remove_duplicate)

    def modules(self) -> Iterator[Module]:
        for _, module in self.named_modules():
            yield module

    def named_children(self) -> Iterator[tuple[str, Module]]:
        seen = set()
        for name, module in self._modules.items():
            if module is not None and module not in seen:
                seen.add(module)
                yield name, module

    def children(self) -> Iterator[Module]:
        for _, module in self.named_children():
            yield module

    def _named_members(self, members_of: Callable, prefix: str, recurse: bool, remove_duplicate: bool):
        # ids, not tensors, in the memo: Tensor.__eq__ is elementwise
        seen = set()
        owners = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse else [(prefix, self)]
        for owner_prefix, owner in owners:
            for name, value in members_of(owner):
                if value is None or id(value) in seen:
                    continue
                if remove_duplicate:
                    seen.add(id(value))
                yield owner_prefix + ("." if owner_prefix else "") + name, value

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        return self._named_members(lambda m: m._parameters.items(), prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        return self._named_members(lambda m: m._buffers.items(), prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, buf in self.named_buffers(recurse=recurse):
            yield buf

    def get_submodule(self, target: str) -> Module:
        """The module at a dotted path such as ``"encoder.layers.0"`` (``""`` is ``self``)."""
        if target == "":
            return self
        module = self
        for item in target.split("."):
            if not hasattr(module, item):
                raise AttributeError(f"{module._get_name()} has no attribute `{item}`")
            module = getattr(module, item)
            if not isinstance(module, Module):
                raise AttributeError(f"`{item}` is not an nn.Module")
        return module

    def get_parameter(self, target: str) -> Parameter:
        module, name = self._owner_of(target)
        param = getattr(module, name)
        if not isinstance(param, Parameter):
            raise AttributeError(f"`{name}` is not an nn.Parameter")
        return param

    def get_buffer(self, target: str) -> Tensor:
        module, name = self._owner_of(target)
        if name not in module._buffers:
            raise AttributeError(f"`{name}` is not a buffer")
        return module._buffers[name]

    def _owner_of(self, target: str) -> tuple[Module, str]:
        """The sub-module holding the attribute at a dotted path, and the attribute's name."""
        module_path, _, name = target.rpartition(".")
        module = self.get_submodule(module_path)
        if not hasattr(module, name):
            raise AttributeError(f"{module._get_name()} has no attribute `{name}`")
        return module, name

    def apply(self, fn: Callable[[Module], None]) -> Module:
        """Call ``fn`` on every sub-module (children first) and then on ``self``."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # ----------------------------------------------------------------- modes and gradients
    def train(self, mode: bool = True) -> Module:
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        self.training = mode
        for module in self.children():
            module.train(mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for param in self.parameters():
            param.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        for param in self.parameters():
            if param.grad is None:
                continue
            if set_to_none:
                param.grad = None
            else:
                if param.grad.grad_fn is not None:
                    param.grad.detach_()
                else:
                    param.grad.requires_grad_(False)
                param.grad.zero_()

    # ----------------------------------------------------------------- device and dtype
    def _apply(self, fn: Callable[[Tensor], Tensor], recurse: bool = True) -> Module:
        """Convert every parameter and buffer with ``fn``. Parameters keep their identity (their array is
        swapped) so that an optimizer built before ``.to()`` still updates the model's weights."""
        for module in self.children() if recurse else ():
            module._apply(fn)
        with no_grad():
            for param in self._parameters.values():
                if param is None:
                    continue
                param._data = fn(param)._data
                if param.grad is not None:
                    param.grad._data = fn(param.grad)._data
            for name, buf in self._buffers.items():
                if buf is not None:
                    self._buffers[name] = fn(buf)
        return self

    def to(self, *args, **kwargs) -> Module:
        """``to(device)``, ``to(dtype)``, ``to(device, dtype)`` or ``to(tensor)``; a dtype converts floating-point
        parameters and buffers only, as in PyTorch."""
        device, dtype = _parse_to(args, kwargs)
        if dtype is not None and not dtype.is_floating_point:
            raise TypeError(f"nn.Module.to only accepts floating point dtypes, but got desired dtype={dtype}")
        layout = kwargs.get("memory_format", preserve_format)  # as in PyTorch, applied to 4-D and 5-D tensors only
        return self._apply(lambda t: t.to(device=device, dtype=dtype if t.is_floating_point() else None,
                                          memory_format=layout if t.dim() in (4, 5) else preserve_format))

    to_empty = module_to_empty.to_empty

    def cuda(self, device=None) -> Module:
        return self._apply(lambda t: t.cuda(device))

    def cpu(self) -> Module:
        return self._apply(lambda t: t.cpu())

    def share_memory(self) -> Module:
        """``Tensor.share_memory_`` on every parameter and buffer (Hogwild programs call it before forking)."""
        return self._apply(lambda t: t.share_memory_())

    def type(self, dst_type) -> Module:
        """Cast every parameter and buffer, integer ones included, to ``dst_type``."""
        return self._apply(lambda t: t.type(dst_type))

    def float(self) -> Module:
        return self._apply(lambda t: t.to(dtypes.float32) if t.is_floating_point() else t)

    def double(self) -> Module:
        return self._apply(lambda t: t.to(dtypes.float64) if t.is_floating_point() else t)

    def half(self) -> Module:
        return self._apply(lambda t: t.to(dtypes.float16) if t.is_floating_point() else t)

    # ----------------------------------------------------------------- state dict
    def state_dict(self, destination: dict | None = None, prefix: str = "",
                   keep_vars: bool = False) -> OrderedDict[str, Tensor]:
        """Parameters then persistent buffers of each module, recursively, keyed ``a.b.weight``; values share
        memory with the model (detached unless ``keep_vars``)."""
        if destination is None:
            destination = OrderedDict()
        self._save_to_state_dict(destination, prefix, keep_vars)
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(destination=destination, prefix=prefix + name + ".", keep_vars=keep_vars)
        return destination

    def _save_to_state_dict(self, destination: dict, prefix: str, keep_vars: bool) -> None:
        for name, param in self._parameters.items():
            if param is not None:
                destination[prefix + name] = param if keep_vars else param.detach()
        for name, buf in self._buffers.items():
            if buf is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = buf if keep_vars else buf.detach()

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True,
                        assign: bool = False) -> _IncompatibleKeys:
        """Copy ``state_dict`` (trainer tensors or NumPy arrays) into the parameters and buffers, in place, or
        make them the model's tensors with ``assign=True``. Shape mismatches always raise; missing and unexpected
        keys raise only when ``strict``."""
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
        missing_keys: list[str] = []
        unexpected_keys: list[str] = []
        error_msgs: list[str] = []
        local_metadata = {"assign_to_params_buffers": assign}

        def load(module: Module, local_state_dict: dict, prefix: str) -> None:
            module._load_from_state_dict(local_state_dict, prefix, local_metadata, True, missing_keys,
                                         unexpected_keys, error_msgs)
            for name, child in module._modules.items():
                if child is not None:
                    child_prefix = prefix + name + "."
                    load(child, {k: v for k, v in local_state_dict.items() if k.startswith(child_prefix)},
                         child_prefix)

        load(self, dict(state_dict), "")
        if strict:
            if unexpected_keys:
                error_msgs.insert(0, f"Unexpected key(s) in state_dict: {_quoted(unexpected_keys)}. ")
            if missing_keys:
                error_msgs.insert(0, f"Missing key(s) in state_dict: {_quoted(missing_keys)}. ")
        if error_msgs:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                               + "\n\t".join(error_msgs))
        return _IncompatibleKeys(missing_keys, unexpected_keys)

    def _load_from_state_dict(self, state_dict: dict, prefix: str, local_metadata: dict, strict: bool,
                              missing_keys: list, unexpected_keys: list, error_msgs: list) -> None:
        """Load this module's own parameters and persistent buffers (not its children's); PyTorch's signature, so
        a layer can override it to accept older checkpoints."""
        persistent_buffers = {k: v for k, v in self._buffers.items() if k not in self._non_persistent_buffers_set}
        local_state = {k: v for k, v in itertools.chain(self._parameters.items(), persistent_buffers.items())
                       if v is not None}
        for name, target in local_state.items():
            key = prefix + name
            if key not in state_dict:
                if strict:
                    missing_keys.append(key)
                continue
            value = _checkpoint_tensor(state_dict[key])
            if value is None:
                error_msgs.append(f'While copying the parameter named "{key}", expected a trainer.Tensor or '
                                  f"numpy.ndarray from checkpoint but received {type(state_dict[key])}")
                continue
            if value.shape != target.shape:
                error_msgs.append(f"size mismatch for {key}: copying a param with shape {list(value.shape)} from "
                                  f"checkpoint, the shape in current model is {list(target.shape)}.")
                continue
            try:
                with no_grad():
                    if local_metadata.get("assign_to_params_buffers", False):
                        self._assign_loaded(name, target, value)
                    else:
                        target.copy_(value)  # into the existing storage, cast to its dtype and device
            except Exception as exc:
                error_msgs.append(f'While copying the parameter named "{key}", whose dimensions in the model are '
                                  f"{list(target.shape)} and whose dimensions in the checkpoint are "
                                  f"{list(value.shape)}, an exception occurred : {exc.args}.")
        if strict:
            for key in state_dict:
                if not key.startswith(prefix):
                    continue
                head, dot, _ = key[len(prefix):].partition(".")
                if (dot and head not in self._modules) or (not dot and head not in local_state):
                    unexpected_keys.append(key)

    def _assign_loaded(self, name: str, target: Tensor, value: Tensor) -> None:
        """``load_state_dict(assign=True)``: the checkpoint's tensor becomes the member, keeping
        ``requires_grad`` of the parameter it replaces."""
        if isinstance(target, Parameter):
            if isinstance(value, Parameter):
                value.requires_grad_(target.requires_grad)
            else:
                value = Parameter(value, requires_grad=target.requires_grad)
        setattr(self, name, value)

    # ----------------------------------------------------------------- printing
    def _get_name(self) -> str:
        return type(self).__name__

    def extra_repr(self) -> str:
        """The layer's own settings, shown inside its parentheses (``in_features=4, out_features=3``)."""
        return ""

    def __repr__(self):
        return self._repr_with(self._modules.items())

    def _repr_with(self, children) -> str:
        """PyTorch's module print: the ``extra_repr`` settings, then each ``(name, child)`` of ``children``."""
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({name}): {_addindent(repr(module), 2)}" for name, module in children]
        lines = extra_lines + child_lines
        body = ""
        if len(extra_lines) == 1 and not child_lines:
            body = extra_lines[0]
        elif lines:
            body = "\n  " + "\n  ".join(lines) + "\n"
        return f"{self._get_name()}({body})"

    def __dir__(self):
        keys = [*dir(type(self)), *self.__dict__, *self._parameters, *self._modules, *self._buffers]
        return sorted(key for key in keys if not key[0].isdigit())


class _GradientTap(op.Function):
    """An identity node whose backward hands the gradients passing through it to ``on_grads``."""

    @staticmethod
    def backward(ctx, *grads):
        return tuple(ctx.on_grads(grads))


def _tap(tensors: list, on_grads: Callable) -> tuple:
    """``tensors`` passed through one ``_GradientTap`` (recorded directly: tracing observers must not see it)."""
    node = _GradientTap.__new__(_GradientTap)
    node.needs_input_grad = tuple(t._requires_grad for t in tensors)
    node.on_grads = on_grads
    outputs = tuple(t.detach() for t in tensors)  # views sharing the version counter, linked to the tap below
    node._link(tensors, outputs)
    return outputs


class _BackwardHookCall:
    """One call of a module with full backward hooks: taps the gradients of its outputs (``grad_output``) and
    of its tensor arguments (``grad_input``), then runs the hooks when the latter are known."""

    def __init__(self, module: Module, hooks: list, pre_hooks: list):
        self.module = module
        self.hooks = hooks  # full backward hooks, the global ones first
        self.pre_hooks = pre_hooks
        self.n_tensor_args = 0
        self.tapped: list[int] = []  # indices, among the tensor arguments, of those that require grad
        self.grad_output: tuple = ()

    def tap_inputs(self, args: tuple) -> tuple:
        positions = [p for p, a in enumerate(args) if isinstance(a, Tensor)]
        self.n_tensor_args = len(positions)
        self.tapped = [i for i, p in enumerate(positions) if args[p]._requires_grad]
        if not self.tapped:
            return args
        args = list(args)
        for i, t in zip(self.tapped, _tap([args[positions[i]] for i in self.tapped], self._on_grad_input)):
            args[positions[i]] = t
        return tuple(args)

    def tap_outputs(self, output):
        outputs = list(output) if isinstance(output, (tuple, list)) else [output]
        positions = [p for p, o in enumerate(outputs) if isinstance(o, Tensor) and o._requires_grad]
        if not positions:
            return output
        for p, t in zip(positions, _tap([outputs[p] for p in positions], self._on_grad_output)):
            outputs[p] = t
        return type(output)(outputs) if isinstance(output, (tuple, list)) else outputs[0]

    def _on_grad_output(self, grads: tuple) -> tuple:
        grad_output = tuple(Tensor._wrap(g) for g in grads)
        replaced = False
        for hook in self.pre_hooks:
            result = hook(self.module, grad_output)
            if result is not None:
                result = tuple(result) if isinstance(result, (tuple, list)) else (result,)
                if len(result) != len(grad_output):
                    raise RuntimeError("Backward pre hook returned an invalid number of grad_output, got "
                                       f"{len(result)}, but expected {len(grad_output)}")
                grad_output, replaced = result, True
        self.grad_output = grad_output
        if not self.tapped:  # no argument needs a gradient: the hooks run now, with grad_input all None
            self._run_hooks((None,) * self.n_tensor_args)
        return tuple(None if g is None else g._data for g in grad_output) if replaced else grads

    def _on_grad_input(self, grads: tuple) -> list:
        grad_input = [None] * self.n_tensor_args
        for i, g in zip(self.tapped, grads):
            grad_input[i] = Tensor._wrap(g)
        grad_input = self._run_hooks(tuple(grad_input))
        return [None if grad_input[i] is None else grad_input[i]._data for i in self.tapped]

    def _run_hooks(self, grad_input: tuple) -> tuple:
        for hook in self.hooks:
            result = hook(self.module, grad_input, self.grad_output)
            if result is not None:
                result = tuple(result) if isinstance(result, (tuple, list)) else (result,)
                if len(result) != len(grad_input):
                    raise RuntimeError(f"Backward hook returned an invalid number of grad_input, got {len(result)}, "
                                       f"but expected {len(grad_input)}")
                grad_input = result
        return grad_input


def _add_hook(hooks: OrderedDict, hook: Callable, prepend: bool, with_kwargs_ids: set | None) -> RemovableHandle:
    handle = RemovableHandle(hooks)
    hooks[handle.id] = hook
    if with_kwargs_ids is not None:
        with_kwargs_ids.add(handle.id)
    if prepend:
        hooks.move_to_end(handle.id, last=False)
    return handle


def _unregister(name: str, *registries) -> None:
    """Drop ``name`` from wherever it was registered before, so that it lives in exactly one place."""
    for registry in registries:
        if name in registry:
            if isinstance(registry, set):
                registry.discard(name)
            else:
                del registry[name]


def _check_member_name(name, kind: str) -> None:
    if not isinstance(name, str):
        raise TypeError(f"{kind} name should be a string. Got {type(name).__name__}")
    if "." in name:
        raise KeyError(f'{kind} name can\'t contain "."')
    if name == "":
        raise KeyError(f'{kind} name can\'t be empty string ""')


def _checkpoint_tensor(value) -> Tensor | None:
    """A state-dict value as a tensor: trainer tensors as they are, NumPy arrays wrapped (dtype kept)."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, (np.ndarray, np.generic)):
        return as_tensor(np.asarray(value))
    return None


def _quoted(keys: list[str]) -> str:
    return ", ".join(f'"{k}"' for k in keys)


def _addindent(text: str, spaces: int) -> str:
    """Indent every line but the first, so a child's multi-line repr nests under its ``(name):`` label."""
    first, *rest = text.split("\n")
    return "\n".join([first, *(" " * spaces + line for line in rest)])
