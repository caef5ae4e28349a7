"""``get_worker_info``: which loader worker the caller runs in."""

from __future__ import annotations


def get_worker_info():
    """Information about the current DataLoader worker process, or None in the main process.

    Trainer's DataLoader loads every batch in the calling process, so this is always None; an
    ``IterableDataset`` that splits its stream by worker therefore yields the whole stream, once.
    """
    return None
