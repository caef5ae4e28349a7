"""Per model-version counters and durations: the one source of ModelStatistics and the metrics."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

# The request phases Triton times, in InferStatistics' order.
PHASES = ("success", "fail", "queue", "compute_input", "compute_infer", "compute_output", "cache_hit", "cache_miss")


@dataclass
class Duration:
    count: int = 0
    ns: int = 0

    def add(self, ns: int) -> None:
        self.count += 1
        self.ns += ns


@dataclass
class BatchDurations:
    compute_input: Duration = field(default_factory=Duration)
    compute_infer: Duration = field(default_factory=Duration)
    compute_output: Duration = field(default_factory=Duration)


class ModelStats:
    """Thread-safe: request threads and scheduler threads record into it concurrently."""

    def __init__(self):
        self._lock = threading.Lock()
        self.phases = {phase: Duration() for phase in PHASES}
        self.inference_count = 0  # batch elements served
        self.execution_count = 0  # runs of the model
        self.last_inference_ms = 0
        self.batches: dict[int, BatchDurations] = {}

    def request_done(self, ok: bool, total_ns: int, batch: int = 1, queue_ns: int = 0, input_ns: int = 0,
                     infer_ns: int = 0, output_ns: int = 0) -> None:
        """One request finished; failed requests count only their total duration, as Triton's do."""
        with self._lock:
            if not ok:
                self.phases["fail"].add(total_ns)
                return
            self.phases["success"].add(total_ns)
            self.phases["queue"].add(queue_ns)
            self.phases["compute_input"].add(input_ns)
            self.phases["compute_infer"].add(infer_ns)
            self.phases["compute_output"].add(output_ns)
            self.inference_count += batch
            self.last_inference_ms = int(time.time() * 1000)

    def cache_hit(self, total_ns: int, lookup_ns: int, batch: int = 1) -> None:
        """A request answered from the response cache: it counts as served, but no phase of a model run."""
        with self._lock:
            self.phases["success"].add(total_ns)
            self.phases["queue"].add(0)  # as Triton's: a hit never waits in a queue, yet counts there
            self.phases["cache_hit"].add(lookup_ns)
            self.inference_count += batch
            self.last_inference_ms = int(time.time() * 1000)

    def cache_miss(self, lookup_and_insert_ns: int) -> None:
        """A cacheable request that ran the model; its other phases are recorded by request_done."""
        with self._lock:
            self.phases["cache_miss"].add(lookup_and_insert_ns)

    def execution_done(self, batch: int, input_ns: int, infer_ns: int, output_ns: int) -> None:
        """One run of the model over `batch` elements (a dynamic batch or a single request)."""
        with self._lock:
            self.execution_count += 1
            durations = self.batches.setdefault(batch, BatchDurations())
            durations.compute_input.add(input_ns)
            durations.compute_infer.add(infer_ns)
            durations.compute_output.add(output_ns)

    def snapshot(self) -> ModelStats:
        copy = ModelStats()
        with self._lock:
            copy.phases = {k: Duration(v.count, v.ns) for k, v in self.phases.items()}
            copy.inference_count, copy.execution_count = self.inference_count, self.execution_count
            copy.last_inference_ms = self.last_inference_ms
            copy.batches = {size: BatchDurations(Duration(b.compute_input.count, b.compute_input.ns),
                                                 Duration(b.compute_infer.count, b.compute_infer.ns),
                                                 Duration(b.compute_output.count, b.compute_output.ns))
                            for size, b in self.batches.items()}
        return copy
