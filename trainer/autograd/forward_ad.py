"""``torch.autograd.forward_ad``: dual tensors and the Jacobian-vector products they carry.

PyTorch propagates a tangent alongside each op (forward mode). trainer has no per-op forward rules, so a dual
tensor is instead a copy of its primal recorded on the graph from a hidden input, and ``unpack_dual(y)`` computes
``y``'s tangent on demand as ``J v`` by the double-vjp trick (see ``trainer.func.vector_products``): the
vector-Jacobian product ``u -> J^T u`` recorded with ``create_graph``, then differentiated against ``u`` weighted
by the tangents, summed over every dual input of the level that ``y`` depends on. Each ``unpack_dual`` of a
computed tensor therefore costs two reverse passes over the graph that leads to it, and needs the ops on the way
to be twice differentiable by trainer's autograd. A custom ``autograd.Function`` on the way contributes through its
``jvp`` instead, run once when it is applied (see ``trainer.autograd.custom_function_jvp``).

What this means beyond PyTorch's semantics: ops on dual tensors are recorded by reverse-mode autograd, so they
carry no tangent when run under ``no_grad``, and dual tensors and their results report ``requires_grad=True``.
As in PyTorch, only one level exists at a time, and backward through a dual tensor reaches its primal.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import NamedTuple

import trainer
from trainer.autograd import custom_function_jvp, grad_mode
from trainer.tensor import Tensor

__all__ = ["UnpackedDualTensor", "dual_level", "enter_dual_level", "exit_dual_level", "make_dual", "unpack_dual"]


class UnpackedDualTensor(NamedTuple):
    """What ``unpack_dual`` returns: the primal value and its tangent (None for a tensor that has none)."""

    primal: Tensor
    tangent: Tensor | None


@dataclass
class _DualLevel:
    """The dual inputs of the one open level: the hidden tensors that tangents are taken with respect to, their
    tangents, and the dual tensors handed out (id -> (dual, its node when made, its tangent))."""

    scope: object  # trainer.func.grad_scope.GradScope
    inputs: list = field(default_factory=list)
    tangents: list = field(default_factory=list)
    duals: dict = field(default_factory=dict)


_current_level = -1
_level: _DualLevel | None = None


def enter_dual_level() -> int:
    """Open the forward-AD level (there is only one, 0) and return it."""
    from trainer.func.grad_scope import GradScope  # trainer.func loads after trainer.autograd

    global _current_level, _level
    if _current_level >= 0:
        raise RuntimeError("Nested forward mode AD is not supported at the moment")
    _level = _DualLevel(GradScope())
    _current_level = 0
    return _current_level


def exit_dual_level(*, level: int | None = None) -> None:
    """Close the level: every tangent it held is dropped, and ``unpack_dual`` returns no tangent afterwards."""
    global _current_level, _level
    if level is None:
        level = _current_level
    if level != _current_level:
        raise RuntimeError("Trying to exit a forward AD level that was not the last one that was created. This is "
                           "not supported.")
    if level < 0:
        raise RuntimeError("Dual level must be a positive number.")
    _level = None
    _current_level = -1


class dual_level(contextlib.ContextDecorator):  # noqa: N801 - PyTorch's public name
    """``with dual_level():`` (or ``@dual_level()``): the forward-AD level is open inside the block."""

    def __enter__(self) -> int:
        return enter_dual_level()

    def __exit__(self, exc_type, exc_value, traceback) -> bool:
        exit_dual_level()
        return False


def make_dual(tensor: Tensor, tangent: Tensor, *, level: int | None = None) -> Tensor:
    """A dual tensor: ``tensor``'s value, carrying ``tangent`` (same shape) for ``unpack_dual``. Backward through
    it reaches ``tensor`` when that requires grad. Unlike PyTorch's, it is a copy of ``tensor``, not a view."""
    if level is None:
        level = _current_level
    if level < 0:
        raise RuntimeError("Trying to create a dual Tensor for forward AD but no level exists, make sure to "
                           "enter_dual_level() first.")
    if not (tensor.is_floating_point() or tensor.is_complex()):
        raise ValueError(f"Expected primal to be floating point or complex, but got: {tensor.dtype}")
    if not (tangent.is_floating_point() or tangent.is_complex()):
        raise ValueError(f"Expected tangent to be floating point or complex, but got: {tangent.dtype}")
    if level != _current_level:
        raise RuntimeError("Invalid level given to _make_dual")
    if tangent.shape != tensor.shape:
        raise RuntimeError("Trying to set a forward gradient that has a different size than that of the original "
                           f"Tensor, this is not supported. Tensor is of size {list(tensor.shape)} while the given "
                           f"forward gradient is of size {list(tangent.shape)}.")
    if _reached_inputs(tensor, _level):
        raise RuntimeError("Making a dual Tensor based on a Tensor that already has a forward gradient at the same "
                           f"level {level} is not supported.")
    with grad_mode.enable_grad():
        # the hidden input stays out of the caller's hands, so an in-place change of the dual cannot move it
        hidden = _level.scope.differentiable(tensor)
        dual = hidden.clone()
    _level.inputs.append(hidden)
    _level.tangents.append(tangent)
    _level.duals[id(dual)] = (dual, dual.grad_fn, tangent)
    return dual


