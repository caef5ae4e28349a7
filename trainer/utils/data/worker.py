"""``get_worker_info``: which loader worker the caller runs in."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WorkerInfo:
    """What a DataLoader worker process knows about itself (PyTorch's ``WorkerInfo`` fields).

    ``id`` runs from 0 to ``num_workers - 1``; ``seed`` is the seed the worker gave trainer's and Python's
    random streams; ``dataset`` is the worker's own copy of the dataset, not the main process's object.
    """

    id: int
    num_workers: int
    seed: int
    dataset: object


_worker_info: WorkerInfo | None = None


def get_worker_info() -> WorkerInfo | None:
    """Information about the current DataLoader worker process, or None in the main process.

    Inside a worker started by a ``DataLoader`` with ``num_workers > 0`` this returns a ``WorkerInfo`` with
    ``id``, ``num_workers``, ``seed`` and ``dataset``. An ``IterableDataset`` reads it in ``__iter__`` to yield
    only its own share of the stream (otherwise every worker yields the whole stream); a ``worker_init_fn``
    can read it to configure the worker's copy of the dataset or to seed other libraries.
    """
    return _worker_info


def _set_worker_info(info: WorkerInfo) -> None:
    """Called once by a worker process at start-up, before ``worker_init_fn`` runs."""
    global _worker_info
    _worker_info = info
