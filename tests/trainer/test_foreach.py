"""``torch._foreach_*`` and ``torch._assert`` against PyTorch: every function on lists of tensors of mixed shapes, in
each argument form, out-of-place (values and gradients) and in place (values, gradients through the change, the
returned list, version counters), each result equal to the single-tensor op's, and PyTorch's errors."""

import math

import numpy as np
import pytest
import torch

import trainer
from tests.trainer.test_ops_parity import assert_forward_and_gradients_match_torch, assert_raises_like_torch
from trainer.foreach import UNARY

SHAPES = ((2, 3), (4,), ())


def _arrays(count, low=0.5, high=2.0, seed=0, shapes=SHAPES):
    """``count`` lists' worth of float64 arrays of ``shapes``, flattened, in ``[low, high]``."""
    rng = np.random.default_rng(seed)
    return [rng.uniform(low, high, shape) for _ in range(count) for shape in shapes]


def _lists(tensors, count):
    n = len(tensors) // count
    return [list(tensors[i * n:(i + 1) * n]) for i in range(count)]


def _in_place_result(lib, name, count, *args, **kwargs):
    """``_foreach_<name>_`` on copies of the first list (non-leaves, so the change is recorded); the copies."""

    def fn(lib, *tensors):
        self, *others = _lists(tensors, count)
        self = [t * 1 for t in self]
        returned = getattr(lib, f"_foreach_{name}_")(self, *others, *args, **kwargs)
        assert returned is self
        return tuple(self)

    return fn


def test_every_foreach_function_of_torch_is_there():
    theirs = {n for n in dir(torch) if n.startswith("_foreach_")}
    assert theirs == {n for n in dir(trainer) if n.startswith("_foreach_")}


# ----------------------------------------------------------------------------------------------- unary
@pytest.mark.parametrize("name", UNARY)
def test_unary_matches_torch_values_and_gradients(name):
    arrays = _arrays(1, 0.1, 0.9)  # inside every domain (acos, log, lgamma, rsqrt, ...)
    assert_forward_and_gradients_match_torch(lambda lib, *ts: getattr(lib, f"_foreach_{name}")(list(ts)), arrays)
    assert_forward_and_gradients_match_torch(_in_place_result(torch, name, 1), arrays)


@pytest.mark.parametrize("name", UNARY)
def test_unary_equals_the_single_tensor_op_bitwise(name):
    for dtype in (trainer.float32, trainer.float64):
        tensors = [trainer.tensor(a, dtype=dtype) for a in _arrays(1, 0.1, 0.9)]
        results = getattr(trainer, f"_foreach_{name}")(tensors)
        assert isinstance(results, tuple)
        for t, r in zip(tensors, results):
            assert np.array_equal(np.asarray(r), np.asarray(getattr(t, name)()))
        versions = [t._version for t in tensors]
        assert getattr(trainer, f"_foreach_{name}_")(tensors) is tensors
        assert [t._version for t in tensors] == [v + 1 for v in versions]
        for t, r in zip(tensors, results):
            assert np.array_equal(np.asarray(t), np.asarray(r))


# ----------------------------------------------------------------------------------------------- binary
def _zero_dim(lib):
    return lib.tensor(1.75, dtype=lib.float64)


# (op, forms as (id, arguments after self as fn(lib, other_list))); ``other_list`` is the second list of tensors
BINARY = {
    "add": [("scalar", lambda lib, o: (2.5,)), ("scalars", lambda lib, o: ([2.5, -1, 3],)),
            ("tensor", lambda lib, o: (_zero_dim(lib),)),
            ("tensor_alpha", lambda lib, o: (_zero_dim(lib), {"alpha": 2})),
            ("tensors", lambda lib, o: (o,)), ("tensors_alpha", lambda lib, o: (o, {"alpha": -0.5}))],
    "sub": [("scalar", lambda lib, o: (2.5,)), ("scalars", lambda lib, o: ([2.5, -1, 3],)),
            ("tensors_alpha", lambda lib, o: (o, {"alpha": 3}))],
    "mul": [("scalar", lambda lib, o: (2.5,)), ("scalars", lambda lib, o: ([2.5, -1, 3],)),
            ("tensor", lambda lib, o: (_zero_dim(lib),)), ("tensors", lambda lib, o: (o,))],
    "div": [("scalar", lambda lib, o: (2.5,)), ("scalars", lambda lib, o: ([2.5, -1, 3],)),
            ("tensor", lambda lib, o: (_zero_dim(lib),)), ("tensors", lambda lib, o: (o,))],
    "pow": [("scalar", lambda lib, o: (2.5,)), ("scalars", lambda lib, o: ([2.5, -1, 3],)),
            ("tensors", lambda lib, o: (o,)), ("zero_dim_as_scalar", lambda lib, o: (_zero_dim(lib),))],
}
for _name in ("clamp_min", "clamp_max", "maximum", "minimum"):
    BINARY[_name] = [("scalar", lambda lib, o: (1.25,)), ("scalars", lambda lib, o: ([1.25, 0.75, 1.5],)),
                     ("tensors", lambda lib, o: (o,)), ("zero_dim_as_scalar", lambda lib, o: (_zero_dim(lib),))]
