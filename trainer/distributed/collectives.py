"""The collectives on trainer tensors, in place as in PyTorch: arguments are checked here, in the caller, and the
communication runs on the group's worker thread (see ``process_group``); ``async_op=True`` returns its ``Work``.
Tensors on a CUDA device are copied to the host to travel and back into place after."""

from __future__ import annotations

import numpy as np

from trainer.backend import device, to_device
from trainer.distributed import group_state
from trainer.distributed.reduce_op import RedOpType, ReduceOp, as_reduce_op, check_reduce_op
from trainer.distributed.work import Work

_CPU = device("cpu")


def host(tensor):
    """The tensor's values as a NumPy array (its own array on the CPU)."""
    return to_device(tensor._data, _CPU)


def write(tensor, array) -> None:
    """Put ``array``'s values into ``tensor`` in place, as an in-place op would."""
    if tuple(array.shape) != tuple(tensor._data.shape):
        raise RuntimeError(f"received a tensor of shape {list(array.shape)} where one of shape "
                           f"{list(tensor._data.shape)} was expected; every rank must pass matching shapes")
    tensor._data[...] = to_device(array.astype(tensor._data.dtype, copy=False), tensor.device)
    tensor._version_counter.value += 1


def group_rank(pg, rank: int, what: str) -> int:
    """The group rank of global rank ``rank``."""
    if rank not in pg.ranks:
        if pg is group_state.GroupMember.WORLD:
            raise RuntimeError(f"ProcessGroupGloo::{what}: invalid root rank: {rank}")
        raise ValueError(f"Global rank {rank} is not part of group {pg.ranks}")
    return pg.ranks.index(rank)


def root_of(pg, rank, group_rank_given, what: str, name: str) -> int:
    if rank is None and group_rank_given is None:
        raise ValueError(f"{what}: pass {name} (the global rank of the root) or group_{name}")
    if rank is not None and group_rank_given is not None:
        raise ValueError(f"{what}: pass only one of {name} and group_{name}")
    if group_rank_given is not None:
        if not 0 <= group_rank_given < pg.size():
            raise ValueError(f"{what}: group_{name} {group_rank_given} is not a rank of a group of size {pg.size()}")
        return group_rank_given
    return group_rank(pg, rank, what)


def run(pg, operation, async_op: bool, outputs=()):
    """Run ``operation`` after the group's earlier operations; its ``Work`` with ``async_op``, else wait."""
    future = pg.submit(operation)
    if async_op:
        return Work(future, outputs)
    future.result()
    return None


def _check_same(tensors, expected_shape, expected_dtype, what: str, kind: str) -> None:
    for i, t in enumerate(tensors):
        if tuple(t.shape) != tuple(expected_shape):
            raise RuntimeError(f"ProcessGroupGloo::{what}: invalid tensor size at index {i} (expected "
                               f"({', '.join(map(str, expected_shape))}), got ({', '.join(map(str, t.shape))}))")
        if t._data.dtype != expected_dtype:
            raise RuntimeError(f"ProcessGroupGloo::{what}: invalid {kind} tensor type at index {i} (expected "
                               f"{expected_dtype}, got {t._data.dtype})")


def _reduced(pg, total, op: RedOpType):
    """AVG divides the rank-ordered sum once by the group size."""
    return total / pg.size() if op is RedOpType.AVG else total


def all_reduce_array(pg, array, op: RedOpType):
    """The ranks' ``array``s (NumPy) combined by ``op``, after the group's earlier operations."""
    return pg.submit(lambda: _reduced(pg, pg.all_reduce(array, op), op)).result()


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op: bool = False):
    """Every rank's ``tensor`` becomes the ranks' tensors combined by ``op``."""
    pg = group_state.resolve(group)
    if pg is None:
        return None
    op = as_reduce_op(op)
    check_reduce_op(op, tensor._data.dtype, "all_reduce")

    def operation():
        write(tensor, _reduced(pg, pg.all_reduce(host(tensor), op), op))

    return run(pg, operation, async_op, [tensor])


def reduce(tensor, dst=None, op=ReduceOp.SUM, group=None, async_op: bool = False, group_dst=None):
    """``tensor`` on ``dst`` becomes the ranks' tensors combined by ``op``; the others' stay as they are."""
    pg = group_state.resolve(group)
    if pg is None:
        return None
    root = root_of(pg, dst, group_dst, "reduce", "dst")
    op = as_reduce_op(op)
    check_reduce_op(op, tensor._data.dtype, "reduce")

    def operation():
        total = pg.reduce_into(root, host(tensor), op, "reduce")
        if total is not None:
            write(tensor, _reduced(pg, total, op))

    return run(pg, operation, async_op, [tensor])


