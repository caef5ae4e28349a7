"""The text table ``Compare`` prints for the measurements that share one label, laid out as PyTorch lays it out.

Rows are (num_threads, env, row name) and columns are descriptions; each cell is a median in the table's unit.
"""

from __future__ import annotations

import enum
import itertools
import math
import operator

from trainer.utils.benchmark.measurement import Measurement
from trainer.utils.benchmark.units import log10_float32, ordered_unique, select_unit, trim_sigfig, unit_to_english

BEST = "\033[92m"
GOOD = "\033[34m"
BAD = "\033[2m\033[91m"
VERY_BAD = "\033[31m"
BOLD = "\033[1m"
TERMINATE = "\033[0m"

_UNSPECIFIED_ENV = "Unspecified env"


class Colorize(enum.Enum):
    NONE = "none"
    COLUMNWISE = "columnwise"
    ROWWISE = "rowwise"


def _env_name(m: Measurement) -> str:
    # PyTorch fails (sorting or measuring None) when only some measurements name an env; name the rest.
    return _UNSPECIFIED_ENV if m.env is None else m.env


def _leading_digits(value: float) -> int:
    return math.ceil(log10_float32(value))


class _Column:
    """One description's cells: a shared number format wide enough for the column's largest median."""

    def __init__(self, grouped_results: list[tuple[Measurement | None, ...]], time_scale: float,
                 trim_significant_figures: bool, highlight_warnings: bool) -> None:
        self._grouped_results = grouped_results
        flat_results = [m for m in itertools.chain.from_iterable(grouped_results) if m is not None]
        self._trim_significant_figures = trim_significant_figures
        self._highlight_warnings = highlight_warnings and any(m.has_warnings for m in flat_results)
        leading_digits = [_leading_digits(m.median / time_scale) for m in flat_results]
        unit_digits = max(leading_digits)
        decimal_digits = (
            min(max(m.significant_figures - digits, 0) for digits, m in zip(leading_digits, flat_results))
            if trim_significant_figures else 1
        )
        width = unit_digits + decimal_digits + (1 if decimal_digits else 0)
        self._template = f"{{:>{width}.{decimal_digits}f}}{{:>{7 if self._highlight_warnings else 0}}}"

    def get_results_for(self, group: int) -> tuple[Measurement | None, ...]:
        return self._grouped_results[group]

    def num_to_str(self, value: float | None, estimated_sigfigs: int, spread: float | None) -> str:
        if value is None:
            return " " * len(self.num_to_str(1, estimated_sigfigs, None))
        if self._trim_significant_figures:
            value = trim_sigfig(value, estimated_sigfigs)
        spread_note = f" (! {spread * 100:.0f}%)" if self._highlight_warnings and spread is not None else ""
        return self._template.format(value, spread_note)


class _Row:
    """One (num_threads, env, row name) line; the first row of a thread count is preceded by a separator."""

    def __init__(self, results: list[Measurement | None], row_group: int, render_env: bool, env_str_len: int,
                 time_scale: float, colorize: Colorize, num_threads: int | None) -> None:
        self._results = results
        self._row_group = row_group
        self._render_env = render_env
        self._env_str_len = env_str_len
        self._time_scale = time_scale
        self._colorize = colorize
        self._num_threads = num_threads
        self._columns: tuple[_Column, ...] = ()

    def register_columns(self, columns: tuple[_Column, ...]) -> None:
        self._columns = columns

    def as_column_strings(self) -> list[str]:
        first = next(m for m in self._results if m is not None)
        env = f"({_env_name(first)})" if self._render_env else ""
        output = ["  " + env.ljust(self._env_str_len + 4) + first.as_row_name]
        for m, column in zip(self._results, self._columns):
            if m is None:
                output.append(column.num_to_str(None, 1, None))
            else:
                spread = m.iqr / m.median if m.has_warnings else None
                output.append(column.num_to_str(m.median / self._time_scale, m.significant_figures, spread))
        return output

    @staticmethod
    def color_segment(segment: str, value: float, best_value: float) -> str:
        if value <= best_value * 1.01 or value <= best_value + 100e-9:
            return BEST + BOLD + segment + TERMINATE * 2
        if value <= best_value * 1.1:
            return GOOD + BOLD + segment + TERMINATE * 2
        if value >= best_value * 5:
            return VERY_BAD + BOLD + segment + TERMINATE * 2
        if value >= best_value * 2:
            return BAD + segment + TERMINATE * 2
        return segment

    def row_separator(self, overall_width: int) -> list[str]:
        return [] if self._num_threads is None else [f"{self._num_threads} threads: ".ljust(overall_width, "-")]

    def _best_values(self, n_columns: int) -> list[float | None]:
        if self._colorize == Colorize.ROWWISE:
            return [min(m.median for m in self._results if m is not None)] * n_columns
        if self._colorize == Colorize.COLUMNWISE:
            return [
                min((m.median for m in column.get_results_for(self._row_group) if m is not None), default=None)
                for column in self._columns
            ]
        return [None] * n_columns

    def finalize_column_strings(self, column_strings: list[str], col_widths: list[int]) -> list[str]:
        contents = [column_strings[0].ljust(col_widths[0])]
        best_values = self._best_values(len(column_strings))
        for cell, width, m, best in zip(column_strings[1:], col_widths[1:], self._results, best_values):
            cell = cell.center(width)
            if best is not None and m is not None:
                cell = self.color_segment(cell, m.median, best)
            contents.append(cell)
        return contents


