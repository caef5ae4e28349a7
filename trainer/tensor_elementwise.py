"""More elementwise methods of ``Tensor``: PyTorch's second names (``x.absolute()``, ``x.greater(y)``), the
integer functions (``x.bitwise_and(y)``, ``x << 2``, ``x.gcd(y)``), ``addcmul``/``addcdiv``, ``fmax``/``fmin`` and
the questions ``is_signed``, ``is_nonzero``, ... Each delegates to ``trainer.ops``, as in ``trainer.tensor_methods``.
"""

from __future__ import annotations

import trainer  # trainer.ops is looked up at call time: it loads after this module


class ElementwiseMethods:
    __slots__ = ()

    # second names
    def absolute(self):
        return trainer.ops.aliases.absolute(self)

    def negative(self):
        return trainer.ops.aliases.negative(self)

    def divide(self, other, *, rounding_mode=None):
        return trainer.ops.aliases.divide(self, other, rounding_mode=rounding_mode)

    def multiply(self, other):
        return trainer.ops.aliases.multiply(self, other)

    def subtract(self, other, *, alpha=1):
        return trainer.ops.aliases.subtract(self, other, alpha=alpha)

    def true_divide(self, other):
        return trainer.ops.arithmetic.true_divide(self, other)

    def greater(self, other):
        return trainer.ops.aliases.greater(self, other)

    def greater_equal(self, other):
        return trainer.ops.aliases.greater_equal(self, other)

    def less(self, other):
        return trainer.ops.aliases.less(self, other)

    def less_equal(self, other):
        return trainer.ops.aliases.less_equal(self, other)

    def not_equal(self, other):
        return trainer.ops.aliases.not_equal(self, other)

    def sgn(self):
        return trainer.ops.aliases.sgn(self)

    # arithmetic and logic that tensor_methods lacks
    def positive(self):
        return trainer.ops.pointwise.positive(self)

    def remainder(self, other):
        return trainer.ops.arithmetic.remainder(self, other)

    def clamp_min(self, min):
        return trainer.ops.pointwise.clamp_min(self, min)

    def clamp_max(self, max):
        return trainer.ops.pointwise.clamp_max(self, max)

    def addcmul(self, tensor1, tensor2, *, value=1):
        return trainer.ops.pointwise.addcmul(self, tensor1, tensor2, value=value)

    def addcdiv(self, tensor1, tensor2, *, value=1):
        return trainer.ops.pointwise.addcdiv(self, tensor1, tensor2, value=value)

    def fmax(self, other):
        return trainer.ops.pointwise.fmax(self, other)

    def fmin(self, other):
        return trainer.ops.pointwise.fmin(self, other)

    def isclose(self, other, rtol=1e-5, atol=1e-8, equal_nan=False):
        return trainer.ops.compare.isclose(self, other, rtol, atol, equal_nan)

    def logical_and(self, other):
        return trainer.ops.compare.logical_and(self, other)

    def logical_or(self, other):
        return trainer.ops.compare.logical_or(self, other)

    def logical_xor(self, other):
        return trainer.ops.compare.logical_xor(self, other)

    # questions about values, dtype and shape
    def isneginf(self):
        return trainer.ops.predicates.isneginf(self)

    def isposinf(self):
        return trainer.ops.predicates.isposinf(self)

    def isreal(self):
        return trainer.ops.predicates.isreal(self)

    def is_complex(self):
        return trainer.ops.predicates.is_complex(self)

    def is_signed(self):
        return trainer.ops.predicates.is_signed(self)

    def is_nonzero(self):
        return trainer.ops.predicates.is_nonzero(self)

    def is_same_size(self, other):
        return trainer.ops.predicates.is_same_size(self, other)

    # integer functions
    def bitwise_and(self, other):
        return trainer.ops.bitwise.bitwise_and(self, other)

    def bitwise_or(self, other):
        return trainer.ops.bitwise.bitwise_or(self, other)

    def bitwise_xor(self, other):
        return trainer.ops.bitwise.bitwise_xor(self, other)

    def bitwise_not(self):
        return trainer.ops.bitwise.bitwise_not(self)

    def bitwise_left_shift(self, other):
        return trainer.ops.bitwise.bitwise_left_shift(self, other)

    def bitwise_right_shift(self, other):
        return trainer.ops.bitwise.bitwise_right_shift(self, other)

    def gcd(self, other):
        return trainer.ops.bitwise.gcd(self, other)

    def lcm(self, other):
        return trainer.ops.bitwise.lcm(self, other)

    def __lshift__(self, other):
        return trainer.ops.bitwise.bitwise_left_shift(self, other)

    def __rlshift__(self, other):
        return trainer.ops.bitwise.bitwise_left_shift(other, self)

    def __rshift__(self, other):
        return trainer.ops.bitwise.bitwise_right_shift(self, other)

    def __rrshift__(self, other):
        return trainer.ops.bitwise.bitwise_right_shift(other, self)
