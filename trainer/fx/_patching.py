"""Intercepting trainer's free functions during ``symbolic_trace``.

trainer has no ``__torch_function__``, so while a trace runs the public callables of ``trainer``,
``trainer.nn.functional``, ``trainer.special``, ``trainer.linalg`` and ``trainer.fft`` are replaced by wrappers that
record a ``call_function`` node when any argument is a ``Proxy`` (and call the original otherwise). The same wrapper
serves ``trainer.fx.wrap``-ped functions and autowrapped ``math`` functions, patched in the globals they live in, and
the Tensor operators get one for a Proxy operand (``tensor * proxy``, ``tensor[:proxy]``).
"""

from __future__ import annotations

import functools
import importlib
import types
from collections.abc import Callable
from typing import Any

from trainer.fx.proxy import _find_proxy

_NAMESPACES = ("trainer", "trainer.nn.functional", "trainer.special", "trainer.linalg", "trainer.fft")
_public_names: dict[Callable, str] = {}
# one recording wrapper per function, made once: every trace and graph insertion point patches with them
_wrappers: dict[Callable, Callable] = {}


def _patchable(value: Any) -> bool:
    return isinstance(value, types.FunctionType | types.BuiltinFunctionType)


def _namespace_functions() -> list[tuple[types.ModuleType, str, Callable]]:
    found = []
    for module_name in _NAMESPACES:
        module = importlib.import_module(module_name)
        for name, value in vars(module).items():
            if not name.startswith("_") and _patchable(value) and not hasattr(value, "__fx_original__"):
                found.append((module, name, value))
    return found


def public_name(target: Any) -> str | None:
    """The public dotted name of a trainer function (``trainer.relu``, ``trainer.nn.functional.relu``): what
    generated code and printed graphs call it. None for anything that is not one of trainer's free functions."""
    if not _public_names:
        import trainer

        _public_names[trainer._assert] = "trainer._assert"
        for module, name, value in _namespace_functions():
            _public_names.setdefault(value, f"{module.__name__}.{name}")
    try:
        name = _public_names.get(target)
    except TypeError:  # an unhashable target has no public name
        return None
    if name is None:
        # any other object of trainer's own modules is named by where it is defined, as torch.fx names torch's
        module, qualname = getattr(target, "__module__", None), getattr(target, "__qualname__", "")
        if module and module.split(".")[0] == "trainer" and "<" not in qualname:
            name = f"{module}.{qualname}"
    return name


def recording_wrapper(original: Callable, mark_wrapped: bool = False) -> Callable:
    """``original``, recording a ``call_function`` node instead of running when an argument is a Proxy;
    ``mark_wrapped`` tags the node (``meta['is_wrapped']``) so generated code wraps the function again."""

    @functools.wraps(original)
    def wrapped(*args, **kwargs):
        proxy = _find_proxy(args, kwargs)
        if proxy is not None:
            result = proxy.tracer.create_proxy("call_function", original, args, kwargs)
            if mark_wrapped:
                result.node.meta["is_wrapped"] = True
            return result
        return original(*args, **kwargs)

    wrapped.__fx_original__ = original
    return wrapped


class Patcher:
    """Replaces attributes (of modules, classes, or globals dicts) and puts every original back on exit."""

    def __init__(self) -> None:
        self._undo: list[Callable[[], None]] = []

    def __enter__(self) -> Patcher:
        return self

    def __exit__(self, *exc) -> None:
        while self._undo:
            self._undo.pop()()

    def patch(self, owner: Any, name: str, new: Any) -> None:
        """Set ``owner.name``; on exit restore it (or, for a class attribute that was inherited, delete it)."""
        if name in vars(owner):
            original = vars(owner)[name]
            self._undo.append(lambda: setattr(owner, name, original))
        else:
            self._undo.append(lambda: delattr(owner, name))
        setattr(owner, name, new)

    def patch_global(self, frame_dict: dict, name: str, new: Any) -> None:
        """Set ``frame_dict[name]``; on exit put back what was there, or remove it when nothing was."""
        if name in frame_dict:
            original = frame_dict[name]
            self._undo.append(lambda: frame_dict.__setitem__(name, original))
        else:
            self._undo.append(lambda: frame_dict.pop(name, None))
        frame_dict[name] = new

    def patch_tensor_operators(self) -> None:
        """``tensor + proxy``, ``tensor[:, :proxy]``: a Tensor operator with a Proxy operand (possibly nested in an
        index) records the ``operator`` function, as the Tensor cannot compute with a Proxy."""
        import operator

        from trainer.fx.graph import comparison_methods, magic_methods
        from trainer.tensor import Tensor

        def recording(original: Callable, target: Callable) -> Callable:
            @functools.wraps(original)
            def method(self, other):
                proxy = _find_proxy(other)
                if proxy is not None:
                    return proxy.tracer.create_proxy("call_function", target, (self, other), {})
                return original(self, other)

            return method

        for name in (*magic_methods, *comparison_methods):
            dunder = f"__{name.rstrip('_')}__"
            original = getattr(Tensor, dunder, None)
            if original is not None:
                self.patch(Tensor, dunder, recording(original, getattr(operator, name)))

    def patch_trainer_functions(self) -> None:
        public_name(None)  # fill the name table from the unpatched namespaces first
        for module, name, value in _namespace_functions():
            if value not in _wrappers:
                _wrappers[value] = recording_wrapper(value)
            self.patch(module, name, _wrappers[value])
