"""The programs that tests/trainer/test_distributed.py and test_multiprocessing.py run in spawned processes. They live
apart from the tests so that a child imports only what it uses (not PyTorch, unless it runs PyTorch's side)."""

import os
import socket
import time
from datetime import timedelta

import numpy as np


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _expect_raises(call, error, *fragments):
    try:
        call()
    except error as caught:
        for fragment in fragments:
            assert fragment in str(caught), f"{fragment!r} not in {caught}"
        return
    raise AssertionError(f"expected {error.__name__}")


def collectives(rank: int, port: int) -> None:
    """Every collective on 2 ranks against values worked out here; env:// rendezvous as torchrun sets it up."""
    import trainer
    import trainer.distributed as dist

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE="2")
    dist.init_process_group("gloo")
    assert (dist.is_initialized(), dist.get_rank(), dist.get_world_size(), dist.get_backend()) == (True, rank, 2,
                                                                                                   "gloo")
    other = 1 - rank
    values = {0: [1.5, -2.0, 3.25], 1: [0.25, 4.0, -1.0]}

    t = trainer.tensor(values[rank], dtype=trainer.float64)
    dist.all_reduce(t)
    assert t.tolist() == [a + b for a, b in zip(values[0], values[1], strict=True)]
    for op, expected in [(dist.ReduceOp.PRODUCT, [0.375, -8.0, -3.25]), (dist.ReduceOp.MIN, [0.25, -2.0, -1.0]),
                         (dist.ReduceOp.MAX, [1.5, 4.0, 3.25]), (dist.ReduceOp.AVG, [0.875, 1.0, 1.125])]:
        t = trainer.tensor(values[rank], dtype=trainer.float64)
        dist.all_reduce(t, op=op)
        assert t.tolist() == expected, (op, t.tolist())
    ints = {0: [12, 10, 7], 1: [10, 6, 1]}
    for op, expected in [(dist.ReduceOp.BAND, [8, 2, 1]), (dist.ReduceOp.BOR, [14, 14, 7]),
                         (dist.ReduceOp.BXOR, [6, 12, 6]), (dist.ReduceOp.SUM, [22, 16, 8])]:
        t = trainer.tensor(ints[rank], dtype=trainer.int32)
        dist.all_reduce(t, op=op)
        assert t.tolist() == expected and t.dtype == trainer.int32
    flags = trainer.tensor([True, False, rank == 0])
    dist.all_reduce(flags)
    assert flags.tolist() == [True, False, True]
    _expect_raises(lambda: dist.all_reduce(trainer.ones(2), op=dist.ReduceOp.BAND), RuntimeError,
                   "Cannot use ReduceOp.BAND with non-integral dtype")
    _expect_raises(lambda: dist.all_reduce(trainer.ones(2, dtype=trainer.int64), op=dist.ReduceOp.AVG),
                   RuntimeError, "can't be cast to the desired output type Long")
    _expect_raises(lambda: dist.all_reduce(trainer.ones(2, dtype=trainer.complex64), op=dist.ReduceOp.MAX),
                   ValueError, "does not support RedOpType.MAX on complex tensors")

    t = trainer.arange(4.0) * (rank + 1)
    dist.reduce(t, dst=1)
    assert t.tolist() == ([0.0, 1.0, 2.0, 3.0] if rank == 0 else [0.0, 3.0, 6.0, 9.0])
    t = trainer.full((2, 2), float(rank))
    dist.broadcast(t, src=1)
    assert t.tolist() == [[1.0, 1.0], [1.0, 1.0]]
    _expect_raises(lambda: dist.broadcast(t, src=5), RuntimeError, "invalid root rank: 5")

    outputs = [trainer.zeros(3, dtype=trainer.int64) for _ in range(2)]
    dist.all_gather(outputs, trainer.arange(3) + 10 * rank)
    assert [o.tolist() for o in outputs] == [[0, 1, 2], [10, 11, 12]]
    _expect_raises(lambda: dist.all_gather([trainer.zeros(2)] * 2, trainer.zeros(3)), RuntimeError,
                   "invalid tensor size at index 0")
    gathered = trainer.zeros(2, 2)
    dist.all_gather_into_tensor(gathered, trainer.full((2,), float(rank)))
    assert gathered.tolist() == [[0.0, 0.0], [1.0, 1.0]]

    out = trainer.zeros(2)
    dist.reduce_scatter(out, [trainer.full((2,), 1.0 + rank), trainer.full((2,), 10.0 * (rank + 1))])
    assert out.tolist() == ([3.0, 3.0] if rank == 0 else [30.0, 30.0])
    out = trainer.zeros(2)
    dist.reduce_scatter_tensor(out, trainer.arange(4.0) + rank)
    assert out.tolist() == ([1.0, 3.0] if rank == 0 else [5.0, 7.0])

    gather_list = [trainer.zeros(2) for _ in range(2)] if rank == 0 else None
    dist.gather(trainer.full((2,), rank + 0.5), gather_list, dst=0)
    if rank == 0:
        assert [g.tolist() for g in gather_list] == [[0.5, 0.5], [1.5, 1.5]]
    _expect_raises(lambda: dist.gather(trainer.zeros(2), [trainer.zeros(2)] * 2, dst=other), ValueError,
                   "must NOT be specified on non-destination ranks")
    received = trainer.zeros(2)
    dist.scatter(received, [trainer.ones(2), trainer.ones(2) * 2] if rank == 0 else None, src=0)
    assert received.tolist() == [rank + 1.0] * 2

    out = trainer.zeros(3)
    splits = [1, 2] if rank == 0 else [2, 1]
    dist.all_to_all_single(out, trainer.arange(3.0) + 10 * rank, splits, splits)
    assert out.tolist() == ([0.0, 10.0, 11.0] if rank == 0 else [1.0, 2.0, 12.0])
    outs = [trainer.zeros(1) for _ in range(2)]
    dist.all_to_all(outs, [trainer.full((1,), 10.0 * rank + r) for r in range(2)])
    assert [o.item() for o in outs] == [rank, 10.0 + rank]

    # point to point, both ways and from any source; irecv posted before the matching send exists
    if rank == 0:
        dist.send(trainer.tensor([7, 8]), dst=1, tag=3)
        got = trainer.zeros(2, dtype=trainer.int64)
        assert dist.recv(got) == 1 and got.tolist() == [9, 9]
    else:
        work = dist.irecv(got := trainer.zeros(2, dtype=trainer.int64), src=0, tag=3)
        dist.isend(trainer.tensor([9, 9]), dst=0).wait()
        assert work.wait() and got.tolist() == [7, 8]
    _expect_raises(lambda: dist.send(trainer.ones(1), dst=rank), ValueError, "should not be the same")

    works = [dist.all_reduce(trainer.full((1000,), 1.0), async_op=True) for _ in range(3)]
    tensor_out = works[-1].result()[0]
    assert all(w.wait() for w in works) and all(w.is_completed() for w in works)
    assert tensor_out.tolist() == [2.0] * 1000
    big = trainer.full((1_000_000,), float(rank))  # 8 MB
    dist.all_reduce(big)
    assert float(big.sum()) == 1_000_000.0

    objects = [{"rank": rank}, None]
    dist.broadcast_object_list(objects, src=1)
    assert objects == [{"rank": 1}, None]
    gathered_objects = [None, None]
    dist.all_gather_object(gathered_objects, ("r", rank, [rank] * rank))
    assert gathered_objects == [("r", 0, []), ("r", 1, [1])]

    sampler = trainer.utils.data.DistributedSampler(range(10), shuffle=False)
    assert (sampler.num_replicas, sampler.rank, list(sampler)) == (2, rank, list(range(rank, 10, 2)))

    pair = dist.new_group([0, 1])
    t = trainer.ones(1)
    dist.all_reduce(t, group=pair)
    assert t.item() == 2.0 and dist.get_rank(pair) == rank

    _sync_batch_norm_matches_full_batch(rank)

    # a shape mismatch is reported on every rank, not left to hang
    _expect_raises(lambda: dist.all_reduce(trainer.ones(2 + rank)), RuntimeError, "rank 1 passed a tensor of shape [3]")
    dist.barrier()
    dist.destroy_process_group()
    assert not dist.is_initialized()


