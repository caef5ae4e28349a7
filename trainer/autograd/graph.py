"""``torch.autograd.graph``: the graph's node type, gradient edges, hooks over several tensors at once, and
``increment_version`` for writes autograd cannot see."""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence

from trainer.autograd import engine
from trainer.autograd.gradient_edge import GradientEdge, get_gradient_edge
from trainer.autograd.op import AccumulateGrad, Function
from trainer.autograd.saved_tensors_hooks import disable_saved_tensors_hooks, save_on_cpu, saved_tensors_hooks


class Node(abc.ABC):
    """What ``grad_fn`` and ``next_functions`` hold: ``isinstance(t.grad_fn, Node)`` is True, as in PyTorch."""

    @abc.abstractmethod
    def name(self) -> str: ...


Node.register(Function)
Node.register(AccumulateGrad)


def increment_version(tensor) -> None:
    """Mark ``tensor`` (or each of several) as changed in place, so that a backward that saved its old value
    refuses to run instead of using the new one."""
    for t in (tensor,) if hasattr(tensor, "_version_counter") else tensor:
        t._version_counter.value += 1


class _MultiHandle:
    """The handle ``register_multi_grad_hook`` returns: ``remove()`` removes the hook from every tensor."""

    def __init__(self, handles):
        self.handles = tuple(handles)

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


def register_multi_grad_hook(tensors: Sequence, fn: Callable, *, mode: str = "all") -> _MultiHandle:
    """``mode="all"``: ``fn(grads)`` once per backward pass, when the gradient of every tensor in ``tensors``
    that the pass computes is there (None for the others). ``mode="any"``: ``fn(grad)`` with the first of them."""
    if mode not in ("all", "any"):
        raise ValueError(f"Expects mode to be one of ('all', 'any') but got {mode}")
    tensors = tuple(tensors)
    if mode == "any":
        fired: set = set()

        def first_only(grad):
            current = engine.running[-1]
            if current.id not in fired:
                fired.add(current.id)
                fn(grad)

        return _MultiHandle(t.register_hook(first_only) for t in tensors if t.requires_grad)
    arrived: dict = {}  # pass id -> [gradients seen so far in that pass, how many hooks have run]

    def collector(index: int):
        def collect(grad):
            current = engine.running[-1]
            seen = arrived.setdefault(current.id, [[None] * len(tensors), 0])
            seen[0][index] = grad
            seen[1] += 1
            if seen[1] == sum(current.runs_hooks_of(t) for t in tensors if t.requires_grad):
                del arrived[current.id]
                fn(seen[0])

        return collect

    return _MultiHandle(t.register_hook(collector(i)) for i, t in enumerate(tensors) if t.requires_grad)


__all__ = ["GradientEdge", "Node", "disable_saved_tensors_hooks", "get_gradient_edge", "increment_version",
           "register_multi_grad_hook", "save_on_cpu", "saved_tensors_hooks"]
