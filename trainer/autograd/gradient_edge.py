"""``GradientEdge``: a place in the graph where a gradient arrives, named without the tensor itself
(``torch.autograd.graph.get_gradient_edge``). ``autograd.grad(loss, edge)`` gives what ``autograd.grad(loss,
tensor)`` would."""

from __future__ import annotations

from typing import NamedTuple


class GradientEdge(NamedTuple):
    """The node whose output ``output_nr`` receives the gradient; for a leaf, its ``AccumulateGrad`` node."""

    node: object
    output_nr: int
    ownership_token: object = None


def get_gradient_edge(tensor) -> GradientEdge:
    from trainer.autograd.op import AccumulateGrad

    if not tensor.requires_grad:
        raise RuntimeError("It is not possible to get the gradient edge for a Tensor that does not require gradients")
    if tensor.grad_fn is None:
        return GradientEdge(AccumulateGrad(tensor), 0)
    return GradientEdge(tensor.grad_fn, tensor._output_nr)
