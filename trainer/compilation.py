"""``trainer.compile``: PyTorch's ``torch.compile`` entry point, so that scripts calling it run unchanged.

Trainer has no graph compiler: a compiled module or function runs eagerly, op by op, exactly as it would
uncompiled (what ``torch.compile(backend="eager")`` does). What PyTorch's call returns is kept: a module comes back
wrapped in an ``OptimizedModule`` whose ``state_dict`` keys start with ``_orig_mod.``, a function as a new function,
and the arguments are checked as PyTorch checks them.
"""

from __future__ import annotations

import functools

from trainer.nn.modules.module import Module

MODES = ("default", "lite", "reduce-overhead", "max-autotune-no-cudagraphs", "max-autotune")
BACKENDS = ("inductor", "eager", "aot_eager", "cudagraphs")


class InvalidBackend(RuntimeError):  # noqa: N818 - PyTorch's name (torch._dynamo.exc.InvalidBackend)
    """A ``backend`` name that ``compile`` does not know."""


class OptimizedModule(Module):
    """A module as ``compile`` returns it: ``_orig_mod`` is the module itself, which runs (eagerly) on every call;
    attributes it does not have itself are the original module's."""

    def __init__(self, mod: Module):
        super().__init__()
        self._orig_mod = mod

    def forward(self, *args, **kwargs):
        return self._orig_mod(*args, **kwargs)

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.__dict__["_modules"]["_orig_mod"], name)


def compile(model=None, *, fullgraph: bool = False, dynamic: bool | None = None, backend="inductor",  # noqa: A001
            mode: str | None = None, options: dict | None = None, disable: bool = False, **kwargs):
    """``torch.compile``: ``model`` (a module or function) ready to run; eagerly here, see the module docstring.
    Without ``model``, a decorator."""
    if mode is not None and options is not None:
        raise RuntimeError("Either mode or options can be specified, but both can't be specified at the same time.")
    if mode is not None and mode not in MODES:
        raise RuntimeError(f"Unrecognized mode={mode}, should be one of: {', '.join(MODES)}")
    if isinstance(backend, str) and backend not in BACKENDS:
        raise InvalidBackend(f"Invalid backend: {backend!r}, see `trainer.compile` for available backends "
                             f"({', '.join(BACKENDS)}); trainer runs every one of them eagerly.")
    if model is None:
        return functools.partial(compile, fullgraph=fullgraph, dynamic=dynamic, backend=backend, mode=mode,
                                 options=options, disable=disable, **kwargs)
    if not callable(model):
        raise AssertionError(f"A callable function is expected, but {type(model)} is provided.")
    if disable:
        return model
    if isinstance(model, Module):
        return OptimizedModule(model)

    @functools.wraps(model)
    def compiled(*args, **kw):
        return model(*args, **kw)

    return compiled
