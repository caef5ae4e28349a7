"""DataLoader with worker processes (num_workers > 0), against the single-process path and torch's DataLoader:
batch order, seeding, get_worker_info, IterableDataset sharding, persistent workers, errors, timeouts and dead
workers. Two workers and tiny datasets keep the file fast; most tests fork, one spawns."""

import contextlib
import gc
import math
import os
import random
import signal

import numpy as np
import pytest
import torch
import torch.utils.data as torch_data
from torch.utils.data._utils.worker import _generate_state

import trainer
from tests.trainer.test_ops_parity import assert_raises_like_torch
from trainer.utils.data import DataLoader, Dataset, IterableDataset, TensorDataset, get_worker_info

FORK = {"num_workers": 2, "multiprocessing_context": "fork"}


@contextlib.contextmanager
def deadline(seconds: int):
    """Fail the test instead of hanging if the block runs longer than ``seconds``."""
    def expire(signum, frame):
        raise TimeoutError(f"the DataLoader hung for more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def as_lists(batches):
    return [[part.tolist() for part in batch] if isinstance(batch, (list, tuple)) else batch.tolist()
            for batch in batches]


def tensor_pair(lib, n=11):
    data = np.arange(2.0 * n).reshape(n, 2)
    return lib.utils.data.TensorDataset(lib.tensor(data), lib.tensor(np.arange(n) * 10))


class Probe(Dataset):
    """Items that report what the worker reading them knows: its info, pid and random draws."""

    def __len__(self):
        return 4

    def __getitem__(self, index):
        info = get_worker_info()
        return {"index": index, "id": info.id, "num_workers": info.num_workers, "seed": info.seed,
                "offset": info.dataset.offset, "pid": os.getpid(), "trainer": trainer.rand(()).item(),
                "random": random.random(), "numpy": float(np.random.rand())}


class RangeSplit:
    """The PyTorch documentation's example: each worker yields its own contiguous part of [start, end)."""

    def __init__(self, start, end):
        self.start, self.end = start, end

    def __iter__(self):
        info = torch_data.get_worker_info() or get_worker_info()
        if info is None:
            return iter(range(self.start, self.end))
        per_worker = int(math.ceil((self.end - self.start) / info.num_workers))
        low = self.start + info.id * per_worker
        return iter(range(low, min(low + per_worker, self.end)))


class RangeStream(RangeSplit, IterableDataset):
    pass


class TorchRangeStream(RangeSplit, torch_data.IterableDataset):
    pass


class Failing(Dataset):
    def __init__(self, error):
        self.error = error

    def __len__(self):
        return 6

    def __getitem__(self, index):
        if index == 3:
            raise self.error
        return index


def test_batches_match_single_process_and_torch_in_sampler_order():
    order = [7, 2, 9, 0, 4, 4, 10, 1, 3]
    ours = as_lists(DataLoader(tensor_pair(trainer), batch_size=3, sampler=order, **FORK))
    assert ours == as_lists(DataLoader(tensor_pair(trainer), batch_size=3, sampler=order))
    assert ours == as_lists(torch_data.DataLoader(tensor_pair(torch), batch_size=3, sampler=order))
    batch = next(iter(DataLoader(tensor_pair(trainer), batch_size=2, **FORK)))
    assert isinstance(batch[0], trainer.Tensor) and batch[0].dtype == trainer.float64
    unbatched = as_lists(DataLoader(tensor_pair(trainer), batch_size=None, pin_memory=True, **FORK))
    assert unbatched == as_lists(torch_data.DataLoader(tensor_pair(torch), batch_size=None))
    dropped = DataLoader(tensor_pair(trainer), batch_size=4, drop_last=True, prefetch_factor=1, **FORK)
    assert as_lists(dropped) == as_lists(torch_data.DataLoader(tensor_pair(torch), batch_size=4, drop_last=True))


def test_out_of_order_yields_the_same_batches_as_a_multiset():
    loader = DataLoader(tensor_pair(trainer), batch_size=2, in_order=False, **FORK)
    ours = as_lists(loader)
    expected = as_lists(DataLoader(tensor_pair(trainer), batch_size=2))
    assert sorted(map(repr, ours)) == sorted(map(repr, expected)) and len(ours) == len(loader) == 6


def _offset_by_worker(worker_id):
    get_worker_info().dataset.offset = 100 * (worker_id + 1)


def _probe_epoch(generator_seed, **options):
    dataset = Probe()
    dataset.offset = 0
    loader = DataLoader(dataset, batch_size=None, worker_init_fn=_offset_by_worker,
                        generator=trainer.Generator().manual_seed(generator_seed), **FORK, **options)
    return list(loader)


def test_worker_info_init_fn_and_per_worker_seeds_as_pytorch_seeds_them():
    items = _probe_epoch(3)
    assert [item["index"] for item in items] == [0, 1, 2, 3] and [item["id"] for item in items] == [0, 1, 0, 1]
    assert all(item["num_workers"] == 2 and item["offset"] == 100 * (item["id"] + 1) for item in items)
    assert get_worker_info() is None and len({item["pid"] for item in items} | {os.getpid()}) == 3
    first, second = items[0], items[1]
    assert second["seed"] == first["seed"] + 1 and first["trainer"] != second["trainer"]
    for item in items[:2]:  # each worker's first draws, as if the main process seeded the same way
        seed, base_seed = item["seed"], first["seed"]
        assert item["trainer"] == trainer.rand((), generator=trainer.Generator().manual_seed(seed)).item()
        assert item["random"] == random.Random(seed).random()
        assert item["numpy"] == np.random.RandomState(_generate_state(base_seed, item["id"])).rand()
    again = _probe_epoch(3)
    assert [{k: v for k, v in item.items() if k != "pid"} for item in again] == \
           [{k: v for k, v in item.items() if k != "pid"} for item in items]
    assert _probe_epoch(4)[0]["seed"] != first["seed"]


def test_shuffle_with_a_generator_repeats_and_covers_every_sample():
    def epoch(seed):
        generator = trainer.Generator().manual_seed(seed)
        return [b[1].tolist() for b in DataLoader(tensor_pair(trainer), batch_size=4, shuffle=True,
                                                  generator=generator, **FORK)]

    first = epoch(1)
    assert first == epoch(1) and sorted(sum(first, [])) == list(range(0, 110, 10))


def test_iterable_dataset_shards_itself_by_worker_info_like_torch():
    ours = as_lists(DataLoader(RangeStream(3, 10), batch_size=2, **FORK))
    assert ours == as_lists(torch_data.DataLoader(TorchRangeStream(3, 10), batch_size=2, **FORK))
    assert ours == [[3, 4], [7, 8], [5, 6], [9]]
    unbatched = list(DataLoader(RangeStream(0, 5), batch_size=None, **FORK))
    assert sorted(unbatched) == list(range(5))
    dropped = as_lists(DataLoader(RangeStream(3, 10), batch_size=2, drop_last=True, **FORK))
    assert dropped == [[3, 4], [7, 8], [5, 6]]


def test_persistent_workers_serve_every_epoch_from_the_same_processes():
    dataset = Probe()
    dataset.offset = 0
    loader = DataLoader(dataset, batch_size=2, persistent_workers=True, **FORK)
    unfinished = next(iter(loader))  # an epoch left half-read must not leak into the next
    epochs = [list(loader), list(loader)]
    assert [[batch["index"].tolist() for batch in epoch] for epoch in epochs] == [[[0, 1], [2, 3]]] * 2
    pids = {pid for epoch in epochs for batch in epoch for pid in batch["pid"].tolist()}
    assert pids == set(unfinished["pid"].tolist() + epochs[0][1]["pid"].tolist()) and len(pids) == 2
    draws = [[batch["trainer"].tolist() for batch in epoch] for epoch in epochs]
    assert draws[0] != draws[1]  # the workers' streams go on rather than being seeded again
    assert all(worker.is_alive() for worker in loader._iterator._workers)
    stream = DataLoader(RangeStream(0, 5), batch_size=2, persistent_workers=True, **FORK)
    assert as_lists(stream) == as_lists(stream) == [[0, 1], [3, 4], [2]]
    workers = loader._iterator._workers + stream._iterator._workers
    del loader, stream
    gc.collect()
    assert not any(worker.is_alive() for worker in workers)


def test_workers_stop_when_the_iterator_ends_or_is_collected():
    iterator = iter(DataLoader(tensor_pair(trainer), batch_size=2, **FORK))
    workers = iterator._workers
    assert len(list(iterator)) == 6 and not any(worker.is_alive() for worker in workers)
    iterator = iter(DataLoader(tensor_pair(trainer), batch_size=2, **FORK))
    next(iterator)
    workers = iterator._workers
    del iterator
    gc.collect()
    assert not any(worker.is_alive() for worker in workers)


def test_worker_errors_are_raised_with_the_worker_traceback():
    loader = DataLoader(Failing(ValueError("bad sample 3")), batch_size=None, **FORK)
    with pytest.raises(ValueError, match="Caught ValueError in DataLoader worker process 1") as caught:
        list(loader)
    message = str(caught.value)
    assert "Original Traceback (most recent call last)" in message and "raise self.error" in message
    assert "ValueError: bad sample 3" in message
    with pytest.raises(KeyError, match="Caught KeyError in DataLoader worker process 1") as caught:
        list(DataLoader(Failing(KeyError("missing")), batch_size=None, **FORK))
    assert "\n" in str(caught.value.args[0]) and "KeyError: 'missing'" in str(caught.value)
    iterator = iter(DataLoader(Failing(ValueError("skip me")), batch_size=None, **FORK))
    got = []
    for _ in range(6):  # the bad sample can be skipped: the workers go on
        with contextlib.suppress(ValueError):
            got.append(next(iterator))
    assert got == [0, 1, 2, 4, 5]


def _fail_init(worker_id):
    raise OSError(f"cannot open shard {worker_id}")


def test_a_failing_worker_init_fn_is_reported_on_the_first_batch():
    with pytest.raises(OSError, match="Caught OSError in DataLoader worker process 0(.|\n)*cannot open shard 0"):
        list(DataLoader(tensor_pair(trainer), batch_size=2, worker_init_fn=_fail_init, **FORK))


class Sleepy(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, index):
        if index == 1:
            import time

            time.sleep(30)
        return index


class Killed(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, index):
        if index == 1:
            os.kill(os.getpid(), signal.SIGKILL)
        return index


def test_timeout_raises_instead_of_waiting():
    with deadline(10), pytest.raises(RuntimeError, match=r"DataLoader timed out after 0\.3 seconds"):
        list(DataLoader(Sleepy(), batch_size=None, timeout=0.3, **FORK))


def test_a_killed_worker_raises_naming_it():
    iterator = iter(DataLoader(Killed(), batch_size=None, **FORK))
    with deadline(10), pytest.raises(RuntimeError, match=r"DataLoader worker 1 \(pid \d+, exit code -9\) exited "
                                                         r"unexpectedly"):
        list(iterator)
    assert not any(worker.is_alive() for worker in iterator._workers)


def test_spawned_workers_load_the_same_batches():
    dataset = TensorDataset(trainer.arange(12.0).reshape(6, 2), trainer.arange(6))
    loader = DataLoader(dataset, batch_size=4, num_workers=2, multiprocessing_context="spawn")
    with deadline(15):
        assert as_lists(loader) == as_lists(DataLoader(dataset, batch_size=4))


def test_worker_options_are_checked_like_torch():
    def loader(lib, **options):
        return lib.utils.data.DataLoader(tensor_pair(lib), **options)

    assert_raises_like_torch(lambda lib: loader(lib, prefetch_factor=2), ValueError, "num_workers > 0")
    assert_raises_like_torch(lambda lib: loader(lib, num_workers=1, prefetch_factor=-1), ValueError,
                             "prefetch_factor option should be non-negative")
    assert_raises_like_torch(lambda lib: loader(lib, persistent_workers=True), ValueError, "needs num_workers > 0")
    assert_raises_like_torch(lambda lib: loader(lib, timeout=-1), ValueError, "timeout option should be non-negative")
    assert_raises_like_torch(lambda lib: loader(lib, multiprocessing_context="fork"), ValueError,
                             "only be used with multi-process loading")
    assert_raises_like_torch(lambda lib: loader(lib, num_workers=1, multiprocessing_context="thread"), ValueError,
                             "valid start method in")
    assert_raises_like_torch(lambda lib: loader(lib, num_workers=1, multiprocessing_context=3), TypeError,
                             "valid context object")
    assert_raises_like_torch(lambda lib: iter(loader(lib, timeout=1)), AssertionError, "timeout")
    default = DataLoader(tensor_pair(trainer), num_workers=2)
    assert default.prefetch_factor == 2 and default.multiprocessing_context is None and default.in_order


EXIT_PROGRAM = """
import trainer
from trainer.utils.data import DataLoader, TensorDataset
loader = DataLoader(TensorDataset(trainer.arange(6)), batch_size=2, num_workers=2, multiprocessing_context="fork",
                    persistent_workers=True)
list(loader)
print(*[worker.pid for worker in loader._iterator._workers])
"""


def test_workers_are_stopped_at_interpreter_exit():
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", EXIT_PROGRAM], capture_output=True, text=True, timeout=15,
                          cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    assert done.returncode == 0, done.stderr
    pids = [int(pid) for pid in done.stdout.split()]
    assert len(pids) == 2
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
