"""The event recorder behind both profiler APIs: it times ops, backward nodes and user ranges on each thread.

Ops are seen through trainer's observers (an op-start hook and ``observe_ops``), backward nodes through the
engine's backward observer, and ``record_function`` ranges directly. Each thread keeps a stack of open ranges;
a range that closes becomes a child of the range below it, so that totals include nested work and self times
exclude it, as in PyTorch.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time

from trainer.autograd import observe, span_observers
from trainer.profiler import flops

OP, BACKWARD, USER = "cpu_op", "backward", "user_annotation"

active: list[Recorder] = []  # recorders that ``record_function`` reports to

_TRAINER_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


class Range:
    """One timed run (op, backward node or user range) while it is open, and after it closed."""

    __slots__ = ("name", "category", "op", "start_ns", "end_ns", "thread", "input_shapes", "input_types",
                 "own_bytes", "flops", "stack", "children")

    def __init__(self, name: str, category: str, op: str, thread: int, stack: list) -> None:
        self.name, self.category, self.op, self.thread, self.stack = name, category, op, thread, stack
        self.input_shapes: list = []
        self.input_types: list = []
        self.own_bytes = 0
        self.flops = 0
        self.children: list[Range] = []
        self.start_ns = self.end_ns = 0


class Recorder:
    """Records while started; ``ranges`` are the top-level ranges that closed, in the order they closed."""

    def __init__(self, record_shapes=False, profile_memory=False, with_stack=False, with_flops=False):
        self.record_shapes, self.profile_memory = record_shapes, profile_memory
        self.with_stack, self.with_flops = with_stack, with_flops
        self.ranges: list[Range] = []
        self.base_ns = time.perf_counter_ns()
        self._open = threading.local()
        self._hooks: contextlib.ExitStack | None = None

    # ------------------------------------------------------------------ switching on and off
    def start(self) -> None:
        hooks = contextlib.ExitStack()
        hooks.enter_context(span_observers.observe_op_starts(self._op_started))
        hooks.enter_context(observe.observe_ops(self._op_finished))
        hooks.enter_context(span_observers.observe_backward_nodes(self._node_started))
        active.append(self)
        hooks.callback(active.remove, self)
        self._hooks = hooks

    def stop(self) -> None:
        """Stop recording; ranges still open (user ranges that span the stop) are dropped, as unfinished."""
        if self._hooks is not None:
            self._hooks.close()
            self._hooks = None
        self._open = threading.local()

    # ------------------------------------------------------------------ ranges
    def _stack(self) -> list:
        stack = getattr(self._open, "ranges", None)
        if stack is None:
            stack = self._open.ranges = []
        return stack

    def begin(self, name: str, category: str, op: str = "") -> Range:
        stack = self._stack()
        if stack and stack[-1].category == OP:  # ops never nest: an open one raised and never finished
            stack.pop()
        where = _python_stack() if self.with_stack else []
        opened = Range(name, category, op, threading.get_native_id(), where)
        stack.append(opened)
        opened.start_ns = time.perf_counter_ns()  # last, so that the bookkeeping above is not timed
        return opened

    def end(self, opened: Range) -> None:
        end_ns = time.perf_counter_ns()
        stack = self._stack()
        if opened not in stack:  # opened before this recorder's stack was reset
            return
        while stack.pop() is not opened:  # ranges above it raised and never finished
            pass
        opened.end_ns = end_ns
        (stack[-1].children if stack else self.ranges).append(opened)

    # ------------------------------------------------------------------ observers
    def _op_started(self, op_name: str) -> None:
        self.begin("trainer::" + op_name, OP, op_name)

    def _op_finished(self, event) -> None:
        end_ns = time.perf_counter_ns()
        stack = self._stack()
        if not stack or stack[-1].category != OP or stack[-1].op != event.op:
            return  # began before recording started
        opened = stack[-1]
        if self.record_shapes:
            opened.input_shapes = [list(t._data.shape) for t in event.inputs]
            opened.input_types = [str(t._data.dtype) for t in event.inputs]
        if self.profile_memory:
            opened.own_bytes = _allocated_bytes(t._data for t in event.outputs)
        if self.with_flops:
            opened.flops = flops.of_op(event.op, [t._data.shape for t in event.inputs],
                                       [t._data.shape for t in event.outputs], event.attrs)
        stack.pop()
        opened.end_ns = end_ns
        (stack[-1].children if stack else self.ranges).append(opened)

    def _node_started(self, node, grads):
        opened = self.begin(node.name(), BACKWARD)
        if self.record_shapes:
            opened.input_shapes = [[] if g is None else list(g.shape) for g in grads]
            opened.input_types = ["" if g is None else str(g.dtype) for g in grads]

        def finished(input_grads) -> None:
            if self.profile_memory and input_grads is not None:
                grads_out = input_grads if type(input_grads) is tuple else (input_grads,)
                opened.own_bytes = _allocated_bytes(_array_of(g) for g in grads_out if g is not None)
            self.end(opened)

        return finished


def _array_of(grad):
    """A gradient's array: gradients are arrays, or tensors in a ``create_graph`` pass."""
    return getattr(grad, "_data", grad)


def _allocated_bytes(arrays) -> int:
    """Bytes of the arrays that own their memory; views of an existing array allocate nothing."""
    return sum(int(a.nbytes) for a in arrays if getattr(a, "base", None) is None)


def _python_stack() -> list[str]:
    """The caller's frames outside trainer, innermost first, as PyTorch prints them: ``file(line): function``."""
    frames, frame = [], sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not os.path.abspath(filename).startswith(_TRAINER_DIR):
            frames.append(f"{filename}({frame.f_lineno}): {frame.f_code.co_name}")
        frame = frame.f_back
    return frames
