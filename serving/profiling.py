"""Profiles in ONNX Runtime's format: a chrome-trace JSON list (load it in chrome://tracing or Perfetto).

Each event is ``{"cat", "pid", "tid", "dur", "ts", "ph": "X", "name", "args"}`` with times in microseconds since
profiling began. "Session" events time loading, initialisation and each run (``model_run``, with the plan's walk
inside it as ``SequentialExecutor::Execute``); a "Node" event per step, named ``<node name>_kernel_time``, holds
the operator (``op_name``), provider, position in the plan, and the types and shapes it read and wrote (the
nodes of an If/Loop/Scan body are timed within their parent's event). The executor is only instrumented for
sessions built with ``enable_profiling``; on CUDA each node is waited for, so times are the device's.
"""

from __future__ import annotations

import datetime
import json
import os
import threading
import time

import numpy as np

from serving.ort_value import onnx_element_type
from serving.runtime.types import elem_type_name


def _type_shapes(values) -> list[dict]:
    """ONNX Runtime's ``[{"float": [2, 3]}, ...]``: one entry per tensor value, sequences and absent ones left out."""
    described = []
    for value in values:
        dtype = getattr(value, "dtype", None)
        if dtype is not None and not isinstance(value, list):
            described.append({elem_type_name(onnx_element_type(np.dtype(dtype))): list(value.shape)})
    return described


class Profiler:
    """Collects one session's events until ``end`` writes them to ``<prefix>_<date-time>.json``."""

    def __init__(self, prefix: str, provider: str, device):
        self.start_ns = time.monotonic_ns()
        self._prefix, self._provider = prefix, provider
        # CUDA kernels run asynchronously: without waiting for each, a node's time would be its launch's.
        self._synchronize = device.xp.cuda.get_current_stream().synchronize if device.type == "cuda" else None
        self._events: list[dict] = []
        self._pid = os.getpid()
        self._lock = threading.Lock()  # concurrent runs append from their own threads

    def now(self) -> int:
        return time.monotonic_ns()

    def record(self, category: str, name: str, began_ns: int, ended_ns: int, args: dict | None = None) -> None:
        event = {"cat": category, "pid": self._pid, "tid": threading.get_native_id(),
                 "dur": (ended_ns - began_ns) // 1000, "ts": (began_ns - self.start_ns) // 1000, "ph": "X",
                 "name": name, "args": args or {}}
        with self._lock:
            self._events.append(event)

    def run_step(self, index: int, step, env: dict) -> None:
        """Run one plan step, recording a "Node" event for it (the executor's ``run_watched`` hook)."""
        began = time.monotonic_ns()
        step.run(env)
        if self._synchronize is not None:
            self._synchronize()
        ended = time.monotonic_ns()
        node = step.ctx.node
        self.record("Node", f"{node.name or node.op_type}_kernel_time", began, ended, {
            "op_name": node.op_type, "domain": node.domain, "provider": self._provider, "node_index": str(index),
            "input_type_shape": _type_shapes(env.get(name) for name in step.inputs if name),
            "output_type_shape": _type_shapes(env.get(name) for name in step.outputs if name),
        })

    def end(self) -> str:
        """Write the events collected so far; returns the file's path."""
        stamp = datetime.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
        path = f"{self._prefix}_{stamp}.json"
        with self._lock:
            events = list(self._events)
        with open(path, "w") as f:
            json.dump(events, f)
        return path
