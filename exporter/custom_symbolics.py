"""User lowerings: ``register_custom_op_symbolic`` as ``torch.onnx.register_custom_op_symbolic``, for trainer ops and
for operators defined with ``trainer.library``.

``symbolic_name`` is ``"namespace::name"``: a ``trainer.library`` operator (``"mylib::scale"``), or ``"trainer::Op"``
(also written ``"::Op"``, as PyTorch reads ``"::relu"`` as ``"aten::relu"``) for the trainer op ``Op`` (the name of
its ``Function``, as the lowering table keys it), replacing the exporter's own lowering. A symbolic registered for
``opset_version`` serves exports at that opset and above, until one registered for a higher opset takes over.

``symbolic_fn(g, *inputs, **attrs)`` gets a ``SymbolicContext`` (the lowering context of ``exporter.emitter`` whose
``op`` also takes ``"domain::Op"`` for a node in a custom domain, whose version ``export(custom_opsets=...)`` sets,
and PyTorch's typed attribute names, ``alpha_f=0.5``, ``axes_i=[0]``). A library operator's symbolic gets the ONNX
value name of each Tensor argument (a list of names for a Tensor list) and every other argument as its Python value,
in the schema's order; a trainer op's, the op's input names and its attributes as trainer recorded them. It returns
the output name, or a tuple of them, one per output.

A library operator runs its kernel during the trace in either case. With a symbolic, what the kernel does inside is
not traced: the operator is the symbolic's nodes. Without one, the exporter follows the trainer ops inside its
kernel (as PyTorch inlines an autograd Function without ``symbolic``); a kernel that computes outside them (NumPy on
``.numpy()``) is refused by name.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator

import numpy as np
from onnx import numpy_helper

import trainer.library as library
from exporter.emitter import Emitter
from exporter.errors import ExportError, UnsupportedOpError
from exporter.lowering_overrides import overridden
from trainer.autograd import factory_observers, observe, write_observers
from trainer.tensor import Tensor

TRAINER_NAMESPACE = "trainer"
_SYMBOLIC_NAME = re.compile(r"^[a-zA-Z0-9-_]+::[a-zA-Z-_]+[a-zA-Z0-9-_]*$")
_SYMBOLICS: dict[str, dict[int, Callable]] = {}  # symbolic name -> {opset version: symbolic_fn}
_TYPED_ATTRIBUTE = re.compile(r"^(.+)_([ifstg])$")  # PyTorch's g.op(..., alpha_f=0.5)


def _qualified(symbolic_name: str) -> str:
    return f"{TRAINER_NAMESPACE}{symbolic_name}" if symbolic_name.startswith("::") else symbolic_name


def register_custom_op_symbolic(symbolic_name: str, symbolic_fn: Callable, opset_version: int) -> None:
    """Lower the operator ``symbolic_name`` (``"namespace::name"``) with ``symbolic_fn`` in exports at opset
    ``opset_version`` and above (see the module's documentation)."""
    if not isinstance(symbolic_name, str):
        raise TypeError(f"symbolic_name must be a str such as 'mylib::myop', got {type(symbolic_name).__name__}")
    name = _qualified(symbolic_name)
    if not _SYMBOLIC_NAME.match(name):
        raise ExportError(f"Failed to register operator {name}. The symbolic name must match the format "
                          "domain::name, and should start with a letter and contain only alphanumeric characters")
    if name.split("::")[0] == "onnx":
        raise ValueError(f"Failed to register operator {name}. onnx domain cannot be modified.")
    if not callable(symbolic_fn):
        raise TypeError(f"symbolic_fn must be callable, got {type(symbolic_fn).__name__}")
    if not isinstance(opset_version, int) or isinstance(opset_version, bool):
        raise TypeError(f"opset_version must be an int, got {type(opset_version).__name__}")
    _SYMBOLICS.setdefault(name, {})[opset_version] = symbolic_fn


def unregister_custom_op_symbolic(symbolic_name: str, opset_version: int) -> None:
    """Forget the symbolic registered for ``symbolic_name`` at ``opset_version`` (none registered: nothing to do)."""
    name = _qualified(symbolic_name)
    versions = _SYMBOLICS.get(name, {})
    versions.pop(opset_version, None)
    if not versions:
        _SYMBOLICS.pop(name, None)


def symbolic_for(name: str, opset: int) -> Callable | None:
    """The symbolic that serves ``name`` at ``opset``: the one registered for the highest opset not above it."""
    versions = [v for v in _SYMBOLICS.get(name, {}) if v <= opset]
    return _SYMBOLICS[name][max(versions)] if versions else None


class SymbolicContext(Emitter):
    """The lowering context a user symbolic writes through (see the module's documentation)."""

    @classmethod
    def of(cls, g: Emitter) -> SymbolicContext:
        return cls(g._tracer, g.op_name, g.scope)

    def op(self, op_type: str, *inputs, outputs: int = 1, **attrs):
        domain, _, op_type = op_type.rpartition("::")
        names = super().op(op_type, *inputs, outputs=outputs, **dict(_attribute(k, v) for k, v in attrs.items()))
        if domain:
            self._tracer.builder.nodes[-1].domain = domain
        return names


def _attribute(key: str, value):
    """``(name, value)`` of one node attribute; PyTorch's typed names (``alpha_f``) lose their suffix."""
    typed = _TYPED_ATTRIBUTE.match(key)
    if typed is None:
        return key, value
    name, kind = typed.groups()
    convert = {"i": int, "f": float, "s": str, "g": lambda graph: graph,
               "t": lambda t: numpy_helper.from_array(np.asarray(t.numpy(force=True) if isinstance(t, Tensor) else t))}
    if isinstance(value, (list, tuple)):
        return name, [convert[kind](v) for v in value]
    return name, convert[kind](value)


# ----------------------------------------------------------------- during an export
@contextlib.contextmanager
def observed(tracer) -> Iterator[None]:
    """Inside the block, lower trainer ops with their user symbolics and ``trainer.library`` operators as the module's
    documentation says."""
    trainer_ops = {}
    for name in _SYMBOLICS:
        namespace, _, op = name.partition("::")
        symbolic = symbolic_for(name, tracer.opset)
        if namespace == TRAINER_NAMESPACE and symbolic is not None:
            trainer_ops[op] = _trainer_op_lowering(symbolic)
    original = library._call
    running = []  # the symbolic-lowered operator calls in progress: an operator called inside one is part of it

    def call(op, args, kwargs):
        return original(op, args, kwargs) if running else _lowered_call(tracer, original, op, args, kwargs, running)

    library._call = call
    try:
        with overridden(trainer_ops):
            yield
    finally:
        library._call = original


def _trainer_op_lowering(symbolic: Callable) -> Callable:
    return lambda g, *inputs, **attrs: symbolic(SymbolicContext.of(g), *inputs, **attrs)


def _lowered_call(tracer, original, op, args, kwargs, running: list):
    name = op.schema.name
    symbolic = symbolic_for(name, tracer.opset)
    if symbolic is None:
        result = original(op, args, kwargs)
        outputs = _tensors(result)
        if not all(tracer.is_explained(t) for t in outputs):
            tracer.lower_untraced(name, _tensors([args, kwargs]), outputs,
                                  lambda g, *names: _refuse_untraced_kernel(name, g))
        return result
    if op.schema.is_mutable:
        raise UnsupportedOpError(f"the operator {name} writes into its arguments; a symbolic lowers functional "
                                 "operators only (ONNX values are immutable): define one that returns new tensors")
    positional, keyword_only = library._bind(op.schema, args, kwargs)
    running.append(op)
    try:
        with _unobserved(tracer):
            result = original(op, args, kwargs)
    finally:
        running.pop()
    outputs = _tensors(result)

    def emit(g, *names):
        names = iter(names)
        values = [_with_names(v, names) for v in positional]
        keywords = {k: _with_names(v, names) for k, v in keyword_only.items()}
        produced = symbolic(SymbolicContext.of(g), *values, **keywords)
        produced = (produced,) if isinstance(produced, str) else tuple(produced)
        if len(produced) != len(outputs):
            raise ExportError(f"the symbolic of {name} returned {len(produced)} value(s) for the operator's "
                              f"{len(outputs)} output(s)")
        return produced

    tracer.lower_untraced(name, _tensors([positional, keyword_only]), outputs, emit)
    return result


def _refuse_untraced_kernel(name: str, g) -> None:
    raise UnsupportedOpError(f"the operator {name} (in module '{g.scope or '<root>'}') computes its result outside "
                             "trainer's ops (its kernel works on arrays, e.g. NumPy on .numpy()), which the exporter "
                             "cannot follow: the graph would return the traced values for every input. Register its "
                             f"ONNX lowering with exporter.register_custom_op_symbolic('{name}', symbolic_fn, "
                             "opset_version), where symbolic_fn(g, *inputs) emits its nodes through g.op")


def _tensors(value) -> list:
    if isinstance(value, Tensor):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        return [t for item in value for t in _tensors(item)]
    return []


def _with_names(value, names: Iterator[str]):
    """``value`` with each tensor replaced by the next value name (in ``_tensors``' order)."""
    if isinstance(value, Tensor):
        return next(names)
    if isinstance(value, (list, tuple)):
        return type(value)(_with_names(v, names) for v in value)
    return value


@contextlib.contextmanager
def _unobserved(tracer) -> Iterator[None]:
    """The tracer's hooks off: what runs inside is not traced."""
    hooks = [(observe.observers, tracer.on_op), (observe.size_observers, tracer.on_sizes),
             (factory_observers.observers, tracer.on_factory), (write_observers.observers, tracer.on_write)]
    removed = []
    for callbacks, callback in hooks:
        if callback in callbacks:
            index = callbacks.index(callback)
            removed.append((callbacks, index, callbacks.pop(index)))
    try:
        yield
    finally:
        for callbacks, index, callback in reversed(removed):
            callbacks.insert(index, callback)