def _sync_batch_norm_matches_full_batch(rank: int) -> None:
    """Two ranks with half a batch each: outputs, input and parameter gradients and running statistics equal those
    of plain BatchNorm1d on the whole batch."""
    import trainer

    rng = np.random.default_rng(0)
    full = rng.standard_normal((8, 3, 5))
    upstream = rng.standard_normal((8, 3, 5))
    reference = trainer.nn.BatchNorm1d(3).double()
    x_full = trainer.tensor(full, requires_grad=True)
    y_full = reference(x_full)
    (y_full * trainer.tensor(upstream)).sum().backward()
    sync = trainer.nn.SyncBatchNorm(3).double()
    part = slice(4 * rank, 4 * rank + 4)
    x = trainer.tensor(full[part], requires_grad=True)
    y = sync(x)
    (y * trainer.tensor(upstream[part])).sum().backward()
    trainer.distributed.all_reduce(sync.weight.grad)  # each rank holds its half's share of the parameter gradients
    trainer.distributed.all_reduce(sync.bias.grad)
    np.testing.assert_allclose(y.detach().numpy(), y_full.detach().numpy()[part], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), x_full.grad.numpy()[part], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(sync.weight.grad.numpy(), reference.weight.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(sync.bias.grad.numpy(), reference.bias.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(sync.running_mean.numpy(), reference.running_mean.numpy(), rtol=1e-12)
    np.testing.assert_allclose(sync.running_var.numpy(), reference.running_var.numpy(), rtol=1e-12)


def ddp_training(rank: int, lib_name: str, init_method: str, out_dir: str) -> None:
    """Three SGD steps of a small MLP under DistributedDataParallel, each rank on its half of the batch (rank 1
    starting from other weights, which the construction's broadcast replaces); one step accumulates over two
    backward passes under ``no_sync``. Each rank saves its final parameters."""
    lib = __import__(lib_name)
    dist = lib.distributed
    dist.init_process_group("gloo", init_method=init_method, rank=rank, world_size=2)
    model = mlp(lib, seed=rank)
    ddp = lib.nn.parallel.DistributedDataParallel(model, bucket_cap_mb=0.0005)  # several buckets
    assert list(ddp.state_dict())[0] == "module.0.weight"
    optimizer = lib.optim.SGD(ddp.parameters(), lr=0.1)
    inputs, targets = batch(lib)
    mine = slice(4 * rank, 4 * rank + 4)
    for step in range(3):
        optimizer.zero_grad()
        if step == 1:  # half of this rank's samples without synchronising, then the other half synchronised
            with ddp.no_sync():
                lib.nn.functional.mse_loss(ddp(inputs[mine][:2]), targets[mine][:2]).div(2).backward()
            lib.nn.functional.mse_loss(ddp(inputs[mine][2:]), targets[mine][2:]).div(2).backward()
        else:
            lib.nn.functional.mse_loss(ddp(inputs[mine]), targets[mine]).backward()
        optimizer.step()
    np.savez(os.path.join(out_dir, f"{lib_name}-rank{rank}.npz"),
             *[p.detach().numpy() for p in model.parameters()])
    dist.destroy_process_group()


def mlp(lib, seed: int):
    """The same weights under trainer and torch, drawn from NumPy with ``seed``."""
    model = lib.nn.Sequential(lib.nn.Linear(5, 16), lib.nn.Tanh(), lib.nn.Linear(16, 16), lib.nn.Tanh(),
                              lib.nn.Linear(16, 2)).double()
    rng = np.random.default_rng(seed)
    with lib.no_grad():
        for p in model.parameters():
            p.copy_(lib.tensor(rng.standard_normal(tuple(p.shape)) * 0.5))
    return model


def batch(lib):
    rng = np.random.default_rng(1)
    return lib.tensor(rng.standard_normal((8, 5))), lib.tensor(rng.standard_normal((8, 2)))


def unused_parameters(rank: int, init_method: str) -> None:
    """find_unused_parameters: a branch that only rank 0 uses still gets rank 0's gradient halved on both ranks; a
    branch no rank uses keeps ``grad`` None. Without the flag, the next forward names the parameters left over."""
    import trainer
    import trainer.distributed as dist

    dist.init_process_group("gloo", init_method=init_method, rank=rank, world_size=2)

    class TwoBranches(trainer.nn.Module):
        def __init__(self):
            super().__init__()
            self.used = trainer.nn.Linear(2, 1)
            self.rank0_only = trainer.nn.Linear(2, 1)
            self.never = trainer.nn.Linear(2, 1)

        def forward(self, x, use_second):
            return self.used(x) + (self.rank0_only(x) if use_second else 0)

    trainer.manual_seed(0)
    ddp = trainer.nn.parallel.DistributedDataParallel(TwoBranches().double(), find_unused_parameters=True)
    x = trainer.ones(1, 2, dtype=trainer.float64) * (rank + 1)
    ddp(x, rank == 0).sum().backward()
    assert ddp.module.used.weight.grad.tolist() == [[1.5, 1.5]]
    assert ddp.module.rank0_only.weight.grad.tolist() == [[0.5, 0.5]]
    assert ddp.module.never.weight.grad is None
    strict = trainer.nn.parallel.DistributedDataParallel(TwoBranches().double())
    strict(x, False).sum().backward()
    _expect_raises(lambda: strict(x, False), RuntimeError, "Expected to have finished reduction",
                   "rank0_only.weight")
    dist.destroy_process_group()


def timeout(rank: int, init_method: str) -> None:
    """Rank 0 waits in an all_reduce that rank 1 never joins: a clear error after the group's timeout."""
    import trainer
    import trainer.distributed as dist

    dist.init_process_group("gloo", init_method=init_method, rank=rank, world_size=2, timeout=timedelta(seconds=1))
    if rank == 0:
        _expect_raises(lambda: dist.all_reduce(trainer.ones(2)), dist.DistBackendError, "[Rank 0] all_reduce",
                       "timed out")
    else:
        time.sleep(1.6)  # alive, connected, and not joining: rank 0 times out rather than seeing it leave


def fail_on_rank(rank: int, failing: int, how: str) -> None:
    if rank == failing:
        if how == "raise":
            raise ValueError(f"rank {rank} gave up on purpose")
        os._exit(3)
    time.sleep(30)  # the parent ends this process when the other one fails


def put_tensor(rank: int, queue) -> None:
    import trainer

    t = trainer.arange(3.0, requires_grad=True) * 1
    queue.put((rank, t.detach().requires_grad_(), trainer.tensor([rank], dtype=trainer.int16)))
