"""PyTorch's control-flow operators ``cond`` and ``while_loop``, with eager semantics: the predicate is read and
the chosen branch (or the loop body) runs as ordinary Python, so autograd records whatever it computes. The
arguments are checked as PyTorch checks them, so a program that passes here passes there.
"""

from __future__ import annotations

from trainer.func.pytree import tree_flatten
from trainer.tensor import Tensor


def cond(pred, true_fn, false_fn, operands=()):
    """``true_fn(*operands)`` if ``pred`` else ``false_fn(*operands)``; ``pred`` is a bool or a one-element tensor
    and ``operands`` a tuple (or list) of possibly nested tensors."""
    if not isinstance(pred, (bool, int, float, Tensor)):
        raise RuntimeError(f"Expected pred to be bool or tensor, but got {pred}.")
    if isinstance(pred, Tensor):
        # a Python constant picks its branch at once in PyTorch too; a tensor's arguments are checked first
        if pred.numel() != 1:
            raise RuntimeError(f"Expected pred to be bool or single-element tensor, but got {pred}.")
        if not callable(true_fn) or not callable(false_fn):
            raise RuntimeError("Expect both branches to be callable.")
        if not isinstance(operands, (tuple, list)) or not all(isinstance(t, Tensor) for t in tree_flatten(operands)[0]):
            raise RuntimeError("Expect operands to be a tuple of possibly nested dict/list/tuple that only consists "
                               f"of tensor leaves, but got {operands}.")
    return true_fn(*operands) if pred else false_fn(*operands)


def _loop_condition(cond_fn, carried) -> bool:
    """``cond_fn(*carried)``, which must give a bool or a boolean scalar tensor."""
    pred = cond_fn(*carried)
    if (isinstance(pred, Tensor) and pred.shape == () and pred.dtype.name == "bool") or isinstance(pred, bool):
        return bool(pred)
    raise RuntimeError(f"cond_fn must return a boolean scalar tensor or a boolean but got {pred}")


def while_loop(cond_fn, body_fn, carried_inputs):
    """Run ``carried = body_fn(*carried)`` while ``cond_fn(*carried)`` holds; returns the final values (copies of
    the tensors when the body never runs, as in PyTorch, so the result never aliases the inputs)."""
    if not callable(cond_fn) or not callable(body_fn):
        raise RuntimeError("Expect cond_fn and body_fn to be callable.")
    if not isinstance(carried_inputs, (tuple, list)):
        raise RuntimeError(f"carried_inputs must be a tuple or list but got {type(carried_inputs)}")
    leaves = tree_flatten(carried_inputs)[0]
    if not all(isinstance(v, (Tensor, int)) for v in leaves):
        # PyTorch raises an AssertionError here; the type is kept so code catching it behaves the same
        raise AssertionError(f"{leaves} can only be of (Tensor, int) but got {tuple(type(v) for v in leaves)}")
    carried = tuple(carried_inputs)
    if not _loop_condition(cond_fn, carried):
        return tuple(v.clone() if isinstance(v, Tensor) else v for v in carried)
    while True:
        out = body_fn(*carried)
        if not isinstance(out, tuple) or len(out) != len(carried):
            got = f"a tuple of {len(out)}" if isinstance(out, tuple) else type(out).__name__
            raise RuntimeError(f"body_fn should return a tuple with one value per carried input ({len(carried)}), "
                               f"but got {got}")
        carried = out
        if not _loop_condition(cond_fn, carried):
            return carried