BINARY_CASES = [(name, form_id, form) for name, forms in BINARY.items() for form_id, form in forms]


def _form_arguments(lib, form, other):
    """A form's arguments after ``self``, as ``(args, kwargs)``."""
    args = form(lib, other)
    return (args[:-1], args[-1]) if isinstance(args[-1], dict) else (args, {})


def _call_binary(lib, name, form, tensors, in_place=False):
    self, other = _lists(tensors, 2)
    args, kwargs = _form_arguments(lib, form, other)
    if not in_place:
        return getattr(lib, f"_foreach_{name}")(self, *args, **kwargs)
    self = [t * 1 for t in self]
    assert getattr(lib, f"_foreach_{name}_")(self, *args, **kwargs) is self
    return tuple(self)


@pytest.mark.parametrize(("name", "form_id", "form"), BINARY_CASES, ids=[f"{n}-{f}" for n, f, _ in BINARY_CASES])
def test_binary_matches_torch_values_and_gradients(name, form_id, form):
    arrays = _arrays(2)
    assert_forward_and_gradients_match_torch(lambda lib, *ts: _call_binary(lib, name, form, ts), arrays)
    # PyTorch has no derivative for _foreach_maximum_/minimum_ with numbers: trainer's in-place gradients are checked
    # against its out-of-place ones there
    torch_in_place = not (name in ("maximum", "minimum") and form_id != "tensors")
    assert_forward_and_gradients_match_torch(
        lambda lib, *ts: _call_binary(lib, name, form, ts, in_place=lib is trainer or torch_in_place), arrays)


@pytest.mark.parametrize(("name", "form_id", "form"), BINARY_CASES, ids=[f"{n}-{f}" for n, f, _ in BINARY_CASES])
def test_binary_equals_the_single_tensor_op_bitwise(name, form_id, form):
    for dtype in (trainer.float32, trainer.float64):
        tensors = [trainer.tensor(a, dtype=dtype) for a in _arrays(2)]
        results = _call_binary(trainer, name, form, tensors)
        self, other = _lists(tensors, 2)
        args, kwargs = _form_arguments(trainer, form, other)
        for i, (t, r) in enumerate(zip(self, results)):
            o = args[0][i] if isinstance(args[0], list) else args[0]
            if name in ("maximum", "minimum"):  # torch.maximum takes tensors: a number as a 0-dim one
                o = o if isinstance(o, trainer.Tensor) and o.ndim else trainer.tensor(float(o), dtype=dtype)
                expected = getattr(trainer, name)(t, o)
            else:
                # a 0-dim tensor is PyTorch's Scalar form where that comes first (add, sub, pow, clamp_*)
                as_number = form_id == "zero_dim_as_scalar" or (name == "add" and form_id == "tensor")
                expected = getattr(t, name)(o.item() if as_number else o, **kwargs)
            assert r.dtype == expected.dtype
            assert np.array_equal(np.asarray(r), np.asarray(expected))
        versions = [t._version for t in self]
        getattr(trainer, f"_foreach_{name}_")(self, *args, **kwargs)
        assert [t._version for t in self] == [v + 1 for v in versions]
        for t, r in zip(self, results):  # in place, each tensor keeps its dtype
            assert np.array_equal(np.asarray(t), np.asarray(r.to(t.dtype)))


def test_pow_of_a_scalar_base():
    assert_forward_and_gradients_match_torch(lambda lib, *ts: lib._foreach_pow(1.5, list(ts)), _arrays(1))
    tensors = [trainer.tensor(a) for a in _arrays(1)]
    for t, r in zip(tensors, trainer._foreach_pow(2, tensors)):
        assert np.array_equal(np.asarray(r), np.asarray(trainer.pow(2, t)))


