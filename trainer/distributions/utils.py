"""Helpers shared by the distributions, as in ``torch.distributions.utils``."""

from __future__ import annotations

import functools
import numbers

from trainer import dtypes
from trainer.autograd import enable_grad
from trainer.creation import tensor
from trainer.ops.activation import softmax
from trainer.ops.shape import broadcast_tensors
from trainer.tensor import Tensor
from trainer.type_info import array_finfo

__all__ = ["broadcast_all", "clamp_probs", "lazy_property", "logits_to_probs", "probs_to_logits"]

euler_constant = 0.57721566490153286060  # the Euler-Mascheroni constant


def broadcast_all(*values):
    """Tensors and numbers broadcast to one shape; numbers become tensors of the first tensor's dtype and device
    (the default dtype when all are numbers)."""
    if not all(isinstance(v, (Tensor, numbers.Number)) for v in values):
        raise ValueError("Input arguments must all be instances of Number, trainer.Tensor or objects implementing "
                         f"__torch_function__, got {[type(v).__name__ for v in values]}")
    first = next((v for v in values if isinstance(v, Tensor)), None)
    options = ({"dtype": first.dtype, "device": first.device} if first is not None
               else {"dtype": dtypes.get_default_dtype()})
    return broadcast_tensors(*(v if isinstance(v, Tensor) else tensor(v, **options) for v in values))


def sum_rightmost(value, dim: int):
    """``value`` summed over its ``dim`` rightmost dims."""
    if dim == 0:
        return value
    return value.reshape(*value.shape[:-dim], -1).sum(-1)


def logits_to_probs(logits, is_binary: bool = False):
    """Probabilities from log-odds (``is_binary``) or from unnormalised log-probabilities over the last dim."""
    return logits.sigmoid() if is_binary else softmax(logits, -1)


def clamp_probs(probs):
    """``probs`` clamped into ``[eps, 1 - eps]`` for their dtype, so their logits stay finite."""
    eps = float(array_finfo(probs.dtype.np).eps)
    return probs.clamp(min=eps, max=1 - eps)


def probs_to_logits(probs, is_binary: bool = False):
    """Log-odds (``is_binary``) or log-probabilities of clamped ``probs``."""
    clamped = clamp_probs(probs)
    if is_binary:
        return clamped.log() - (-clamped).log1p()
    return clamped.log()


class lazy_property:  # noqa: N801 - PyTorch's name
    """A property computed on first use (with gradients recorded) and then stored on the instance, so that
    ``probs`` or ``logits`` are derived only when asked for."""

    def __init__(self, wrapped):
        self.wrapped = wrapped
        functools.update_wrapper(self, wrapped)

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        with enable_grad():
            value = self.wrapped(instance)
        setattr(instance, self.wrapped.__name__, value)
        return value
