"""``Measurement``: the times a Timer took, their statistics, and PyTorch's printed summary of them."""

from __future__ import annotations

import collections
import dataclasses
import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from trainer.utils.benchmark.task_spec import TASK_SPEC_FIELDS, TaskSpec
from trainer.utils.benchmark.units import log10_float32, select_unit

_MAX_SIGNIFICANT_FIGURES = 4
_MIN_CONFIDENCE_INTERVAL = 25e-9  # 25 ns
# Every run varies a little; above these IQR / median ratios the repr warns that the distribution is suspect.
_IQR_WARN_THRESHOLD = 0.1
_IQR_GROSS_WARN_THRESHOLD = 0.25


def _quantile(sorted_values: tuple[float, ...], q: float) -> float:
    """Linear-interpolation quantile with ``torch.quantile``'s lerp (exact at both ends of each step)."""
    rank = q * (len(sorted_values) - 1)
    below, above = sorted_values[math.floor(rank)], sorted_values[math.ceil(rank)]
    weight = rank - math.floor(rank)
    if weight < 0.5:
        return below + weight * (above - below)
    return above - (above - below) * (1 - weight)


@dataclasses.dataclass(init=True, repr=False, eq=True)
class Measurement:
    """The result of a Timer measurement: ``raw_times[i]`` is the time of ``number_per_run`` runs of the stmt.

    Statistics are over per-run times (``times``) and are computed once, on first use. TaskSpec fields
    (``stmt``, ``label``, ``num_threads``, ...) read through as attributes.
    """

    number_per_run: int
    raw_times: list[float]
    task_spec: TaskSpec
    metadata: dict[Any, Any] | None = None  # reserved for user payloads

    def __post_init__(self) -> None:
        self._sorted_times: tuple[float, ...] = ()
        self._warnings: tuple[str, ...] = ()
        self._median = self._mean = self._p25 = self._p75 = -1.0

    def __getattr__(self, name: str) -> Any:
        if name in TASK_SPEC_FIELDS:
            return getattr(self.task_spec, name)
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    @property
    def times(self) -> list[float]:
        """Per-run times: each raw time divided by ``number_per_run``."""
        return [t / self.number_per_run for t in self.raw_times]

    @property
    def median(self) -> float:
        self._lazy_init()
        return self._median

    @property
    def mean(self) -> float:
        self._lazy_init()
        return self._mean

    @property
    def iqr(self) -> float:
        self._lazy_init()
        return self._p75 - self._p25

    @property
    def significant_figures(self) -> int:
        """Rough count of trustworthy digits of the median, from the spread of the interquartile times (z = 1.645).

        Used by ``Compare.trim_significant_figures``; float32 steps mirror PyTorch's ``torch.tensor`` arithmetic.
        """
        self._lazy_init()
        n_total = len(self._sorted_times)
        interquartile = self._sorted_times[n_total // 4 : math.ceil(np.float32(3 * n_total / 4))]
        # torch.tensor(...).std(unbiased=False): float32 data, accumulated in double, rounded to float32.
        std = float(np.float32(np.std(np.asarray(interquartile, dtype=np.float32), dtype=np.float64)))
        sqrt_n = float(np.sqrt(np.float32(len(interquartile))))
        confidence_interval = max(1.645 * std / sqrt_n, _MIN_CONFIDENCE_INTERVAL)
        figures = math.floor(log10_float32(self._median / confidence_interval))
        return min(max(figures, 1), _MAX_SIGNIFICANT_FIGURES)

    @property
    def has_warnings(self) -> bool:
        self._lazy_init()
        return bool(self._warnings)

    def _lazy_init(self) -> None:
        if not self.raw_times or self._sorted_times:
            return
        self._sorted_times = tuple(sorted(self.times))
        self._median = _quantile(self._sorted_times, 0.5)
        self._mean = math.fsum(self._sorted_times) / len(self._sorted_times)
        self._p25 = _quantile(self._sorted_times, 0.25)
        self._p75 = _quantile(self._sorted_times, 0.75)
        if not self.meets_confidence(_IQR_GROSS_WARN_THRESHOLD):
            self._add_warning("This suggests significant environmental influence.")
        elif not self.meets_confidence(_IQR_WARN_THRESHOLD):
            self._add_warning("This could indicate system fluctuation.")

    def _add_warning(self, msg: str) -> None:
        relative_iqr = self.iqr / self.median * 100
        self._warnings += (
            f"  WARNING: Interquartile range is {relative_iqr:.1f}% of the median measurement.\n           {msg}",
        )

    def meets_confidence(self, threshold: float = _IQR_WARN_THRESHOLD) -> bool:
        return self.iqr / self.median < threshold

    @property
    def title(self) -> str:
        return self.task_spec.title

    @property
    def env(self) -> str | None:
        # PyTorch's property means to answer "Unspecified env" for None, but a typo makes it fall back to the
        # TaskSpec field; programs (and Compare's grouping) see the field itself, so that is what this returns.
        return self.task_spec.env

    @property
    def as_row_name(self) -> str:
        return self.sub_label or self.stmt or "[Unknown]"

    def __repr__(self) -> str:
        self._lazy_init()
        n = len(self._sorted_times)
        unit, scale = select_unit(self._median)
        median, p25, p75, iqr = (v / scale for v in (self._median, self._p25, self._p75, self.iqr))
        lines = [object.__repr__(self), self.task_spec.summarize()]
        lines.append(f"  {'Median: ' if n > 1 else ''}{median:.2f} {unit}")
        if n >= 4:
            lines.append(f"  IQR:    {iqr:.2f} {unit} ({p25:.2f} to {p75:.2f})")
        threads = self.num_threads
        lines.append(f"  {n} measurement{'s' if n > 1 else ''}, {self.number_per_run} runs "
                     f"{'per measurement,' if n > 1 else ','} {threads} thread{'s' if threads > 1 else ''}")
        lines.extend(self._warnings)
        return "\n".join(lines).strip()

    @staticmethod
    def merge(measurements: Iterable[Measurement]) -> list[Measurement]:
        """Pool replicates of the same TaskSpec into one Measurement each (``number_per_run=1``, no metadata)."""
        grouped: collections.defaultdict[TaskSpec, list[float]] = collections.defaultdict(list)
        for m in measurements:
            # Replicates may differ in number_per_run, so pool the per-run times.
            grouped[m.task_spec].extend(m.times)
        return [Measurement(number_per_run=1, raw_times=times, task_spec=spec) for spec, times in grouped.items()]
