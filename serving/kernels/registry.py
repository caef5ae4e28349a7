"""The kernel table: ``(domain, op_type) -> [(since_version, function), ...]``.

A kernel is a plain function ``fn(ctx, *inputs, **attributes)``. ``inputs`` are the node's inputs in
schema order (``None`` for an omitted optional input); ``attributes`` are the node's attributes,
already decoded to Python values, passed by their ONNX names, so the function's keyword defaults
are the schema's defaults. It returns one value, or a ``tuple`` with one value per output (a
``list`` is a *sequence* value, never several outputs). Values are ``xp`` arrays, Python lists of
arrays (ONNX sequences) or ``None`` (an empty optional).

Kernels are registered with the opset version their behaviour starts at; a node resolves to the
kernel with the greatest ``since`` that is <= the model's opset for that domain.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

ONNX_DOMAIN = ""
ML_DOMAIN = "ai.onnx.ml"

_DOMAIN_ALIASES = {"ai.onnx": ONNX_DOMAIN}

_table: dict[tuple[str, str], list[tuple[int, Callable]]] = {}


def canonical_domain(domain: str) -> str:
    return _DOMAIN_ALIASES.get(domain, domain)


def kernel(op_type: str, since: int = 1, domain: str = ONNX_DOMAIN):
    """Register the decorated function as the kernel of ``op_type`` from opset ``since`` on."""

    def register(fn: Callable) -> Callable:
        versions = _table.setdefault((canonical_domain(domain), op_type), [])
        if any(v == since for v, _ in versions):
            raise ValueError(f"two kernels registered for {domain or 'ai.onnx'}::{op_type} since opset {since}")
        bisect.insort(versions, (since, fn), key=lambda entry: entry[0])
        return fn

    return register


def unregister(domain: str, op_type: str, since: int) -> None:
    """Remove the kernel of ``op_type`` registered from opset ``since`` (for user kernels; none: nothing to do)."""
    key = (canonical_domain(domain), op_type)
    versions = [entry for entry in _table.get(key, ()) if entry[0] != since]
    if versions:
        _table[key] = versions
    else:
        _table.pop(key, None)


def lookup(domain: str, op_type: str, opset: int) -> Callable | None:
    """The kernel for ``op_type`` at ``opset``, or ``None`` when there is none."""
    versions = _table.get((canonical_domain(domain), op_type))
    if not versions:
        return None
    index = bisect.bisect_right([v for v, _ in versions], opset) - 1
    return versions[index][1] if index >= 0 else None


def registered_ops() -> list[tuple[str, str]]:
    return sorted(_table)


class KernelContext(NamedTuple):
    """What a kernel may know about the node it runs, fixed when the plan is built."""

    xp: Any  # numpy or cupy
    opset: int  # the model's opset for the node's domain
    n_outputs: int  # how many outputs the node declares (trailing optional ones included)
    outputs_wanted: tuple[bool, ...]  # False where an output name is "" (omitted)
    node: Any  # the onnx NodeProto, for error messages and rare lookups
    pool: Any = None  # the session's serving.runtime.buffers.BufferPool on the CPU; None allocates fresh
    # Where a kernel keeps what it derives from its parameters (packed weights) for the session's life: given
    # by the planner to nodes with model constants among their inputs after the first (see ``prepare``).
    prepared: dict | None = None
    constant_inputs: frozenset[int] = frozenset()  # positions of inputs that never change: constants or absent

    def empty(self, shape: tuple[int, ...], dtype):
        """A buffer the kernel overwrites entirely: its output, or scratch it hands back with ``recycle``."""
        return self.xp.empty(shape, dtype) if self.pool is None else self.pool.empty(shape, dtype)

    def keeps(self, inputs: Iterable[int] | None = None) -> bool:
        """Whether ``prepare`` keeps what derives from ``inputs``: positions among the node's inputs (by default
        all after the first) that are all model constants or absent."""
        if self.prepared is None:
            return False
        count = len(self.node.input)
        return all(i in self.constant_inputs or i >= count for i in (range(1, count) if inputs is None else inputs))

    def prepare(self, key: str, make: Callable[[], Any], inputs: Iterable[int] | None = None):
        """``make()``, computed once per session where the inputs it derives from (see ``keeps``) are model
        constants, else on every call."""
        if not self.keeps(inputs):
            return make()
        value = self.prepared.get(key)
        if value is None:
            value = self.prepared[key] = make()
        return value

    def recycle(self, array) -> None:
        """Hand back scratch from ``empty`` that nothing refers to any more."""
        if self.pool is not None:
            self.pool.give(array)
