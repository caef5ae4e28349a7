"""The DataLoader iterator that loads batches in worker processes (``num_workers > 0``).

The main process walks the sampler and hands each batch's indices to the workers in turn, keeping at most
``prefetch_factor`` tasks per worker outstanding; each worker collates its batch and sends it back on the shared
result queue. With ``in_order`` batches are yielded in sampler order (early arrivals wait in ``_task_info``),
otherwise as they arrive. A persistent iterator keeps its workers across epochs; any other shuts them down when
it is exhausted, deleted or collected, and every live one is shut down at interpreter exit.
"""

from __future__ import annotations

import atexit
import itertools
import queue
import weakref

from trainer.creation import empty
from trainer.dtypes import int64
from trainer.utils.data.batch_transport import unpack_batch
from trainer.utils.data.multiprocess_options import default_context
from trainer.utils.data.worker_loop import (
    STATUS_CHECK_INTERVAL,
    IterableDatasetEnd,
    ResumeIteration,
    WorkerException,
    WorkerSetup,
    worker_loop,
)

_live_iterators: weakref.WeakSet = weakref.WeakSet()


@atexit.register
def _shut_down_live_iterators() -> None:
    # Registered after multiprocessing's own exit hook, so it runs first: workers are told to stop and joined
    # before multiprocessing terminates whatever daemonic children are left.
    for iterator in list(_live_iterators):
        iterator._shutdown_workers()


