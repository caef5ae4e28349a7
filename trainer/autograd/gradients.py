"""``torch.autograd.grad``: the gradients of outputs with respect to chosen inputs, returned rather than
accumulated into ``.grad``."""

from __future__ import annotations

from trainer.autograd import engine
from trainer.autograd.gradient_edge import GradientEdge
from trainer.backend import xp_of
from trainer.tensor import Tensor


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=None,
         is_grads_batched=False, materialize_grads=False):
    """The sum of the gradients of ``outputs`` with respect to each of ``inputs``, as a tuple of tensors.
    No ``.grad`` changes. ``grad_outputs`` weights each output (needed for outputs that are not scalars);
    an input that no output depends on raises unless ``allow_unused`` (None) or ``materialize_grads``
    (zeros)."""
    if is_grads_batched:
        raise NotImplementedError("is_grads_batched=True (vmap over grad_outputs) is not supported")
    outputs = (outputs,) if isinstance(outputs, Tensor) else tuple(outputs)
    inputs = (inputs,) if isinstance(inputs, (Tensor, GradientEdge)) else tuple(inputs)
    if grad_outputs is None or isinstance(grad_outputs, Tensor):
        grad_outputs = (grad_outputs,) * len(outputs) if grad_outputs is None else (grad_outputs,)
    grad_outputs = tuple(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise RuntimeError(f"grad requires one grad_output per output: got {len(grad_outputs)} grad_outputs for "
                           f"{len(outputs)} outputs")
    for t in inputs:
        if type(t) is GradientEdge:
            continue
        if not isinstance(t, Tensor):
            raise TypeError(f"grad expects tensors (or GradientEdges) as inputs, got {type(t).__name__}")
        if not t._requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    roots = [engine.root_gradient(o, g, i, create_graph) for i, (o, g) in enumerate(zip(outputs, grad_outputs))]
    retain_graph = create_graph if retain_graph is None else retain_graph
    found = engine.run_backward(outputs, roots, retain_graph=bool(retain_graph), inputs=inputs,
                                create_graph=create_graph)
    results, taken = [], {id(r._data if create_graph else r) for r in roots}
    for index, (t, g) in enumerate(zip(inputs, found)):
        if g is None:
            if materialize_grads and type(t) is GradientEdge:
                raise RuntimeError("materialize_grads cannot be used when the given input is a GradientEdge")
            if materialize_grads:
                g = xp_of(t._data).zeros_like(t._data)
            elif not allow_unused:
                raise RuntimeError(f"The differentiated Tensor at index {index} appears to not have been used in the "
                                   "graph. Set allow_unused=True if this is the desired behavior.")
        results.append(None if g is None else _returned(g, t, taken))
    return tuple(results)


def _returned(g, t, taken) -> Tensor:
    """``g`` (an array, or a tensor under ``create_graph``) as the gradient returned for ``t``: in ``t``'s dtype
    (a ``GradientEdge``'s gradient already has its output's), never sharing memory with another returned
    gradient."""
    if type(t) is GradientEdge:
        t = g if isinstance(g, Tensor) else Tensor._wrap(g)
    if isinstance(g, Tensor):
        if g._data.dtype != t._data.dtype:
            return g.to(t.dtype)
        if id(g._data) in taken or g._data.base is not None:
            g = g.clone()
        taken.add(id(g._data))
        return g
    if g.dtype != t._data.dtype:
        g = g.astype(t._data.dtype)
    elif id(g) in taken or g.base is not None:
        g = g.copy()
    taken.add(id(g))
    return Tensor._wrap(g)