def test_keyword_forms_follow_torchs_parameter_names():
    def fn(lib, *ts):
        a, b = _lists(ts, 2)
        return (*lib._foreach_add(self=a, scalar=2), *lib._foreach_add(a, other=b, alpha=2),
                *lib._foreach_pow(a, exponent=2), *lib._foreach_lerp(a, tensors1=b, weight=0.25),
                *lib._foreach_lerp(a, b, weights=b), *lib._foreach_addcmul(a, b, b, value=0.5),
                *lib._foreach_norm(a, ord=1), *lib._foreach_clamp_min(a, scalars=[1, 1, 1]))

    assert_forward_and_gradients_match_torch(fn, _arrays(2))


def test_dtype_promotion_follows_each_form():
    def dtypes(lib):
        ints = [lib.ones(2, dtype=lib.int64), lib.ones((), dtype=lib.int64)]
        double = lib.tensor(2.5, dtype=lib.float64)
        cases = [lib._foreach_add(ints, 2.5), lib._foreach_add(ints, [1, 2.5]), lib._foreach_add(ints, [1, 1j]),
                 lib._foreach_add(ints, double), lib._foreach_add(ints, double, alpha=1),
                 lib._foreach_add(ints, [double, double]), lib._foreach_mul(ints, double),
                 lib._foreach_sub(ints, double),
                 lib._foreach_maximum(ints, 2.5), lib._foreach_maximum(ints, 2), lib._foreach_pow(2, ints),
                 lib._foreach_pow(2.5, ints), lib._foreach_exp(ints)]
        return [[str(r.dtype).removeprefix("torch.").removeprefix("trainer.") for r in c] for c in cases]

    assert dtypes(trainer) == dtypes(torch)


# ----------------------------------------------------------------------------------------------- ternary
THREE = "addcmul", "addcdiv"
TERNARY_CASES = [(name, form) for name in THREE for form in ("default", "value", "scalars", "packed")] + [
    ("lerp", form) for form in ("scalar", "scalars", "tensors")]


def _ternary_args(lib, name, form, lists):
    if name == "lerp":
        weight = {"scalar": 0.3, "scalars": [0.3, -0.5, 1.5], "tensors": lists[2]}[form]
        return (lists[1], weight), {}
    args = lists[1], lists[2]
    if form == "default":
        return args, {}
    if form == "value":
        return args, {"value": -0.75}
    if form == "scalars":
        return (*args, [0.5, -2, 3]), {}
    return (*args, lib.tensor([0.5, -2.0, 3.0], dtype=lib.float64)), {}


@pytest.mark.parametrize(("name", "form"), TERNARY_CASES, ids=[f"{n}-{f}" for n, f in TERNARY_CASES])
def test_ternary_matches_torch_and_the_single_tensor_op(name, form):
    def fn(lib, *ts, in_place=False):
        lists = _lists(ts, 3)
        # PyTorch has no derivative for the packed-tensor form: its gradients are those of the same scalars as a list
        packed_as_list = lib is torch and form == "packed"
        args, kwargs = _ternary_args(lib, name, "scalars" if packed_as_list else form, lists)
        if not in_place:
            return getattr(lib, f"_foreach_{name}")(lists[0], *args, **kwargs)
        self = [t * 1 for t in lists[0]]
        assert getattr(lib, f"_foreach_{name}_")(self, *args, **kwargs) is self
        return tuple(self)

    # PyTorch's backward of _foreach_addcdiv fails on a list holding a 0-dim or one-element tensor ("select() cannot be
    # applied to a 0-dim tensor", "index 2 out of range for tensor of size [1]")
    arrays = _arrays(3, shapes=((2, 3), (4,), (5,)) if name == "addcdiv" else SHAPES)
    assert_forward_and_gradients_match_torch(fn, arrays)
    assert_forward_and_gradients_match_torch(lambda lib, *ts: fn(lib, *ts, in_place=True), arrays)

    tensors = [trainer.tensor(a, dtype=trainer.float32) for a in arrays]
    lists = _lists(tensors, 3)
    args, kwargs = _ternary_args(trainer, name, form, lists)
    for i, r in enumerate(getattr(trainer, f"_foreach_{name}")(lists[0], *args, **kwargs)):
        if name == "lerp":
            weight = args[1][i] if isinstance(args[1], list) else args[1]
            expected = lists[0][i].lerp(lists[1][i], weight)
        else:
            value = kwargs.get("value", 1) if len(args) == 2 else args[2][i]
            value = value.item() if isinstance(value, trainer.Tensor) else value
            expected = getattr(lists[0][i], name)(lists[1][i], lists[2][i], value=value)
        assert np.array_equal(np.asarray(r), np.asarray(expected))


