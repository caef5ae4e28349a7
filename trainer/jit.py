"""``torch.jit`` as PyTorch behaves with ``PYTORCH_JIT=0``: scripting and tracing are switched off, so the decorators
and helpers that model code sprinkles in (``@torch.jit.script`` on a small function, ``@torch.jit.unused``,
``torch.jit.is_scripting()``, ``torch.jit.annotate``, ``Final``) leave the Python code to run eagerly, as it does
in PyTorch's eager mode.

What needs TorchScript itself, a ``.pt`` file that runs without the Python class (``save``, ``load``,
``freeze``), Sardonyx does with ONNX instead: ``exporter.export`` writes the file and ``serving.InferenceSession``
runs it.
"""

from __future__ import annotations

import warnings
from typing import Final

__all__ = ["Attribute", "Final", "annotate", "export", "fork", "ignore", "interface", "is_scripting", "is_tracing",
           "load", "save", "script", "script_if_tracing", "trace", "unused", "wait"]

_USE_ONNX = ("Sardonyx has no TorchScript: to run a model without its Python code, export it with "
             "`exporter.export(model, args, \"model.onnx\")` and run the file with `serving.InferenceSession`")


def script(obj, optimize=None, _frames_up=0, _rcb=None, example_inputs=None):
    """The function, module or class itself, run eagerly (``PYTORCH_JIT=0``)."""
    return obj


def trace(func, example_inputs=None, *args, **kwargs):
    """``func`` itself, run eagerly (``PYTORCH_JIT=0``): every call runs its Python code on the inputs it gets."""
    return func


def script_if_tracing(fn):
    return fn


def is_scripting() -> bool:
    return False


def is_tracing() -> bool:
    return False


def unused(fn):
    return fn


def export(fn):
    return fn


def ignore(drop=False, **kwargs):
    """``@ignore`` or ``@ignore(drop=...)``: the function runs as Python, scripted or not."""
    if callable(drop):
        return drop
    return lambda fn: fn


def interface(obj):
    return obj


def annotate(the_type, the_value):
    return the_value


def Attribute(value, type):  # noqa: N802, A002 - PyTorch's names
    return value


def save(m, f, _extra_files=None):
    raise RuntimeError(f"trainer.jit.save: {_USE_ONNX}")


def load(f, map_location=None, _extra_files=None, _restore_shapes=False):
    raise RuntimeError(f"trainer.jit.load: {_USE_ONNX}")


def fork(func, *args, **kwargs):
    """Run ``func(*args, **kwargs)`` now, as eager PyTorch does (only TorchScript runs it in parallel), and return
    a completed ``trainer.futures.Future`` with its result; an error it raises propagates at once."""
    from trainer.futures import Future

    warnings.warn("`trainer.jit.fork` is deprecated, as `torch.jit.fork` is. Please use `trainer.compile` instead.",
                  DeprecationWarning, stacklevel=2)
    future = Future()
    future.set_result(func(*args, **kwargs))
    return future


def wait(future):
    """The value of a ``Future`` from ``fork``, once it is done."""
    from trainer.futures import Future

    warnings.warn("`trainer.jit.wait` is deprecated, as `torch.jit.wait` is. Please use `trainer.compile` instead.",
                  DeprecationWarning, stacklevel=2)
    if not isinstance(future, Future):
        raise TypeError(f"wait(): expected a trainer.futures.Future (as trainer.jit.fork returns), but got "
                        f"{type(future).__name__}")
    return future.wait()


_fork, _wait = fork, wait  # the names TorchScript code calls