def broadcast(tensor, src=None, group=None, async_op: bool = False, group_src=None):
    """Every rank's ``tensor`` becomes ``src``'s."""
    pg = group_state.resolve(group)
    if pg is None:
        return None
    root = root_of(pg, src, group_src, "broadcast", "src")

    def operation():
        received = pg.broadcast(host(tensor), root)
        if pg.rank() != root:
            write(tensor, received)

    return run(pg, operation, async_op, [tensor])


def all_gather(tensor_list, tensor, group=None, async_op: bool = False):
    """``tensor_list[r]`` becomes rank ``r``'s ``tensor``."""
    pg = group_state.resolve(group)
    if pg is None:
        return None
    if len(tensor_list) != pg.size():
        raise RuntimeError(f"ProcessGroupGloo::allgather: invalid output tensor list size {len(tensor_list)}, must "
                           f"be the group size {pg.size()}")
    _check_same(tensor_list, tensor.shape, tensor._data.dtype, "allgather", "output")

    def operation():
        for out, part in zip(tensor_list, pg.all_gather(host(tensor)), strict=True):
            write(out, part)

    return run(pg, operation, async_op, tensor_list)


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op: bool = False):
    """``output_tensor`` becomes the ranks' ``input_tensor``s concatenated (or stacked) along dim 0."""
    pg = group_state.resolve(group)
    if pg is None:
        return None
    n, shape = pg.size(), tuple(input_tensor.shape)
    stacked = (n, *shape)
    concatenated = (n * shape[0], *shape[1:]) if shape else None
    if tuple(output_tensor.shape) not in (stacked, concatenated):
        raise RuntimeError(f"ProcessGroupGloo::allgather: output tensor of shape {list(output_tensor.shape)} must "
                           f"hold the group's {n} inputs of shape {list(shape)} along dim 0")

    def operation():
        parts = pg.all_gather(host(input_tensor))
        write(output_tensor, np.concatenate([p.reshape(-1) for p in parts]).reshape(output_tensor._data.shape))

    return run(pg, operation, async_op, [output_tensor])


def reduce_scatter(output, input_list, op=ReduceOp.SUM, group=None, async_op: bool = False):
    """``output`` on rank ``r`` becomes the ranks' ``input_list[r]`` combined by ``op``."""
    pg = group_state.resolve(group)
    if pg is None:
        return None
    if len(input_list) != pg.size():
        raise RuntimeError("invalid input tensor list size, must be world size")
    _check_same(input_list, output.shape, output._data.dtype, "reduce_scatter", "input")
    op = as_reduce_op(op)
    check_reduce_op(op, output._data.dtype, "reduce_scatter")

    def operation():
        write(output, _reduced(pg, pg.reduce_scatter([host(t) for t in input_list], op), op))

    return run(pg, operation, async_op, [output])


def reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group=None, async_op: bool = False):
    """As ``reduce_scatter`` with ``input`` split along dim 0 into one chunk per rank."""
    pg = group_state.resolve(group)
    if pg is None:
        return None
    n = pg.size()
    if input.numel() != n * output.numel():
        raise RuntimeError(f"reduce_scatter_tensor: input of {input.numel()} elements must hold {n} chunks of the "
                           f"output's {output.numel()} elements")
    if input._data.dtype != output._data.dtype:
        raise RuntimeError(f"reduce_scatter_tensor: input dtype {input.dtype} differs from output dtype "
                           f"{output.dtype}")
    op = as_reduce_op(op)
    check_reduce_op(op, output._data.dtype, "reduce_scatter_tensor")

    def operation():
        chunks = host(input).reshape(n, *output._data.shape)
        write(output, _reduced(pg, pg.reduce_scatter(list(chunks), op), op))

    return run(pg, operation, async_op, [output])


def gather(tensor, gather_list=None, dst=None, group=None, async_op: bool = False, group_dst=None):
    """On ``dst``, ``gather_list[r]`` becomes rank ``r``'s ``tensor``."""
    pg = group_state.resolve(group)
    if pg is None:
        return None
    root = root_of(pg, dst, group_dst, "gather", "dst")
    if pg.rank() == root:
        if gather_list is None or len(gather_list) != pg.size():
            raise ValueError(f"Argument ``gather_list`` must be a list of {pg.size()} tensors on the destination rank")
        _check_same(gather_list, tensor.shape, tensor._data.dtype, "gather", "output")
    elif gather_list:
        raise ValueError("Argument ``gather_list`` must NOT be specified on non-destination ranks.")

    def operation():
        parts = pg.gather(host(tensor), root)
        for out, part in zip(gather_list if parts is not None else [], parts or [], strict=True):
            write(out, part)

    return run(pg, operation, async_op, gather_list or [])


