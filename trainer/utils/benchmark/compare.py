"""``Compare``: many measurements printed as one table per label, as ``torch.utils.benchmark.Compare`` prints them."""

from __future__ import annotations

import collections
from collections.abc import Iterable

from trainer.utils.benchmark.measurement import Measurement
from trainer.utils.benchmark.table import Colorize, Table


class Compare:
    """Formats measurements into tables: a table per ``label``, a row per ``sub_label`` (or stmt) and thread count,
    a column per ``description``. Replicates of the same task are merged first. ``str(compare)`` is the text that
    ``print()`` writes."""

    def __init__(self, results: Iterable[Measurement]) -> None:
        self._results: list[Measurement] = []
        self.extend_results(results)
        self._trim_significant_figures = False
        self._colorize = Colorize.NONE
        self._highlight_warnings = False

    def __str__(self) -> str:
        return "\n".join(self._render())

    def extend_results(self, results: Iterable[Measurement]) -> None:
        """Append results to the stored ones; each must be a ``Measurement``."""
        results = list(results)
        for r in results:
            if not isinstance(r, Measurement):
                raise ValueError(f"Expected an instance of `Measurement`, got {type(r)} instead.")
        self._results.extend(results)

    def trim_significant_figures(self) -> None:
        """Show each cell with only the digits its spread supports (``Measurement.significant_figures``)."""
        self._trim_significant_figures = True

    def colorize(self, rowwise: bool = False) -> None:
        """Colour cells by how far they are from the best one in their column (or, with ``rowwise``, their row)."""
        self._colorize = Colorize.ROWWISE if rowwise else Colorize.COLUMNWISE

    def highlight_warnings(self) -> None:
        """Mark high-variance cells with their IQR as a percentage of the median."""
        self._highlight_warnings = True

    def print(self) -> None:
        print(str(self))

    def _render(self) -> list[str]:
        by_label: collections.defaultdict[str | None, list[Measurement]] = collections.defaultdict(list)
        for m in Measurement.merge(self._results):
            by_label[m.label].append(m)
        return [
            Table(group, self._colorize, self._trim_significant_figures, self._highlight_warnings).render()
            for group in by_label.values()
        ]