def unpack_dual(tensor: Tensor, *, level: int | None = None) -> UnpackedDualTensor:
    """``(primal, tangent)`` of ``tensor``: the tangent is None outside a level and for a tensor that depends on
    no dual tensor of the level (or is not floating point); computing it costs two reverse passes (see the
    module's docstring), except for a dual tensor itself, whose tangent is returned as given."""
    if level is None:
        level = _current_level
    if level < 0:
        return UnpackedDualTensor(tensor, None)
    if not isinstance(tensor, Tensor):
        raise TypeError(f"_unpack_dual(): argument 'dual' (position 1) must be Tensor, not {type(tensor).__name__}")
    made = None if _level is None else _level.duals.get(id(tensor))
    is_dual = made is not None and made[0] is tensor and tensor.grad_fn is made[1]
    reached = [] if is_dual else _reached_inputs(tensor, _level)
    if not (is_dual or reached):
        return UnpackedDualTensor(tensor, None)
    # as in PyTorch, the level is checked only for a tensor that has a tangent
    if level != _current_level:
        raise RuntimeError("Invalid level given to _fw_primal")
    scope = _level.scope
    if is_dual:
        return UnpackedDualTensor(scope.unwrap(tensor), made[2])
    return UnpackedDualTensor(scope.unwrap(tensor),
                              scope.unwrap(_jacobian_vector_product(tensor, reached, _level)))


def tangents_of(tensors: list) -> tuple[_DualLevel, list] | None:
    """``(level, tangents)``: the tangent of each of ``tensors`` at the open level (zeros for one that has none),
    what a custom Function's ``jvp`` is given; None when none of them has a tangent."""
    if _level is None or not any(_reached_inputs(t, _level) for t in tensors):
        return None
    tangents = [unpack_dual(t).tangent for t in tensors]
    return _level, [trainer.zeros_like(t) if tangent is None else tangent for t, tangent in zip(tensors, tangents)]


def _jacobian_vector_product(output: Tensor, reached: list, level: _DualLevel) -> Tensor:
    """``sum_i J_i v_i`` over the level's inputs at ``reached``, by differentiating ``u -> sum_i J_i^T u``."""
    scope = level.scope
    inputs = [level.inputs[i] for i in reached]
    with grad_mode.enable_grad(), custom_function_jvp.linearizing(level):
        cotangent = scope.own_leaf(trainer.zeros_like(output).requires_grad_())
        vjps = scope.gradients([output], inputs, [cotangent], create_graph=True, materialize=False)
    pairs = [(vjp, level.tangents[i].to(level.inputs[i].dtype)) for vjp, i in zip(vjps, reached) if vjp is not None]
    if not pairs:
        return trainer.zeros_like(output)
    (product,) = scope.gradients([vjp for vjp, _ in pairs], [cotangent], [weight for _, weight in pairs])
    return product


def _reached_inputs(tensor: Tensor, level: _DualLevel | None) -> list:
    """Indices of the level's hidden inputs that ``tensor``'s recorded graph leads to (only floating-point and
    complex tensors carry tangents)."""
    if level is None or not level.inputs or tensor.grad_fn is None:
        return []
    if not (tensor.is_floating_point() or tensor.is_complex()):
        return []
    leaf_index = {id(h): i for i, h in enumerate(level.inputs) if h.grad_fn is None}
    node_index = {h.grad_fn: i for i, h in enumerate(level.inputs) if h.grad_fn is not None}
    found, stack, seen = set(), [tensor.grad_fn], set()
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        if node in node_index:
            found.add(node_index[node])
        for edge in node._edges:
            if type(edge) is tuple:
                stack.append(edge[0])
            elif edge is not None and id(edge) in leaf_index:
                found.add(leaf_index[id(edge)])
    return sorted(found)
