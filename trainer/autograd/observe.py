"""A generic hook through which an observer sees every op as it is applied.

The exporter traces models through this; trainer itself knows nothing of ONNX. An event names the
op (the ``Function`` class name, e.g. ``"MatMul"``), its input and output tensors, and its
non-tensor attributes (e.g. ``{"dim": 1}``).
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