def test_ema_update_as_timm_writes_it():
    def fn(lib, *ts):
        ema, model = _lists(ts, 2)
        ema = [t.detach().clone() for t in ema]
        with lib.no_grad():
            for _ in range(3):
                lib._foreach_lerp_(ema, model, 1.0 - 0.9)
                lib._foreach_mul_(ema, 0.99)
                lib._foreach_add_(ema, model, alpha=0.01)
        return tuple(ema)

    assert_forward_and_gradients_match_torch(fn, _arrays(2))


# ----------------------------------------------------------------------------------------------- the others
@pytest.mark.parametrize("ord", [2, 1, 3, 0.5, math.inf, -math.inf, 0])
def test_norm_matches_torch(ord):
    arrays = _arrays(1, -2, 2)
    assert_forward_and_gradients_match_torch(lambda lib, *ts: lib._foreach_norm(list(ts), ord), arrays)


def test_norm_and_powsum_with_dtype_and_complex_inputs():
    def fn(lib):
        x = [lib.tensor(a, dtype=lib.float32) for a in _arrays(1, -2, 2)]
        z = [lib.tensor([1 + 1j, -2.0, 0.5j])]
        return (*lib._foreach_norm(x, 2, lib.float64), *lib._foreach_norm(z, 3), *lib._foreach_powsum(x),
                *lib._foreach_powsum(x, 3), *lib._foreach_powsum(x, 0), *lib._foreach_powsum(z, 2),
                *lib._foreach_powsum(x, 2, dtype=lib.float64), *lib._foreach_powsum(z, 2, dtype=lib.complex128))

    theirs, ours = fn(torch), fn(trainer)
    for o, t in zip(ours, theirs):
        assert o.dtype.name == str(t.dtype).removeprefix("torch.")
        np.testing.assert_allclose(np.asarray(o), t.numpy(), rtol=1e-6)


@pytest.mark.parametrize("ord", [2, 1, 0.5, -1, math.inf, -math.inf, 0])
def test_powsum_is_the_sum_of_powers(ord):
    def fn(lib):
        return lib._foreach_powsum([lib.tensor([0.0, 0.5, -0.25, 0.0, 3.0], dtype=lib.float64)], ord)

    np.testing.assert_allclose(np.asarray(fn(trainer)[0]), fn(torch)[0].numpy(), rtol=1e-12)


def test_max_mm_clone_match_torch():
    def fn(lib, a, b, c, d, e):
        return (*lib._foreach_max([a, b, c]), *lib._foreach_mm([a, d], [e, a]), *lib._foreach_clone([a, b, c]))

    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal(s) for s in ((2, 3), (4,), (), (5, 2), (3, 4))]
    assert_forward_and_gradients_match_torch(fn, arrays)
    assert_forward_and_gradients_match_torch(lambda lib, a: lib._foreach_max([a]), [np.array([2.0, -1.0, 2.0])])


def test_copy_and_zero_change_each_tensor_in_place():
    def fn(lib, *ts):
        self, src = _lists(ts, 2)
        self = [t * 1 for t in self]
        versions = [t._version for t in self]
        if lib is trainer:
            assert lib._foreach_copy_(self, src) is self
        else:  # PyTorch has no derivative for _foreach_copy_: its gradients are those of each tensor's copy_
            for t, s in zip(self, src):
                t.copy_(s)
        copied = tuple(t * 1 for t in self)
        assert [t._version for t in self] == [v + 1 for v in versions]
        zeroed = tuple(self)
        assert lib._foreach_zero_(zeroed) is zeroed
        return (*copied, *zeroed)

    assert_forward_and_gradients_match_torch(fn, _arrays(2))
    ints = [trainer.zeros(3, dtype=trainer.int64)]
    trainer._foreach_copy_(ints, [trainer.tensor([1.7, -2.2, 3.0])], True)
    assert ints[0].tolist() == torch.tensor([1.7, -2.2, 3.0]).long().tolist()


