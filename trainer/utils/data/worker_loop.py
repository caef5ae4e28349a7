"""The body of a DataLoader worker process: seed, fetch batches by the indices it is sent, send them back.

The protocol with the main process (``multiprocess_iter``): the main process puts ``(task_index, indices)`` on
the worker's own index queue and the worker answers ``(task_index, batch)`` on the shared result queue, where
``batch`` is the collated batch with its tensors packed as NumPy arrays, a ``WorkerException``, or an
``IterableDatasetEnd`` once the worker's copy of an ``IterableDataset`` is exhausted. ``ResumeIteration`` starts
a new epoch in a persistent worker (answered with ``(ResumeIteration(), None)``); ``None`` tells it to exit.
"""

from __future__ import annotations

import os
import queue
import random
import sys
import traceback
from dataclasses import dataclass

import numpy as np

from trainer.random import manual_seed
from trainer.threads import set_num_threads
from trainer.utils.data.batch_transport import pack_batch
from trainer.utils.data.worker import WorkerInfo, _set_worker_info

# How often a waiting worker (or the waiting main process) looks whether the other side is still alive.
STATUS_CHECK_INTERVAL = 0.5


@dataclass(frozen=True)
class IterableDatasetEnd:
    """Sent once by a worker whose copy of an ``IterableDataset`` has no more samples."""

    worker_id: int


@dataclass(frozen=True)
class ResumeIteration:
    """Asks a persistent worker to start reading its dataset afresh for a new epoch."""


@dataclass(frozen=True)
class WorkerSetup:
    """What a worker needs besides its queues: the loader's settings for this run of workers."""

    dataset: object
    is_iterable: bool
    auto_collation: bool
    collate_fn: object
    drop_last: bool
    base_seed: int
    worker_init_fn: object
    num_workers: int


class _KeyErrorMessage(str):
    """A KeyError message that prints as itself: KeyError shows ``repr`` of its argument, which would turn the
    traceback's newlines into ``\\n``."""

    def __repr__(self):
        return self


class WorkerException:
    """An exception raised in a worker, carried to the main process as its type and formatted traceback
    (a traceback object cannot be pickled)."""

    def __init__(self, worker_id: int):
        exc_type, exc, tb = sys.exc_info()
        self.exc_type = exc_type
        self.where = f"in DataLoader worker process {worker_id}"
        self.traceback_text = "".join(traceback.format_exception(exc_type, exc, tb))

    def reraise(self):
        """Raise the same exception type in the main process, its message holding the worker's traceback."""
        message = f"Caught {self.exc_type.__name__} {self.where}.\nOriginal {self.traceback_text}"
        if self.exc_type is KeyError:
            message = _KeyErrorMessage(message)
        elif getattr(self.exc_type, "message", None):  # exception types built as ``cls(message=...)``
            raise self.exc_type(message=message)
        try:
            exception = self.exc_type(message)
        except Exception:  # a type that cannot be built from one message: say what happened anyway
            raise RuntimeError(message) from None
        raise exception


def numpy_seed_state(base_seed: int, worker_id: int) -> np.ndarray:
    """The seed PyTorch gives NumPy's global RNG in a worker: four 32-bit words from a SeedSequence over the
    worker id and both halves of the base seed, so NumPy's stream is not the one ``random`` gets from
    ``base_seed + worker_id``."""
    entropy = [worker_id, base_seed & 0xFFFFFFFF, base_seed >> 32, 0]
    return np.random.SeedSequence(entropy).generate_state(4)


class _MapFetcher:
    """Reads the samples at the given indices of a map-style dataset and collates them."""

    def __init__(self, setup: WorkerSetup):
        self.setup = setup

    def fetch(self, indices):
        dataset, setup = self.setup.dataset, self.setup
        if not setup.auto_collation:
            return setup.collate_fn(dataset[indices])
        if getattr(dataset, "__getitems__", None):
            return setup.collate_fn(dataset.__getitems__(indices))
        return setup.collate_fn([dataset[i] for i in indices])


class _IterableFetcher:
    """Reads the next samples of the worker's own iterator over an ``IterableDataset``; raises StopIteration
    when none are left (or, with ``drop_last``, when fewer than a full batch are)."""

    def __init__(self, setup: WorkerSetup):
        self.setup = setup
        self.stream = iter(setup.dataset)
        self.ended = False

    def fetch(self, indices):
        if self.ended:
            raise StopIteration
        if not self.setup.auto_collation:
            return self.setup.collate_fn(next(self.stream))
        samples = []
        for _ in indices:
            try:
                samples.append(next(self.stream))
            except StopIteration:
                self.ended = True
                break
        if not samples or (self.setup.drop_last and len(samples) < len(indices)):
            raise StopIteration
        return self.setup.collate_fn(samples)


def _make_fetcher(setup: WorkerSetup):
    return _IterableFetcher(setup) if setup.is_iterable else _MapFetcher(setup)


def _seed_worker(base_seed: int, worker_id: int) -> int:
    seed = base_seed + worker_id
    random.seed(seed)
    manual_seed(seed)
    np.random.seed(numpy_seed_state(base_seed, worker_id))
    return seed


def worker_loop(setup: WorkerSetup, worker_id: int, index_queue, result_queue, done_event) -> None:
    """Run in a worker process until told to stop, the loader shuts down, or the main process dies."""
    try:
        set_num_threads(1)  # the workers already run in parallel; BLAS threads on top would oversubscribe
        seed = _seed_worker(setup.base_seed, worker_id)
        _set_worker_info(WorkerInfo(id=worker_id, num_workers=setup.num_workers, seed=seed, dataset=setup.dataset))
        init_error = fetcher = None
        try:
            if setup.worker_init_fn is not None:
                setup.worker_init_fn(worker_id)
            fetcher = _make_fetcher(setup)
        except Exception:
            init_error = WorkerException(worker_id)  # reported as the answer to the first task
        _serve(setup, worker_id, fetcher, init_error, index_queue, result_queue, done_event)
    except KeyboardInterrupt:  # the main process gets the interrupt too and shuts the workers down
        pass
    if done_event.is_set():  # the main process will not read what is left: exit without flushing it
        result_queue.cancel_join_thread()
        result_queue.close()


def _serve(setup, worker_id, fetcher, init_error, index_queue, result_queue, done_event) -> None:
    parent = os.getppid()
    stream_ended = False  # an iterable dataset ran dry: wait for the next epoch or for the exit signal
    while os.getppid() == parent:  # a worker whose main process died is re-parented: stop then
        try:
            task = index_queue.get(timeout=STATUS_CHECK_INTERVAL)
        except queue.Empty:
            if done_event.is_set():  # shut down, but the exit signal was lost (its queue was closed first)
                return
            continue
        if task is None:
            return
        if isinstance(task, ResumeIteration):
            result_queue.put((task, None))
            stream_ended = False
            fetcher = _make_fetcher(setup)
            continue
        if done_event.is_set() or stream_ended:
            continue
        task_index, indices = task
        if init_error is not None:
            answer, init_error = init_error, None
        else:
            try:
                answer = pack_batch(fetcher.fetch(indices))
            except StopIteration:
                if not setup.is_iterable:  # a map-style dataset that raises StopIteration: an error like any
                    answer = WorkerException(worker_id)
                else:
                    answer, stream_ended = IterableDatasetEnd(worker_id), True
            except Exception:
                answer = WorkerException(worker_id)
        result_queue.put((task_index, answer))
        del answer, task  # do not keep a batch alive while waiting for the next task
