"""Sizes read from tensors while tracing: ints that remember where they came from.

``x.shape[0]`` during tracing is a ``SymInt``: equal to the traced size, and carrying either the
(tensor, axis) it was read from or the arithmetic that combined such sizes. Lowerings that receive
one in an attribute (a reshape target, a slice bound) emit it as Shape/Gather (and Add/Mul/...)
nodes, so the graph recomputes it for every input instead of baking in the traced value.
"""

from __future__ import annotations

import operator


class SymInt(int):
    """An int with a ``source``: ``("dim", tensor, axis)`` or ``(op_name, left, right)``."""

    source: tuple

    def __new__(cls, value: int, source: tuple):
        self = super().__new__(cls, value)
        self.source = source
        return self

    def __repr__(self):
        return int.__repr__(self)

    def _combine(self, other, onnx_op, fn, reflected=False):
        if not isinstance(other, int) or isinstance(other, bool):
            return fn(int(self), other) if not reflected else fn(other, int(self))
        left, right = (other, self) if reflected else (self, other)
        value = fn(int(left), int(right))
        return SymInt(value, (onnx_op, left, right))

    def __add__(self, other):
        return self._combine(other, "Add", operator.add)

    def __radd__(self, other):
        return self._combine(other, "Add", operator.add, reflected=True)

    def __sub__(self, other):
        return self._combine(other, "Sub", operator.sub)

    def __rsub__(self, other):
        return self._combine(other, "Sub", operator.sub, reflected=True)

    def __mul__(self, other):
        return self._combine(other, "Mul", operator.mul)

    def __rmul__(self, other):
        return self._combine(other, "Mul", operator.mul, reflected=True)

    def __floordiv__(self, other):
        # ONNX's integer Div truncates; sizes are non-negative, where truncation is floor
        return self._combine(other, "Div", operator.floordiv)

    def __rfloordiv__(self, other):
        return self._combine(other, "Div", operator.floordiv, reflected=True)


def contains_symbolic(value) -> bool:
    """Whether a (nested) attribute value holds a ``SymInt`` (slices, tuples and lists are searched)."""
    if isinstance(value, SymInt):
        return True
    if isinstance(value, slice):
        return any(contains_symbolic(v) for v in (value.start, value.stop, value.step))
    if isinstance(value, (tuple, list)):
        return any(contains_symbolic(v) for v in value)
    if isinstance(value, dict):
        return any(contains_symbolic(v) for v in value.values())
    return False
