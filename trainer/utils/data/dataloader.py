"""``DataLoader``: iterate a dataset in (optionally shuffled) batches, as ``torch.utils.data.DataLoader`` does."""

from __future__ import annotations

import itertools
import math

import numpy as np

from trainer.backend import cuda_context, cupy_available, device_of, to_device
from trainer.creation import empty
from trainer.dtypes import int64
from trainer.tensor import Tensor
from trainer.utils.data.batch_transport import pin_batch
from trainer.utils.data.collate import default_collate, default_convert
from trainer.utils.data.dataset import IterableDataset, Subset, TensorDataset
from trainer.utils.data.multiprocess_iter import MultiProcessingDataLoaderIter
from trainer.utils.data.multiprocess_options import checked_prefetch_factor, resolve_context
from trainer.utils.data.sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler


class DataLoader:
    """Combines a dataset and a sampler, and yields batches made by ``collate_fn``.

    ``shuffle=True`` visits the dataset in a new random order each epoch, drawn from ``generator`` or,
    when it is None, from the default CPU generator, so ``trainer.manual_seed`` makes runs reproducible.
    ``batch_size=None`` turns batching off: each item is passed through ``collate_fn`` (by default
    ``default_convert``) on its own.

    ``num_workers=0`` loads every batch in the calling process. ``num_workers > 0`` starts that many worker
    processes (in ``multiprocessing_context``: a start method's name or a context; by default Python's default
    start method) for each epoch, or once when ``persistent_workers``. The main process walks the sampler and
    hands each batch's indices to the workers in turn, keeping ``prefetch_factor`` batches per worker in flight;
    a worker reads and collates the batch and sends it back with its tensors as NumPy arrays. Batches come out
    in sampler order, or as they arrive with ``in_order=False``. Each epoch a base seed is drawn from
    ``generator`` (or the default CPU generator); worker ``i`` seeds trainer's default generators and Python's
    ``random`` with ``base_seed + i`` and NumPy's global RNG from both, runs ``worker_init_fn(i)``, and answers
    ``get_worker_info()`` with its id, the worker count, its seed and its copy of the dataset. An error in a
    worker is raised again in the main process with the worker's traceback; a worker that dies, or a wait
    longer than ``timeout`` seconds (when positive), raises RuntimeError. Workers are stopped when the
    iterator is exhausted, deleted or collected, and at interpreter exit.

    ``pin_memory=True`` copies each batch's CPU tensors to page-locked memory when CuPy and a CUDA device are
    present, and does nothing otherwise; ``pin_memory_device`` is accepted and ignored, as PyTorch (which
    deprecates it) ignores it.

    An ``IterableDataset`` is read in order and its samples grouped into batches as they arrive; it takes no
    ``shuffle``, ``sampler`` or ``batch_sampler``, and ``len()`` needs the dataset's own ``__len__``. With
    workers, each worker iterates its own copy, so the dataset should split itself using ``get_worker_info()``.

    A ``TensorDataset`` (or a ``Subset`` of one) with the default ``collate_fn`` takes a fast path: each
    batch is gathered with one fancy index per tensor instead of indexing and stacking item by item.
    The batches are the same either way. (Workers always read item by item.)
    """

    def __init__(self, dataset, batch_size: int | None = 1, shuffle: bool | None = False, sampler=None,
                 batch_sampler=None, num_workers: int = 0, collate_fn=None, pin_memory: bool = False,
                 drop_last: bool = False, timeout: float = 0, worker_init_fn=None, multiprocessing_context=None,
                 generator=None, *, prefetch_factor: int | None = None, persistent_workers: bool = False,
                 pin_memory_device: str = "", in_order: bool = True):
        if num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to disable "
                             "multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        prefetch_factor = checked_prefetch_factor(prefetch_factor, num_workers)
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        self._iterable = isinstance(dataset, IterableDataset)
        if self._iterable:
            _check_iterable_options(shuffle, sampler, batch_sampler)
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, "
                                 "and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually exclusive with "
                             "drop_last")
        if self._iterable:  # read in the dataset's own order: the sampler only counts samples off
            sampler = _InfiniteConstantSampler()
        elif sampler is None:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        if collate_fn is None:
            collate_fn = default_collate if batch_sampler is not None else default_convert

        self.dataset = dataset
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.num_workers = num_workers
        self.collate_fn = collate_fn
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.generator = generator
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = resolve_context(multiprocessing_context, num_workers)
        self.prefetch_factor = prefetch_factor
        self.persistent_workers = persistent_workers
        self.in_order = in_order
        self._iterator = None  # the persistent workers' iterator, reused across epochs

    def __iter__(self):
        if self.num_workers == 0:
            if self.timeout != 0:
                raise AssertionError(f"a DataLoader without workers takes no timeout (got timeout={self.timeout}); "
                                     f"timeout applies to waiting for worker processes (num_workers > 0)")
            batches = self._single_process_batches()
            return map(pin_batch, batches) if self.pin_memory and cupy_available() else batches
        pin_memory = self.pin_memory and cupy_available()
        if not self.persistent_workers:
            return MultiProcessingDataLoaderIter(self, pin_memory)
        if self._iterator is None or self._iterator._shutdown:
            self._iterator = MultiProcessingDataLoaderIter(self, pin_memory)
        else:
            self._iterator._reset()
        return self._iterator

    def _single_process_batches(self):
        # PyTorch draws a base seed for workers on every epoch, with workers or without: drawn here too, the
        # same generator gives the same shuffled order whatever num_workers is
        empty((), dtype=int64).random_(generator=self.generator)
        if self._iterable:
            yield from self._iterate_stream()
            return
        if self.batch_sampler is None:
            for index in self.sampler:
                yield self.collate_fn(self.dataset[index])
            return
        gather = _batch_gatherer(self.dataset) if self.collate_fn is default_collate else None
        for indices in self.batch_sampler:
            yield gather(indices) if gather is not None else self.collate_fn([self.dataset[i] for i in indices])

    def _iterate_stream(self):
        """Batches of ``batch_size`` consecutive samples of an iterable dataset (or each sample unbatched)."""
        stream = iter(self.dataset)
        if self.batch_sampler is None:
            for item in stream:
                yield self.collate_fn(item)
            return
        for indices in self.batch_sampler:
            batch = list(itertools.islice(stream, len(indices)))
            if not batch or (self.drop_last and len(batch) < len(indices)):
                return
            yield self.collate_fn(batch)

    def __len__(self) -> int:
        if self._iterable:
            length = len(self.dataset)
            if self.batch_size is None:
                return length
            return length // self.batch_size if self.drop_last else math.ceil(length / self.batch_size)
        return len(self.batch_sampler if self.batch_sampler is not None else self.sampler)


