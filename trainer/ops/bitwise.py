"""Integer functions: bitwise and/or/xor/not (the logical ops on bools), the bit shifts, ``gcd`` and ``lcm``.

None is differentiable: they take and give integers or bools. Operands are promoted as for arithmetic
(``bool_tensor << 1`` is int64); floating-point operands are refused as PyTorch refuses them.
"""

from __future__ import annotations

from trainer.autograd.op import Function
from trainer.backend import xp_of
from trainer.ops._dtype_errors import not_implemented_for
from trainer.ops._operands import binary_ufunc, promote, quiet_fp_errors
from trainer.ops.compare import And, BitwiseAnd, BitwiseNot, BitwiseOr, BitwiseXor, Not, Or, Xor
from trainer.tensor import Tensor


class BitwiseLeftShift(Function):
    """``a << b`` as PyTorch computes it: the bits shifted as unsigned, so that signed values wrap around, and 0 for
    a shift that is negative or not below the width (where C leaves the result undefined)."""

    @staticmethod
    def forward(ctx, a, b):
        xp = xp_of(a)
        in_range = (b >= 0) & (b < a.dtype.itemsize * 8)
        unsigned = f"u{a.dtype.itemsize}"
        shift = xp.where(in_range, b, 0).astype(unsigned)
        shifted = binary_ufunc(a.astype(unsigned), shift, xp.left_shift).astype(a.dtype)
        return xp.where(in_range, shifted, 0).astype(a.dtype, copy=False)


class BitwiseRightShift(Function):
    """``a >> b``: arithmetic for signed types, so that a shift that is negative or past the sign bit gives -1 for
    negative values and 0 for the others; for unsigned types a shift not below the width gives 0."""

    @staticmethod
    def forward(ctx, a, b):
        xp = xp_of(a)
        bits = a.dtype.itemsize * 8
        if a.dtype.kind == "u":
            in_range = b < bits
            shifted = binary_ufunc(a, xp.where(in_range, b, 0), xp.right_shift)
            return xp.where(in_range, shifted, 0).astype(a.dtype, copy=False)
        shift = xp.where((b < 0) | (b >= bits), bits - 1, b).astype(b.dtype, copy=False)
        return binary_ufunc(a, shift, xp.right_shift)


class Gcd(Function):
    """The greatest common divisor, never negative except where it does not fit (``gcd(int64 min, 0)``). With the
    dtype's minimum as an operand PyTorch's own Euclid, on absolute values that overflow, can give other negative
    results where this gives the positive one."""

    @staticmethod
    def forward(ctx, a, b):
        return binary_ufunc(a, b, xp_of(a).gcd)


class Lcm(Function):
    """``|a / gcd(a, b) * b|``, 0 where both are 0, computed as PyTorch does: in at least 32 bits (C's promotion of
    narrower types) and with the absolute value taken last, so that a result too large for the dtype wraps as
    PyTorch's does (NumPy's ``lcm`` takes absolute values first, and differs from it there)."""

    @staticmethod
    def forward(ctx, a, b):
        xp = xp_of(a)
        wide = a.dtype if a.dtype.itemsize >= 4 else "int32"
        a_wide, b_wide = a.astype(wide), b.astype(wide)
        divisor = binary_ufunc(a_wide, b_wide, xp.gcd)
        with quiet_fp_errors(xp):  # the wrap-around is the result, not an accident
            lcm = xp.abs(a_wide // xp.where(divisor == 0, 1, divisor) * b_wide)
        return xp.where(divisor == 0, 0, lcm).astype(a.dtype)


def _integer_operands(kernel: str, op: str, operands, *, bools: bool) -> tuple[Tensor, ...]:
    """``operands`` promoted to one dtype, which must be an integer (or, with ``bools``, a bool) dtype."""
    operands = promote(*operands)
    if operands[0]._data.dtype.kind not in ("iub" if bools else "iu"):
        kinds = "integer and bool" if bools else "integer"
        raise not_implemented_for(kernel, operands[0], f"{op} is only defined for {kinds} tensors")
    return operands


def _bitwise(op: str, logical: type[Function], bitwise: type[Function], *operands) -> Tensor:
    """``& | ^ ~``: bitwise on integers; on bools, where bitwise and logical agree, the logical op."""
    operands = _integer_operands(op, op, operands, bools=True)
    return (logical if operands[0]._data.dtype.kind == "b" else bitwise).apply(*operands)


def bitwise_and(input, other):
    return _bitwise("bitwise_and", And, BitwiseAnd, input, other)


def bitwise_or(input, other):
    return _bitwise("bitwise_or", Or, BitwiseOr, input, other)


def bitwise_xor(input, other):
    return _bitwise("bitwise_xor", Xor, BitwiseXor, input, other)


def bitwise_not(input):
    if not isinstance(input, Tensor):
        raise TypeError(f"bitwise_not(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    return _bitwise("bitwise_not", Not, BitwiseNot, input)


def invert(input):
    """The ``~`` operator: ``bitwise_not``, which Python's operator refuses with a TypeError for floating point."""
    if input._data.dtype.kind not in "biu":
        raise TypeError("~ (operator.invert) is only implemented on integer and Boolean-type tensors")
    return bitwise_not(input)


def bitwise_left_shift(input, other):
    return BitwiseLeftShift.apply(*_integer_operands("lshift", "bitwise_left_shift", (input, other), bools=False))


def bitwise_right_shift(input, other):
    return BitwiseRightShift.apply(*_integer_operands("rshift", "bitwise_right_shift", (input, other), bools=False))


def _tensor_pair(op: str, input, other) -> None:
    for position, (name, value) in enumerate((("input", input), ("other", other)), start=1):
        if not isinstance(value, Tensor):
            raise TypeError(f"{op}(): argument '{name}' (position {position}) must be Tensor, "
                            f"not {type(value).__name__}")


def gcd(input, other):
    _tensor_pair("gcd", input, other)
    return Gcd.apply(*_integer_operands("gcd", "gcd", (input, other), bools=False))


def lcm(input, other):
    _tensor_pair("lcm", input, other)
    return Lcm.apply(*_integer_operands("lcm", "lcm", (input, other), bools=False))