class MultiProcessingDataLoaderIter:
    """Iterates a ``DataLoader`` whose batches are loaded by ``loader.num_workers`` worker processes."""

    def __init__(self, loader, pin_memory: bool):
        # Holds no reference to ``loader``: a loader keeps its persistent iterator, and a cycle between them
        # would leave shutting down to the cycle collector, which closes the queues' feeder threads first.
        self._shutdown = True  # until the workers exist, there is nothing to shut down
        self._num_workers = loader.num_workers
        self._prefetch_factor = loader.prefetch_factor
        self._in_order = loader.in_order
        self._timeout = loader.timeout
        self._pin_memory = pin_memory
        self._persistent = loader.persistent_workers
        self._is_iterable = loader._iterable
        index_sampler = loader.batch_sampler if loader.batch_sampler is not None else loader.sampler
        self._index_sampler = index_sampler
        # PyTorch draws the workers' base seed from the loader's generator once per iterator.
        base_seed = empty((), dtype=int64).random_(generator=loader.generator).item()
        setup = WorkerSetup(dataset=loader.dataset, is_iterable=self._is_iterable,
                            auto_collation=loader.batch_sampler is not None, collate_fn=loader.collate_fn,
                            drop_last=loader.drop_last, base_seed=base_seed, worker_init_fn=loader.worker_init_fn,
                            num_workers=self._num_workers)
        if self._prefetch_factor <= 0:
            raise AssertionError(f"prefetch_factor must be greater than 0 to load with workers, but got "
                                 f"prefetch_factor={self._prefetch_factor}")
        context = loader.multiprocessing_context or default_context()
        self._result_queue = context.Queue()
        self._done_event = context.Event()
        self._index_queues, self._workers = [], []
        self._shutdown = False
        _live_iterators.add(self)
        for worker_id in range(self._num_workers):
            index_queue = context.Queue()
            index_queue.cancel_join_thread()  # a dead worker must not block the main process's exit
            worker = context.Process(target=worker_loop,
                                     args=(setup, worker_id, index_queue, self._result_queue, self._done_event),
                                     daemon=True)
            worker.start()
            self._index_queues.append(index_queue)
            self._workers.append(worker)
        self._reset(first_epoch=True)

    def __iter__(self):
        return self

    def __len__(self) -> int:
        return len(self._index_sampler)

    def _reset(self, first_epoch: bool = False) -> None:
        """Start an epoch: a fresh pass over the sampler, and (after the first) fresh dataset iterators."""
        self._sampler_iter = iter(self._index_sampler)
        self._send_index = 0  # the task number the next indices are sent under
        self._receive_index = 0  # the task number the next in-order batch comes from
        self._task_info = {}  # task number -> (worker id,) while outstanding, (worker id, batch) once arrived
        self._tasks_outstanding = 0
        self._worker_active = [True] * self._num_workers
        self._worker_tasks = [0] * self._num_workers
        self._worker_cycle = itertools.cycle(range(self._num_workers))
        if not first_epoch:
            for index_queue in self._index_queues:
                index_queue.put(ResumeIteration())
            acknowledged = 0
            while acknowledged < self._num_workers:
                task_index, _ = self._get_result()
                acknowledged += isinstance(task_index, ResumeIteration)
        for _ in range(self._prefetch_factor * self._num_workers):
            self._try_put_indices()

    def __next__(self):
        while True:
            # Skip tasks whose worker ran out of stream before answering them.
            while self._receive_index < self._send_index:
                info = self._task_info.get(self._receive_index)
                if info is not None and (len(info) == 2 or self._worker_active[info[0]]):
                    break
                self._task_info.pop(self._receive_index, None)
                self._receive_index += 1
            else:
                if not self._persistent:
                    self._shutdown_workers()
                raise StopIteration
            if len(self._task_info[self._receive_index]) == 2:  # arrived earlier, out of order
                worker_id, batch = self._task_info.pop(self._receive_index)
                self._receive_index += 1
                return self._process(batch, worker_id)
            task_index, batch = self._get_result()
            self._tasks_outstanding -= 1
            if isinstance(batch, IterableDatasetEnd):
                self._retire_worker(batch.worker_id)
                self._try_put_indices()
                continue
            if task_index == self._receive_index or not self._in_order:
                worker_id = self._task_info.pop(task_index)[0]
                if task_index == self._receive_index:
                    self._receive_index += 1
                return self._process(batch, worker_id)
            self._task_info[task_index] += (batch,)

    def _try_put_indices(self) -> None:
        """Send the sampler's next indices to the next worker with room, if the sampler has any left."""
        try:
            indices = next(self._sampler_iter)
        except StopIteration:
            return
        limit = self._prefetch_factor * self._num_workers
        for _ in range(self._num_workers):
            worker_id = next(self._worker_cycle)
            if not self._worker_active[worker_id]:
                continue
            # In order, a round robin keeps the batches' arrival order close to the sampler's; otherwise a
            # worker that is behind gets no more than its share of the outstanding tasks.
            if self._in_order or self._worker_tasks[worker_id] < limit // sum(self._worker_active):
                break
        else:
            return
        self._index_queues[worker_id].put((self._send_index, indices))
        self._task_info[self._send_index] = (worker_id,)
        self._worker_tasks[worker_id] += 1
        self._tasks_outstanding += 1
        self._send_index += 1

    def _process(self, batch, worker_id: int):
        self._worker_tasks[worker_id] -= 1
        self._try_put_indices()
        if isinstance(batch, WorkerException):  # the other workers go on: a caller may skip the bad batch
            batch.reraise()
        return unpack_batch(batch, self._pin_memory)

    def _retire_worker(self, worker_id: int) -> None:
        """A worker whose stream ended gets no more tasks; unless persistent (it serves the next epoch), it
        is told to exit."""
        self._worker_active[worker_id] = False
        if not self._persistent:
            self._index_queues[worker_id].put(None)

    def _get_result(self):
        """The next ``(task number, answer)`` from the workers, watching for dead workers and ``timeout``."""
        if self._shutdown:
            raise RuntimeError("this DataLoader iterator's workers were shut down after an earlier error; start "
                               "a new epoch with iter(loader)")
        waited = 0.0
        while True:
            wait = STATUS_CHECK_INTERVAL if self._timeout <= 0 else min(STATUS_CHECK_INTERVAL,
                                                                         self._timeout - waited)
            try:
                return self._result_queue.get(timeout=wait)
            except queue.Empty:
                waited += wait
            self._check_workers_alive()
            if self._timeout > 0 and waited >= self._timeout:
                self._shutdown_workers()
                raise RuntimeError(f"DataLoader timed out after {self._timeout} seconds")

    def _check_workers_alive(self) -> None:
        dead = [(worker_id, worker) for worker_id, worker in enumerate(self._workers)
                if self._worker_active[worker_id] and not worker.is_alive()]
        if dead:
            described = ", ".join(f"worker {worker_id} (pid {worker.pid}, exit code {worker.exitcode})"
                                  for worker_id, worker in dead)
            self._shutdown_workers()
            raise RuntimeError(f"DataLoader {described} exited unexpectedly; a worker killed by a signal (a "
                               f"negative exit code) often ran out of memory")

    def _shutdown_workers(self) -> None:
        """Tell every worker to exit, wait briefly, and terminate any that did not."""
        if self._shutdown:
            return
        self._shutdown = True
        _live_iterators.discard(self)
        try:
            self._done_event.set()
            for index_queue in self._index_queues:
                index_queue.put(None)
            for worker in self._workers:
                worker.join(timeout=STATUS_CHECK_INTERVAL)
            for index_queue in self._index_queues:
                index_queue.close()
        finally:
            for worker in self._workers:
                if worker.is_alive():
                    worker.terminate()
                    worker.join(timeout=STATUS_CHECK_INTERVAL)
            self._result_queue.cancel_join_thread()
            self._result_queue.close()

    def __del__(self):
        self._shutdown_workers()
