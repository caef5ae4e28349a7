"""Hooks that see where runs begin and end, for timing them (the profiler is their user).

``observe_ops`` reports an op once it has run; an op-start observer also sees the moment it begins (its name
only: the inputs are reported with the op event). A backward observer sees each node of a backward pass as the
engine runs it. Both lists stay empty unless someone observes, and the engine checks its list once per pass,
not per node, so nothing is paid while no one is watching.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

op_start_observers: list[Callable[[str], None]] = []
backward_observers: list[Callable[[Any, list], Callable[[Any], None]]] = []


@contextlib.contextmanager
def observe_op_starts(callback: Callable[[str], None]) -> Iterator[None]:
    """Call ``callback(op_name)`` as each op applied inside the block begins."""
    op_start_observers.append(callback)
    try:
        yield
    finally:
        op_start_observers.remove(callback)


def notify_op_start(op_name: str) -> None:
    for callback in tuple(op_start_observers):
        callback(op_name)


@contextlib.contextmanager
def observe_backward_nodes(callback: Callable[[Any, list], Callable[[Any], None]]) -> Iterator[None]:
    """Call ``callback(node, grads)`` as each backward node begins; it returns what to call with the node's
    input gradients (None if its backward raised) once the node has run."""
    backward_observers.append(callback)
    try:
        yield
    finally:
        backward_observers.remove(callback)


def observed_backward(run_node: Callable) -> Callable:
    """``run_node`` (the engine's call of one node's backward) reporting each run to the backward observers."""

    def run(node, grads):
        finishers = [callback(node, grads) for callback in tuple(backward_observers)]
        input_grads = None
        try:
            input_grads = run_node(node, grads)
        finally:
            for finish in reversed(finishers):
                finish(input_grads)
        return input_grads

    return run
