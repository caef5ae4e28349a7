"""The backward pass: one walk over the graph in reverse topological order.

Gradients are accumulated per node, each node's ``backward`` runs once when all of its consumers
have contributed, and leaf gradients are added into ``.grad``. Unless ``retain_graph`` is set,
each node drops its saved arrays as soon as it has run, so memory does not grow step to step.

With ``create_graph`` the same walk records itself: gradients are tensors, each node runs its
``backward_graph`` (the derivative written with differentiable ops, see ``trainer.autograd.higher_order``)
with grad mode on, so the gradients it returns can be differentiated again.
"""

from __future__ import annotations

import itertools

from trainer.autograd import (
    anomaly_mode,
    grad_mode,
    node_hooks,
    post_accumulate_grad_hooks,
    saved_tensors_hooks,
    span_observers,
)
from trainer.autograd.gradient_edge import GradientEdge
from trainer.autograd.op import AccumulateGrad

GRAPH_FREED = (
    "Trying to backward through the graph a second time (or directly access saved tensors after they "
    "have already been freed). Saved intermediate values of the graph are freed when you call "
    ".backward(). Specify retain_graph=True if you need to backward through the graph a second time."
)


class Pass:
    """One backward pass while it runs, for hooks that must know which gradients it will compute
    (``torch.autograd.graph.register_multi_grad_hook``)."""

    _ids = itertools.count()

    def __init__(self, order, needed, wanted_nodes, wanted_leaves, roots):
        self.id = next(Pass._ids)
        self._nodes = order if needed is None else needed | wanted_nodes
        self._roots = roots
        self._leaves = wanted_leaves  # ids; None: every leaf the pass reaches, found on the first question

    def runs_hooks_of(self, tensor) -> bool:
        """Whether this pass computes ``tensor``'s gradient and so runs its hooks."""
        if tensor._grad_fn is not None:
            nodes = self._nodes
            if type(nodes) is list:  # the whole order: made a set on the first question
                nodes = self._nodes = set(nodes)
            return tensor._grad_fn in nodes
        if self._leaves is None:
            self._leaves = self._reached_leaves()
        return id(tensor) in self._leaves

    def _reached_leaves(self) -> set:
        reached = {id(t) for t in self._roots if t._grad_fn is None}
        for node in self._nodes:
            reached.update(id(edge) for edge in node._edges if edge is not None and type(edge) is not tuple)
        return reached


running: list[Pass] = []  # the backward passes in progress, innermost last


def run_backward(roots, root_grads, retain_graph: bool = False, inputs=None, create_graph: bool = False):
    """Propagate ``root_grads`` from ``roots`` (tensors) to every leaf that requires grad.

    Gradients are arrays, or tensors with ``create_graph``. With ``inputs`` (tensors), returns the gradient
    reaching each of them (None where none does) instead, leaving every ``.grad`` as it was; only the nodes
    that lead to an input run.
    """
    from trainer.autograd import higher_order

    run_node = higher_order.run_backward_graph if create_graph else _run_array_backward
    if anomaly_mode.enabled:
        run_node = anomaly_mode.checked(run_node, anomaly_mode.check_nan)
    if span_observers.backward_observers:  # checked once per pass: no cost per node
        run_node = span_observers.observed_backward(run_node)
    pending: dict = {}  # node -> list of gradients, one slot per output
    leaf_grads: dict = {}  # leaf tensor -> accumulated gradient
    for root, grad in zip(roots, root_grads):
        _deliver(pending, leaf_grads, _edge_of(root), grad)
    order = _topological_order([n for n in pending])
    wanted = None if inputs is None else [_edge_of(t) for t in inputs]
    wanted_slots = set() if inputs is None else {e for e in wanted if type(e) is tuple}
    wanted_leaves = None if inputs is None else {id(e) for e in wanted if type(e) is not tuple}
    needed = None if inputs is None else _leading_to(order, wanted_slots, wanted_leaves)
    wanted_nodes = {node for node, _ in wanted_slots}
    captured: dict = {}  # (node, output_nr) of a non-leaf input -> its gradient
    running.append(Pass(order, needed, wanted_nodes, wanted_leaves, roots))
    try:
        with grad_mode.set_grad_enabled(create_graph):
            for node in order:
                grads = pending.pop(node, None)
                if grads is None:  # fed only by nodes skipped as leading to no input
                    continue
                if wanted is not None:
                    # as in PyTorch, a node that runs has its gradients captured before its hooks, one that only
                    # feeds a wanted tensor after them
                    if node not in needed and node in wanted_nodes and node._tensor_hooks is not None:
                        _run_tensor_hooks(node, grads)
                    for nr, g in enumerate(grads):
                        if (node, nr) in wanted_slots:
                            captured[(node, nr)] = g
                    if node not in needed:
                        continue
                if node._tensor_hooks is not None:
                    _run_tensor_hooks(node, grads)
                if node._node_hooks is not None:
                    grads = node_hooks.run_pre(node, grads)
                if node._released:
                    raise RuntimeError(GRAPH_FREED)
                if node._output_meta is not None:
                    grads = [g if g is not None else _zeros(shape, dtype, xp, create_graph)
                             for g, (shape, dtype, xp) in zip(grads, node._output_meta)]
                if node._retained and wanted is None:
                    _store_retained(node, grads)
                node._check_saved_versions()
                if node._packed is not None:
                    saved_tensors_hooks.unpack(node)
                input_grads = run_node(node, grads)
                if type(input_grads) is not tuple:
                    input_grads = (input_grads,)
                if node._node_hooks is not None:
                    input_grads = node_hooks.run_post(node, input_grads, grads)
                for edge, grad in zip(node._edges, input_grads):
                    if edge is not None and grad is not None:
                        _deliver(pending, leaf_grads, edge, grad)
                if not retain_graph:
                    node._release()
        if wanted is None:
            _accumulate_into_leaves(leaf_grads, root_grads)
            return None
        return [captured.get(edge) if type(edge) is tuple else _leaf_gradient(edge, leaf_grads.get(edge))
                for edge in wanted]
    finally:
        running.pop()


