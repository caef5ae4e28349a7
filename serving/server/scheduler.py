"""Running requests on a model's instances: directly, or through Triton's dynamic batcher.

A `Job` is one decoded request. `DirectScheduler` runs it on the calling thread as soon as an
instance is free. `DynamicBatcher` queues jobs, and an idle instance gathers the queued ones that
fit together (same input shapes past the batch dimension) into one batch, runs the model once and
hands each job its slice of the outputs. Queue order, limits and timeouts follow the model's queue
policies (see queue_policy.py): one FIFO when none are configured.
"""

from __future__ import annotations

import functools
import queue
import threading
import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field

import numpy as np

from serving.errors import InvalidArgumentError
from serving.server.errors import InternalError, InvalidRequestError, ServerError, UnavailableError
from serving.server.queue_policy import Policies, PriorityQueue
from serving.server.schedule_policy import DEFAULT, SchedulePolicy
from serving.server.sequence_flags import SequenceFlags
from serving.server.stats import ModelStats


@dataclass
class Job:
    inputs: dict[str, np.ndarray]  # model input name -> array, as the model takes it
    outputs: list[str]  # model outputs to return, in response order
    batch: int  # batch elements (1 for a model that does not batch)
    enqueued_ns: int = field(default_factory=time.perf_counter_ns)
    future: Future | None = None  # set by the dynamic batcher, which answers on another thread
    started_ns: int = 0
    infer_ns: int = 0
    results: dict[str, np.ndarray] | None = None
    sequence: SequenceFlags | None = None  # the request's sequence_id/start/end; only the sequence batcher acts on it
    schedule: SchedulePolicy = DEFAULT  # the request's priority and timeout; only the dynamic batcher acts on them
    deadline_ns: int = 0  # while queued in the dynamic batcher: when its queue timeout expires (0: never)

    @functools.cached_property
    def batch_key(self) -> tuple:
        """Jobs with equal keys can be concatenated along the batch dimension."""
        return tuple((name, a.dtype.str, a.shape[1:]) for name, a in sorted(self.inputs.items()))


