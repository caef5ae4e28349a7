"""``torch.compiler``: the user-facing controls of PyTorch's graph compiler, with their meaning in trainer, which has
none: ``trainer.compile`` runs eagerly (see ``trainer.compilation``), so code is never being compiled or exported,
there are no caches to reset and no CUDA-graph steps to mark, and the decorators that steer what the compiler traces
hand back the function to run as it is."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from trainer.compilation import BACKENDS, compile  # noqa: F401 - torch.compiler.compile is torch.compile
from trainer.nn.modules.module import Module

__all__ = ["allow_in_graph", "assume_constant_result", "compile", "cudagraph_mark_step_begin", "disable",
           "is_compiling", "is_dynamo_compiling", "is_exporting", "list_backends", "reset", "set_stance"]

STANCES = ("default", "force_eager", "eager_on_recompile", "fail_on_recompile", "eager_then_compile",
           "aot_eager_then_compile")
# PyTorch tags these backends "debug" and leaves them out of list_backends() unless asked
_BACKEND_TAGS = {"eager": ("debug",), "aot_eager": ("debug",)}


def is_compiling() -> bool:
    """False: trainer never traces a function into a graph, compiled or not."""
    return False


def is_dynamo_compiling() -> bool:
    return False


def is_exporting() -> bool:
    """False: exporting (``exporter.export``) runs the model eagerly and observes its ops."""
    return False


def reset() -> None:
    """Clear compilation caches: trainer keeps none, as nothing is compiled."""


def cudagraph_mark_step_begin() -> None:
    """Mark the start of an inference or training step for CUDA-graph trees: trainer records no CUDA graphs
    through ``compile``."""


def list_backends(exclude_tags=("debug", "experimental")) -> list[str]:
    """The ``backend=`` names ``trainer.compile`` accepts, minus those tagged with one of ``exclude_tags``."""
    excluded = set(exclude_tags or ())
    return sorted(b for b in BACKENDS if not excluded.intersection(_BACKEND_TAGS.get(b, ())))


def allow_in_graph(fn):
    """``fn`` (or each of a list of them), unchanged: there is no graph to put it in."""
    if isinstance(fn, (list, tuple)):
        return [allow_in_graph(f) for f in fn]
    if not callable(fn):
        raise AssertionError("allow_in_graph expects a callable")
    return fn


def assume_constant_result(fn):
    """``fn``, marked as PyTorch marks it; it runs on every call here."""
    fn._dynamo_marked_constant = True
    return fn


def disable(fn=None, recursive: bool = True, *, reason: str | None = None):
    """``fn`` never compiled: a function comes back as a wrapper that calls it, a module as itself. Without ``fn``,
    a decorator."""
    if fn is None:
        return functools.partial(disable, recursive=recursive, reason=reason)
    if not callable(fn):
        raise AssertionError("fn must be callable")
    if isinstance(fn, Module):
        return fn

    @functools.wraps(fn)
    def disabled(*args, **kwargs):
        return fn(*args, **kwargs)

    disabled._torchdynamo_disable = True
    disabled._torchdynamo_disable_recursive = recursive
    return disabled


@dataclass(frozen=True)
class _Stance:
    stance: str = "default"
    skip_guard_eval_unsafe: bool = False
    backend: object = None


_stance = _Stance()


class set_stance:  # noqa: N801 - PyTorch's name; a function, context manager and decorator at once
    """``torch.compiler.set_stance``: how compiled functions behave (compile, run eagerly, fail on recompiling).
    As a call it sets the stance until changed; as a context manager or decorator, for a block or function.
    Every stance runs eagerly in trainer; the stance is validated and kept, as PyTorch keeps it."""

    def __init__(self, stance: str = "default", *, skip_guard_eval_unsafe: bool = False, force_backend=None):
        global _stance
        if force_backend is not None and stance != "default":
            raise RuntimeError("non-default stance cannot have force_backend set")
        if stance not in STANCES:  # PyTorch fails on the next compiled call; trainer never gets one, so fails here
            raise RuntimeError(f"invalid torch.compile stance '{stance}': expected one of {', '.join(STANCES)}")
        self.stance = _Stance(stance, skip_guard_eval_unsafe, force_backend)
        self.prev, _stance = _stance, self.stance

    def __enter__(self) -> None:
        global _stance
        _stance = self.stance

    def __exit__(self, exc_type, exc_value, traceback) -> None:
        global _stance
        _stance = self.prev

    def __call__(self, fn):
        global _stance
        _stance = self.prev

        @functools.wraps(fn)
        def with_stance(*args, **kwargs):
            with self:
                return fn(*args, **kwargs)

        return with_stance
