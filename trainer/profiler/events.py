"""What a profile holds: ``FunctionEvent`` (one timed run), ``FunctionEventAvg`` (runs grouped by name) and
``EventList``, with PyTorch's attribute names (``cpu_time_total``, ``self_cpu_time_total``, ``count``...).
Times are in microseconds, memory in bytes."""

from __future__ import annotations

from trainer.profiler import chrome_trace, table
from trainer.profiler.recorder import USER, Range


class Interval:
    def __init__(self, start: float, end: float) -> None:
        self.start, self.end = start, end

    def elapsed_us(self) -> float:
        return self.end - self.start


class FunctionEvent:
    """One op, backward node or ``record_function`` range as it ran: its interval, its parent and children."""

    count = 1
    is_async = False
    use_device = None
    device_type = "CPU"

    def __init__(self, event_id: int, closed: Range, base_ns: int) -> None:
        self.id, self.thread, self.trace_name = event_id, closed.thread, closed.name
        # as in PyTorch, the table adds up all steps' ranges under one name; the trace keeps each step's number
        self.name = "ProfilerStep*" if closed.name.startswith("ProfilerStep#") else closed.name
        self.category = closed.category
        self.time_range = Interval((closed.start_ns - base_ns) / 1e3, (closed.end_ns - base_ns) / 1e3)
        self.input_shapes, self.input_types = closed.input_shapes, closed.input_types
        self.stack, self.flops = closed.stack, closed.flops
        self.self_cpu_memory_usage = closed.own_bytes
        self.cpu_parent: FunctionEvent | None = None
        self.cpu_children: list[FunctionEvent] = []

    key = property(lambda self: self.name)
    is_user_annotation = property(lambda self: self.category == USER)
    cpu_time_total = property(lambda self: self.time_range.elapsed_us())
    cpu_time = cpu_time_total
    self_device_time_total = device_time_total = 0.0

    @property
    def self_cpu_time_total(self) -> float:
        return self.cpu_time_total - sum(child.cpu_time_total for child in self.cpu_children)

    @property
    def cpu_memory_usage(self) -> int:
        """Bytes allocated by this run and everything nested in it."""
        return self.self_cpu_memory_usage + sum(child.cpu_memory_usage for child in self.cpu_children)

    def __repr__(self) -> str:
        return (f"<FunctionEvent id={self.id} name={self.name} cpu_time={self.cpu_time_total:.3f}us "
                f"self_cpu_time={self.self_cpu_time_total:.3f}us input_shapes={self.input_shapes} "
                f"cpu_memory_usage={self.cpu_memory_usage}>")


class FunctionEventAvg:
    """The runs that share a key (a name, and with grouping the input shapes or stack), summed."""

    is_async = False
    use_device = None
    self_device_time_total = device_time_total = 0.0

    def __init__(self, first: FunctionEvent, key_shapes: bool, stack_n: int) -> None:
        self.key = first.key
        self.input_shapes = first.input_shapes if key_shapes else []
        self.stack = first.stack[:stack_n] if stack_n else []
        self.is_user_annotation = first.is_user_annotation
        self.cpu_parent = first.cpu_parent  # for ``top_level_events_only``, as in PyTorch: the first run's
        self.count = 0
        self.cpu_time_total = self.self_cpu_time_total = 0.0
        self.cpu_memory_usage = self.self_cpu_memory_usage = self.flops = 0

    def add(self, event) -> FunctionEventAvg:
        self.count += event.count
        self.cpu_time_total += event.cpu_time_total
        self.self_cpu_time_total += event.self_cpu_time_total
        self.cpu_memory_usage += event.cpu_memory_usage
        self.self_cpu_memory_usage += event.self_cpu_memory_usage
        self.flops += event.flops
        return self

    @property
    def cpu_time(self) -> float:
        return self.cpu_time_total / self.count if self.count else 0.0

    def __repr__(self) -> str:
        return (f"<FunctionEventAvg key={self.key} self_cpu_time={self.self_cpu_time_total:.3f}us "
                f"cpu_time={self.cpu_time:.3f}us input_shapes={self.input_shapes} count={self.count}>")


class EventList(list):
    """A list of events that prints as PyTorch's table and exports as a Chrome trace."""

    def __init__(self, events=(), profile_memory: bool = False, with_flops: bool = False) -> None:
        super().__init__(events)
        self._profile_memory, self._with_flops = profile_memory, with_flops

    @classmethod
    def from_ranges(cls, ranges: list[Range], base_ns: int, profile_memory=False, with_flops=False) -> EventList:
        """Every closed range of the trees under ``ranges``, in order of start, linked to parent and children."""
        flat: list[tuple[Range, Range | None]] = []
        todo = [(r, None) for r in ranges]
        while todo:
            closed, parent = todo.pop()
            flat.append((closed, parent))
            todo.extend((child, closed) for child in closed.children)
        flat.sort(key=lambda pair: (pair[0].start_ns, -pair[0].end_ns))
        events = [FunctionEvent(i, closed, base_ns) for i, (closed, _) in enumerate(flat)]
        by_range = {id(closed): event for (closed, _), event in zip(flat, events)}
        for (_, parent), event in zip(flat, events):
            if parent is not None:
                event.cpu_parent = by_range[id(parent)]
                event.cpu_parent.cpu_children.append(event)
        return cls(events, profile_memory, with_flops)

    @property
    def self_cpu_time_total(self) -> float:
        return sum(event.self_cpu_time_total for event in self)

    def key_averages(self, group_by_input_shapes: bool = False, group_by_stack_n: int = 0,
                     group_by_overload_name: bool = False) -> EventList:
        """One ``FunctionEventAvg`` per name (and input shapes, and innermost ``group_by_stack_n`` frames), in
        order of first appearance. Trainer's op names have no overloads, so ``group_by_overload_name`` changes
        nothing."""
        groups: dict = {}
        for event in self:
            key = (event.key, str(event.input_shapes) if group_by_input_shapes else "",
                   tuple(event.stack[:group_by_stack_n]) if group_by_stack_n else ())
            average = groups.get(key)
            if average is None:
                average = groups[key] = FunctionEventAvg(event, group_by_input_shapes, group_by_stack_n)
            average.add(event)
        return EventList(groups.values(), self._profile_memory, self._with_flops)

    def total_average(self) -> FunctionEventAvg | None:
        """Every event summed into one, keyed ``"Total"``."""
        if not self:
            return None
        total = FunctionEventAvg(self[0], False, 0)
        for event in self:
            total.add(event)
        total.key = "Total"
        return total

    def table(self, sort_by: str | None = None, row_limit: int = 100, max_src_column_width: int = 75,
              max_name_column_width: int = 55, max_shapes_column_width: int = 80, header: str | None = None,
              top_level_events_only: bool = False, time_unit: str | None = None) -> str:
        """PyTorch's summary table; ``sort_by`` names an attribute (e.g. ``"self_cpu_time_total"``)."""
        return table.build_table(self, sort_by=sort_by, header=header, row_limit=row_limit,
                                 max_src_column_width=max_src_column_width,
                                 max_name_column_width=max_name_column_width,
                                 max_shapes_column_width=max_shapes_column_width, with_flops=self._with_flops,
                                 profile_memory=self._profile_memory, top_level_events_only=top_level_events_only,
                                 time_unit=time_unit)

    def __str__(self) -> str:
        return self.table()

    def export_chrome_trace(self, path: str) -> None:
        chrome_trace.write(self, path)
