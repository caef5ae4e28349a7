"""``Tracer``, ``symbolic_trace`` and ``wrap``: running a module's ``forward`` on ``Proxy`` inputs to get its graph."""

from __future__ import annotations

import builtins
import inspect
import math
import sys
import types
from collections.abc import Callable
from typing import Any

import trainer
from trainer.fx._patching import Patcher, recording_wrapper
from trainer.fx.graph import Graph, side_effectful_functions
from trainer.fx.proxy import Proxy, TracerBase
from trainer.nn import Module, Parameter, Sequential

# (globals dict, name) pairs registered by ``wrap``: patched in every trace
_wrapped_fns_to_patch: dict[tuple[int, str], dict] = {}


def _assert_is_none(value: Any, msg: str) -> None:
    assert value is None, msg


side_effectful_functions.add(_assert_is_none)


class Tracer(TracerBase):
    """Turns a ``Module`` or function into a ``Graph``. ``is_leaf_module`` decides which modules become single
    ``call_module`` nodes (by default those of ``trainer.nn``, as torch.fx keeps ``torch.nn`` modules whole)."""

    def __init__(self, autowrap_modules: tuple[types.ModuleType, ...] = (math,),
                 autowrap_functions: tuple[Callable, ...] = ()) -> None:
        self._autowrap_function_ids = {id(value) for module in autowrap_modules for name, value in
                                       vars(module).items() if not name.startswith("_") and callable(value)}
        self._autowrap_function_ids.update(id(f) for f in autowrap_functions)
        self.submodule_paths: dict[Module, str] | None = None
        self.root: Module | None = None
        self.tensor_attrs: dict[int, str] = {}

    # ----------------------------------------------------------------- hooks users override
    def is_leaf_module(self, m: Module, module_qualified_name: str) -> bool:
        return type(m).__module__.startswith("trainer.nn") and not isinstance(m, Sequential)

    def path_of_module(self, mod: Module) -> str:
        if self.submodule_paths is not None:
            path = self.submodule_paths.get(mod)
            if path is not None:
                return path
        else:
            for name, candidate in self.root.named_modules():
                if candidate is mod:
                    return name
        raise NameError("module is not installed as a submodule")

    def call_module(self, m: Module, forward: Callable, args: tuple, kwargs: dict) -> Any:
        """Record ``m(*args, **kwargs)`` as one ``call_module`` node for a leaf, else trace through ``forward``."""
        module_qualified_name = self.path_of_module(m)
        if not self.is_leaf_module(m, module_qualified_name):
            return forward(*args, **kwargs)
        return self.create_proxy("call_module", module_qualified_name, args, kwargs)

    def getattr(self, attr: str, attr_val: Any, parameter_proxy_cache: dict[str, Proxy]) -> Any:
        """``module.attr`` while tracing: parameters (and buffers with ``proxy_buffer_attributes``) become
        ``get_attr`` nodes, one per attribute; anything else is returned as is."""
        collections = []
        if isinstance(attr_val, Parameter):
            collections.append(self.root.named_parameters)
        if self.proxy_buffer_attributes and isinstance(attr_val, trainer.Tensor):
            collections.append(self.root.named_buffers)
        for collection in collections:
            for name, value in collection():
                if value is attr_val:
                    if name not in parameter_proxy_cache:
                        parameter_proxy_cache[name] = self.create_proxy("get_attr", name, (), {})
                    return parameter_proxy_cache[name]
        return attr_val

    def create_arg(self, a: Any) -> Any:
        """As ``TracerBase.create_arg``, and: parameters, buffers and submodules of the root become ``get_attr``
        nodes; other tensors become constants stored on the root as ``_tensor_constant<i>``."""
        if isinstance(a, Parameter):
            for name, p in self.root.named_parameters():
                if a is p:
                    return self.create_node("get_attr", name, (), {})
            raise NameError("parameter is not a member of this module")
        if isinstance(a, Module):
            for name, m in self.root.named_modules():
                if a is m:
                    return self.create_node("get_attr", name, (), {})
            raise NameError("module is not installed as a submodule")
        if isinstance(a, trainer.Tensor):
            qualname = self.tensor_attrs.get(id(a))
            if qualname is None:
                i = 0
                while hasattr(self.root, f"_tensor_constant{i}"):
                    i += 1
                qualname = f"_tensor_constant{i}"
                setattr(self.root, qualname, a)
                self.tensor_attrs[id(a)] = qualname
            return self.create_node("get_attr", qualname, (), {})
        return super().create_arg(a)

    # ----------------------------------------------------------------- tracing
    def create_args_for_root(self, root_fn: Callable, is_module: bool,
                             concrete_args: dict[str, Any] | tuple | None = None) -> tuple[Callable, list]:
        """One placeholder per parameter of ``root_fn`` (``*args``/``**kwargs`` as one each); ``concrete_args``
        fix parameters to constants, checked by an assertion in the graph as torch.fx does."""
        fn = inspect.unwrap(root_fn)
        co = fn.__code__
        total_args = co.co_argcount + co.co_kwonlyargcount
        names = list(co.co_varnames)
        sig = inspect.signature(fn)
        args: list[Any] = []
        first = 0
        if is_module:
            if total_args == 0:
                raise RuntimeError("``self`` argument cannot be part of *args expansion!")
            first = 1
            args.append(self.root)
        if isinstance(concrete_args, tuple):
            if len(concrete_args) != total_args - first:
                raise RuntimeError(f"Tracing expected {total_args - first} arguments but got {len(concrete_args)} "
                                   "concrete arguments")
            concrete_args = dict(zip(names[first:total_args], concrete_args, strict=True))
        concrete_args = concrete_args or {}

        def placeholder(name: str) -> Any:
            if name in concrete_args:
                return self._concrete_placeholder(name, concrete_args[name], sig)
            default = () if name.startswith("*") or sig.parameters[name].default is inspect.Parameter.empty else (
                sig.parameters[name].default,)
            return self.create_proxy("placeholder", name, default, {}, type_expr=fn.__annotations__.get(name))

        args.extend(placeholder(name) for name in names[first:total_args])
        has_varargs = bool(co.co_flags & inspect.CO_VARARGS)
        has_varkw = bool(co.co_flags & inspect.CO_VARKEYWORDS)
        if has_varargs:
            args.append(placeholder("*" + names[total_args]))
        if has_varkw:
            args.append(placeholder("**" + names[total_args + has_varargs]))
        if co.co_kwonlyargcount or has_varargs or has_varkw:
            # call a copy whose parameters are all positional, so each placeholder passes as one argument
            code = co.replace(co_argcount=len(args), co_kwonlyargcount=0, co_posonlyargcount=0,
                              co_flags=co.co_flags & ~(inspect.CO_VARARGS | inspect.CO_VARKEYWORDS))
            root_fn = types.FunctionType(code, fn.__globals__, fn.__name__, None, fn.__closure__)
        return root_fn, args

    def _concrete_placeholder(self, name: str, value: Any, sig: inspect.Signature) -> Any:
        param = sig.parameters[name]
        default = () if param.default is inspect.Parameter.empty else (param.default,)
        out = self.create_proxy("placeholder", f"{name}_1", default, {})
        message = f"{name} has been specialized to have value {value} but got another value"
        if value is None:
            self.create_proxy("call_function", _assert_is_none, (out, message), {})
        elif isinstance(value, bool | int | float | str):
            self.create_proxy("call_function", trainer._assert, (out == value, message), {})
        return value

    def trace(self, root: Module | Callable, concrete_args: dict[str, Any] | None = None) -> Graph:
        """Run ``root``'s ``forward`` (or ``root`` itself, a function) on proxies and return the recorded graph."""
        if isinstance(root, Module):
            self.root = root
            fn = type(root).forward
        else:
            self.root = Module()
            fn = root
        self.graph = Graph()
        self.tensor_attrs = {}
        for name, value in (*self.root.named_parameters(), *self.root.named_buffers()):
            self.tensor_attrs.setdefault(id(value), name)
        self.submodule_paths = {mod: name for name, mod in self.root.named_modules()}
        fn, args = self.create_args_for_root(fn, isinstance(root, Module), concrete_args)
        parameter_proxy_cache: dict[str, Proxy] = {}
        original_getattr, original_call = Module.__getattr__, Module.__call__

        def module_getattr_wrapper(mod: Module, attr: str) -> Any:
            return self.getattr(attr, original_getattr(mod, attr), parameter_proxy_cache)

        def module_call_wrapper(mod: Module, *args, **kwargs) -> Any:
            return self.call_module(mod, lambda *a, **k: original_call(mod, *a, **k), args, kwargs)

        try:
            with Patcher() as patcher:
                patcher.patch(Module, "__getattr__", module_getattr_wrapper)
                patcher.patch(Module, "__call__", module_call_wrapper)
                patcher.patch_trainer_functions()
                patcher.patch_tensor_operators()
                self._patch_wrapped_functions(patcher, fn.__globals__)
                result = fn(*args)
            self.create_node("output", "output", (self.create_arg(result),), {},
                             type_expr=fn.__annotations__.get("return"))
        finally:
            self.submodule_paths = None
        return self.graph

    def _patch_wrapped_functions(self, patcher: Patcher, fn_globals: dict) -> None:
        for (_, name), frame_dict in _wrapped_fns_to_patch.items():
            # a builtin wrapped by name (wrap("len")) is shadowed in that module's globals for the trace
            original = frame_dict[name] if name in frame_dict else getattr(builtins, name, None)
            if original is not None:
                patcher.patch_global(frame_dict, name, recording_wrapper(original, mark_wrapped=True))
        for name, value in list(fn_globals.items()):
            if id(value) in self._autowrap_function_ids and not hasattr(value, "__fx_original__"):
                patcher.patch_global(fn_globals, name, recording_wrapper(value, mark_wrapped=True))


def wrap(fn_or_name: str | Callable) -> str | Callable:
    """Called at module scope, makes the named global function a leaf of every trace: a call with a Proxy
    argument is recorded as one ``call_function`` node instead of being traced through."""
    if not (callable(fn_or_name) or isinstance(fn_or_name, str)):
        raise RuntimeError("Unsupported type for global function! Must be either a callable or string name")
    name = fn_or_name if isinstance(fn_or_name, str) else fn_or_name.__name__
    caller = sys._getframe(1)
    if caller.f_code.co_name != "<module>":
        raise NotImplementedError("wrap must be called at the top level of a module")
    _wrapped_fns_to_patch[(id(caller.f_globals), name)] = caller.f_globals
    return fn_or_name


def symbolic_trace(root: Module | Callable, concrete_args: dict[str, Any] | None = None):
    """Trace ``root`` (a Module or a function) into a ``GraphModule`` that runs like it."""
    from trainer.fx.graph_module import GraphModule

    tracer = Tracer()
    graph = tracer.trace(root, concrete_args)
    name = type(root).__name__ if isinstance(root, Module) else root.__name__
    return GraphModule(tracer.root, graph, name)