class Instance:
    """One copy of the model (an InferenceSession); runs one batch at a time."""

    def __init__(self, name: str, session):
        self.name = name
        self.session = session

    def run(self, model: str, outputs: list[str], feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        try:
            values = self.session.run(outputs, feeds)
        except InvalidArgumentError as exc:
            raise InvalidRequestError(f"inference failed for model '{model}': {exc}") from exc
        except Exception as exc:  # a kernel failure: the request fails, the server keeps serving
            raise InternalError(f"inference failed for model '{model}': {type(exc).__name__}: {exc}") from exc
        return dict(zip(outputs, values))


class DirectScheduler:
    """No batching across requests: each job runs as sent, on the first free instance."""

    def __init__(self, model: str, instances: list[Instance], stats: ModelStats):
        self._model = model
        self._free: queue.SimpleQueue[Instance] = queue.SimpleQueue()
        for instance in instances:
            self._free.put(instance)
        self._stats = stats
        self._waiting = 0
        self._lock = threading.Lock()

    @property
    def pending(self) -> int:
        """Requests waiting for an instance."""
        return self._waiting

    def infer(self, job: Job) -> dict[str, np.ndarray]:
        with self._lock:
            self._waiting += 1
        try:
            instance = self._free.get()
        finally:
            with self._lock:
                self._waiting -= 1
        job.started_ns = time.perf_counter_ns()
        try:
            results = instance.run(self._model, job.outputs, job.inputs)
        finally:
            self._free.put(instance)
        job.infer_ns = time.perf_counter_ns() - job.started_ns
        self._stats.execution_done(job.batch, 0, job.infer_ns, 0)
        return results

    def close(self, timeout: float) -> None:
        """Jobs run on their callers' threads, so there is nothing of ours to wait for."""


class DynamicBatcher:
    """Triton's dynamic batcher for one model version (see module docstring)."""

    def __init__(self, model: str, instances: list[Instance], stats: ModelStats, max_batch_size: int,
                 max_queue_delay_us: int = 0, preferred_batch_sizes=(), policies: Policies | None = None):
        self._model = model
        self._stats = stats
        self._max_batch = max_batch_size
        self._delay_ns = max_queue_delay_us * 1000
        self._preferred = sorted(set(preferred_batch_sizes))
        self._pending = PriorityQueue(model, policies or Policies())
        self._pending_rows = 0  # batch elements queued, whatever their shapes
        self._cond = threading.Condition()
        self._gather = threading.Lock()  # one idle instance at a time forms the next batch
        self._closing = False
        self._running = len(instances)  # workers that will still look at the queue
        self._workers = [threading.Thread(target=self._work, args=(inst,), name=f"batcher-{inst.name}", daemon=True)
                         for inst in instances]
        for worker in self._workers:
            worker.start()

    @property
    def pending(self) -> int:
        """Requests queued and not yet taken into a batch."""
        return len(self._pending)

    def infer(self, job: Job) -> dict[str, np.ndarray]:
        with self._cond:
            # A request that found this version just before an unload still runs while a worker is left.
            if self._running == 0:
                raise UnavailableError(f"model '{self._model}' was unloaded")
            self._pending.push(job)  # raises when the job's queue is full
            job.future = Future()
            self._pending_rows += job.batch
            # Wake the gathering instance only when it has something to decide: a first job, or
            # possibly a full batch; otherwise it wakes at its deadline anyway.
            if len(self._pending) == 1 or self._pending_rows >= self._full_size():
                self._cond.notify()
        # A job with a queue timeout wakes at its deadline to apply its policy, should no batch have taken it.
        while job.deadline_ns:
            try:
                return job.future.result(max(0, job.deadline_ns - time.perf_counter_ns()) / 1e9)
            except FutureTimeout:
                with self._cond:
                    self._expire()
        return job.future.result()

    def close(self, timeout: float) -> None:
        """Let the workers finish what is queued and then stop; wait up to `timeout` seconds for them."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        deadline = time.monotonic() + timeout
        for worker in self._workers:
            worker.join(max(0.0, deadline - time.monotonic()))

    def _work(self, instance: Instance) -> None:
        while True:
            with self._gather:
                batch = self._next_batch()
            if batch is None:
                return
            self._run(instance, batch)

    def _next_batch(self) -> list[Job] | None:
        with self._cond:
            while True:
                self._expire()
                if not self._pending:
                    if self._closing:
                        self._running -= 1
                        return None
                    self._cond.wait()
                    continue
                size, oldest_ns = self._fitting()
                deadline, now = oldest_ns + self._delay_ns, time.perf_counter_ns()
                if size >= self._full_size() or now >= deadline or self._closing:
                    return self._take(size)
                self._cond.wait((deadline - now) / 1e9)

    def _expire(self) -> None:
        """Reject the queued jobs whose timeout expired (or move them behind, by their policy); holds the lock."""
        now = time.perf_counter_ns()
        for job in self._pending.expire(now):
            self._pending_rows -= job.batch
            job.future.set_exception(UnavailableError(
                f"Request timeout expired: the request waited {(now - job.enqueued_ns) // 1000} us in the queue of "
                f"model '{self._model}'"))

    def _full_size(self) -> int:
        """The size that ends gathering at once: the largest preferred size, else max_batch_size."""
        return self._preferred[-1] if self._preferred else self._max_batch

    def _fitting(self) -> tuple[int, int]:
        """Batch elements of the queued jobs that fit with the first one, up to max_batch_size, and the
        time the earliest of them was queued (which bounds how long the batch may wait)."""
        front = self._pending.front()
        key, size, oldest_ns = front.batch_key, 0, front.enqueued_ns
        for job in self._pending:
            if job.batch_key == key and size + job.batch <= self._max_batch:
                size += job.batch
                oldest_ns = min(oldest_ns, job.enqueued_ns)
        return size, oldest_ns

    def _take(self, size: int) -> list[Job]:
        # Triton's rule: the largest preferred size the queue can fill, else all that fits.
        limit = max([p for p in self._preferred if p <= size], default=size)
        front = self._pending.front()
        key, taken, total = front.batch_key, [], 0
        for job in self._pending:
            if job.batch_key == key and total + job.batch <= limit:
                taken.append(job)
                total += job.batch
        if not taken:  # a first job bigger than the preferred limit still has to run
            taken.append(front)
        self._pending.remove(taken)
        for job in taken:
            job.deadline_ns = 0  # a job in a batch no longer times out
        self._pending_rows -= sum(job.batch for job in taken)
        return taken

    def _run(self, instance: Instance, jobs: list[Job]) -> None:
        start = time.perf_counter_ns()
        for job in jobs:
            job.started_ns = start
        try:
            results = self._execute(instance, jobs)
        except ServerError as exc:
            for job in jobs:
                job.future.set_exception(exc)
            return
        except Exception as exc:  # never let a worker thread die: the model would stop serving
            for job in jobs:
                job.future.set_exception(InternalError(f"batch failed for model '{self._model}': {exc}"))
            return
        for job, result in zip(jobs, results):
            job.future.set_result(result)

    def _execute(self, instance: Instance, jobs: list[Job]) -> list[dict[str, np.ndarray]]:
        t0 = time.perf_counter_ns()
        names = list(dict.fromkeys(name for job in jobs for name in job.outputs))
        if len(jobs) == 1:
            feeds = jobs[0].inputs
        else:
            feeds = {name: np.concatenate([job.inputs[name] for job in jobs]) for name in jobs[0].inputs}
        t1 = time.perf_counter_ns()
        outputs = instance.run(self._model, names, feeds)
        t2 = time.perf_counter_ns()
        total = sum(job.batch for job in jobs)
        offsets = np.cumsum([job.batch for job in jobs])[:-1]
        split = {}
        for name, value in outputs.items():
            if value.ndim == 0 or value.shape[0] != total:
                raise InternalError(f"output '{name}' of model '{self._model}' has shape {list(value.shape)}, whose "
                                    f"first dimension should be the batch size {total}")
            split[name] = np.split(value, offsets) if len(jobs) > 1 else [value]
        results = [{name: split[name][i] for name in job.outputs} for i, job in enumerate(jobs)]
        t3 = time.perf_counter_ns()
        for job in jobs:
            job.infer_ns = t2 - t1
        self._stats.execution_done(total, t1 - t0, t2 - t1, t3 - t2)
        return results
