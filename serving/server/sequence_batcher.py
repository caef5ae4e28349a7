"""Triton's sequence batcher for stateful models (config `sequence_batching`).

Every request names its sequence by a correlation ID (`sequence_id`). A sequence's first request
(`sequence_start`) gives it a slot in one instance's pool; its later requests queue on that slot and
run in order; its last request (`sequence_end`), or max_sequence_idle_microseconds without a request,
frees the slot for the oldest sequence of the backlog, where new sequences wait while no slot is free.

- direct: an instance has max_batch_size slots (one for a model that does not batch) and runs the next
  request of every slot that has one in one batch.
- oldest: an instance holds max_candidate_sequences sequences and runs the oldest requests among them,
  one per sequence, as the dynamic batcher would (preferred sizes, max queue delay).

Each run gets the control inputs the config declares (START, END, READY, CORRID, one row per request)
and each sequence's implicit state: the state output of its previous request, or the initial state on
a START. The batcher keeps the state, so a row's position in the batch carries no meaning and slots
need no padding rows.
"""

from __future__ import annotations

import collections
import logging
import math
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from serving.server import sequence_config
from serving.server.dtypes import NUMPY
from serving.server.errors import InternalError, InvalidRequestError, ServerError, UnavailableError
from serving.server.scheduler import Instance, Job
from serving.server.stats import ModelStats

log = logging.getLogger("sardonyx.serve")

DEFAULT_IDLE_US = 1_000_000  # Triton's default max_sequence_idle_microseconds


@dataclass
class _Sequence:
    correlation_id: int | str
    jobs: collections.deque[Job] = field(default_factory=collections.deque)
    states: dict[str, np.ndarray] = field(default_factory=dict)  # state input -> value, batch dimension kept
    open: bool = True  # False once a request with END is queued: only a new START may follow
    last_ns: int = field(default_factory=time.monotonic_ns)  # when it last received or finished a request


class _Pool:
    """One instance's slots and the thread that runs them."""

    def __init__(self, instance: Instance, slots: int):
        self.instance = instance
        self.slots: list[_Sequence | None] = [None] * slots
        self.thread: threading.Thread | None = None

    def free_slots(self) -> int:
        return self.slots.count(None)