def test_in_place_forms_accept_tuples_and_return_them():
    tensors = (trainer.ones(2), trainer.ones(3))
    assert trainer._foreach_mul_(tensors, 3) is tensors
    assert [t.tolist() for t in tensors] == [[3.0, 3.0], [3.0, 3.0, 3.0]]


# ----------------------------------------------------------------------------------------------- errors
def _x(lib):
    return [lib.ones(2, 3, dtype=lib.float64), lib.ones(4, dtype=lib.float64)]


ERRORS = [
    ("empty_unary", lambda lib: lib._foreach_exp([]), RuntimeError, "at least one tensor"),
    ("empty_add", lambda lib: lib._foreach_add([], 1), RuntimeError, "at least one tensor"),
    ("empty_lists", lambda lib: lib._foreach_add([], []), RuntimeError, "at least one tensor"),
    ("empty_norm", lambda lib: lib._foreach_norm([]), RuntimeError, "at least one tensor"),
    ("empty_zero", lambda lib: lib._foreach_zero_([]), RuntimeError, "at least one tensor"),
    ("empty_pow_base", lambda lib: lib._foreach_pow(2, []), RuntimeError, "at least one tensor"),
    ("lengths", lambda lib: lib._foreach_add(_x(lib), _x(lib)[:1]), RuntimeError,
     "Tensor lists must have the same number of tensors, got 2 and 1"),
    ("lengths_empty_self", lambda lib: lib._foreach_mul([], _x(lib)), RuntimeError, "got 0 and 2"),
    ("lengths_addcmul", lambda lib: lib._foreach_addcmul(_x(lib), _x(lib), _x(lib)[:1]), RuntimeError,
     "got 2 and 1"),
    ("lengths_lerp", lambda lib: lib._foreach_lerp(_x(lib), _x(lib), _x(lib)[:1]), RuntimeError, "got 2 and 1"),
    ("lengths_copy", lambda lib: lib._foreach_copy_(_x(lib), _x(lib)[:1]), RuntimeError, "got 2 and 1"),
    ("lengths_scalars", lambda lib: lib._foreach_add(_x(lib), [1.0]), RuntimeError,
     "Tensor list must have same number of elements as scalar list."),
    ("lengths_lerp_weights", lambda lib: lib._foreach_lerp(_x(lib), _x(lib), [0.5]), RuntimeError,
     "same number of elements as scalar list"),
    ("mm_lengths", lambda lib: lib._foreach_mm(_x(lib), _x(lib)[:1]), RuntimeError,
     "_foreach_mm: self and mat2 must have the same number of tensors"),
    ("mm_empty", lambda lib: lib._foreach_mm([], []), RuntimeError, "_foreach_mm requires non-empty tensor lists"),
    ("one_dim_tensor", lambda lib: lib._foreach_mul(_x(lib), lib.tensor([2.0, 3.0])), RuntimeError,
     "scalar tensor expected to be 0 dim but it has 1 dimensions and 2 elements."),
    ("packed_dim", lambda lib: lib._foreach_addcmul(_x(lib), _x(lib), _x(lib), lib.tensor(2.0)), RuntimeError,
     "Expected packed scalar Tensor to be of dimension 1. Got 0 instead."),
    ("packed_length", lambda lib: lib._foreach_addcdiv(_x(lib), _x(lib), _x(lib), lib.tensor([1.0, 2, 3])),
     RuntimeError, "Expected length of scalars to match input of length 2 but got 3 instead."),
    ("wrong_type", lambda lib: lib._foreach_add(_x(lib), "x"), TypeError,
     r"_foreach_add\(\) received an invalid combination of arguments - got \(list, str\), but expected one of"),
    ("alpha_with_scalar", lambda lib: lib._foreach_add(_x(lib), 2.0, alpha=3), TypeError,
     r"got \(list, float, alpha=int\)"),
    ("in_place_scalar_base", lambda lib: lib._foreach_pow_(2.0, _x(lib)), TypeError,
     r"_foreach_pow_\(\) received an invalid combination of arguments - got \(float, list\)"),
    ("scalars_not_packed_list", lambda lib: lib._foreach_addcmul(_x(lib), _x(lib), _x(lib), [lib.tensor(2.0), 1]),
     TypeError, r"got \(list, list, list, list\)"),
    ("grad_tensor_as_scalar", lambda lib: lib._foreach_clamp_min(_x(lib), lib.tensor(1.0, requires_grad=True)),
     TypeError, r"_foreach_clamp_min\(\) received an invalid combination of arguments - got \(list, Tensor\)"),
    ("tensor_not_list", lambda lib: lib._foreach_exp(lib.ones(2)), TypeError,
     r"_foreach_exp\(\): argument 'self' \(position 1\) must be tuple of Tensors, not Tensor"),
    ("too_many", lambda lib: lib._foreach_exp(_x(lib), 1), TypeError,
     r"_foreach_exp\(\) takes 1 positional argument but 2 were given"),
    ("ord_str", lambda lib: lib._foreach_norm(_x(lib), "fro"), TypeError,
     r"_foreach_norm\(\): argument 'ord' \(position 2\) must be Number, not str"),
    ("ord_none", lambda lib: lib._foreach_norm(_x(lib), ord=None), TypeError,
     r"_foreach_norm\(\): argument 'ord' must be Number, not NoneType"),
    ("self_element", lambda lib: lib._foreach_add([lib.ones(2), 1], 1), TypeError,
     "expected Tensor as element 1 in argument 0, but got int"),
    ("other_element", lambda lib: lib._foreach_add(_x(lib), [1, "a"]), TypeError,
     "expected Tensor as element 0 in argument 1, but got int"),
    ("list_element", lambda lib: lib._foreach_mul(_x(lib), [lib.ones(2), 1]), TypeError,
     "expected Tensor as element 1 in argument 1, but got int"),
    ("unary_element", lambda lib: lib._foreach_sqrt([1]), TypeError,
     "expected Tensor as element 0 in argument 0, but got int"),
    ("max_empty_tensor", lambda lib: lib._foreach_max([lib.ones(2), lib.ones(0)]), RuntimeError,
     "_foreach_max cannot compute the maximum of an empty tensor; max over zero elements is undefined."),
    ("norm_inf_empty", lambda lib: lib._foreach_norm([lib.ones(0)], math.inf), RuntimeError,
     "_foreach_norm cannot compute the infinity norm on an empty tensor"),
    ("powsum_int", lambda lib: lib._foreach_powsum([lib.ones(2, dtype=lib.int64)]), NotImplementedError,
     "\"powsum_cpu\" not implemented for 'Long'"),
    ("sign_complex", lambda lib: lib._foreach_sign([lib.tensor([1 + 1j])]), NotImplementedError,
     "torch.sign is not intended to support complex numbers"),
    ("neg_bool", lambda lib: lib._foreach_neg([lib.ones(2, dtype=lib.bool)]), RuntimeError,
     "Negation, the `-` operator, on a bool tensor is not supported"),
    ("in_place_int", lambda lib: lib._foreach_add_([lib.ones(2, dtype=lib.int64)], 1.5), RuntimeError,
     "can't be cast to the desired output type"),
    ("in_place_leaf", lambda lib: lib._foreach_mul_([lib.ones(2, requires_grad=True)], 2), RuntimeError,
     "a leaf Variable that requires grad is being used in an in-place operation."),
    ("in_place_broadcast", lambda lib: lib._foreach_add_([lib.ones(1)], [lib.ones(4)]), RuntimeError,
     r"output with shape \[1\] doesn't match the broadcast shape \[4\]"),
]


@pytest.mark.parametrize(("call", "error", "message"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_errors_match_torch(call, error, message):
    assert_raises_like_torch(call, error, message)


# ----------------------------------------------------------------------------------------------- _assert
@pytest.mark.parametrize("condition", [False, 0, lambda lib: lib.tensor(False), lambda lib: lib.tensor([0])])
def test_assert_raises_the_message_when_false(condition):
    for lib in (torch, trainer):
        with pytest.raises(AssertionError, match="^shape mismatch$"):
            lib._assert(condition(lib) if callable(condition) else condition, "shape mismatch")


@pytest.mark.parametrize("condition", [True, 1, lambda lib: lib.tensor(True), lambda lib: lib.tensor([2.0])])
def test_assert_passes_when_true(condition):
    for lib in (torch, trainer):
        assert lib._assert(condition(lib) if callable(condition) else condition, "unused") is None


def test_assert_on_a_tensor_of_several_values_is_ambiguous():
    assert_raises_like_torch(lambda lib: lib._assert(lib.tensor([True, False]), "m"), RuntimeError, "ambiguous")
