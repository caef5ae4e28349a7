"""Higher-order gradients: what a ``create_graph`` backward runs at each node.

An op's ``backward`` works on raw arrays and records nothing, which keeps first-order training fast. So that
a gradient can itself be differentiated (``create_graph=True``: gradient penalties, Hessian-vector products,
physics-informed losses), an op class may also define ``backward_graph(ctx, *grads)``: the same derivative
written with differentiable trainer ops on tensors, run with grad mode on. Inside it, ``graph_tensors(ctx)``
gives the saved arrays as tensors wired to where each came from (the producer of an input, or this node for a
saved output), so the derivative's own derivative reaches the forward's inputs; ``ctx.saved_tensors`` stays
the arrays.

An op without ``backward_graph`` still gives exact first-order gradients under ``create_graph``; they carry a
node that raises if they are differentiated again, as PyTorch does for derivatives it does not implement.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from trainer.autograd import grad_mode
from trainer.autograd.op import Function
from trainer.dtypes import is_inexact
from trainer.tensor import Tensor


def run_backward_graph(node, grads):
    """``node``'s input gradients, as tensors recorded in the graph, from its output gradients (tensors)."""
    backward_graph = getattr(type(node), "backward_graph", None)
    if backward_graph is None:
        return _first_order_only(node, grads)
    return backward_graph(node, *grads)


def graph_tensors(ctx) -> tuple:
    """The arrays ``ctx`` saved, as tensors on the graph: an input's array continues from that input's
    producer (or is the leaf itself), a saved output from ``ctx``; an array made inside forward is a constant."""
    tensors = []
    for array, source in zip(ctx.saved_tensors, ctx._saved_sources):
        if array is None:
            tensors.append(None)
            continue
        edge = None
        if source is not None:
            kind, i = source
            if kind == "input":
                edge = ctx._edges[i]
            elif is_inexact(array.dtype):  # only floating outputs are on the graph
                edge = (ctx, i)
        tensors.append(tensor_at(array, edge))
    return tuple(tensors)


def tensor_at(array, edge):
    """``array`` as a tensor at graph position ``edge``: a constant (None), output ``nr`` of a node (``(node,
    nr)``), or the leaf tensor ``edge`` itself."""
    if edge is None:
        return Tensor._wrap(array)
    if type(edge) is tuple:
        return attached(array, edge)
    return edge  # a leaf that requires grad


def constant_backward(ctx, *grads):
    """``backward_graph`` for ops whose gradient is the same whatever their inputs and output gradients (zero, for
    piecewise-constant ops): the array backward's result, as constants."""
    results = ctx.backward(ctx, *(None if g is None else g._data for g in grads))
    if type(results) is tuple:
        return tuple(None if r is None else Tensor._wrap(r) for r in results)
    return None if results is None else Tensor._wrap(results)


def linear_backward(ctx, g, adjoint, position: int = 0):
    """``backward_graph`` of an op whose gradient is linear in ``g`` alone (pools, pads, indexing): its array
    backward as a ``LinearMap``, with ``adjoint`` (array to array, usually the op's forward) as the transpose.
    ``position`` picks the differentiable input where the backward returns one gradient per input."""
    frozen, backward = snapshot(ctx), type(ctx).backward

    def apply(v):
        result = backward(frozen, v)
        return result[position] if type(result) is tuple else result

    return LinearMap.apply(g, apply=apply, adjoint=adjoint)


def snapshot(ctx):
    """What ``ctx`` holds now, detached from it: a backward closure that outlives the node (a ``LinearMap``
    differentiated later) must not see the node released."""
    return SimpleNamespace(**ctx.__dict__, needs_input_grad=ctx.needs_input_grad)


class LinearMap(Function):
    """``apply(x)`` for a linear map of arrays given with its adjoint: differentiable to any order, since the
    backward of one is the other. Linear ops (pooling, padding, indexing) build their ``backward_graph`` on it."""

    @staticmethod
    def forward(ctx, x, *, apply, adjoint):
        ctx.maps = apply, adjoint
        return apply(x)

    @staticmethod
    def backward(ctx, g):
        return ctx.maps[1](g)

    @staticmethod
    def backward_graph(ctx, g):
        apply, adjoint = ctx.maps
        return LinearMap.apply(g, apply=adjoint, adjoint=apply)


class DelayedError(Function):
    """Passes a gradient through; differentiating it raises ``message``. Its extra inputs only tie it to the graph
    positions that gradient depends on."""

    @staticmethod
    def forward(ctx, value, *depends_on, message):
        ctx.message = message
        return value

    @staticmethod
    def backward(ctx, *grads):
        raise RuntimeError(ctx.message)

    backward_graph = backward


def with_delayed_error(results, depends_on, message):
    """``results`` (arrays or tensors, or a tuple of them: input gradients computed without recording) as tensors
    that raise ``message`` if differentiated, tied to the tensors ``depends_on``; unchanged where none requires
    grad."""
    depends_on = [t for t in depends_on if t is not None and t._requires_grad]
    if not depends_on:
        return results
    multi = type(results) is tuple
    wrapped = tuple(None if r is None else DelayedError.apply(r if isinstance(r, Tensor) else Tensor._wrap(r),
                                                              *depends_on, message=message)
                    for r in (results if multi else (results,)))
    return wrapped if multi else wrapped[0]


def _first_order_only(node, grads):
    with grad_mode.no_grad():
        results = node.backward(node, *(None if g is None else g._data for g in grads))
    # tied to the node's inputs as well as to its gradients: its backward may read them
    return with_delayed_error(results, [*grads, *_input_stand_ins(node)],
                              f"the derivative of {node.name()}'s backward is not implemented: a gradient computed "
                              f"with create_graph=True that passes through {node.name()} cannot be differentiated "
                              "again")


def _input_stand_ins(node) -> list:
    """A tensor at each input edge of ``node`` that requires grad: what its backward's result depends on."""
    stand_ins = []
    for edge in node._edges:
        if type(edge) is tuple:
            stand_ins.append(attached(np.zeros(()), edge))
        elif edge is not None:
            stand_ins.append(edge)
    return stand_ins


def attached(array, edge):
    """A tensor holding ``array`` as output ``nr`` of graph node ``node`` (``edge = (node, nr)``): a value the
    graph already holds, re-entered so that a derivative of it flows back into ``node``."""
    t = Tensor._wrap(array)
    t._grad_fn, t._output_nr, t._requires_grad = edge[0], edge[1], True
    return t
