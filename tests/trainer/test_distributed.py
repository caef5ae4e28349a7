"""``trainer.distributed``: stores in one process; collectives, DDP and SyncBatchNorm on 2 spawned ranks (the
workers live in distributed_workers.py); DDP's final parameters against single-process training and against the
same program run on PyTorch's gloo backend."""

import os
from datetime import timedelta

import numpy as np
import pytest
import torch

import trainer
import trainer.distributed as dist
from tests.trainer import distributed_workers as workers
from tests.trainer.test_ops_parity import assert_raises_like_torch


def _run_two_ranks(fn, args, nprocs, start_method="fork"):
    """Fork by default: the children start with trainer already imported, which keeps this file fast;
    test_multiprocessing.py covers the spawn start method."""
    trainer.multiprocessing.start_processes(fn, args, nprocs, start_method=start_method)


def test_tcp_store_operations_and_timeout():
    master = dist.TCPStore("127.0.0.1", 0, 2, True, timeout=timedelta(seconds=5), wait_for_workers=False)
    client = dist.TCPStore("127.0.0.1", master.port, timeout=timedelta(seconds=0.3))
    client.set("key", "value")
    assert master.get("key") == b"value"
    assert (master.add("count", 3), client.add("count", 2), master.get("count")) == (3, 5, b"5")
    assert master.compare_set("cas", "", "first") == b"first"
    assert master.compare_set("cas", "wrong", "second") == b"first"
    assert master.compare_set("cas", "first", "second") == b"second"
    assert (master.num_keys(), master.check(["key", "cas"]), master.check(["missing"])) == (3, True, False)
    assert (client.delete_key("cas"), client.delete_key("cas")) == (True, False)
    with pytest.raises(dist.DistStoreError, match="wait timeout after 300ms, keys: missing"):
        client.get("missing")
    with pytest.raises(dist.DistStoreError, match="keys: a, b"):
        client.wait(["a", "b"], timedelta(seconds=0.05))
    prefixed = dist.PrefixStore("job", master)
    prefixed.set("x", b"1")
    assert client.get("job/x") == b"1" and prefixed.get("x") == b"1"


def test_file_and_hash_stores(tmp_path):
    path = str(tmp_path / "store")
    first, second = dist.FileStore(path, 2), dist.FileStore(path, 2)
    first.set("a", "1")
    assert second.get("a") == b"1" and second.add("n", 4) == 4 and first.add("n", 1) == 5
    assert first.num_keys() == 2
    del first, second
    assert not os.path.exists(path)  # removed once both users closed it
    store = dist.HashStore()
    store.set("k", b"v")
    assert store.get("k") == b"v" and store.add("k2", 2) == 2
    store.set_timeout(timedelta(seconds=0.05))
    with pytest.raises(dist.DistStoreError):
        store.get("absent")


def test_without_a_process_group_raises_like_torch():
    message = "Default process group has not been initialized"
    assert not trainer.distributed.is_initialized() and trainer.distributed.is_available()
    for call in (lambda lib: lib.distributed.all_reduce(lib.ones(2)), lambda lib: lib.distributed.get_rank(),
                 lambda lib: lib.distributed.get_world_size(), lambda lib: lib.distributed.barrier()):
        assert_raises_like_torch(call, ValueError, message)


def test_other_backends_are_refused_naming_gloo():
    with pytest.raises(RuntimeError, match="doesn't have NCCL built in.*'gloo'"):
        dist.init_process_group("nccl", init_method="tcp://127.0.0.1:1", rank=0, world_size=1)
    with pytest.raises(AssertionError, match="Unknown backend type foo"):
        dist.init_process_group("foo", rank=0, world_size=1)
    with pytest.raises(RuntimeError, match="doesn't have MPI built in"):
        dist.init_process_group("mpi")
    assert not dist.is_initialized()


def test_env_rendezvous_names_a_missing_variable(monkeypatch):
    monkeypatch.delenv("MASTER_ADDR", raising=False)
    with pytest.raises(ValueError, match="environment variable MASTER_ADDR expected, but not set"):
        dist.init_process_group("gloo", rank=0, world_size=1)


def test_single_process_group_through_a_hash_store():
    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    try:
        t = trainer.tensor([1.0, 2.0])
        dist.all_reduce(t)
        assert t.tolist() == [1.0, 2.0] and dist.get_world_size() == 1
        with pytest.raises(ValueError, match="twice"):
            dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    finally:
        dist.destroy_process_group()


def test_collectives_on_two_ranks():
    _run_two_ranks(workers.collectives, args=(workers.free_port(),), nprocs=2)


def test_unused_parameters_on_two_ranks():
    _run_two_ranks(workers.unused_parameters, args=(f"tcp://127.0.0.1:{workers.free_port()}",), nprocs=2)


def test_a_timeout_names_the_rank_and_operation(tmp_path):
    _run_two_ranks(workers.timeout, args=(f"file://{tmp_path / 'rendezvous'}",), nprocs=2)


def _single_process_training(lib):
    """What DDP on 2 ranks computes: rank 0's initial weights, full-batch steps (the no_sync step's two halves of
    each rank's share accumulate to the full-batch gradient as well)."""
    model = workers.mlp(lib, seed=0)
    optimizer = lib.optim.SGD(model.parameters(), lr=0.1)
    inputs, targets = workers.batch(lib)
    for _ in range(3):
        optimizer.zero_grad()
        lib.nn.functional.mse_loss(model(inputs), targets).backward()
        optimizer.step()
    return [p.detach().numpy() for p in model.parameters()]


def _final_parameters(directory, lib_name):
    ranks = [np.load(os.path.join(directory, f"{lib_name}-rank{r}.npz")) for r in range(2)]
    return [[f[k] for k in sorted(f.files, key=lambda name: int(name.split("_")[1]))] for f in ranks]


def test_ddp_matches_single_process_training_and_torch_gloo(tmp_path):
    for lib_name in ("trainer", "torch"):
        # torch's ranks are spawned: a fork of a process whose torch already ran its OpenMP pool can hang in it
        _run_two_ranks(workers.ddp_training, args=(lib_name, f"tcp://127.0.0.1:{workers.free_port()}", str(tmp_path)),
                       nprocs=2, start_method="fork" if lib_name == "trainer" else "spawn")
    ours, theirs = _final_parameters(tmp_path, "trainer"), _final_parameters(tmp_path, "torch")
    for a, b in zip(ours[0], ours[1], strict=True):
        np.testing.assert_array_equal(a, b)  # bit-identical on both ranks
    single = _single_process_training(trainer)
    for a, b, c in zip(ours[0], single, theirs[0], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(a, c, rtol=1e-12, atol=1e-14)
    for a, b in zip(theirs[0], _single_process_training(torch), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_ddp_needs_a_process_group():
    assert_raises_like_torch(lambda lib: lib.nn.parallel.DistributedDataParallel(lib.nn.Linear(2, 2)), ValueError,
                             "Default process group has not been initialized")
