"""PyTorch's public type-promotion queries: ``result_type`` of tensors and numbers, and ``can_cast``."""

from __future__ import annotations

import numpy as np

from trainer import dtypes
from trainer.tensor import Tensor

_NUMBERS = (bool, int, float, np.number, np.bool_)


def result_type(tensor1, tensor2) -> dtypes.dtype:
    """The dtype an arithmetic op on ``tensor1`` and ``tensor2`` (tensors or Python numbers) gives: tensors with
    dimensions decide within a category, 0-d tensors and then numbers only when of a higher category."""
    tensors, scalars = [], []
    for operand in (tensor1, tensor2):
        if isinstance(operand, Tensor):
            tensors.append((operand.dtype, operand.ndim))
        elif isinstance(operand, _NUMBERS):
            scalars.append(dtypes.scalar_dtype(operand))
        else:
            raise TypeError(f"result_type(): expected a Tensor or a Number, got {type(operand).__name__}")
    if not tensors:  # two numbers: each a 0-d tensor of its own dtype
        tensors, scalars = [(d, 0) for d in scalars], []
    return dtypes.result_type(tensors, scalars)


def can_cast(from_, to) -> bool:
    """Whether PyTorch's type promotion allows casting ``from_`` to ``to``: never from floating point to an integer
    or boolean type, never from a non-boolean type to bool."""
    for name, d in (("from_", from_), ("to", to)):
        if not isinstance(d, dtypes.dtype):
            raise TypeError(f"can_cast(): argument '{name}' must be trainer.dtype, not {type(d).__name__}")
    if from_.is_floating_point and not to.is_floating_point:
        return False
    return not (to is dtypes.bool and from_ is not dtypes.bool)
