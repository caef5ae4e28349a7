"""Generic hooks through which an observer sees every op as it is applied, and every size read from a tensor.

The exporter traces models through these; trainer itself knows nothing of ONNX. An op event names
the op (the ``Function`` class name, e.g. ``"MatMul"``), its input and output tensors, and its
non-tensor attributes (e.g. ``{"dim": 1}``). A size observer sees ``x.shape`` and ``x.size()`` as
they are read and may hand back ints of its own (``int`` subclasses carrying where a size came
from); the shape ops keep such ints as given, so they reach the op events' attributes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple


class OpEvent(NamedTuple):
    op: str
    inputs: tuple
    outputs: tuple
    attrs: dict[str, Any]


observers: list[Callable[[OpEvent], None]] = []
size_observers: list[Callable[[Any, tuple], tuple]] = []


@contextlib.contextmanager
def observe_ops(callback: Callable[[OpEvent], None]) -> Iterator[None]:
    """Call ``callback(event)`` for every op applied inside the block (nesting is allowed)."""
    observers.append(callback)
    try:
        yield
    finally:
        observers.remove(callback)


def notify(event: OpEvent) -> None:
    for callback in tuple(observers):
        callback(event)


@contextlib.contextmanager
def observe_sizes(callback: Callable[[Any, tuple], tuple]) -> Iterator[None]:
    """Inside the block, ``x.shape`` and ``x.size()`` return ``callback(x, sizes)`` (equal ints, one per dim)."""
    size_observers.append(callback)
    try:
        yield
    finally:
        size_observers.remove(callback)


def read_sizes(tensor, sizes: tuple) -> tuple:
    for callback in tuple(size_observers):
        sizes = callback(tensor, sizes)
    return sizes
