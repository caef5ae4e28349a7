"""PyTorch's second names, the composed elementwise functions (addcmul, addcdiv, fmax, fmin, clamp_min, ...), the
integer functions (bitwise ops, shifts, gcd, lcm) and the in-place family against PyTorch: values, dtypes,
broadcasting, the gradients of every input, and PyTorch's errors. For each in-place op: the result equals the
out-of-place op's, ``self`` is returned, its version counter is bumped, the gradient through it on a non-leaf
equals PyTorch's, and leaves that require grad and results that cannot be cast to ``self``'s dtype are refused."""

import math
import zlib
from dataclasses import dataclass, field

import numpy as np
import pytest
import torch

import trainer
from tests.trainer.test_ops_parity import _assert_same, assert_forward_and_gradients_match_torch, output_tuple

NAN, INF = math.nan, math.inf


def _rng(key: str):
    return np.random.default_rng(zlib.crc32(key.encode()))


def _draw(rng, shape, domain: str):
    """Float64 data in the domain an op needs: "real", "pos" [0.5, 2], "nonzero" +-[0.5, 2], "unit" (-0.9, 0.9),
    "prob" (0.1, 0.9), "gt1" [1.5, 3]."""
    if domain == "pos":
        return rng.uniform(0.5, 2.0, shape)
    if domain == "nonzero":
        return rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape)
    if domain == "unit":
        return rng.uniform(-0.9, 0.9, shape)
    if domain == "prob":
        return rng.uniform(0.1, 0.9, shape)
    if domain == "gt1":
        return rng.uniform(1.5, 3.0, shape)
    return rng.standard_normal(shape)


def assert_same_results(fn):
    """``fn(lib)`` gives the same tensors (values, dtypes, shapes) in both libraries, or the same exception type."""
    try:
        theirs = output_tuple(fn(torch))
    except Exception as error:  # noqa: BLE001 - the type is what is compared
        with pytest.raises(type(error)):
            fn(trainer)
        return
    ours = output_tuple(fn(trainer))
    assert len(ours) == len(theirs)
    for i, (o, t) in enumerate(zip(ours, theirs)):
        if isinstance(t, torch.Tensor):
            _assert_same(o, t, f"output {i}")
        else:
            assert o == t, f"output {i}: {o!r} != {t!r}"


# ---------------------------------------------------------------- second names and compositions, with gradients

@dataclass(frozen=True)
class Case:
    id: str
    fn: object  # fn(lib, *inputs)
    shapes: tuple = ((3, 4),)
    domains: tuple = ("real",)
    data: object = None  # rng -> arrays, for exact values (ties, NaNs)

    def arrays(self):
        rng = _rng(self.id)
        if self.data is not None:
            return [np.asarray(a, dtype=np.float64) for a in self.data(rng)]
        domains = self.domains * len(self.shapes) if len(self.domains) == 1 else self.domains
        return [_draw(rng, s, d) for s, d in zip(self.shapes, domains)]


def _nan_and_ties(rng):
    a = [[1.0, NAN, 2.0, NAN, 3.0, -1.0], [0.5, 0.5, -INF, 4.0, NAN, 2.5]]
    b = [[NAN, 1.0, 3.0, NAN, 3.0, -2.0], [0.5, 1.5, 1.0, NAN, -3.0, 2.5]]
    return [a, b]


GRADIENT_CASES = [
    Case("absolute_negative", lambda lib, x: (lib.absolute(x), x.absolute(), lib.negative(x), x.negative())),
    Case("positive", lambda lib, x: (lib.positive(x) * 2, x.positive())),
    Case("divide", lambda lib, a, b: (lib.divide(a, b), a.divide(b), lib.divide(a, b, rounding_mode="floor"),
                                      a.divide(b, rounding_mode="trunc"), lib.true_divide(a, b), a.true_divide(2.5)),
         ((3, 4), (4,)), ("real", "nonzero")),
    Case("multiply_subtract", lambda lib, a, b: (lib.multiply(a, b), a.multiply(3), lib.subtract(a, b),
                                                 a.subtract(b, alpha=2.5), lib.subtract(a, 1.5, alpha=2)),
         ((3, 4), (3, 1))),
    Case("remainder_method", lambda lib, a, b: (a.remainder(b), a.remainder(-0.75)), ((3, 4), (4,)),
         ("real", "nonzero")),
    Case("sgn", lambda lib, x: (lib.sgn(x), x.sgn() * x)),
    Case("clamp_min_max_numbers", lambda lib, x: (lib.clamp_min(x, -0.3), x.clamp_min(0.2), lib.clamp_max(x, 0.4),
                                                  x.clamp_max(-0.1))),
    Case("clamp_min_max_tensors", lambda lib, x, lo, hi: (lib.clamp_min(x, lo), x.clamp_max(hi),
                                                          lib.clamp_max(lib.clamp_min(x, lo), hi)),
         ((3, 4), (4,), (3, 1))),
    Case("addcmul", lambda lib, x, a, b: (lib.addcmul(x, a, b), x.addcmul(a, b, value=-0.5),
                                          lib.addcmul(x, a, b, value=3)), ((3, 4), (3, 1), (4,))),
    Case("addcmul_broadcasts_input", lambda lib, x, a, b: lib.addcmul(x, a, b, value=2), ((4,), (2, 3, 1), (3, 4))),
    Case("addcdiv", lambda lib, x, a, b: (lib.addcdiv(x, a, b), x.addcdiv(a, b, value=0.25)),
         ((3, 4), (3, 4), (1, 4)), ("real", "real", "nonzero")),
    Case("fmax_fmin", lambda lib, a, b: (lib.fmax(a, b), a.fmin(b), lib.fmin(b, a), b.fmax(a)),
         data=_nan_and_ties),
    Case("fmax_fmin_broadcast", lambda lib, a, b: (lib.fmax(a, b), lib.fmin(a, b)), ((3, 4), (4,))),
]


