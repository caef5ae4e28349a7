"""PyTorch's second names for elementwise functions that exist here under their first name (``torch.absolute`` is
``torch.abs``, ``torch.greater`` is ``torch.gt``, ...): the same function objects, so each behaves exactly as
the function it names."""

from __future__ import annotations

from trainer.ops.arithmetic import div, mul, neg, sub
from trainer.ops.compare import ge, gt, le, lt, ne
from trainer.ops.complex_ops import sgn  # noqa: F401 - z / |z| for complex tensors, sign for real ones
from trainer.ops.unary import abs

absolute = abs
negative = neg
divide = div
multiply = mul
subtract = sub
greater = gt
greater_equal = ge
less = lt
less_equal = le
not_equal = ne