class _InfiniteConstantSampler(Sampler):
    """The sampler of an iterable dataset: an endless run of ``None``, one per sample to read."""

    def __iter__(self):
        while True:
            yield None


def _check_iterable_options(shuffle, sampler, batch_sampler) -> None:
    """PyTorch's refusals: an iterable dataset is read in its own order, so nothing may reorder it."""
    if shuffle not in {False, None}:
        raise ValueError(f"DataLoader with IterableDataset: expected unspecified shuffle option, but got "
                         f"shuffle={shuffle}")
    if sampler is not None:
        raise ValueError(f"DataLoader with IterableDataset: expected unspecified sampler option, but got "
                         f"sampler={sampler}")
    if batch_sampler is not None:
        raise ValueError(f"DataLoader with IterableDataset: expected unspecified batch_sampler option, but got "
                         f"batch_sampler={batch_sampler}")


def _batch_gatherer(dataset):
    """A function from a list of indices to the batch ``default_collate`` would build from those items,
    using one fancy index per tensor; None when the dataset's items are not plain tensor rows."""
    if isinstance(dataset, Subset) and type(dataset).__getitem__ is Subset.__getitem__:
        inner = _batch_gatherer(dataset.dataset)
        if inner is None:
            return None
        positions = np.asarray(dataset.indices, dtype=np.int64)
        return lambda indices: inner(positions[np.asarray(indices, dtype=np.int64)])
    if not isinstance(dataset, TensorDataset) or not dataset._items_are_rows():
        return None
    if any(t.requires_grad for t in dataset.tensors):  # the per-item path records the graph; keep it
        return None
    tensors = dataset.tensors

    def gather(indices) -> list[Tensor]:
        index = np.asarray(indices, dtype=np.int64)
        return [_take_rows(t._data, index) for t in tensors]  # a list: default_collate turns tuples into lists

    return gather


def _take_rows(array, index: np.ndarray) -> Tensor:
    device = device_of(array)
    with cuda_context(device):
        return Tensor._wrap(array[to_device(index, device)])
