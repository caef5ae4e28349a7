"""The backward pass: one walk over the graph in reverse topological order.

Gradients are accumulated per node, each node's ``backward`` runs once when all of its consumers
have contributed, and leaf gradients are added into ``.grad``. Unless ``retain_graph`` is set,
each node drops its saved arrays as soon as it has run, so memory does not grow step to step.
"""

from __future__ import annotations

from trainer.autograd import grad_mode

_FREED = (
    "Trying to backward through the graph a second time (or directly access saved tensors after they "
    "have already been freed). Saved intermediate values of the graph are freed when you call "
    ".backward(). Specify retain_graph=True if you need to backward through the graph a second time."
)


def run_backward(roots, root_grads, retain_graph: bool = False) -> None:
    """Propagate ``root_grads`` (arrays) from ``roots`` (tensors) to every leaf that requires grad."""
    pending: dict = {}  # node -> list of gradient arrays, one slot per output
    leaf_grads: dict = {}  # leaf tensor -> accumulated gradient array
    for root, grad in zip(roots, root_grads):
        _deliver(pending, leaf_grads, _edge_of(root), grad)
    order = _topological_order([n for n in pending])
    with grad_mode.no_grad():
        for node in order:
            if node._released:
                raise RuntimeError(_FREED)
            grads = pending.pop(node)
            if node._output_meta is not None:
                grads = [g if g is not None else xp.zeros(shape, dtype) for g, (shape, dtype, xp) in
                         zip(grads, node._output_meta)]
            if node._retained:
                _store_retained(node, grads)
            node._check_saved_versions()
            input_grads = node.backward(node, *grads)
            if type(input_grads) is not tuple:
                input_grads = (input_grads,)
            for edge, grad in zip(node.next_functions, input_grads):
                if edge is not None and grad is not None:
                    _deliver(pending, leaf_grads, edge, grad)
            if not retain_graph:
                node._release()
    _accumulate_into_leaves(leaf_grads, root_grads)


def _edge_of(tensor):
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
        for edge in node.next_functions:
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
        for edge in node.next_functions:
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
            tensor._grad = Tensor._wrap(g.copy()) if tensor._grad is None else Tensor._wrap(tensor._grad._data + g)


def _accumulate_into_leaves(leaf_grads, root_grads) -> None:
    """Add each leaf's gradient into ``.grad``, never letting two ``.grad`` share memory."""
    from trainer.tensor import Tensor, as_array

    taken = {id(g) for g in root_grads}
    for leaf, grad in leaf_grads.items():
        if grad.dtype != leaf._data.dtype:
            grad = grad.astype(leaf._data.dtype)
        if leaf._grad is None:
            if id(grad) in taken or grad.base is not None:
                grad = grad.copy()
            taken.add(id(grad))
            leaf._grad = Tensor._wrap(grad)
        else:
            leaf._grad._data = as_array(leaf._grad._data + grad)
