"""Hooks on graph nodes (``grad_fn.register_prehook`` / ``register_hook``): what runs them in the backward pass.

A node without hooks keeps ``_node_hooks`` None, so the engine pays one attribute check per node.
"""

from __future__ import annotations

from trainer.autograd import grad_mode


class NodeHooks:
    """A node's pre-hooks (``hook(grad_outputs)``) and post-hooks (``hook(grad_inputs, grad_outputs)``), each in
    registration order."""

    __slots__ = ("pre", "post")

    def __init__(self):
        self.pre: dict = {}
        self.post: dict = {}


def add(node, kind: str, hook):
    """Register ``hook`` as a ``kind`` ("pre" or "post") hook of ``node``; returns its ``RemovableHandle``."""
    from trainer.utils.hooks import RemovableHandle

    if node._released:
        raise RuntimeError(f"cannot register a hook on {node.name()}: its backward already ran and freed the graph")
    if node._node_hooks is None:
        node._node_hooks = NodeHooks()
    hooks = getattr(node._node_hooks, kind)
    handle = RemovableHandle(hooks)
    hooks[handle.id] = hook
    return handle


def run_pre(node, grads: list) -> list:
    """``grads`` (one per output of ``node``) after its pre-hooks."""
    for hook in tuple(node._node_hooks.pre.values()):
        result = hook(_as_tensors(grads))
        if result is not None:
            grads = _replaced(hook, grads, result)
    return grads


def run_post(node, input_grads: tuple, grads: list) -> tuple:
    """What ``node``'s backward returned (one gradient per input) after its post-hooks."""
    outputs = _as_tensors(grads)
    for hook in tuple(node._node_hooks.post.values()):
        result = hook(_as_tensors(input_grads), outputs)
        if result is not None:
            input_grads = tuple(_replaced(hook, list(input_grads), result))
    return input_grads


def _as_tensors(grads) -> tuple:
    from trainer.tensor import Tensor

    return tuple(g if g is None or isinstance(g, Tensor) else Tensor._wrap(g) for g in grads)


def _replaced(hook, grads: list, result) -> list:
    """A hook's returned gradients in the engine's form (arrays, or tensors under ``create_graph``), checked
    against the ones it replaces."""
    from trainer.tensor import Tensor

    name = getattr(hook, "__name__", hook)
    graph = grad_mode.is_grad_enabled()  # the engine records exactly when it runs with create_graph
    if not isinstance(result, (tuple, list)) or len(result) != len(grads):
        got = len(result) if isinstance(result, (tuple, list)) else type(result).__name__
        raise RuntimeError(f"hook '{name}' has returned an incorrect number of values (got {got}, but expected "
                           f"{len(grads)})")
    replaced = []
    for old, new in zip(grads, result):
        if new is not None and not isinstance(new, Tensor):
            raise TypeError(f"hook '{name}' returned a {type(new).__name__} where a gradient Tensor or None was "
                            "expected")
        if new is not None and old is not None and tuple(new.shape) != tuple(old.shape):
            raise RuntimeError(f"hook '{name}' has changed the size of value: it returned shape {list(new.shape)} "
                               f"for a gradient of shape {list(old.shape)}")
        replaced.append(new if new is None or graph else new._data)
    return replaced
