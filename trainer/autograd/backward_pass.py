"""``torch.autograd.backward``: one backward pass from several tensors at once, accumulating into ``.grad``
(of every leaf, or only of ``inputs``)."""

from __future__ import annotations

import warnings
from collections.abc import Mapping

from trainer.autograd import engine, post_accumulate_grad_hooks
from trainer.autograd.gradients import _returned
from trainer.tensor import Tensor, as_array


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, grad_variables=None, inputs=None):
    """Sum the gradients of ``tensors`` (weighted by ``grad_tensors``, needed for those that are not scalars)
    into the ``.grad`` of the leaves of their graph; with ``inputs`` (tensors, or a dict of them), into those
    tensors' ``.grad`` only, leaves or not."""
    if grad_variables is not None:
        warnings.warn("`grad_variables` is deprecated. Use `grad_tensors` instead.", FutureWarning, stacklevel=2)
        if grad_tensors is not None:
            raise RuntimeError("`grad_tensors` and `grad_variables` (deprecated) arguments both passed to "
                               "`backward()`. Please only use `grad_tensors`.")
        grad_tensors = grad_variables
    tensors = (tensors,) if isinstance(tensors, Tensor) else tuple(tensors)
    inputs = _inputs_tuple(inputs)
    if grad_tensors is None:
        grad_tensors = (None,) * len(tensors)
    elif isinstance(grad_tensors, Tensor):
        grad_tensors = (grad_tensors,)
    grad_tensors = tuple(grad_tensors)
    if len(grad_tensors) != len(tensors):
        raise RuntimeError(f"got {len(tensors)} tensors and {len(grad_tensors)} gradients")
    roots = [engine.root_gradient(t, g, i, create_graph) for i, (t, g) in enumerate(zip(tensors, grad_tensors))]
    retain_graph = create_graph if retain_graph is None else retain_graph
    if inputs is None:
        engine.run_backward(tensors, roots, retain_graph=bool(retain_graph), create_graph=create_graph)
        return
    for i, t in enumerate(inputs):
        if not t._requires_grad:
            raise RuntimeError(f"inputs[{i}] of backward() does not require grad: only tensors that require grad "
                               "can have a gradient accumulated into .grad")
    found = engine.run_backward(tensors, roots, retain_graph=bool(retain_graph), inputs=inputs,
                                create_graph=create_graph)
    taken = {id(r._data if create_graph else r) for r in roots}
    for t, g in zip(inputs, found):
        if g is None:  # not reached from ``tensors``: left as it is, as in PyTorch
            continue
        g = _returned(g, t, taken)
        if t._grad is None:
            t._grad = g
        elif create_graph:
            t._grad = t._grad + g
        else:
            t._grad._data = as_array(t._grad._data + g._data)
    post_accumulate_grad_hooks.run([t for t, g in zip(inputs, found) if g is not None and t._grad_fn is None])


def _inputs_tuple(inputs):
    if inputs is None:
        return None
    if isinstance(inputs, Tensor):
        inputs = (inputs,)
    elif type(inputs) is dict:
        inputs = tuple(inputs.values())
    elif isinstance(inputs, Mapping):
        raise TypeError(f"`inputs` argument to `backward()` must be a dict, not {type(inputs).__name__}. "
                        "Other Mapping types are not supported.")
    inputs = tuple(inputs)
    if not inputs:
        raise RuntimeError("`inputs` argument to `backward()` cannot be empty.")
    for t in inputs:
        if not isinstance(t, Tensor):
            raise TypeError(f"backward expects tensors as inputs, got {type(t).__name__}")
    return inputs
