"""The in-place forms of ``Tensor``'s elementwise methods (``x.exp_()``, ``x.lt_(y)``, ``x <<= 2``, ...).

Each runs its out-of-place method and hands the result to ``Tensor._assign``, as ``add_`` does in
``trainer.tensor``: ``self`` keeps its dtype (with PyTorch's error where the result cannot be cast to it, as for
``int_tensor.sqrt_()``), its version counter is bumped, autograd records the op as ``self``'s new history, a leaf
that requires grad is refused, and ``self`` is returned.
"""

from __future__ import annotations

import trainer  # trainer.ops is looked up at call time: it loads after this module


def _inplace(name: str):
    """The in-place form of the method ``name``."""

    def method(self, *args, **kwargs):
        self._check_inplace()
        return self._assign(getattr(self._own_version_alias(), name)(*args, **kwargs))

    return _named(method, name)


def _inplace_abs(name: str):
    """``abs_``: refused on a complex tensor, as in PyTorch, whose real magnitudes cannot be written back into it."""
    inplace = _inplace(name)

    def method(self):
        if self.is_complex():
            raise RuntimeError("In-place abs is not supported for complex tensors: use the out-of-place .abs(), "
                               "which returns a real tensor")
        return inplace(self)

    return _named(method, name)


def _inplace_comparison(name: str):
    """The in-place form of the comparison ``name``: the truth values in ``self``'s dtype, and, as in PyTorch, a
    zero gradient for ``self`` and ``other`` rather than none."""

    def method(self, other):
        self._check_inplace()
        alias = self._own_version_alias()
        operands = (alias, other) if isinstance(other, trainer.Tensor) else (alias,)
        return self._assign(trainer.ops.inplace.compare_in_place(getattr(alias, name)(other), *operands))

    return _named(method, name)


def _inplace_logical(name: str):
    """The in-place form of the logical op ``name``. PyTorch records nothing for it (its result has no gradient),
    so it allows it even on a leaf that requires grad, and a non-leaf keeps the history it had."""

    def method(self, *args):
        return self._assign(getattr(self, name)(*args))

    return _named(method, name)


def _named(method, name: str):
    method.__name__ = name + "_"
    method.__qualname__ = f"InplaceMethods.{name}_"
    method.__doc__ = f"In-place version of :meth:`Tensor.{name}`."
    return method


def _scan_dtype(self, op: str, dtype) -> None:
    """An in-place scan writes into ``self``: a ``dtype`` other than its own is refused, as in PyTorch."""
    if dtype is not None and trainer.dtypes.as_dtype(dtype) != self.dtype:
        raise RuntimeError(f"Bad in-place call: input tensor dtype {self.dtype.name} and output tensor dtype "
                           f"{trainer.dtypes.as_dtype(dtype).name} should match ({op}_ writes into the tensor)")