@pytest.mark.parametrize("case", GRADIENT_CASES, ids=lambda c: c.id)
def test_values_and_gradients_match_torch(case):
    assert_forward_and_gradients_match_torch(case.fn, case.arrays())


def test_gradient_ids_are_unique():
    ids = [c.id for c in GRADIENT_CASES]
    assert len(ids) == len(set(ids))


def _floats(lib):
    return lib.tensor([[1.5, -0.0, INF, -INF], [NAN, 2.0, -3.5, 0.0]])


def _ints(lib, dtype="int64"):
    return lib.tensor([[0, 1, -2, 3], [5, -6, 7, 12]], dtype=getattr(lib, dtype))


def _uints(lib):
    return lib.tensor([[0, 1, 2, 3], [5, 6, 7, 200]], dtype=lib.uint8)


def _bools(lib):
    return lib.tensor([[True, False, True, False], [False, False, True, True]])


# functions of tensors without gradients: dtypes, promotion, predicates
VALUE_CASES = {
    "comparison_names": lambda lib: (lib.greater(_floats(lib), 1), _floats(lib).greater_equal(0.0),
                                     lib.less(_ints(lib), 2.5), _ints(lib).less_equal(_ints(lib).flip(1)),
                                     lib.not_equal(_floats(lib), _floats(lib)), _bools(lib).not_equal(True)),
    "names_keep_dtypes": lambda lib: (lib.absolute(_ints(lib, "int8")), lib.negative(_ints(lib, "int16")),
                                      lib.multiply(_ints(lib), 2.5), lib.divide(_ints(lib), 4),
                                      lib.divide(_ints(lib), -4, rounding_mode="floor"),
                                      lib.subtract(_ints(lib, "int32"), 3, alpha=2), lib.positive(_ints(lib))),
    "sgn_dtypes": lambda lib: (lib.sgn(_ints(lib)), lib.sgn(_bools(lib)), lib.sgn(_floats(lib)),
                               lib.sign(_floats(lib)), lib.square(_bools(lib))),
    "clamp_min_max_dtypes": lambda lib: (lib.clamp_min(_ints(lib), 0), lib.clamp_max(_ints(lib), 2.5),
                                         lib.clamp_min(_bools(lib), 0), _ints(lib, "int32").clamp_max(_ints(lib))),
    "addcmul_dtypes": lambda lib: (lib.addcmul(_ints(lib), _ints(lib), _ints(lib), value=2.7),
                                   lib.addcmul(_ints(lib), _ints(lib), _ints(lib), value=-1.5),
                                   lib.addcmul(_ints(lib, "int32"), lib.tensor(1.5), lib.tensor(2)),
                                   lib.addcmul(_ints(lib), _floats(lib), _ints(lib, "int8"), value=2),
                                   lib.addcmul(_floats(lib).half(), _floats(lib).double(), _floats(lib).half())),
    "addcdiv_dtypes": lambda lib: (lib.addcdiv(_ints(lib), _floats(lib), _ints(lib)),
                                   lib.addcdiv(_floats(lib), _ints(lib), _floats(lib), value=3)),
    "fmax_fmin_dtypes": lambda lib: (lib.fmax(_ints(lib), _floats(lib)), lib.fmin(_ints(lib), _ints(lib).flip(1)),
                                     lib.fmax(_bools(lib), _bools(lib).flip(0)),
                                     lib.fmin(_floats(lib), _floats(lib).flip(1))),
    "logic_methods": lambda lib: (_floats(lib).logical_and(_ints(lib)), _bools(lib).logical_or(_ints(lib)),
                                  _ints(lib).logical_xor(_floats(lib)), _floats(lib).isclose(_floats(lib)),
                                  _floats(lib).isclose(_floats(lib) + 1e-6, atol=1e-5, equal_nan=True)),
    "inf_checks": lambda lib: (lib.isneginf(_floats(lib)), lib.isposinf(_floats(lib)), _ints(lib).isneginf(),
                               _bools(lib).isposinf(), lib.isreal(_floats(lib)), _ints(lib).isreal(),
                               _bools(lib).isreal()),
    "is_questions": lambda lib: (lib.is_complex(_floats(lib)), _ints(lib).is_complex(),
                                 lib.is_floating_point(_floats(lib)), lib.is_floating_point(_ints(lib)),
                                 lib.is_nonzero(lib.tensor([[0.0]])), lib.tensor(NAN).is_nonzero(),
                                 lib.is_nonzero(lib.tensor([True])), lib.is_same_size(_ints(lib), _floats(lib)),
                                 _ints(lib).is_same_size(_ints(lib).t())),
    "is_signed": lambda lib: tuple(lib.is_signed(lib.zeros(1, dtype=getattr(lib, d))) for d in
                                   ("bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32",
                                    "float64")) + (_ints(lib).is_signed(),),
}


@pytest.mark.parametrize("name", sorted(VALUE_CASES))
def test_values_and_dtypes_match_torch(name):
    assert_same_results(VALUE_CASES[name])


def test_positive_returns_the_tensor_itself():
    x = trainer.randn(3)
    assert trainer.positive(x) is x and x.positive() is x


