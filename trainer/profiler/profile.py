"""``torch.profiler.profile``: a context manager that records ops, backward nodes and user ranges, driven step by
step by a schedule, handing each finished trace to ``on_trace_ready``."""

from __future__ import annotations

import enum
import os
import socket
import time
import warnings
from collections.abc import Callable, Iterable

from trainer.profiler.events import EventList
from trainer.profiler.record_function import record_function
from trainer.profiler.recorder import Recorder
from trainer.profiler.schedule import ProfilerAction, default_schedule

A = ProfilerAction


class ProfilerActivity(enum.Enum):
    CPU = 0
    CUDA = 2


def supported_activities() -> set[ProfilerActivity]:
    """CPU always; CUDA where CuPy sees a device."""
    from trainer import cuda

    return {ProfilerActivity.CPU, ProfilerActivity.CUDA} if cuda.is_available() else {ProfilerActivity.CPU}


def warn_host_timing_only() -> None:
    warnings.warn("trainer's profiler times ops on the host; device (CUDA) kernel times are not collected, so "
                  "asynchronous device work shows up in the op that waits for it", stacklevel=3)


def tensorboard_trace_handler(dir_name: str, worker_name: str | None = None, use_gzip: bool = False):
    """An ``on_trace_ready`` that writes each trace to ``dir_name`` as ``<worker>.<time_ns>.pt.trace.json``."""

    def handler_fn(prof) -> None:
        nonlocal worker_name
        try:
            os.makedirs(dir_name, exist_ok=True)
        except OSError as error:
            raise RuntimeError("Can't create directory: " + dir_name) from error
        if not worker_name:
            worker_name = f"{socket.gethostname()}_{os.getpid()}"
        file_name = f"{worker_name}.{time.time_ns()}.pt.trace.json" + (".gz" if use_gzip else "")
        prof.export_chrome_trace(os.path.join(dir_name, file_name))

    return handler_fn


def _warner(transition: str) -> Callable[[], None]:
    return lambda: warnings.warn(f"Incorrect schedule: {transition}", stacklevel=5)


