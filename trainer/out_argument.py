"""PyTorch's ``out=`` keyword on the torch-level functions programs most often call with it (``torch.matmul(a, b,
out=c)``, ``torch.rand(2, 2, out=c)``): the result is written into ``out``, which is returned.

As in PyTorch, ``out`` takes part in no graph (an error when an argument requires grad under grad mode), the result
must be castable to ``out``'s dtype, and ``out`` is resized to the result's shape (with PyTorch's warning when it
held elements). Factories take ``out``'s dtype and device unless they are given others.
"""

import functools
import warnings

from trainer import autograd
from trainer.ops._dtype_errors import scalar_type_name
from trainer.tensor import Tensor
from trainer.type_promotion import can_cast

# functions computing one tensor from tensors, and factories (which build theirs in ``out``'s dtype and device)
COMPUTING = ("add", "sub", "mul", "div", "true_divide", "pow", "matmul", "mm", "bmm", "addmm", "cat", "stack",
             "abs", "neg", "exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "clamp", "maximum", "minimum")
FACTORIES = ("rand", "randn", "randint", "zeros", "ones", "full", "arange", "linspace", "eye")


def _requires_grad(values) -> bool:
    return any(_requires_grad(v) if isinstance(v, (list, tuple)) else isinstance(v, Tensor) and v.requires_grad
               for v in values)


def write_result(name: str, result: Tensor, out) -> Tensor:
    """Copies ``result`` into ``out`` the way PyTorch's out= variants do, and returns ``out``."""
    if not can_cast(result.dtype, out.dtype):
        raise RuntimeError(f"result type {scalar_type_name(result.dtype)} can't be cast to the desired output type "
                           f"{scalar_type_name(out.dtype)}")
    if out.shape != result.shape:
        if out.numel() != 0:
            warnings.warn(f"An output with one or more elements was resized since it had shape {list(out.shape)}, "
                          f"which does not match the required output shape {list(result.shape)}. This behavior is "
                          "deprecated: resize out to zero elements with out.resize_(0) to reuse it.", UserWarning,
                          stacklevel=3)
        out.resize_(result.shape)
    with autograd.no_grad():
        out.copy_(result)
    return out


def accepting_out(fn, factory: bool = False):
    """``fn`` with PyTorch's ``out=`` keyword."""

    @functools.wraps(fn)
    def with_out(*args, out=None, **kwargs):
        if out is None:
            return fn(*args, **kwargs)
        if not isinstance(out, Tensor):
            raise TypeError(f"{fn.__name__}(): argument 'out' must be Tensor, not {type(out).__name__}")
        if autograd.is_grad_enabled() and _requires_grad((out, *args, *kwargs.values())):
            raise RuntimeError(f"{fn.__name__}(): functions with out=... arguments don't support automatic "
                               "differentiation, but one of the arguments requires grad.")
        if factory:
            kwargs.setdefault("dtype", out.dtype)
            kwargs.setdefault("device", out.device)
        return write_result(fn.__name__, fn(*args, **kwargs), out)

    return with_out


def add_out_arguments(namespace: dict) -> None:
    """Rebinds the functions above in ``namespace`` (the ``trainer`` module's) to their out= accepting forms."""
    for name in COMPUTING:
        namespace[name] = accepting_out(namespace[name])
    for name in FACTORIES:
        namespace[name] = accepting_out(namespace[name], factory=True)