class InplaceMethods:
    __slots__ = ()

    # functions of one tensor
    abs_ = _inplace_abs("abs")
    absolute_ = _inplace_abs("absolute")
    neg_ = _inplace("neg")
    negative_ = _inplace("negative")
    sign_ = _inplace("sign")
    sgn_ = _inplace("sgn")
    square_ = _inplace("square")
    sqrt_ = _inplace("sqrt")
    rsqrt_ = _inplace("rsqrt")
    reciprocal_ = _inplace("reciprocal")
    exp_ = _inplace("exp")
    exp2_ = _inplace("exp2")
    expm1_ = _inplace("expm1")
    log_ = _inplace("log")
    log2_ = _inplace("log2")
    log10_ = _inplace("log10")
    log1p_ = _inplace("log1p")
    sin_ = _inplace("sin")
    cos_ = _inplace("cos")
    tan_ = _inplace("tan")
    asin_ = _inplace("asin")
    acos_ = _inplace("acos")
    atan_ = _inplace("atan")
    arcsin_ = _inplace("arcsin")
    arccos_ = _inplace("arccos")
    arctan_ = _inplace("arctan")
    sinh_ = _inplace("sinh")
    cosh_ = _inplace("cosh")
    tanh_ = _inplace("tanh")
    asinh_ = _inplace("asinh")
    acosh_ = _inplace("acosh")
    atanh_ = _inplace("atanh")
    arcsinh_ = _inplace("arcsinh")
    arccosh_ = _inplace("arccosh")
    arctanh_ = _inplace("arctanh")
    sigmoid_ = _inplace("sigmoid")
    relu_ = _inplace("relu")
    erf_ = _inplace("erf")
    erfc_ = _inplace("erfc")
    erfinv_ = _inplace("erfinv")
    fix_ = _inplace("fix")
    frac_ = _inplace("frac")
    digamma_ = _inplace("digamma")
    lgamma_ = _inplace("lgamma")
    polygamma_ = _inplace("polygamma")
    mvlgamma_ = _inplace("mvlgamma")
    i0_ = _inplace("i0")
    logit_ = _inplace("logit")
    sinc_ = _inplace("sinc")
    deg2rad_ = _inplace("deg2rad")
    rad2deg_ = _inplace("rad2deg")
    clamp_min_ = _inplace("clamp_min")
    clamp_max_ = _inplace("clamp_max")
    clip_ = _inplace("clip")

    # functions of two tensors (or a tensor and a number)
    divide_ = _inplace("divide")
    multiply_ = _inplace("multiply")
    subtract_ = _inplace("subtract")
    true_divide_ = _inplace("true_divide")
    pow_ = _inplace("pow")
    fmod_ = _inplace("fmod")
    remainder_ = _inplace("remainder")
    floor_divide_ = _inplace("floor_divide")
    atan2_ = _inplace("atan2")
    arctan2_ = _inplace("arctan2")
    hypot_ = _inplace("hypot")
    xlogy_ = _inplace("xlogy")
    copysign_ = _inplace("copysign")
    heaviside_ = _inplace("heaviside")
    ldexp_ = _inplace("ldexp")
    nextafter_ = _inplace("nextafter")
    igamma_ = _inplace("igamma")
    igammac_ = _inplace("igammac")
    addcmul_ = _inplace("addcmul")
    addcdiv_ = _inplace("addcdiv")

    def float_power_(self, exponent):
        """``float_power`` computes in double precision, so only a float64 tensor can hold its result."""
        if self.dtype != trainer.float64:
            raise RuntimeError(f"the base given to float_power_ has dtype "
                               f"{trainer.ops._dtype_errors.scalar_type_name(self.dtype)} but the operation's "
                               "result requires dtype Double")
        self._check_inplace()
        return self._assign(self._own_version_alias().float_power(exponent))

    # comparisons and logic
    eq_ = _inplace_comparison("eq")
    ne_ = _inplace_comparison("ne")
    lt_ = _inplace_comparison("lt")
    le_ = _inplace_comparison("le")
    gt_ = _inplace_comparison("gt")
    ge_ = _inplace_comparison("ge")
    not_equal_ = _inplace_comparison("not_equal")
    less_ = _inplace_comparison("less")
    less_equal_ = _inplace_comparison("less_equal")
    greater_ = _inplace_comparison("greater")
    greater_equal_ = _inplace_comparison("greater_equal")
    logical_and_ = _inplace_logical("logical_and")
    logical_or_ = _inplace_logical("logical_or")
    logical_xor_ = _inplace_logical("logical_xor")
    logical_not_ = _inplace_logical("logical_not")

    # integer functions
    bitwise_and_ = _inplace("bitwise_and")
    bitwise_or_ = _inplace("bitwise_or")
    bitwise_xor_ = _inplace("bitwise_xor")
    bitwise_not_ = _inplace("bitwise_not")
    bitwise_left_shift_ = _inplace("bitwise_left_shift")
    bitwise_right_shift_ = _inplace("bitwise_right_shift")
    gcd_ = _inplace("gcd")
    lcm_ = _inplace("lcm")

    # scans
    def cumsum_(self, dim, dtype=None):
        _scan_dtype(self, "cumsum", dtype)
        self._check_inplace()
        return self._assign(self._own_version_alias().cumsum(dim))

    def cumprod_(self, dim, dtype=None):
        _scan_dtype(self, "cumprod", dtype)
        self._check_inplace()
        return self._assign(self._own_version_alias().cumprod(dim))

    # augmented assignment, in place as in PyTorch
    __iand__ = bitwise_and_
    __ior__ = bitwise_or_
    __ixor__ = bitwise_xor_
    __ilshift__ = bitwise_left_shift_
    __irshift__ = bitwise_right_shift_
    __imod__ = remainder_
    __ifloordiv__ = floor_divide_
    __ipow__ = pow_
