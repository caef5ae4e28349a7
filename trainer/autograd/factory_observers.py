"""A hook through which an observer sees each tensor a factory function makes (``zeros``, ``arange``, ``eye``,
``zeros_like``, ``randn``, ... and the ``Tensor.new_*`` methods, which call them).

Factories are not ops: they read no tensor, so an op event cannot show that ``zeros(x.size(0), 4)`` took its size
from ``x``. A factory event shows the factory's name, the tensor it made and the arguments it was called with, by
parameter name (sizes as given, so ints an observer handed out through ``observe_sizes`` arrive as they were).
The exporter traces factories through it; trainer itself knows nothing of ONNX. The list stays empty unless
someone observes, so a factory call pays one list check.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple


class FactoryEvent(NamedTuple):
    name: str  # the factory's name: "zeros", "full_like", "arange", ...
    result: Any  # the tensor it made
    arguments: dict[str, Any]  # every parameter by name, defaults filled in (``size`` of ``zeros(*size)`` a tuple)


observers: list[Callable[[FactoryEvent], None]] = []
# factories running now: one made of another (``zeros_like`` calls ``zeros``) is reported once, as the outer one
_running: list[str] = []


@contextlib.contextmanager
def observe_factories(callback: Callable[[FactoryEvent], None]) -> Iterator[None]:
    """Call ``callback(event)`` for each tensor a reported factory makes inside the block."""
    observers.append(callback)
    try:
        yield
    finally:
        observers.remove(callback)


def reported_factory(fn: Callable) -> Callable:
    """``fn`` (a factory) reporting each tensor it makes to the factory observers, under its own name."""
    signature = inspect.signature(fn)

    @functools.wraps(fn)
    def factory(*args, **kwargs):
        if not observers or _running:
            return fn(*args, **kwargs)
        _running.append(fn.__name__)
        try:
            result = fn(*args, **kwargs)
        finally:
            _running.pop()
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        event = FactoryEvent(fn.__name__, result, dict(bound.arguments))
        for callback in tuple(observers):
            callback(event)
        return result

    return factory
