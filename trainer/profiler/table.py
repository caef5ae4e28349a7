"""The summary table of a profile, in PyTorch's column layout (``torch.autograd.profiler_util._build_table``), so
that a reader and any script that parses it find the same columns: Name, Self CPU %, Self CPU, CPU total %,
CPU total, CPU time avg, [CPU Mem, Self CPU Mem,] # of Calls, [Input Shapes,] [Source Location,] [Total FLOPs]."""

from __future__ import annotations

import math

_COLUMN_WIDTH = 12
_SPACING = 2
_FLOP_UNITS = ["FLOPs", "KFLOPs", "MFLOPs", "GFLOPs", "TFLOPs", "PFLOPs"]


def format_time(time_us: float) -> str:
    if time_us >= 1e6:
        return f"{time_us / 1e6:.3f}s"
    if time_us >= 1e3:
        return f"{time_us / 1e3:.3f}ms"
    return f"{time_us:.3f}us"


def _time_in(time_us: float, time_unit: str | None) -> str:
    scale = {"s": 1e6, "ms": 1e3, "us": 1.0}.get(time_unit)
    return format_time(time_us) if scale is None else f"{time_us / scale:.3f}{time_unit}"


def _share(time_us: float, total_us: float) -> str:
    return "NaN" if total_us == 0 else f"{time_us * 100.0 / total_us:.2f}%"


def format_memory(nbytes: int) -> str:
    for unit, size in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if abs(nbytes) >= size:
            return f"{nbytes / size:.2f} {unit}"
    return f"{nbytes} B"


def _trim_path(path: str, width: int) -> str:
    if len(path) > width:
        path = path[len(path) - width:]
        if len(path) > 3:
            path = "..." + path[3:]
    return path


def build_table(events, sort_by=None, header=None, row_limit=100, max_src_column_width=75,
                max_name_column_width=55, max_shapes_column_width=80, with_flops=False, profile_memory=False,
                top_level_events_only=False, time_unit=None) -> str:
    if len(events) == 0:
        return ""
    if sort_by is not None:
        events = sorted(events, key=lambda event: getattr(event, sort_by.replace("cuda", "device")), reverse=True)
    has_shapes = any(event.input_shapes for event in events)
    has_stack = any(event.stack for event in events)
    name_width = max(len(event.key) for event in events) + 4
    if max_name_column_width is not None:
        name_width = min(name_width, max_name_column_width)

    headers = ["Name", "Self CPU %", "Self CPU", "CPU total %", "CPU total", "CPU time avg"]
    if profile_memory:
        headers += ["CPU Mem", "Self CPU Mem"]
    headers.append("# of Calls")
    widths = [name_width] + [_COLUMN_WIDTH] * (len(headers) - 1)
    aligns = [">"] * len(headers)
    if has_shapes:
        shapes_width = max(len(str(event.input_shapes)) for event in events) + 4
        if max_shapes_column_width is not None:
            shapes_width = min(shapes_width, max_shapes_column_width)
        headers.append("Input Shapes")
        widths.append(shapes_width)
        aligns.append(">")
    if has_stack:
        src_width = max(len(entry) for event in events for entry in event.stack) + 4
        if max_src_column_width is not None:
            src_width = min(src_width, max_src_column_width)
        headers.append("Source Location")
        widths.append(src_width)
        aligns.append("<")
    flops_scale = 1.0
    if with_flops:
        positive = [event.flops for event in events if event.flops > 0]
        with_flops = bool(positive)
        if with_flops:  # the unit that suits the smallest count, as PyTorch picks it
            power = int(max(0.0, min(math.log10(min(positive)) / 3, len(_FLOP_UNITS) - 1.0)))
            flops_scale = 10.0 ** (-3 * power)
            headers.append(f"Total {_FLOP_UNITS[power]}")
            widths.append(_COLUMN_WIDTH)
            aligns.append(">")

    row_format = "".join("{: " + align + str(width) + "}" + " " * _SPACING for align, width in zip(aligns, widths))
    separator = "".join("-" * width + " " * _SPACING for width in widths)
    line_length = sum(width + _SPACING for width in widths) - _SPACING
    self_total = sum(event.self_cpu_time_total for event in events)

    lines = []
    if header is not None:
        lines += ["=" * line_length, header]
    if top_level_events_only:
        lines += ["=" * line_length, "This report only display top-level ops statistics"]
    lines += [separator, row_format.format(*headers), separator]
    shown = 0
    for event in events:
        if shown == row_limit:
            break
        if top_level_events_only and event.cpu_parent is not None:
            continue
        shown += 1
        name = event.key
        if max_name_column_width is not None and len(name) >= max_name_column_width - 3:
            name = name[:max_name_column_width - 3] + "..."
        row = [name, _share(event.self_cpu_time_total, self_total), _time_in(event.self_cpu_time_total, time_unit),
               _share(event.cpu_time_total, self_total), _time_in(event.cpu_time_total, time_unit),
               _time_in(event.cpu_time, time_unit)]
        if profile_memory:
            row += [format_memory(event.cpu_memory_usage), format_memory(event.self_cpu_memory_usage)]
        row.append(event.count)
        if has_shapes:
            row.append(str(event.input_shapes)[:shapes_width])
        if has_stack:
            row.append(_trim_path(event.stack[0], src_width) if event.stack else "")
        if with_flops:
            row.append("--" if event.flops <= 0 else f"{event.flops * flops_scale:8.3f}")
        lines.append(row_format.format(*row))
        if has_stack:  # the outer frames below the row, then a blank row
            blank = [""] * (len(headers) - 1 - with_flops)
            for entry in event.stack[1:]:
                lines.append(row_format.format(*blank, _trim_path(entry, src_width), *[""] * with_flops))
            lines.append(row_format.format(*[""] * len(headers)))
    lines += [separator, f"Self CPU time total: {_time_in(self_total, time_unit)}"]
    return "".join(line + "\n" for line in lines)
