"""Gradient clipping, as in ``torch.nn.utils``: by the norm of all gradients together, or elementwise by value.

Both write into each ``param.grad``'s own array (recording nothing, as PyTorch's run under ``no_grad``) and skip
parameters without a gradient. ``foreach`` is accepted for PyTorch compatibility; there is one implementation, a
loop over the gradients, on NumPy and CuPy alike.
"""

from __future__ import annotations

import math
import types
import warnings
from collections.abc import Iterable

import numpy as np

from trainer.backend import device_of, to_device, xp_of
from trainer.tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_", "get_total_norm"]


def get_total_norm(tensors: Tensor | Iterable[Tensor], norm_type: float = 2.0, error_if_nonfinite: bool = False,
                   foreach: bool | None = None) -> Tensor:
    """The ``norm_type``-norm of all ``tensors`` as if flattened into one vector (``inf`` for the largest magnitude).

    Computed as the norm of the tensors' own norms, on the first tensor's device; 0 for no tensors.
    """
    tensors = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    norm_type = float(norm_type)
    if not tensors:
        return Tensor._wrap(np.zeros((), np.float32))
    first_device = device_of(tensors[0]._data)
    norms = [to_device(_vector_norm(t._data, norm_type), first_device) for t in tensors]
    total = _vector_norm(xp_of(norms[0]).stack(norms), norm_type)
    if error_if_nonfinite and not bool(xp_of(total).isfinite(total)):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, so it "
                           "cannot be clipped. To disable this error and scale the gradients by the non-finite norm "
                           "anyway, set `error_if_nonfinite=False`")
    return Tensor._wrap(total)


def clip_grads_with_norm_(parameters: Tensor | Iterable[Tensor], max_norm: float, total_norm: Tensor,
                          foreach: bool | None = None) -> None:
    """Scale the gradients in place by ``min(max_norm / (total_norm + 1e-6), 1)``, given an already computed norm."""
    parameters = [parameters] if isinstance(parameters, Tensor) else parameters
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return
    total = total_norm._data
    coefficient = xp_of(total).minimum(float(max_norm) / (total + 1e-6), 1.0)
    for grad in grads:
        factor = to_device(coefficient, grad.device).astype(grad._data.dtype)  # never promotes the gradient
        grad._data *= factor
        grad._version_counter.value += 1


def clip_grad_norm_(parameters: Tensor | Iterable[Tensor], max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:
    """Scale all gradients together so that their total ``norm_type``-norm is at most ``max_norm``.

    Returns the total norm before clipping. With ``error_if_nonfinite`` a NaN or infinite norm raises instead of
    turning every gradient into NaN.
    """
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    else:
        was_generator = isinstance(parameters, types.GeneratorType)
        parameters = list(parameters)
        if was_generator and not parameters:
            warnings.warn("`parameters` is an empty generator, no gradient clipping will occur.", stacklevel=2)
    grads = [p.grad for p in parameters if p.grad is not None]
    total_norm = get_total_norm(grads, norm_type, error_if_nonfinite, foreach)
    clip_grads_with_norm_(parameters, max_norm, total_norm, foreach)
    return total_norm


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float, foreach: bool | None = None) -> None:
    """Clamp every gradient elementwise into ``[-clip_value, clip_value]``, in place."""
    parameters = [parameters] if isinstance(parameters, Tensor) else parameters
    clip_value = float(clip_value)
    for param in parameters:
        grad = param.grad
        if grad is not None:
            xp_of(grad._data).clip(grad._data, -clip_value, clip_value, out=grad._data)
            grad._version_counter.value += 1


def _vector_norm(array, ord: float):
    """``torch.linalg.vector_norm(array, ord)`` of a whole array, as a 0-d array of its dtype."""
    xp = xp_of(array)
    if array.size == 0:
        return xp.zeros((), array.dtype)
    magnitude = xp.abs(array)
    if ord == math.inf:
        norm = magnitude.max()
    elif ord == -math.inf:
        norm = magnitude.min()
    elif ord == 0:
        norm = xp.count_nonzero(array)
    elif ord == 1:
        norm = magnitude.sum()
    elif ord == 2:
        norm = xp.sqrt((magnitude * magnitude).sum())
    else:
        norm = (magnitude**ord).sum() ** (1.0 / ord)
    return xp.asarray(norm, dtype=array.dtype)


def clip_grad_norm(parameters: Tensor | Iterable[Tensor], max_norm: float, norm_type: float = 2.0,
                   error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:
    """Deprecated: ``clip_grad_norm_``."""
    warnings.warn("`torch.nn.utils.clip_grad_norm` is now deprecated in favor of `torch.nn.utils.clip_grad_norm_`.",
                  FutureWarning, stacklevel=2)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)
