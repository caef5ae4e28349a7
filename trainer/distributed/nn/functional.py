"""``torch.distributed.nn.functional``: collectives as differentiable ops that return new tensors.

``all_reduce`` with SUM (or AVG): every rank's output depends on every rank's input with weight 1 (or 1/size), so
the gradient reaching an input is the same reduction of the output gradients of all ranks. Every rank must run the
backward pass, as every rank runs the forward.
"""

from __future__ import annotations

from trainer.autograd.op import Function
from trainer.backend import device, device_of, to_device
from trainer.distributed import group_state
from trainer.distributed.collectives import all_reduce_array
from trainer.distributed.reduce_op import RedOpType, ReduceOp, as_reduce_op, check_reduce_op

_CPU = device("cpu")


def _reduce(pg, array, op):
    result = all_reduce_array(pg, to_device(array, _CPU), op).astype(array.dtype, copy=False)
    return to_device(result, device_of(array))


class AllReduce(Function):
    @staticmethod
    def forward(ctx, a, pg, op):
        ctx.pg, ctx.op = pg, op
        return _reduce(pg, a, op)

    @staticmethod
    def backward(ctx, g):
        return _reduce(ctx.pg, g, ctx.op)

    @staticmethod
    def backward_graph(ctx, g):
        return AllReduce.apply(g, pg=ctx.pg, op=ctx.op)


def all_reduce(tensor, op=ReduceOp.SUM, group=None):
    """A new tensor: the ranks' ``tensor``s combined by ``op`` (SUM or AVG, the reductions with a gradient)."""
    pg = group_state.resolve(group)
    if pg is None:
        return tensor
    op = as_reduce_op(op)
    if op not in (RedOpType.SUM, RedOpType.AVG):
        raise ValueError(f"torch.distributed.nn.functional.all_reduce differentiates SUM and AVG, got {op}")
    check_reduce_op(op, tensor._data.dtype, "all_reduce")
    return AllReduce.apply(tensor, pg=pg, op=op)