class Table:
    """All measurements of one label, rendered as PyTorch's ``Compare`` renders them."""

    def __init__(self, results: list[Measurement], colorize: Colorize, trim_significant_figures: bool,
                 highlight_warnings: bool) -> None:
        if len({m.label for m in results}) != 1:
            raise AssertionError("All results must share the same label")
        self.results = results
        self._colorize = colorize
        self._trim_significant_figures = trim_significant_figures
        self._highlight_warnings = highlight_warnings
        self.label = results[0].label
        self.time_unit, self.time_scale = select_unit(min(m.median for m in results))
        self.row_keys = ordered_unique(self.row_fn(m) for m in results)
        self.row_keys.sort(key=operator.itemgetter(slice(2)))  # by threads then env; stable, so stmt order stays
        self.column_keys = ordered_unique(self.col_fn(m) for m in results)
        self.rows, self.columns = self.populate_rows_and_columns()

    @staticmethod
    def row_fn(m: Measurement) -> tuple[int, str, str]:
        return m.num_threads, _env_name(m), m.as_row_name

    @staticmethod
    def col_fn(m: Measurement) -> str | None:
        return m.description

    def populate_rows_and_columns(self) -> tuple[tuple[_Row, ...], tuple[_Column, ...]]:
        row_position = {key: i for i, key in enumerate(self.row_keys)}
        col_position = {key: j for j, key in enumerate(self.column_keys)}
        cells: list[list[Measurement | None]] = [[None] * len(self.column_keys) for _ in self.row_keys]
        for m in self.results:
            cells[row_position[self.row_fn(m)]][col_position[self.col_fn(m)]] = m

        envs = {_env_name(m) for m in self.results}
        render_env = len(envs) > 1
        env_str_len = max(len(env) for env in envs) if render_env else 0

        rows: list[_Row] = []
        rows_by_group: list[list[list[Measurement | None]]] = []
        prior_num_threads, prior_env = -1, ""
        for (num_threads, env, _), row_cells in zip(self.row_keys, cells):
            thread_transition = num_threads != prior_num_threads
            if thread_transition:
                prior_num_threads, prior_env = num_threads, ""
                rows_by_group.append([])
            rows.append(_Row(row_cells, row_group=len(rows_by_group) - 1, render_env=render_env and env != prior_env,
                             env_str_len=env_str_len, time_scale=self.time_scale, colorize=self._colorize,
                             num_threads=num_threads if thread_transition else None))
            rows_by_group[-1].append(row_cells)
            prior_env = env

        columns = tuple(
            _Column([tuple(row[j] for row in group) for group in rows_by_group], self.time_scale,
                    self._trim_significant_figures, self._highlight_warnings)
            for j in range(len(self.column_keys))
        )
        for row in rows:
            row.register_columns(columns)
        return tuple(rows), columns

    def render(self) -> str:
        # A measurement without a description heads an unnamed column (PyTorch fails measuring None here).
        header_cells = ["", *(key or "" for key in self.column_keys)]
        string_rows = [header_cells, *(row.as_column_strings() for row in self.rows)]
        num_cols = max(len(r) for r in string_rows)
        for r in string_rows:
            r.extend([""] * (num_cols - len(r)))
        col_widths = [max(len(cell) for cell in column) for column in zip(*string_rows)]

        header = "  |  ".join(cell.center(w) for cell, w in zip(string_rows[0], col_widths))
        overall_width = len(header)
        lines = [header]
        for string_row, row in zip(string_rows[1:], self.rows):
            lines.extend(row.row_separator(overall_width))
            lines.append("  |  ".join(row.finalize_column_strings(string_row, col_widths)))

        has_warnings = self._highlight_warnings and any(m.has_warnings for m in self.results)
        warning_note = (
            "(! XX%) Measurement has high variance, where XX is the IQR / median * 100.\n" if has_warnings else ""
        )
        return (f"[{(' ' + (self.label or '') + ' ').center(overall_width - 2, '-')}]\n"
                + "\n".join(lines)
                + f"\n\nTimes are in {unit_to_english(self.time_unit)}s ({self.time_unit}).\n{warning_note}")
