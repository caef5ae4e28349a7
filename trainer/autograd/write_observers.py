"""A hook through which an observer sees each in-place write into a tensor's elements, just before it is made.

An op event (``observe_ops``) shows what an op computed; when the result then replaces the elements of an
existing tensor (``x += y``, ``x[:, 0] = 0``, ``x.copy_(y)``, ``x.zero_()``), a write event shows where it went.
The exporter traces in-place code through the two; trainer itself knows nothing of ONNX. The list stays empty
unless someone observes, so a write pays one list check.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

observers: list[Callable[[Any, Any, Any], None]] = []


@contextlib.contextmanager
def observe_writes(callback: Callable[[Any, Any, Any], None]) -> Iterator[None]:
    """Call ``callback(tensor, key, value)`` before each in-place write inside the block (see ``notify_write``)."""
    observers.append(callback)
    try:
        yield
    finally:
        observers.remove(callback)


def notify_write(tensor, key, value) -> None:
    """``tensor[key]`` (every element when ``key`` is None) is about to be replaced by ``value`` (a tensor or a
    number, broadcast to those elements and cast to ``tensor``'s dtype); the write then bumps ``tensor``'s version
    counter once. Called before the write, so an observer can still read the old values."""
    for callback in tuple(observers):
        callback(tensor, key, value)
