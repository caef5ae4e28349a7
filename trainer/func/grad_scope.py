"""What the reverse-mode transforms of ``trainer.func`` share: one ``GradScope`` per call of a transform.

PyTorch's functorch gives every transform its own autograd "level". Here all levels share trainer's one tape, and
a scope keeps them apart instead:

- each differentiated input gets a fresh tensor of its own (a new leaf, or a copy on the graph when the input
  already requires grad, so that an enclosing transform or the caller's autograd still reaches it), so ``grad``
  never confuses the input with a closure over the same tensor;
- gradients are recorded (``create_graph``) only when something outside the scope can differentiate them: grad
  mode was on when the transform was called and the function's outputs lead to a tensor requiring grad other
  than the scope's own fresh leaves (an enclosing transform's inputs, or the caller's parameters);
- what the transform returns is "unwrapped": a tensor that leads to no such outside tensor is detached, so
  ``grad(f)(x)`` does not require grad unless the caller could differentiate it, as in PyTorch.
"""

from __future__ import annotations

import trainer
from trainer.autograd import grad_mode
from trainer.autograd.functional import _autograd_grad
from trainer.func.pytree import tree_map
from trainer.tensor import Tensor


class GradScope:
    """The fresh inputs of one transform call, and the rules for its results (see the module's docstring)."""

    def __init__(self):
        self.outer_grad_enabled = grad_mode.is_grad_enabled()
        self._own_leaves: dict[int, Tensor] = {}  # id -> tensor, kept alive so that ids stay unique

    def differentiable(self, value) -> Tensor:
        """A fresh tensor equal to ``value`` to differentiate against, requiring grad."""
        if not isinstance(value, Tensor):
            raise ValueError(f"Thing passed to transform API must be Tensor, got {type(value)}")
        if value.requires_grad:
            return value.clone()  # a new node (trainer's same-shape view returns the tensor itself)
        return self.own_leaf(value.detach().requires_grad_())

    def own_leaf(self, leaf: Tensor) -> Tensor:
        """Count ``leaf`` (made by this transform, e.g. a zero cotangent of the double-vjp trick) as internal."""
        self._own_leaves[id(leaf)] = leaf
        return leaf

    def reaches_outside(self, tensors) -> bool:
        """Whether any of ``tensors`` leads, through the recorded graph, to a tensor requiring grad that is not
        one of this scope's own leaves."""
        nodes, seen = [], set()
        for t in tensors:
            if not isinstance(t, Tensor) or not t.requires_grad:
                continue
            if t.grad_fn is None:
                if id(t) not in self._own_leaves:
                    return True
            else:
                nodes.append(t.grad_fn)
        while nodes:
            node = nodes.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            for edge in node._edges:
                if type(edge) is tuple:
                    nodes.append(edge[0])
                elif edge is not None and id(edge) not in self._own_leaves:
                    return True
        return False

    def records(self, tensors) -> bool:
        """Whether derivatives of ``tensors`` must be recorded for someone outside the scope."""
        return self.outer_grad_enabled and self.reaches_outside(tensors)

    def unwrap(self, tree):
        """``tree`` with every tensor that leads to nothing outside the scope detached."""
        return tree_map(self._unwrap_one, tree)

    def unwrap_tensors(self, tree):
        """``unwrap`` for results that must be tensors (``has_aux`` outputs), PyTorch's error otherwise."""

        def unwrap_one(value):
            if not isinstance(value, Tensor):
                raise RuntimeError(f"Expected tensors, got unsupported type {type(value)}")
            return self._unwrap_one(value)

        return tree_map(unwrap_one, tree)

    def _unwrap_one(self, value):
        if isinstance(value, Tensor) and value.requires_grad and not self.records([value]):
            return value.detach()
        return value

    def gradients(self, outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=None,
                  materialize: bool = True) -> tuple:
        """``autograd.grad`` of ``outputs`` (weighted by ``grad_outputs``) with respect to ``inputs``, zeros (None
        unless ``materialize``) for an input nothing depends on; recorded when ``create_graph``, by default when
        someone outside needs it."""
        if create_graph is None:
            create_graph = self.records(list(outputs) + list(grad_outputs or ()))
        with grad_mode.enable_grad():
            found = _autograd_grad(tuple(outputs), tuple(inputs), None if grad_outputs is None else tuple(grad_outputs),
                                   create_graph=create_graph, retain_graph=retain_graph)
        if not materialize:
            return found
        return tuple(trainer.zeros_like(inp) if g is None else g for g, inp in zip(found, inputs))