class SequenceBatcher:
    def __init__(self, model: str, instances: list[Instance], stats: ModelStats, config, model_dir: Path):
        batching = config.sequence_batching
        self._model = model
        self._stats = stats
        self._batching = config.max_batch_size > 0
        self._limit = max(1, config.max_batch_size)  # requests per run
        self._controls = sequence_config.controls(config)
        self._states = sequence_config.states(config, model_dir)
        self._idle_ns = (batching.max_sequence_idle_microseconds or DEFAULT_IDLE_US) * 1000
        if batching.WhichOneof("strategy_choice") == "oldest":
            oldest = batching.oldest
            slots = oldest.max_candidate_sequences or self._limit
            self._delay_ns = oldest.max_queue_delay_microseconds * 1000
            preferred = sorted(set(oldest.preferred_batch_size))
            self._preferred = preferred
            self._full = preferred[-1] if preferred else self._limit
        else:
            direct = batching.direct
            slots = self._limit
            self._delay_ns = direct.max_queue_delay_microseconds * 1000
            self._preferred = []
            self._full = max(1, math.ceil(direct.minimum_slot_utilization * slots))
        self._pools = [_Pool(instance, slots) for instance in instances]
        self._live: dict[int | str, tuple[_Pool, _Sequence]] = {}
        self._backlog: collections.OrderedDict[int | str, _Sequence] = collections.OrderedDict()
        self._cond = threading.Condition()
        self._closing = False
        for pool in self._pools:
            pool.thread = threading.Thread(target=self._work, args=(pool,), daemon=True,
                                           name=f"sequence-batcher-{pool.instance.name}")
            pool.thread.start()

    @property
    def pending(self) -> int:
        """Requests queued and not yet run, backlog included."""
        with self._cond:
            return sum(len(s.jobs) for _, s in self._live.values()) + sum(len(s.jobs) for s in self._backlog.values())

    def infer(self, job: Job) -> dict[str, np.ndarray]:
        flags = job.sequence
        if flags is None:
            raise InvalidRequestError(f"inference request to model '{self._model}' must specify a non-zero or "
                                      "non-empty correlation ID")
        if self._batching and job.batch != 1:
            raise InvalidRequestError(f"inference request to model '{self._model}' must specify batch-size 1 due to "
                                      "requirements of sequence batcher")
        self._check_correlation_id(flags.correlation_id)
        job.future = Future()
        with self._cond:
            if self._closing:
                raise UnavailableError(f"model '{self._model}' was unloaded")
            self._enqueue(job)
        return job.future.result()

    def close(self, timeout: float) -> None:
        """Run what the slots hold, then stop; requests still in the backlog fail."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        deadline = time.monotonic() + timeout
        for pool in self._pools:
            pool.thread.join(max(0.0, deadline - time.monotonic()))
        with self._cond:
            waiting = [job for s in self._backlog.values() for job in s.jobs]
            self._backlog.clear()
        for job in waiting:
            job.future.set_exception(UnavailableError(f"model '{self._model}' was unloaded before the sequence "
                                                      f"{job.sequence.correlation_id} got a batch slot"))

    # Queuing (under self._cond).

    def _enqueue(self, job: Job) -> None:
        flags = job.sequence
        live = self._live.get(flags.correlation_id)
        sequence = live[1] if live else self._backlog.get(flags.correlation_id)
        if not flags.start and (sequence is None or not sequence.open):
            raise InvalidRequestError(f"inference request for sequence {flags.correlation_id} to model "
                                      f"'{self._model}' must specify the START flag on the first request of the "
                                      "sequence")
        if sequence is None:
            sequence = _Sequence(flags.correlation_id)
            pool = max(self._pools, key=_Pool.free_slots)
            if pool.free_slots():
                self._assign(pool, pool.slots.index(None), sequence)
            else:
                self._backlog[flags.correlation_id] = sequence
        sequence.jobs.append(job)
        sequence.open = not flags.end
        sequence.last_ns = time.monotonic_ns()
        self._cond.notify_all()

    def _assign(self, pool: _Pool, index: int, sequence: _Sequence) -> None:
        pool.slots[index] = sequence
        self._live[sequence.correlation_id] = (pool, sequence)
        sequence.last_ns = time.monotonic_ns()

    def _release(self, pool: _Pool, sequence: _Sequence) -> None:
        """Free the sequence's slot and give it to the oldest sequence of the backlog."""
        index = pool.slots.index(sequence)
        pool.slots[index] = None
        del self._live[sequence.correlation_id]
        if self._backlog:
            _, waiting = self._backlog.popitem(last=False)
            self._assign(pool, index, waiting)

    def _expire(self, pool: _Pool, now: int) -> int | None:
        """Free the slots idle past the limit; return when the next one would expire (None: none can)."""
        soonest = None
        for sequence in list(pool.slots):
            if sequence is None or sequence.jobs:
                continue
            deadline = sequence.last_ns + self._idle_ns
            if deadline <= now:
                log.warning("model '%s': sequence %s was idle for more than %d us and has been released",
                            self._model, sequence.correlation_id, self._idle_ns // 1000)
                self._release(pool, sequence)
            else:
                soonest = deadline if soonest is None else min(soonest, deadline)
        return soonest

    # Running (each pool's own thread).

    def _work(self, pool: _Pool) -> None:
        while True:
            with self._cond:
                rows = self._gather(pool)
            if rows is None:
                return
            self._run(pool, rows)

    def _gather(self, pool: _Pool) -> list[tuple[_Sequence, Job]] | None:
        """Wait for a batch of (sequence, its next request) rows; None when closing and nothing is left."""
        while True:
            now = time.monotonic_ns()
            wake = self._expire(pool, now)
            ready = sorted((s for s in pool.slots if s is not None and s.jobs), key=lambda s: s.jobs[0].enqueued_ns)
            if ready:
                key = self._row_key(ready[0])
                ready = [s for s in ready if self._row_key(s) == key][:self._limit]
                # perf_counter_ns stamps the jobs; the deadline is measured on the same clock.
                delay_left = ready[0].jobs[0].enqueued_ns + self._delay_ns - time.perf_counter_ns()
                if len(ready) >= self._full or delay_left <= 0 or self._closing:
                    take = max([p for p in self._preferred if p <= len(ready)], default=len(ready))
                    return [(s, s.jobs.popleft()) for s in ready[:take]]
                wake = now + delay_left if wake is None else min(wake, now + delay_left)
            elif self._closing:
                return None
            self._cond.wait(None if wake is None else max(0, wake - now) / 1e9)

    def _row_key(self, sequence: _Sequence) -> tuple:
        """Rows with equal keys concatenate: same input shapes, and same state shapes."""
        job = sequence.jobs[0]
        states = () if job.sequence.start else tuple(
            (name, value.shape) for name, value in sorted(sequence.states.items()))
        return job.batch_key, states

    def _run(self, pool: _Pool, rows: list[tuple[_Sequence, Job]]) -> None:
        start = time.perf_counter_ns()
        for _, job in rows:
            job.started_ns = start
        try:
            results, states = self._execute(pool.instance, rows)
        except ServerError as exc:
            results, states = [exc] * len(rows), None
        except Exception as exc:  # never let a pool's thread die: its sequences would hang
            results, states = [InternalError(f"batch failed for model '{self._model}': {exc}")] * len(rows), None
        with self._cond:
            for i, (sequence, job) in enumerate(rows):
                if states is not None:
                    sequence.states = states[i]
                sequence.last_ns = time.monotonic_ns()
                if job.sequence.end and not sequence.jobs:
                    self._release(pool, sequence)
            self._cond.notify_all()
        for (_, job), result in zip(rows, results):
            if isinstance(result, Exception):
                job.future.set_exception(result)
            else:
                job.future.set_result(result)

    def _execute(self, instance: Instance, rows) -> tuple[list[dict], list[dict]]:
        t0 = time.perf_counter_ns()
        jobs = [job for _, job in rows]
        feeds = {name: self._stack([job.inputs[name] for job in jobs]) for name in jobs[0].inputs}
        for control in self._controls:
            feeds[control.input] = self._stack([self._control_value(control, job) for job in jobs])
        for state in self._states:
            feeds[state.input] = self._stack([self._state_value(state, sequence, job) for sequence, job in rows])
        names = list(dict.fromkeys([name for job in jobs for name in job.outputs] + [s.output for s in self._states]))
        t1 = time.perf_counter_ns()
        outputs = instance.run(self._model, names, feeds)
        t2 = time.perf_counter_ns()
        count = len(rows)
        for name, value in outputs.items():
            if self._batching and (value.ndim == 0 or value.shape[0] != count):
                raise InternalError(f"output '{name}' of model '{self._model}' has shape {list(value.shape)}, whose "
                                    f"first dimension should be the batch size {count}")
        # Row slices are copied so a kept state does not hold the whole batch's output alive.
        row = (lambda value, i: value[i:i + 1].copy()) if self._batching else (lambda value, i: value)
        results = [{name: row(outputs[name], i) for name in job.outputs} for i, job in enumerate(jobs)]
        states = [{s.input: row(outputs[s.output], i) for s in self._states} for i in range(count)]
        t3 = time.perf_counter_ns()
        for job in jobs:
            job.infer_ns = t2 - t1
        self._stats.execution_done(count, t1 - t0, t2 - t1, t3 - t2)
        return results, states

    def _stack(self, values: list[np.ndarray]) -> np.ndarray:
        return values[0] if len(values) == 1 else np.concatenate(values)

    def _control_value(self, control, job: Job) -> np.ndarray:
        shape = (1, 1) if self._batching else (1,)
        flags = job.sequence
        if control.kind == "CORRID":
            value = flags.correlation_id.encode() if control.datatype == "BYTES" else flags.correlation_id
            return np.full(shape, value, dtype=NUMPY[control.datatype])
        on = {"START": flags.start, "END": flags.end, "READY": True}[control.kind]
        return np.full(shape, control.false_true[int(on)], dtype=NUMPY[control.datatype])

    def _state_value(self, state, sequence: _Sequence, job: Job) -> np.ndarray:
        if job.sequence.start or state.input not in sequence.states:
            return state.initial[np.newaxis] if self._batching else state.initial
        return sequence.states[state.input]

    def _check_correlation_id(self, correlation_id: int | str) -> None:
        for control in self._controls:
            if control.kind != "CORRID":
                continue
            if isinstance(correlation_id, str) != (control.datatype == "BYTES"):
                wanted = "a string" if control.datatype == "BYTES" else "an integer"
                raise InvalidRequestError(f"sequence_id {correlation_id!r} for model '{self._model}' must be {wanted}: "
                                          f"its CORRID control input '{control.input}' is {control.datatype}")
            if control.datatype != "BYTES":
                info = np.iinfo(NUMPY[control.datatype])
                if not info.min <= correlation_id <= info.max:
                    raise InvalidRequestError(f"sequence_id {correlation_id} for model '{self._model}' does not fit "
                                              f"its CORRID control input '{control.input}' of type {control.datatype}")