def scatter(tensor, scatter_list=None, src=None, group=None, async_op: bool = False, group_src=None):
    """``tensor`` on rank ``r`` becomes ``src``'s ``scatter_list[r]``."""
    pg = group_state.resolve(group)
    if pg is None:
        return None
    root = root_of(pg, src, group_src, "scatter", "src")
    if pg.rank() == root:
        if scatter_list is None or len(scatter_list) != pg.size():
            raise ValueError(f"Argument ``scatter_list`` must be a list of {pg.size()} tensors on the source rank")
        _check_same(scatter_list, tensor.shape, tensor._data.dtype, "scatter", "input")
    elif scatter_list:
        raise ValueError("Argument ``scatter_list`` must NOT be specified on non-source ranks.")

    def operation():
        write(tensor, pg.scatter([host(t) for t in scatter_list] if pg.rank() == root else None, root))

    return run(pg, operation, async_op, [tensor])


def _splits(tensor, sizes, n: int, what: str) -> list[int]:
    length = tensor.shape[0] if tensor.ndim else 1
    if sizes is None or len(sizes) == 0:
        if length % n:
            raise RuntimeError(f"all_to_all_single: the {what} tensor's dim 0 ({length}) must divide by the group "
                               f"size {n} when no split sizes are given")
        return [length // n] * n
    sizes = [int(s) for s in sizes]
    if len(sizes) != n or sum(sizes) != length:
        raise RuntimeError(f"all_to_all_single: {what} split sizes {sizes} must be {n} sizes summing to the {what} "
                           f"tensor's dim 0 ({length})")
    return sizes


def all_to_all_single(output, input, output_split_sizes=None, input_split_sizes=None, group=None,
                      async_op: bool = False):
    """Rank ``r`` sends its ``input``'s ``s``-th split along dim 0 to rank ``s``, which puts it at split ``r`` of
    its ``output``."""
    pg = group_state.resolve(group)
    if pg is None:
        return None
    n = pg.size()
    in_sizes = _splits(input, input_split_sizes, n, "input")
    out_sizes = _splits(output, output_split_sizes, n, "output")
    if input._data.dtype != output._data.dtype:
        raise RuntimeError(f"all_to_all_single: input dtype {input.dtype} differs from output dtype {output.dtype}")

    def operation():
        source = host(input)
        starts = np.cumsum([0, *in_sizes])
        parts = pg.all_to_all([source[starts[r]:starts[r + 1]] for r in range(n)], "all_to_all_single")
        for r, (part, size) in enumerate(zip(parts, out_sizes, strict=True)):
            if part.shape[0] != size:
                raise RuntimeError(f"all_to_all_single: rank {pg.ranks[r]} sent {part.shape[0]} rows where this "
                                   f"rank's output_split_sizes expects {size}")
        write(output, np.concatenate(parts).reshape(output._data.shape))

    return run(pg, operation, async_op, [output])


def all_to_all(output_tensor_list, input_tensor_list, group=None, async_op: bool = False):
    """Rank ``r`` sends ``input_tensor_list[s]`` to rank ``s``, where it becomes ``output_tensor_list[r]``."""
    pg = group_state.resolve(group)
    if pg is None:
        return None
    n = pg.size()
    if len(output_tensor_list) != n or len(input_tensor_list) != n:
        raise RuntimeError(f"all_to_all: tensor lists must hold one tensor per rank ({n}), got "
                           f"{len(output_tensor_list)} outputs and {len(input_tensor_list)} inputs")

    def operation():
        parts = pg.all_to_all([host(t) for t in input_tensor_list])
        for out, part in zip(output_tensor_list, parts, strict=True):
            write(out, part)

    return run(pg, operation, async_op, output_tensor_list)


def barrier(group=None, async_op: bool = False, device_ids=None):
    """Wait until every rank of the group has reached its barrier."""
    pg = group_state.resolve(group)
    if pg is None:
        return None
    return run(pg, lambda: pg.all_reduce(np.zeros(1, np.uint8), RedOpType.SUM, "barrier"), async_op)
