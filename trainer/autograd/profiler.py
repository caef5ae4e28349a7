"""``torch.autograd.profiler``: the older profiler API, on the same recorder as ``trainer.profiler``."""

from __future__ import annotations

from trainer.profiler.events import EventList, FunctionEvent, FunctionEventAvg
from trainer.profiler.profile import warn_host_timing_only
from trainer.profiler.record_function import record_function
from trainer.profiler.recorder import Recorder

__all__ = ["EventList", "FunctionEvent", "FunctionEventAvg", "profile", "record_function"]


class profile:  # noqa: N801 - PyTorch's public name
    """Record what runs inside the block (nothing when ``enabled`` is False); read the result afterwards through
    ``key_averages()``, ``table()``, ``function_events`` or ``export_chrome_trace``."""

    def __init__(self, enabled: bool = True, *, use_cuda: bool = False, use_device: str | None = None,
                 record_shapes: bool = False, with_flops: bool = False, profile_memory: bool = False,
                 with_stack: bool = False, with_modules: bool = False, use_kineto: bool = False,
                 use_cpu: bool = True) -> None:
        if not use_cpu:
            raise ValueError("trainer's profiler times ops on the host: use_cpu=False would record nothing")
        self.enabled = enabled
        if enabled and (use_cuda or use_device is not None):
            warn_host_timing_only()
        self.record_shapes, self.with_flops, self.profile_memory = record_shapes, with_flops, profile_memory
        self.with_stack, self.with_modules, self.use_kineto = with_stack, with_modules, use_kineto
        self.entered = False
        self.function_events: EventList | None = None
        self._recorder: Recorder | None = None

    def __enter__(self) -> profile:
        if not self.enabled:
            return self
        if self.entered:
            raise RuntimeError("Profiler context manager is not reentrant")
        self.entered = True
        self._start()
        return self

    def __exit__(self, exc_type, exc_value, traceback) -> bool:
        if self.enabled:
            self._stop()
        return False

    def _start(self) -> None:
        self._recorder = Recorder(self.record_shapes, self.profile_memory, self.with_stack, self.with_flops)
        self._recorder.start()

    def _stop(self) -> None:
        self._recorder.stop()
        self.function_events = EventList.from_ranges(self._recorder.ranges, self._recorder.base_ns,
                                                     self.profile_memory, self.with_flops)

    def _check_finish(self) -> EventList:
        if self.function_events is None:
            raise RuntimeError("Profiler didn't finish running")
        return self.function_events

    def key_averages(self, group_by_input_shape: bool = False, group_by_stack_n: int = 0,
                     group_by_overload_name: bool = False) -> EventList:
        return self._check_finish().key_averages(group_by_input_shape, group_by_stack_n, group_by_overload_name)

    def table(self, sort_by: str | None = None, row_limit: int = 100, max_src_column_width: int = 75,
              max_name_column_width: int = 55, max_shapes_column_width: int = 80, header: str | None = None,
              top_level_events_only: bool = False) -> str:
        return self._check_finish().table(sort_by=sort_by, row_limit=row_limit,
                                          max_src_column_width=max_src_column_width,
                                          max_name_column_width=max_name_column_width,
                                          max_shapes_column_width=max_shapes_column_width, header=header,
                                          top_level_events_only=top_level_events_only)

    def total_average(self) -> FunctionEventAvg | None:
        return self._check_finish().total_average()

    @property
    def self_cpu_time_total(self) -> float:
        return self._check_finish().self_cpu_time_total

    def export_chrome_trace(self, path: str) -> None:
        self._check_finish().export_chrome_trace(path)

    def __str__(self) -> str:
        return self.table()
