"""A custom ``autograd.Function`` under ``trainer.func`` transforms: which transforms are running, what they ask of
the Function, and its ``vmap`` staticmethod.

``trainer.func`` pushes the name of each transform (``"grad"``, ``"vjp"``, ``"jvp"``, ``"jacrev"``, ``"jacfwd"``,
``"vmap"``) while it calls the user's function; ``Function.apply`` then checks the Function as PyTorch's
functorch does: it must define ``setup_context`` under any transform, and under ``vmap`` either a ``vmap``
staticmethod or ``generate_vmap_rule = True``.

trainer's ``vmap`` runs the function once per slice, so ``generate_vmap_rule`` needs nothing more: forward runs on
each slice. An explicit ``vmap(info, in_dims, *args)`` staticmethod is called the same way, per slice, as a batch
of one: each tensor argument gets a leading dimension of size 1 (``in_dims`` 0), ``info.batch_size`` is 1, and the
slice is taken back out of each output along the ``out_dims`` it returns.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

_DOCS = "For more details, please see https://pytorch.org/docs/main/notes/extending.func.html"

running: list[str] = []  # the transforms whose function is being called, innermost last


@dataclass(frozen=True)
class VmapInfo:
    """What a ``vmap`` staticmethod is told about the batch, as PyTorch's ``VmapInfo``."""

    batch_size: int
    randomness: str


_vmap_randomness: list[str] = []  # the ``randomness`` of each running vmap, innermost last


@contextlib.contextmanager
def transform(name: str, randomness: str = "error"):
    """The user's function is being called under transform ``name`` inside this block."""
    running.append(name)
    if name == "vmap":
        _vmap_randomness.append(randomness)
    try:
        yield
    finally:
        running.pop()
        if name == "vmap":
            _vmap_randomness.pop()


def check_supported(cls, uses_setup_context: bool) -> None:
    """PyTorch's errors for a custom Function that the running transforms cannot use."""
    if not running:
        return
    if not uses_setup_context:
        raise RuntimeError("In order to use an autograd.Function with functorch transforms (vmap, grad, jvp, jacrev, "
                           f"...), it must override the setup_context staticmethod. {_DOCS}")
    if "vmap" in running:
        check_vmap_support(cls)


def check_vmap_support(cls) -> None:
    """A Function run under ``vmap`` (or ``jacfwd``, which PyTorch builds on it) needs a way to be batched."""
    overridden = has_vmap_staticmethod(cls)
    if cls.generate_vmap_rule and overridden:
        raise RuntimeError(f"You tried to vmap over {cls.__name__}, but it has both generate_vmap_rule=True and an "
                           "overridden vmap staticmethod. Please set generate_vmap_rule=False or delete the "
                           f"overridden vmap staticmethod to avoid ambiguity. {_DOCS}")
    if not (cls.generate_vmap_rule or overridden):
        raise RuntimeError(f"You tried to vmap over {cls.__name__}, but it does not have vmap support. Please override "
                           f"and implement the vmap staticmethod or set generate_vmap_rule=True. {_DOCS}")


def has_vmap_staticmethod(cls) -> bool:
    return callable(getattr(cls, "vmap", None))


def uses_vmap_staticmethod(cls) -> bool:
    """Whether forward's value comes from the Function's own ``vmap`` staticmethod here."""
    return "vmap" in running and has_vmap_staticmethod(cls)


def run_vmap_staticmethod(cls, args: tuple):
    """One slice's output of ``cls``, from its ``vmap`` staticmethod called on a batch of one (see the module's
    docstring). It runs outside the innermost vmap, as in PyTorch, so it may call ``cls.apply`` again."""
    from trainer.func.pytree import broadcast_prefix, tree_flatten, tree_unflatten  # trainer.func loads later
    from trainer.tensor import Tensor

    batched = tuple(a.unsqueeze(0) if isinstance(a, Tensor) else a for a in args)
    in_dims = tuple(0 if isinstance(a, Tensor) else None for a in args)
    info = VmapInfo(batch_size=1, randomness=_vmap_randomness[-1])
    position = len(running) - 1 - running[::-1].index("vmap")
    randomness = _vmap_randomness.pop()
    del running[position]
    try:
        returned = cls.vmap(info, in_dims, *batched)
    finally:
        running.insert(position, "vmap")
        _vmap_randomness.append(randomness)
    if not (isinstance(returned, tuple) and len(returned) == 2):
        raise RuntimeError("Expected the vmap staticmethod to have two returns, an output and out_dims with pytree "
                           f"structure compatible with the output. Got a {type(returned)} instead")
    output, out_dims = returned
    flat_outputs, spec = tree_flatten(output)
    flat_dims = broadcast_prefix(out_dims, spec)
    if flat_dims is None:
        raise RuntimeError("The autograd.Function's vmap staticmethod returned an incompatible (output, out_dims) "
                           f"tuple. Expected out_dims={out_dims} to be compatible with the structure of `output`. "
                           f"out_dims has structure {tree_flatten(out_dims)[1]} but output has structure {spec}. "
                           f"{_DOCS}")
    return tree_unflatten([value if dim is None or not isinstance(value, Tensor) else value.select(dim, 0)
                           for value, dim in zip(flat_outputs, flat_dims)], spec)