def _run_array_backward(node, grads):
    return node.backward(node, *grads)


def _zeros(shape, dtype, xp, as_tensor: bool):
    from trainer.tensor import Tensor

    zeros = xp.zeros(shape, dtype)
    return Tensor._wrap(zeros) if as_tensor else zeros


def _run_tensor_hooks(node, grads) -> None:
    """Each output's hooks on its gradient (None for an output that got none), in registration order."""
    for nr, hooks in node._tensor_hooks.items():
        for hook in tuple(hooks.values()):
            grads[nr] = _call_hook(hook, grads[nr])


def _leaf_gradient(leaf, grad):
    """``grad`` after the leaf's hooks, which see it once, summed over all its uses, before accumulation."""
    if leaf._hooks is None or grad is None:
        return grad
    for hook in tuple(leaf._hooks.values()):
        grad = _call_hook(hook, grad)
    return grad


def _call_hook(hook, grad):
    """A hook sees a tensor; a gradient that is an array (no ``create_graph``) stays an array."""
    from trainer.tensor import Tensor

    graph = isinstance(grad, Tensor)
    result = hook(grad if graph or grad is None else Tensor._wrap(grad))
    if result is None:
        return grad
    if not isinstance(result, Tensor):
        raise TypeError(f"expected Tensor, but hook returned '{type(result).__name__}'")
    if grad is not None and tuple(result._data.shape) != tuple(grad.shape):
        raise RuntimeError(f"hook '{getattr(hook, '__name__', hook)}' has changed the size of value: it returned "
                           f"shape {list(result.shape)} for a gradient of shape {list(grad.shape)}")
    return result if graph else result._data


def _leading_to(order, slots, leaf_ids) -> set:
    """The nodes of ``order`` (consumers first) from which a gradient flows into one of the wanted ``slots``
    (``(node, output_nr)``) or leaves (by id: tensors compare elementwise)."""
    needed: set = set()
    for node in reversed(order):  # each node after every node it feeds
        for edge in node._edges:
            if type(edge) is tuple:
                if edge in slots or edge[0] in needed:
                    needed.add(node)
                    break
            elif edge is not None and id(edge) in leaf_ids:
                needed.add(node)
                break
    return needed


