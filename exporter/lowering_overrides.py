"""``overridden``: lowerings that replace the table's entries for the length of one export (a user's symbolic for a
trainer op, Dropout's training-mode form), put back afterwards."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from exporter.lowerings import LOWERINGS


@contextlib.contextmanager
def overridden(lowerings: dict[str, Callable]) -> Iterator[None]:
    saved = {op: LOWERINGS.get(op) for op in lowerings}
    LOWERINGS.update(lowerings)
    try:
        yield
    finally:
        for op, lowering in saved.items():
            if lowering is None:
                del LOWERINGS[op]
            else:
                LOWERINGS[op] = lowering