class profile:  # noqa: N801 - PyTorch's public name
    """Record what runs inside the block. With a ``schedule``, call ``step()`` once per training step: each step
    is recorded as a ``ProfilerStep#N`` range, and each recorded cycle ends in ``on_trace_ready(self)``."""

    def __init__(self, *, activities: Iterable[ProfilerActivity] | None = None,
                 schedule: Callable[[int], ProfilerAction] | None = None, on_trace_ready: Callable | None = None,
                 record_shapes: bool = False, profile_memory: bool = False, with_stack: bool = False,
                 with_flops: bool = False, with_modules: bool = False, acc_events: bool = False,
                 use_cuda: bool | None = None) -> None:
        chosen = set(activities) if activities is not None else supported_activities()
        for activity in chosen:
            if not isinstance(activity, ProfilerActivity):
                raise TypeError(f"activities must be ProfilerActivity members (CPU, CUDA), but got {activity!r}")
        if use_cuda is not None:
            warnings.warn("`use_cuda` is deprecated, use `activities` argument instead", FutureWarning,
                          stacklevel=2)
            chosen = chosen | {ProfilerActivity.CUDA} if use_cuda else chosen - {ProfilerActivity.CUDA}
        if not chosen:
            raise AssertionError("No valid profiler activities found")
        if ProfilerActivity.CUDA in chosen:
            warn_host_timing_only()
        self.activities = chosen
        self.record_shapes, self.profile_memory = record_shapes, profile_memory
        self.with_stack, self.with_flops, self.with_modules = with_stack, with_flops, with_modules
        self.acc_events = acc_events
        self.schedule = schedule or default_schedule
        self.record_steps = schedule is not None  # step ranges appear in the trace only with a schedule
        self.on_trace_ready = on_trace_ready
        self.step_num = 0
        self.current_action = self.schedule(self.step_num)
        self.profiler: Recorder | None = None
        self._events: EventList | None = None
        self._kept: list = []  # closed ranges of earlier cycles, with ``acc_events``
        self._base_ns = 0
        self._step_range: record_function | None = None

    # ------------------------------------------------------------------ PyTorch's step machine
    def _transitions(self, previous: ProfilerAction, current: ProfilerAction | None) -> list:
        """What to do on the move from ``previous`` to ``current`` (None: leaving the block), as PyTorch does."""
        prepare, start, stop, ready = self.prepare_trace, self.start_trace, self.stop_trace, self._trace_ready
        save, record = [stop, ready, prepare], [prepare, start]
        table = {
            (A.NONE, A.WARMUP): [prepare], (A.NONE, A.RECORD): record, (A.NONE, A.RECORD_AND_SAVE): record,
            (A.WARMUP, A.NONE): [_warner("WARMUP followed by NONE"), start, stop],
            (A.WARMUP, A.RECORD): [start], (A.WARMUP, A.RECORD_AND_SAVE): [start],
            (A.RECORD, A.NONE): [_warner("RECORD followed by NONE"), stop],
            (A.RECORD, A.WARMUP): [_warner("RECORD followed by WARMUP"), stop],
            (A.RECORD_AND_SAVE, A.NONE): [stop, ready], (A.RECORD_AND_SAVE, A.WARMUP): save,
            (A.RECORD_AND_SAVE, A.RECORD): [*save, start], (A.RECORD_AND_SAVE, A.RECORD_AND_SAVE): [*save, start],
            (A.WARMUP, None): [start, stop], (A.RECORD, None): [stop, ready], (A.RECORD_AND_SAVE, None): [stop, ready],
        }
        return table.get((previous, current), [])

    def _transit_action(self, previous: ProfilerAction, current: ProfilerAction | None) -> None:
        for action in self._transitions(previous, current):
            action()

    def prepare_trace(self) -> None:
        if self.profiler is not None and self.acc_events:
            self._kept += self.profiler.ranges
        self.profiler = Recorder(self.record_shapes, self.profile_memory, self.with_stack, self.with_flops)
        if not self._kept:  # times count from the start of the trace (of the first one, when accumulating)
            self._base_ns = self.profiler.base_ns

    def start_trace(self) -> None:
        self.profiler.start()

    def stop_trace(self) -> None:
        self.profiler.stop()
        self._events = EventList.from_ranges(self._kept + self.profiler.ranges, self._base_ns,
                                             self.profile_memory, self.with_flops)

    def _trace_ready(self) -> None:
        if self.on_trace_ready is not None:
            self.on_trace_ready(self)

    # ------------------------------------------------------------------ public API
    def start(self) -> None:
        self._transit_action(A.NONE, self.current_action)
        if self.record_steps:
            self._enter_step_range()

    def stop(self) -> None:
        self._exit_step_range()
        self._transit_action(self.current_action, None)

    def step(self) -> None:
        """Tell the profiler that the next step has begun."""
        self._exit_step_range()
        previous = self.current_action
        self.step_num += 1
        self.current_action = self.schedule(self.step_num)
        self._transit_action(previous, self.current_action)
        if self.record_steps:
            self._enter_step_range()

    def __enter__(self) -> profile:
        self.start()
        return self

    def __exit__(self, exc_type, exc_value, traceback) -> None:
        self.stop()

    def _enter_step_range(self) -> None:
        self._step_range = record_function(f"ProfilerStep#{self.step_num}")
        self._step_range.__enter__()

    def _exit_step_range(self) -> None:
        if self._step_range is not None:
            self._step_range.__exit__(None, None, None)
            self._step_range = None

    def events(self) -> EventList:
        """Every recorded event of the last finished trace, in order of start."""
        if self._events is None:
            raise RuntimeError("the profiler has no finished trace yet: events are ready once a recorded cycle "
                               "ends (on leaving the profile block, or at a RECORD_AND_SAVE step)")
        return self._events

    def key_averages(self, group_by_input_shape: bool = False, group_by_stack_n: int = 0,
                     group_by_overload_name: bool = False) -> EventList:
        return self.events().key_averages(group_by_input_shape, group_by_stack_n, group_by_overload_name)

    def export_chrome_trace(self, path: str) -> None:
        self.events().export_chrome_trace(path)