def root_gradient(output, gradient, index: int = 0, create_graph: bool = False):
    """The gradient that starts a backward pass from ``output``: ones for a scalar when ``gradient`` is None,
    else ``gradient`` (a tensor or array-like) checked against the output's shape. An array, or a tensor with
    ``create_graph`` (a ``gradient`` that requires grad then carries its graph into the result)."""
    import trainer
    from trainer.backend import xp_of
    from trainer.tensor import Tensor

    if not output._requires_grad:
        raise RuntimeError(f"element {index} of tensors does not require grad and does not have a grad_fn")
    if gradient is None:
        if output._data.size != 1:
            raise RuntimeError(f"grad can be implicitly created only for scalar outputs; this tensor has "
                               f"shape {list(output.shape)}. Pass a gradient of that shape to backward().")
        if output._data.dtype.kind == "c":
            raise RuntimeError(f"grad can be implicitly created only for real scalar outputs but got {output.dtype}")
        ones = xp_of(output._data).ones(output._data.shape, output._data.dtype)
        return Tensor._wrap(ones) if create_graph else ones
    if not isinstance(gradient, Tensor):
        gradient = trainer.creation.as_tensor(gradient, dtype=output.dtype, device=output.device)
    if gradient.shape != output.shape:
        raise RuntimeError(f"Mismatch in shape: grad_output[{index}] has a shape of {list(gradient.shape)} and "
                           f"output[{index}] has a shape of {list(output.shape)}.")
    return gradient if create_graph else gradient._data


def _edge_of(tensor):
    """Where ``tensor``'s gradient arrives: its node's output slot, or the leaf itself. A ``GradientEdge`` names
    the same place directly."""
    if type(tensor) is GradientEdge:
        node = tensor.node
        return node.variable if type(node) is AccumulateGrad else (node, tensor.output_nr)
    return (tensor._grad_fn, tensor._output_nr) if tensor._grad_fn is not None else tensor


def _deliver(pending, leaf_grads, edge, grad) -> None:
    if type(edge) is tuple:
        node, nr = edge
        slots = pending.get(node)
        if slots is None:
            n_outputs = 1 if node._output_meta is None else len(node._output_meta)
            slots = pending[node] = [None] * n_outputs
        slots[nr] = grad if slots[nr] is None else slots[nr] + grad
    else:
        previous = leaf_grads.get(edge)
        leaf_grads[edge] = grad if previous is None else previous + grad


def _topological_order(starts):
    """Nodes reachable from ``starts``, each after every node that feeds it a gradient."""
    consumers: dict = {}
    stack, seen = list(starts), set(starts)
    while stack:
        node = stack.pop()
        for edge in node._edges:
            if type(edge) is tuple:
                parent = edge[0]
                consumers[parent] = consumers.get(parent, 0) + 1
                if parent not in seen:
                    seen.add(parent)
                    stack.append(parent)
    ready = [n for n in starts if n not in consumers]
    order = []
    while ready:
        node = ready.pop()
        order.append(node)
        for edge in node._edges:
            if type(edge) is tuple:
                parent = edge[0]
                consumers[parent] -= 1
                if consumers[parent] == 0:
                    ready.append(parent)
    return order


def _store_retained(node, grads) -> None:
    from trainer.tensor import Tensor

    for nr, ref in node._retained.items():
        tensor = ref()
        if tensor is not None and grads[nr] is not None:
            g = grads[nr]
            if isinstance(g, Tensor):  # create_graph: the gradient keeps its graph, as in PyTorch
                tensor._grad = g if tensor._grad is None else tensor._grad + g
            else:
                tensor._grad = Tensor._wrap(g.copy()) if tensor._grad is None else Tensor._wrap(tensor._grad._data + g)


def _accumulate_into_leaves(leaf_grads, root_grads) -> None:
    """Add each leaf's gradient into ``.grad``, never letting two ``.grad`` share memory. With ``create_graph``
    the gradients are tensors and the sum is recorded (out of place), so ``.grad`` keeps its graph."""
    from trainer.tensor import Tensor, as_array

    taken = {id(g._data if isinstance(g, Tensor) else g) for g in root_grads}
    for leaf, grad in leaf_grads.items():
        if leaf._hooks is not None:
            grad = _leaf_gradient(leaf, grad)
        if isinstance(grad, Tensor):
            if grad._data.dtype != leaf._data.dtype:
                grad = grad.to(leaf.dtype)
            if leaf._grad is not None:
                leaf._grad = leaf._grad + grad
                continue
            if id(grad._data) in taken or grad._data.base is not None:
                grad = grad.clone()
            taken.add(id(grad._data))
            leaf._grad = grad
            continue
        if grad.dtype != leaf._data.dtype:
            grad = grad.astype(leaf._data.dtype)
        if leaf._grad is None:
            if id(grad) in taken or grad.base is not None:
                grad = grad.copy()
            taken.add(id(grad))
            leaf._grad = Tensor._wrap(grad)
        else:
            leaf._grad._data = as_array(leaf._grad._data + grad)
    post_accumulate_grad_hooks.run(leaf_grads)  # hooks that run once .grad holds the sum