ERRORS = {
    "positive_bool": (RuntimeError, "The `\\+` operator, on a bool tensor is not supported",
                      lambda lib: lib.positive(_bools(lib))),
    "clamp_min_none": (TypeError, "clamp_min", lambda lib: lib.clamp_min(_ints(lib), None)),
    "clamp_max_none": (TypeError, "clamp_max", lambda lib: _ints(lib).clamp_max(None)),
    "addcmul_bool": (NotImplementedError, "\"addcmul_cpu.*\" not implemented for 'Bool'",
                     lambda lib: lib.addcmul(_bools(lib), _bools(lib), _bools(lib))),
    "addcmul_number": (TypeError, "argument 'tensor1' \\(position 2\\) must be Tensor, not float",
                       lambda lib: lib.addcmul(_floats(lib), 2.0, _floats(lib))),
    "addcdiv_integers": (RuntimeError, "Integer division with addcdiv is no longer supported",
                         lambda lib: lib.addcdiv(_floats(lib), _ints(lib), _bools(lib))),
    "fmax_number": (TypeError, "fmax\\(\\): argument 'other' \\(position 2\\) must be Tensor, not float",
                    lambda lib: lib.fmax(_floats(lib), 2.0)),
    "fmin_number_first": (TypeError, "fmin\\(\\): argument 'input' \\(position 1\\) must be Tensor, not float",
                          lambda lib: lib.fmin(2.0, _floats(lib))),
    "is_nonzero_many": (RuntimeError, "Boolean value of Tensor with more than one value is ambiguous",
                        lambda lib: lib.is_nonzero(_ints(lib))),
    "is_nonzero_empty": (RuntimeError, "Boolean value of Tensor with no values is ambiguous",
                         lambda lib: lib.tensor([]).is_nonzero()),
    "is_same_size_list": (TypeError, "argument 'other' \\(position 2\\) must be Tensor, not list",
                          lambda lib: lib.is_same_size(_ints(lib), [1, 2])),
    "isneginf_number": (TypeError, "isneginf\\(\\): argument 'input' \\(position 1\\) must be Tensor, not float",
                        lambda lib: lib.isneginf(1.0)),
    "is_floating_point_list": (TypeError, "must be Tensor, not list", lambda lib: lib.is_floating_point([1.0])),
    "is_signed_number": (TypeError, "must be Tensor, not int", lambda lib: lib.is_signed(1)),
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_errors_match_torch(name):
    kind, message, fn = ERRORS[name]
    with pytest.raises(kind, match=message):
        fn(torch)
    with pytest.raises(kind, match=message):
        fn(trainer)


# ---------------------------------------------------------------- integer functions

INT_DTYPES = ("uint8", "int8", "int16", "int32", "int64")


def _int_values(lib, dtype):
    """Every interesting value of ``dtype``: its extremes, zero, one, small and middling values of both signs."""
    info = np.iinfo(dtype)
    values = sorted({int(info.min), int(info.min) + 1, -7, -1, 0, 1, 5, 100, int(info.max) // 3, int(info.max)})
    return lib.tensor([v for v in values if info.min <= v <= info.max], dtype=getattr(lib, dtype))


def _shift_amounts(lib, dtype, n):
    """``n`` shift amounts: negative ones (for signed types), 0, small ones, the sign bit, the width and beyond."""
    bits = np.iinfo(dtype).bits
    amounts = [-1, 0, 1, 3, bits - 2, bits - 1, bits, bits + 1, 2 * bits + 3, -bits]
    amounts = [a for a in amounts if a >= 0] if dtype == "uint8" else amounts
    return lib.tensor((amounts * n)[:n], dtype=getattr(lib, dtype))


@pytest.mark.parametrize("dtype", INT_DTYPES)
def test_shifts_match_torch_at_every_width(dtype):
    def fn(lib):
        x = _int_values(lib, dtype)
        s = _shift_amounts(lib, dtype, len(x))
        table = x[:, None]  # every value against every shift amount
        return (table << s, table >> s, lib.bitwise_left_shift(table, s), table.bitwise_right_shift(s),
                x << 3, x >> 2, 1 << s.clamp(0, 5), x.bitwise_left_shift(0))

    assert_same_results(fn)


@pytest.mark.parametrize("dtype", INT_DTYPES)
def test_bitwise_ops_match_torch_at_every_width(dtype):
    def fn(lib):
        x = _int_values(lib, dtype)
        y = x.flip(0)
        return (x & y, x | y, x ^ y, ~x, lib.bitwise_and(x, 6), lib.bitwise_or(x, y), x.bitwise_xor(5),
                x.bitwise_not(), lib.bitwise_not(x), 12 & x, 3 | x, 9 ^ x)

    assert_same_results(fn)


@pytest.mark.parametrize("dtype", INT_DTYPES)
def test_gcd_and_lcm_match_torch_at_every_width(dtype):
    def fn(lib):
        # without the dtype's minimum, whose absolute value does not fit: there PyTorch's own gcd goes negative in
        # odd ways and its lcm dies of a division trap (SIGFPE) for int32 and int64
        y = _int_values(lib, dtype)[1:] if dtype != "uint8" else _int_values(lib, dtype)
        x = y[:, None]
        return lib.gcd(x, y), x.lcm(y), x.gcd(lib.tensor(6, dtype=x.dtype)), lib.lcm(x, lib.zeros_like(y))

    assert_same_results(fn)


def test_gcd_of_the_minimum_and_zero_is_the_minimum_as_in_torch():
    assert_same_results(lambda lib: lib.gcd(lib.tensor([-128, 0], dtype=lib.int8),
                                            lib.tensor([0, -128], dtype=lib.int8)))


INTEGER_CASES = {
    "bools": lambda lib: (_bools(lib) & _bools(lib).flip(1), _bools(lib) | True, _bools(lib) ^ _bools(lib).flip(0),
                          ~_bools(lib), lib.bitwise_not(_bools(lib)), _bools(lib).bitwise_and(False)),
    "bools_promote_with_ints": lambda lib: (_bools(lib) & 1, _bools(lib) << 1, 3 >> _bools(lib),
                                            _bools(lib) | _ints(lib, "int8"), lib.bitwise_xor(_bools(lib), 6)),
    "mixed_widths": lambda lib: (_ints(lib, "int8") & _ints(lib, "int32"), _uints(lib) | _ints(lib, "int8"),
                                 _ints(lib, "int16") << _uints(lib).clamp(0, 3),
                                 _ints(lib, "int32") >> lib.tensor(1), _uints(lib) ^ lib.tensor(-1),
                                 lib.gcd(_ints(lib, "int8"), _ints(lib, "int64")),
                                 lib.lcm(_uints(lib), _ints(lib, "int16"))),
    "broadcasting": lambda lib: (_ints(lib)[:, None] & _ints(lib), lib.gcd(_ints(lib)[0], _ints(lib)[:, :1]),
                                 _ints(lib)[:1] << _ints(lib).abs()),
    "gcd_lcm_signs": lambda lib: (lib.gcd(lib.tensor([-4, 4, -4, 0, 0, -9]), lib.tensor([6, -6, -6, 0, -5, 0])),
                                  lib.lcm(lib.tensor([-4, 4, -4, 0, 0, 2 ** 40]),
                                          lib.tensor([6, -6, -6, 0, -5, 2 ** 40 + 1]))),
    "float_and": lambda lib: _floats(lib) & 1,
    "float_or_int": lambda lib: _ints(lib) | 1.5,
    "float_not": lambda lib: ~_floats(lib),
    "float_xor": lambda lib: lib.bitwise_xor(_floats(lib), _floats(lib)),
    "float_shift": lambda lib: _floats(lib) << 1,
    "int_shift_by_float": lambda lib: _ints(lib) >> 1.5,
    "bool_shift": lambda lib: _bools(lib) << _bools(lib),
    "gcd_float": lambda lib: lib.gcd(_floats(lib), _floats(lib)),
    "lcm_bool": lambda lib: lib.lcm(_bools(lib), _bools(lib)),
    "gcd_number": lambda lib: lib.gcd(_ints(lib), 4),
    "bitwise_not_number": lambda lib: lib.bitwise_not(5),
}


@pytest.mark.parametrize("name", sorted(INTEGER_CASES))
def test_integer_functions_match_torch(name):
    assert_same_results(INTEGER_CASES[name])


@pytest.mark.parametrize("fn, kernel", [(lambda t: t & 1, "bitwise_and"), (lambda t: t << 1, "lshift"),
                                        (lambda t: t >> 1, "rshift"), (lambda t: t.bitwise_not(), "bitwise_not"),
                                        (lambda t: trainer.gcd(t, t), "gcd"), (lambda t: t.lcm(t), "lcm")])
def test_floats_are_refused_with_torch_message(fn, kernel):
    with pytest.raises(NotImplementedError, match=f"\"{kernel}_cpu\" not implemented for 'Double'.*got float64"):
        fn(trainer.ones(2, dtype=trainer.float64))


def test_integer_results_never_require_grad():
    x = trainer.tensor([1.0, 2.0], requires_grad=True)
    assert not (x.long() << 1).requires_grad and not trainer.gcd(x.long(), x.long()).requires_grad


# ---------------------------------------------------------------- the in-place family

@dataclass(frozen=True)
class InPlace:
    """``self.<name>(*args(lib, *others), **kwargs)`` on float64 data in ``domain``; ``others`` are the shapes (and
    domains) of extra tensor operands, which get gradients too."""

    name: str
    args: object = None  # args(lib, *others) -> the positional arguments
    kwargs: dict = field(default_factory=dict)
    domain: str = "real"
    others: tuple = ()  # (shape, domain) per tensor operand
    differentiable: bool = True  # False: PyTorch records nothing, and self keeps its history
    gradient: bool = True  # whether the gradient through it is compared with PyTorch's

    @property
    def id(self):
        return self.name + ("" if self.args is None and not self.kwargs else f"[{len(self.others)}{self.kwargs}]")

    def call(self, lib, t, name, others):
        args = () if self.args is None else self.args(lib, *others)
        return getattr(t, name)(*args, **self.kwargs)

    def arrays(self):
        rng = _rng(self.id)
        return [_draw(rng, (3, 4), self.domain)] + [_draw(rng, shape, d) for shape, d in self.others]


def _other(lib, o):
    return (o,)


UNARY_INPLACE = [InPlace(n) for n in ("abs_", "absolute_", "neg_", "negative_", "sign_", "sgn_", "square_", "exp_",
                                      "exp2_", "expm1_", "sin_", "cos_", "atan_", "arctan_", "sinh_", "cosh_",
                                      "tanh_", "asinh_", "arcsinh_", "sigmoid_", "relu_", "erf_", "erfc_", "fix_",
                                      "frac_", "i0_", "sinc_", "deg2rad_", "rad2deg_")]
UNARY_INPLACE += [InPlace(n, domain="pos") for n in ("sqrt_", "rsqrt_", "log_", "log2_", "log10_", "log1p_",
                                                     "digamma_", "lgamma_")]
UNARY_INPLACE += [InPlace(n, domain="unit") for n in ("tan_", "asin_", "acos_", "arcsin_", "arccos_", "atanh_",
                                                      "arctanh_", "erfinv_")]
UNARY_INPLACE += [InPlace(n, domain="gt1") for n in ("acosh_", "arccosh_")]
UNARY_INPLACE += [
    InPlace("reciprocal_", domain="nonzero"),
    InPlace("polygamma_", lambda lib: (1,), domain="pos"),
    InPlace("mvlgamma_", lambda lib: (2,), domain="gt1"),
    InPlace("logit_", domain="prob"),
    InPlace("logit_", kwargs={"eps": 0.2}, domain="prob"),
    InPlace("clamp_min_", lambda lib: (0.1,)),
    InPlace("clamp_max_", lambda lib: (-0.2,)),
    InPlace("clip_", lambda lib: (-0.5, 0.5)),
    InPlace("pow_", lambda lib: (2.5,), domain="pos"),
    InPlace("fmod_", lambda lib: (0.7,)),
    InPlace("remainder_", lambda lib: (-0.8,)),
    InPlace("xlogy_", lambda lib: (2.0,)),
    InPlace("copysign_", lambda lib: (-1.0,)),
    InPlace("multiply_", lambda lib: (3,)),
    InPlace("divide_", lambda lib: (4,)),
    InPlace("true_divide_", lambda lib: (-2.5,)),
    InPlace("subtract_", lambda lib: (1.5,), {"alpha": 2}),
    InPlace("cumsum_", lambda lib: (1,)),
    InPlace("cumprod_", lambda lib: (0,)),
]

UNARY_INPLACE += [
    InPlace("ldexp_", lambda lib: (lib.tensor([1, 2, 0, 3]),)),
    # PyTorch's gradient of ldexp is 0 for negative exponents (it takes 2 ** other in integers): values only
    InPlace("ldexp_", lambda lib: (lib.tensor([-1, 2, 0, -3]),), gradient=False),
    InPlace("copysign_", lambda lib: (lib.tensor([-1.0, 2.0, -0.0, 0.0], dtype=lib.float64),)),
    InPlace("nextafter_", lambda lib: (lib.tensor(0.0, dtype=lib.float64),)),
    # PyTorch has no derivative for these at all
    InPlace("floor_divide_", lambda lib: (0.3,), gradient=False),
    InPlace("heaviside_", lambda lib: (lib.tensor(0.5, dtype=lib.float64),), gradient=False),
]

BINARY_INPLACE = [
    InPlace("divide_", _other, others=(((3, 4), "nonzero"),)),
    InPlace("divide_", _other, {"rounding_mode": "floor"}, others=(((4,), "nonzero"),)),
    InPlace("multiply_", _other, others=(((3, 1), "real"),)),
    InPlace("subtract_", _other, {"alpha": -0.5}, others=(((4,), "real"),)),
    InPlace("true_divide_", _other, others=(((3, 4), "nonzero"),)),
    InPlace("pow_", _other, domain="pos", others=(((3, 4), "real"),)),
    InPlace("float_power_", _other, domain="pos", others=(((4,), "real"),)),
    InPlace("fmod_", _other, others=(((3, 4), "nonzero"),)),
    InPlace("remainder_", _other, others=(((3, 4), "nonzero"),)),
    InPlace("floor_divide_", _other, others=(((3, 4), "nonzero"),), gradient=False),
    InPlace("atan2_", _other, others=(((3, 4), "real"),)),
    InPlace("arctan2_", _other, others=(((4,), "real"),)),
    InPlace("hypot_", _other, others=(((3, 4), "real"),)),
    InPlace("xlogy_", _other, others=(((3, 4), "pos"),)),
    # trainer's copysign gives ``other`` no gradient where PyTorch gives zeros: values only
    InPlace("copysign_", _other, others=(((3, 4), "real"),), gradient=False),
    InPlace("heaviside_", _other, others=(((4,), "real"),), gradient=False),
    InPlace("clamp_min_", _other, others=(((3, 4), "real"),)),
    InPlace("clamp_max_", _other, others=(((3, 1), "real"),)),
    InPlace("addcmul_", lambda lib, a, b: (a, b), {"value": 0.5}, others=(((3, 1), "real"), ((4,), "real"))),
    InPlace("addcdiv_", lambda lib, a, b: (a, b), {"value": -2}, others=(((3, 4), "real"), ((3, 4), "nonzero"))),
]

# comparisons written in place: differentiable with a zero gradient, self's dtype kept
COMPARISON_INPLACE = [InPlace(n, _other, others=(((4,), "real"),))
                      for n in ("eq_", "ne_", "lt_", "le_", "gt_", "ge_", "not_equal_", "less_", "less_equal_",
                                "greater_", "greater_equal_")]
COMPARISON_INPLACE += [InPlace(n, lambda lib: (0.1,)) for n in ("lt_", "ge_", "greater_")]

# logic written in place: not differentiable in PyTorch, so self keeps the history it had
LOGICAL_INPLACE = [InPlace(n, _other, others=(((3, 4), "real"),), differentiable=False)
                   for n in ("logical_and_", "logical_or_", "logical_xor_")]
LOGICAL_INPLACE += [InPlace("logical_not_", differentiable=False)]

FLOAT_INPLACE = UNARY_INPLACE + BINARY_INPLACE + COMPARISON_INPLACE + LOGICAL_INPLACE
# PyTorch differentiates these only out of place ("the derivative for 'inplace version of asinh' is not
# implemented"): trainer's gradient through the in-place form must equal PyTorch's through the out-of-place one
NO_TORCH_INPLACE_GRADIENT = {"asinh_", "arcsinh_", "atanh_", "arctanh_", "acosh_", "arccosh_"}
DIFFERENTIABLE_INPLACE = [c for c in FLOAT_INPLACE if c.gradient]


@pytest.mark.parametrize("case", FLOAT_INPLACE, ids=lambda c: c.id)
def test_inplace_equals_out_of_place_and_torch(case):
    arrays = case.arrays()
    results = {}
    for lib in (torch, trainer):
        t, *others = [lib.tensor(a) for a in arrays]
        expected = case.call(lib, t.clone(), case.name[:-1], others).to(t.dtype)
        version = t._version
        out = case.call(lib, t, case.name, others)
        assert out is t, "the in-place op returns self"
        assert t._version > version, "the version counter is bumped"
        assert t.dtype == expected.dtype and t.shape == expected.shape
        np.testing.assert_array_equal(np.asarray(t), np.asarray(expected))
        results[lib] = t
    _assert_same(results[trainer], results[torch], case.name)


def _through(case, lib, arrays, in_place: bool):
    """The output and the input gradients of ``(x * 1).<op>(...) * 2``, the op applied in place or not."""
    inputs = [lib.tensor(a, requires_grad=True) for a in arrays]
    y = inputs[0] * 1  # a non-leaf, so that the in-place op is allowed and recorded
    if in_place:
        assert case.call(lib, y, case.name, inputs[1:]) is y
    else:
        y = case.call(lib, y, case.name[:-1], inputs[1:])
    out = y * 2  # and an op after it, which sees the new values
    out.backward(lib.tensor(_rng("upstream").standard_normal(tuple(out.shape))))
    # force: PyTorch hands some zero gradients over as ZeroTensors, which numpy() refuses otherwise
    return out, [None if t.grad is None else t.grad.numpy(force=True) for t in inputs]


@pytest.mark.parametrize("case", DIFFERENTIABLE_INPLACE, ids=lambda c: c.id)
def test_gradient_through_inplace_on_non_leaf_matches_torch(case):
    arrays = case.arrays()
    theirs, their_grads = _through(case, torch, arrays, in_place=case.name not in NO_TORCH_INPLACE_GRADIENT)
    ours, our_grads = _through(case, trainer, arrays, in_place=True)
    _assert_same(ours, theirs, "output")
    assert ours.requires_grad == theirs.requires_grad
    for i, (o, t) in enumerate(zip(our_grads, their_grads)):
        assert (o is None) == (t is None), f"input {i}: gradient {o} against torch's {t}"
        if t is not None:
            np.testing.assert_allclose(o, t, atol=1e-9, rtol=1e-9, err_msg=f"gradient of input {i}")


@pytest.mark.parametrize("case", COMPARISON_INPLACE + LOGICAL_INPLACE, ids=lambda c: c.id)
def test_inplace_logic_keeps_requires_grad_as_torch(case):
    for lib in (torch, trainer):
        x = lib.tensor(case.arrays()[0], requires_grad=True)
        y = x * 3
        case.call(lib, y, case.name, [lib.tensor(a) for a in case.arrays()[1:]])
        assert y.requires_grad and y.dtype == lib.float64
        y.sum().backward()
        expected = np.zeros((3, 4)) if case.differentiable else np.full((3, 4), 3.0)
        np.testing.assert_array_equal(np.asarray(x.grad), expected)


def test_inplace_comparison_with_a_grad_operand_gives_it_a_zero_gradient():
    for lib in (torch, trainer):
        other = lib.tensor([0.5, -1.0, 2.0], dtype=lib.float64, requires_grad=True)
        y = lib.zeros(3, dtype=lib.float64)
        y.lt_(other)
        assert y.requires_grad and y.tolist() == [1.0, 0.0, 1.0]
        (y * 5).sum().backward()
        assert other.grad.tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("case", [c for c in FLOAT_INPLACE if c not in LOGICAL_INPLACE], ids=lambda c: c.id)
def test_inplace_on_leaf_that_requires_grad_is_refused(case):
    arrays = case.arrays()
    for lib in (torch, trainer):
        x, *others = [lib.tensor(a) for a in arrays]
        x.requires_grad_()
        with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place"):
            case.call(lib, x, case.name, others)
        with lib.no_grad():  # allowed where nothing is recorded, as when initialising weights
            assert case.call(lib, x, case.name, others) is x


@pytest.mark.parametrize("case", LOGICAL_INPLACE, ids=lambda c: c.id)
def test_inplace_logic_is_allowed_on_a_leaf_as_in_torch(case):
    arrays = case.arrays()
    results = []
    for lib in (torch, trainer):
        x, *others = [lib.tensor(a) for a in arrays]
        x.requires_grad_()
        assert case.call(lib, x, case.name, others) is x and x.is_leaf and x.requires_grad
        results.append(x)
    _assert_same(results[1], results[0], case.name)


@pytest.mark.parametrize("name", ["sin_", "logit_", "addcmul_"])
def test_changing_a_value_saved_for_backward_is_still_detected(name):
    for lib in (torch, trainer):
        x = lib.tensor([0.2, 0.4, 0.6], dtype=lib.float64, requires_grad=True)
        y = x * 1
        z = y * y  # saves y
        getattr(y, name)(*((y.detach(), y.detach()) if name == "addcmul_" else ()))
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            z.sum().backward()


# each a sequence of in-place steps on the int64 ``x`` (or on a tensor made from it), checked after every step
INT_INPLACE = {
    "bitwise": [lambda lib, x, y: x.bitwise_and_(y), lambda lib, x, y: x.bitwise_or_(6),
                lambda lib, x, y: x.bitwise_xor_(y), lambda lib, x, y: x.bitwise_not_(),
                lambda lib, x, y: x.bitwise_left_shift_(y.clamp(-1, 9)), lambda lib, x, y: x.bitwise_right_shift_(2)],
    "gcd_lcm": [lambda lib, x, y: x.gcd_(y), lambda lib, x, y: x.lcm_(y.clamp(1, 5))],
    "arithmetic": [lambda lib, x, y: x.abs_(), lambda lib, x, y: x.neg_(), lambda lib, x, y: x.negative_(),
                   lambda lib, x, y: x.absolute_(), lambda lib, x, y: x.square_(), lambda lib, x, y: x.sub_(50),
                   lambda lib, x, y: x.sign_(), lambda lib, x, y: x.sgn_(), lambda lib, x, y: x.relu_(),
                   lambda lib, x, y: x.fix_(), lambda lib, x, y: x.multiply_(y),
                   lambda lib, x, y: x.subtract_(y, alpha=2),
                   lambda lib, x, y: x.pow_(2), lambda lib, x, y: x.remainder_(7), lambda lib, x, y: x.fmod_(-5),
                   lambda lib, x, y: x.floor_divide_(y), lambda lib, x, y: x.addcmul_(y, y, value=2)],
    "clamps": [lambda lib, x, y: x.clamp_min_(-3), lambda lib, x, y: x.clamp_max_(y), lambda lib, x, y: x.clip_(-2, 4)],
    "comparisons_keep_int_dtype": [lambda lib, x, y: x.clone().eq_(y), lambda lib, x, y: x.clone().lt_(1.5),
                                   lambda lib, x, y: x.clone().ge_(y), lambda lib, x, y: x.clone().not_equal_(0),
                                   lambda lib, x, y: x.clone().greater_(y)],
    "logic_keeps_int_dtype": [lambda lib, x, y: x.clone().logical_and_(y), lambda lib, x, y: x.clone().logical_or_(y),
                              lambda lib, x, y: x.clone().logical_xor_(y), lambda lib, x, y: x.clone().logical_not_()],
    "scans": [lambda lib, x, y: x.clone().cumsum_(1), lambda lib, x, y: x.clone().cumprod_(0)],
    "narrower_self": [lambda lib, x, y: x.int().add_(y), lambda lib, x, y: x.to(lib.int8).bitwise_or_(y),
                      lambda lib, x, y: x.int().cumsum_(0), lambda lib, x, y: x.to(lib.int16).eq_(y),
                      lambda lib, x, y: x.abs().to(lib.uint8).bitwise_left_shift_(3)],
    "bools": [lambda lib, x, y: (x > 0).bitwise_and_(y > 1), lambda lib, x, y: (x > 0).logical_xor_(y),
              lambda lib, x, y: (x > 0).eq_(y > 0), lambda lib, x, y: (x > 0).sign_(),
              lambda lib, x, y: (x > 0).bitwise_not_()],
}


@pytest.mark.parametrize("name", sorted(INT_INPLACE))
def test_integer_inplace_match_torch(name):
    def fn(lib):
        x = lib.tensor([[3, -4, 0, 7], [12, -9, 5, 1]])
        y = lib.tensor([2, 6, -3, 1])
        return tuple(step(lib, x, y).clone() for step in INT_INPLACE[name]) + (x,)

    assert_same_results(fn)


BAD_CASTS = {
    "sqrt_": lambda x: x.sqrt_(), "exp_": lambda x: x.exp_(), "log1p_": lambda x: x.log1p_(),
    "sin_": lambda x: x.sin_(), "sigmoid_": lambda x: x.sigmoid_(), "reciprocal_": lambda x: x.reciprocal_(),
    "erfinv_": lambda x: x.erfinv_(), "i0_": lambda x: x.i0_(), "deg2rad_": lambda x: x.deg2rad_(),
    "divide_": lambda x: x.divide_(2), "true_divide_": lambda x: x.true_divide_(x),
    "multiply_": lambda x: x.multiply_(1.5), "pow_": lambda x: x.pow_(0.5), "xlogy_": lambda x: x.xlogy_(2),
    "atan2_": lambda x: x.atan2_(x), "addcdiv_": lambda x: x.addcdiv_(x.double(), x),
    "clamp_min_": lambda x: x.clamp_min_(0.5), "bool_add_": lambda x: (x > 0).sgn_().add_(1),
    "bool_shift": lambda x: (x > 0).bitwise_left_shift_(1), "bool_gcd_": lambda x: (x > 0).gcd_(x),
}


@pytest.mark.parametrize("name", sorted(BAD_CASTS))
def test_results_that_cannot_be_cast_to_self_are_refused(name):
    for lib in (torch, trainer):
        x = lib.tensor([1, 4, 9])
        with pytest.raises(RuntimeError, match="can't be cast to the desired output type"):
            BAD_CASTS[name](x)
        assert x.tolist() == [1, 4, 9], "a refused in-place op leaves self unchanged"


def test_float_power_inplace_needs_a_double_tensor():
    for lib in (torch, trainer):
        with pytest.raises(RuntimeError, match="the base given to float_power_ has dtype Float but the operation's "
                                               "result requires dtype Double"):
            lib.ones(2).float_power_(2)


@pytest.mark.parametrize("name", ["cumsum_", "cumprod_"])
def test_inplace_scans_refuse_another_dtype(name):
    for lib in (torch, trainer):
        with pytest.raises(RuntimeError, match="Bad in-place call: input tensor dtype .* and output tensor dtype .* "
                                               "should match"):
            getattr(lib.ones(3), name)(0, dtype=lib.float64)
        assert getattr(lib.ones(3, dtype=lib.float64), name)(0, dtype=lib.float64).dtype == lib.float64


def test_inplace_result_must_keep_self_shape():
    for lib in (torch, trainer):
        with pytest.raises(RuntimeError, match=r"output with shape \[3\] doesn't match the broadcast shape \[2, 3\]"):
            lib.zeros(3).lt_(lib.zeros(2, 3))


AUGMENTED = {
    "&=": lambda x, y: x.__iand__(y), "|=": lambda x, y: x.__ior__(y), "^=": lambda x, y: x.__ixor__(y),
    "<<=": lambda x, y: x.__ilshift__(y.abs()), ">>=": lambda x, y: x.__irshift__(y.abs()),
    "%=": lambda x, y: x.__imod__(y), "//=": lambda x, y: x.__ifloordiv__(y), "**=": lambda x, y: x.__ipow__(2),
}


@pytest.mark.parametrize("op", sorted(AUGMENTED))
def test_augmented_assignment_is_in_place(op):
    results = []
    for lib in (torch, trainer):
        x, y = lib.tensor([3, -4, 12, 7]), lib.tensor([2, 3, -5, 1])
        version = x._version
        assert AUGMENTED[op](x, y) is x and x._version > version
        results.append(x.tolist())
    assert results[0] == results[1]


def test_augmented_assignment_statements():
    x = trainer.tensor([5, 6])
    alias = x
    x <<= 2
    x |= 1
    x %= 7
    assert x is alias and x.tolist() == [0, 4]


TOP_LEVEL_ARGS = {
    "clamp_": (-0.5, 0.5), "clamp_min_": (0.1,), "clamp_max_": (-0.1,), "clip_": (-0.3, 0.2),
    "ldexp_": (np.array([1, 2, -1, 0]),), "xlogy_": (2.0,), "logit_": (0.1,), "round_": (), "nan_to_num_": (1.0,),
}
TOP_LEVEL_DOMAINS = {"sqrt_": "pos", "rsqrt_": "pos", "log_": "pos", "log2_": "pos", "log10_": "pos",
                     "log1p_": "pos", "acosh_": "gt1", "arccosh_": "gt1", "logit_": "prob", "reciprocal_": "nonzero"}
TOP_LEVEL_INPLACE = sorted(n for n in dir(trainer.ops.inplace) if n.endswith("_") and not n.startswith("_"))


@pytest.mark.parametrize("name", [n for n in TOP_LEVEL_INPLACE if n not in ("gcd_", "lcm_")])
def test_top_level_inplace_functions_match_torch(name):
    data = _draw(_rng(name), (4,), TOP_LEVEL_DOMAINS.get(name, "unit"))
    results = []
    for lib in (torch, trainer):
        t = lib.tensor(data)
        args = [lib.tensor(a) if isinstance(a, np.ndarray) else a for a in TOP_LEVEL_ARGS.get(name, ())]
        assert getattr(lib, name)(t, *args) is t
        results.append(t)
    _assert_same(results[1], results[0], name)


def test_top_level_integer_inplace_functions_match_torch():
    assert_same_results(lambda lib: (lib.gcd_(lib.tensor([12, -8, 0]), lib.tensor([18, 6, 5])),
                                     lib.lcm_(lib.tensor([4, -6, 0]), lib.tensor([6, 4, 5]))))


def test_top_level_inplace_functions_are_torchs():
    """Every top-level in-place elementwise function PyTorch has (where trainer has the function itself) exists."""
    elementwise = {"abs", "acos", "acosh", "arccos", "arccosh", "arcsin", "arcsinh", "arctan", "arctanh", "asin",
                   "asinh", "atan", "atanh", "ceil", "clamp", "clamp_max", "clamp_min", "clip", "cos", "cosh",
                   "deg2rad", "erf", "erfc", "exp", "exp2", "expm1", "fix", "floor", "frac", "gcd", "i0", "lcm",
                   "ldexp", "log", "log10", "log1p", "log2", "logit", "nan_to_num", "neg", "negative", "rad2deg",
                   "reciprocal", "relu", "round", "rsqrt", "sigmoid", "sin", "sinc", "sinh", "sqrt", "square", "tan",
                   "tanh", "trunc", "xlogy"}
    assert {n + "_" for n in elementwise if hasattr(torch, n + "_")} == set(TOP_LEVEL_INPLACE)
    with pytest.raises(TypeError, match="exp_\\(\\): argument 'input' \\(position 1\\) must be Tensor, not float"):
        trainer.exp_(1.0)


def test_every_inplace_elementwise_method_of_torch_exists():
    names = {c.name for c in FLOAT_INPLACE} | {
        "bitwise_and_", "bitwise_or_", "bitwise_xor_", "bitwise_not_", "bitwise_left_shift_", "bitwise_right_shift_",
        "gcd_", "lcm_", "floor_", "ceil_", "round_", "trunc_", "nan_to_num_", "clamp_", "add_", "sub_", "mul_",
        "div_"}
    assert all(hasattr(torch.Tensor, n) for n in names)
    assert [n for n in sorted(names) if not hasattr(trainer.Tensor, n)] == []


@pytest.mark.cuda
def test_new_functions_on_cuda_match_cpu():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 3, 4))
    ints = rng.integers(-100, 100, (3, 4))
    shifts = rng.integers(-3, 70, (3, 4))

    def run(device):
        x, y = trainer.tensor(a, device=device), trainer.tensor(b, device=device)
        i, s = trainer.tensor(ints, device=device), trainer.tensor(shifts, device=device)
        z = x * 1
        z.sin_().addcmul_(x, y, value=0.5).lt_(0.2)
        return [trainer.fmax(x, y.masked_fill(y > 0.5, NAN)), trainer.addcdiv(x, y, y.abs() + 1), i << s, i >> s,
                trainer.gcd(i, s), trainer.lcm(i, s), i & s, ~i, trainer.isposinf(x / 0), z]

    for cpu, gpu in zip(run("cpu"), run("cuda")):
        assert gpu.device.type == "cuda" and gpu.dtype == cpu.dtype
        np.testing.assert_allclose(gpu.cpu().numpy(), cpu.numpy(), rtol=1e-12, atol=1e-12)
