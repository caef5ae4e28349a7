"""``backward_graph`` by recomputation: a fused op's derivative, recorded, from its forward re-run as a composition
of differentiable ops.

A fused op (a whole recurrent layer in one node) keeps its hand-written array backward for first-order speed. For a
``create_graph`` backward, ``recompute_backward`` rebuilds the op's outputs from its inputs with ordinary trainer
ops, each of which can be differentiated to any order, and takes their vector-Jacobian product with
``trainer.autograd.grad(..., create_graph=True)``. The inputs enter that composition through fresh identity nodes,
one per input, so the product is the op's own partial derivative for each input (not a total derivative through
whatever else links two inputs upstream) while what it returns still continues into the graph that produced them.
"""

from __future__ import annotations

from trainer.autograd import grad_mode
from trainer.autograd.gradients import grad
from trainer.autograd.higher_order import tensor_at
from trainer.autograd.op import Function


class _StandIn(Function):
    """The identity, as a node of its own: a graph position that only the recomputation consumes."""

    @staticmethod
    def forward(ctx, x):
        return x

    @staticmethod
    def backward(ctx, g):
        return g

    @staticmethod
    def backward_graph(ctx, g):
        return g


def input_tensors(ctx, arrays) -> list:
    """``ctx``'s forward inputs ``arrays`` (None for an input not given) as tensors on the graph: an input that
    requires grad continues from where it came from, the others are constants."""
    return [None if array is None else tensor_at(array, edge) for array, edge in zip(arrays, ctx._edges)]


def recompute_backward(ctx, grads, arrays, composite):
    """``ctx``'s input gradients as recorded tensors (None where no gradient is needed): the vector-Jacobian
    product of ``composite(*inputs)`` (a tuple of tensors, ``ctx``'s outputs recomputed with differentiable ops)
    with ``grads``. ``arrays`` are the forward's inputs, in order."""
    tensors = input_tensors(ctx, arrays)
    stand_ins = [_StandIn.apply(t) if t is not None and t._requires_grad else None for t in tensors]
    with grad_mode.enable_grad():
        outputs = composite(*(s if s is not None else t for s, t in zip(stand_ins, tensors)))
    pairs = [(o, g) for o, g in zip(outputs, grads) if g is not None and o._requires_grad]
    wanted = [s for s in stand_ins if s is not None]
    found = iter(grad([o for o, _ in pairs], wanted, [g for _, g in pairs], create_graph=True, allow_unused=True))
    return tuple(None if s is None else next(found) for s in stand_ins)
