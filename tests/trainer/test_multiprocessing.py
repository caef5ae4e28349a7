"""``trainer.multiprocessing``: Python's API re-exported, and ``spawn`` reporting a child's failure as PyTorch does
(a child's traceback, or its exit code), ending the other children."""

import multiprocessing
import pickle
import time

import pytest
import torch

import trainer
import trainer.multiprocessing as mp
from tests.trainer import distributed_workers as workers


def test_reexports_pythons_multiprocessing_like_torch():
    for name in ("Process", "Queue", "Pool", "get_context", "set_start_method", "get_start_method", "cpu_count",
                 "SimpleQueue", "Pipe", "Lock", "Event", "Manager", "Value", "Array"):
        assert getattr(mp, name) is getattr(multiprocessing, name) is getattr(torch.multiprocessing, name)
    for name in ("spawn", "start_processes", "ProcessContext", "ProcessRaisedException", "ProcessExitedException"):
        assert hasattr(torch.multiprocessing, name) and hasattr(mp, name)


def test_tensors_pickle_with_values_dtype_and_requires_grad():
    t = trainer.tensor([[1.5, -2.0]], dtype=trainer.float64, requires_grad=True)
    t.sum().backward()
    copy = pickle.loads(pickle.dumps(t))
    assert copy.tolist() == t.tolist() and copy.dtype == trainer.float64 and copy.requires_grad
    assert copy.grad.tolist() == [[1.0, 1.0]]
    parameter = pickle.loads(pickle.dumps(trainer.nn.Parameter(trainer.ones(2, dtype=trainer.bfloat16))))
    assert type(parameter) is trainer.nn.Parameter and parameter.dtype == trainer.bfloat16


def test_spawned_children_send_tensors_through_a_queue():
    context = mp.get_context("spawn")
    queue = context.SimpleQueue()
    processes = mp.spawn(workers.put_tensor, args=(queue,), nprocs=2, join=False)
    received = sorted([queue.get(), queue.get()], key=lambda item: item[0])
    while not processes.join():  # True once every child has exited successfully, as in PyTorch
        pass
    assert len(processes.pids()) == 2
    for rank, (got_rank, values, small) in enumerate(received):
        assert got_rank == rank and values.tolist() == [0.0, 1.0, 2.0] and values.requires_grad
        assert small.dtype == trainer.int16 and small.tolist() == [rank]


def test_a_raising_child_reports_its_traceback_and_ends_the_others():
    start = time.monotonic()
    with pytest.raises(mp.ProcessRaisedException, match="(?s)-- Process 1 terminated with the following error:.*"
                                                        "ValueError: rank 1 gave up on purpose") as caught:
        mp.spawn(workers.fail_on_rank, args=(1, "raise"), nprocs=2)
    assert caught.value.error_index == 1 and time.monotonic() - start < 20  # rank 0 (sleeping 30 s) was ended


def test_a_child_that_exits_reports_its_exit_code():
    with pytest.raises(mp.ProcessExitedException, match="process 0 terminated with exit code 3") as caught:
        mp.start_processes(workers.fail_on_rank, args=(0, "exit"), nprocs=2, start_method="fork")
    assert caught.value.exit_code == 3 and caught.value.error_index == 0
