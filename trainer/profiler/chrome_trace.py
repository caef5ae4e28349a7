"""Chrome trace files (the Trace Event Format that chrome://tracing, Perfetto and TensorBoard's profiler load).

Each event is a complete event (``"ph": "X"``) with its start and duration in microseconds, on the process and
thread that ran it; metadata events name the process and threads. Fields follow PyTorch's Kineto traces
(``cat`` "cpu_op" / "user_annotation", ``args`` "External id", "Input Dims", "Input type").
"""

from __future__ import annotations

import gzip
import json
import os
import threading


def trace_of(events) -> dict:
    pid = os.getpid()
    threads = sorted({event.thread for event in events})
    trace = [{"ph": "M", "name": "process_name", "pid": pid, "tid": 0, "args": {"name": "python"}},
             {"ph": "M", "name": "process_labels", "pid": pid, "tid": 0, "args": {"labels": "CPU"}}]
    main_thread = threading.main_thread().native_id
    for tid in threads:
        name = "python main thread" if tid == main_thread else f"thread {tid}"
        trace.append({"ph": "M", "name": "thread_name", "pid": pid, "tid": tid, "args": {"name": name}})
    for event in events:
        args = {"External id": event.id}
        if event.input_shapes:
            args["Input Dims"] = event.input_shapes
            args["Input type"] = event.input_types
        if event.flops:
            args["flops"] = event.flops
        if event.self_cpu_memory_usage:
            args["Allocated bytes"] = event.self_cpu_memory_usage
        if event.stack:
            args["Call stack"] = ";".join(event.stack)
        trace.append({"ph": "X", "cat": "user_annotation" if event.is_user_annotation else "cpu_op",
                      "name": event.trace_name, "pid": pid, "tid": event.thread, "ts": round(event.time_range.start, 3),
                      "dur": round(event.cpu_time_total, 3), "args": args})
    return {"schemaVersion": 1, "displayTimeUnit": "ms", "traceEvents": trace}


def write(events, path: str) -> None:
    """Write ``events`` to ``path``, gzip-compressed where the name ends in ``.gz``."""
    text = json.dumps(trace_of(events))
    if str(path).endswith(".gz"):
        with gzip.open(path, "wt", encoding="utf-8") as f:
            f.write(text)
    else:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
