"""``trainer.autograd.functional`` against ``torch.autograd.functional`` on the same float64 inputs: values, the
structure of what comes back (tensor or tuple, nested per output and input), results that can be differentiated
again under ``create_graph``, and PyTorch's errors."""

import numpy as np
import pytest
import torch
import torch.autograd.functional  # noqa: F401 - makes torch.autograd.functional an attribute

import trainer
from tests.trainer.test_ops_parity import _assert_same, assert_raises_like_torch

RNG = np.random.default_rng(7)
A, B = RNG.standard_normal((2, 3)), RNG.standard_normal(3)


def _inputs(lib, *arrays, requires_grad=False):
    return tuple(lib.tensor(a, requires_grad=requires_grad) for a in arrays)


def _assert_same_structure(ours, theirs, what="result"):
    """Tensors compared by value, tuples element by element, with the same nesting."""
    if isinstance(theirs, torch.Tensor):
        assert isinstance(ours, trainer.Tensor), f"{what}: {type(ours).__name__} where torch has a tensor"
        _assert_same(ours, theirs, what)
        return
    assert isinstance(ours, tuple) and len(ours) == len(theirs), f"{what}: {type(ours).__name__} vs a tuple"
    for i, (o, t) in enumerate(zip(ours, theirs)):
        _assert_same_structure(o, t, f"{what}[{i}]")


def _both(call, arrays, v=None):
    """``call(lib, inputs, v)`` in both libraries, compared."""
    theirs = call(torch, _inputs(torch, *arrays), None if v is None else _inputs(torch, *v))
    ours = call(trainer, _inputs(trainer, *arrays), None if v is None else _inputs(trainer, *v))
    _assert_same_structure(ours, theirs)


def _exp_reducer(x):
    return x.exp().sum(dim=1)


def _mixed(x, y):
    return (x * y).sin(), (x.tanh() @ y).sum()


def _scalar(x, y):
    return ((x * y).sin().sum() + (y ** 3).sum()) * x.cos().sum()


# ----------------------------------------------------------------- vjp / jvp
@pytest.mark.parametrize("as_tuple", [False, True])
def test_vjp_matches_torch(as_tuple):
    def call(lib, inputs, v):
        if as_tuple:
            return lib.autograd.functional.vjp(_mixed, inputs, v)
        return lib.autograd.functional.vjp(_exp_reducer, inputs[0], v[0])

    v = (RNG.standard_normal((2, 3)), RNG.standard_normal(())) if as_tuple else (RNG.standard_normal(2),)
    _both(call, (A, B), v)


@pytest.mark.parametrize("as_tuple", [False, True])
def test_jvp_matches_torch(as_tuple):
    def call(lib, inputs, v):
        if as_tuple:
            return lib.autograd.functional.jvp(_mixed, inputs, v)
        return lib.autograd.functional.jvp(_exp_reducer, inputs[0], v[0])

    _both(call, (A, B), (RNG.standard_normal((2, 3)), RNG.standard_normal(3)))


def test_vjp_and_jvp_without_v_for_a_single_element():
    _both(lambda lib, x, v: lib.autograd.functional.vjp(lambda t: (t ** 2).sum(), x[0]), (A,))
    _both(lambda lib, x, v: lib.autograd.functional.jvp(lambda t: t.exp() * 3, x[0]), (np.array([0.3]),))


# ----------------------------------------------------------------- jacobian / hessian
@pytest.mark.parametrize("fn_name", ["exp_reducer", "mixed", "linear_independent"])
def test_jacobian_matches_torch(fn_name):
    functions = {
        "exp_reducer": (lambda x, y: _exp_reducer(x), False),
        "mixed": (_mixed, True),
        # output 1 independent of y: zeros in the result
        "linear_independent": (lambda x, y: (2 * x + 1, y.pow(2)), True),
    }
    fn, tuple_in = functions[fn_name]

    def call(lib, inputs, v):
        if tuple_in:
            return lib.autograd.functional.jacobian(fn, inputs)
        return lib.autograd.functional.jacobian(lambda x: fn(x, inputs[1]), inputs[0])

    _both(call, (A, B))


@pytest.mark.parametrize("strategy", ["reverse-mode", "forward-mode"])
def test_vectorized_jacobian_gives_the_same_values(strategy):
    _both(lambda lib, inputs, v: lib.autograd.functional.jacobian(_mixed, inputs, vectorize=True, strategy=strategy),
          (A, B))


def test_hessian_matches_torch_for_tensor_and_tuple_inputs():
    _both(lambda lib, inputs, v: lib.autograd.functional.hessian(lambda x: (x.pow(3) * x.sin()).sum(), inputs[0]),
          (A,))
    _both(lambda lib, inputs, v: lib.autograd.functional.hessian(_scalar, inputs), (A, B))


@pytest.mark.parametrize("name", ["hvp", "vhp"])
def test_hvp_and_vhp_match_torch(name):
    def call(lib, inputs, v):
        return getattr(lib.autograd.functional, name)(_scalar, inputs, v)

    _both(call, (A, B), (RNG.standard_normal((2, 3)), RNG.standard_normal(3)))
    _both(lambda lib, x, v: getattr(lib.autograd.functional, name)(lambda t: t.pow(4).sum(), x[0], v[0]), (B,),
          (RNG.standard_normal(3),))


# ----------------------------------------------------------------- create_graph
@pytest.mark.parametrize("name", ["jacobian", "hessian", "vjp", "hvp"])
def test_create_graph_results_differentiate_back_to_the_inputs(name):
    """The result is on the graph of the caller's tensors: its sum's gradient matches torch's."""
    def call(lib, inputs, v):
        f = lib.autograd.functional
        if name == "jacobian":
            result = f.jacobian(lambda x: x.sin() * x.sum(), inputs[0], create_graph=True)
        elif name == "hessian":
            result = f.hessian(lambda x: x.pow(3).sum() * x.exp().sum(), inputs[0], create_graph=True)
        elif name == "vjp":
            result = f.vjp(lambda x: x.tanh() ** 2, inputs[0], lib.ones_like(inputs[0]), create_graph=True)[1]
        else:
            result = f.hvp(lambda x: x.pow(4).sum(), inputs[0], lib.ones_like(inputs[0]), create_graph=True)[1]
        assert result.requires_grad
        result.sum().backward()
        return inputs[0].grad

    theirs = call(torch, _inputs(torch, B, requires_grad=True), None)
    ours = call(trainer, _inputs(trainer, B, requires_grad=True), None)
    _assert_same(ours, theirs, "gradient of the result")


def test_results_are_detached_without_create_graph():
    x = trainer.tensor(B, requires_grad=True)
    out, vjp = trainer.autograd.functional.vjp(lambda t: t * 2, x, trainer.ones(3))
    jac = trainer.autograd.functional.jacobian(lambda t: t * 2, x)
    assert not (out.requires_grad or vjp.requires_grad or jac.requires_grad)


# ----------------------------------------------------------------- errors
def _f(lib):
    return lib.autograd.functional


@pytest.mark.parametrize("call, error, message", [
    (lambda lib: _f(lib).vjp(lambda x, y: x * 2, _inputs(lib, B, B), lib.ones(3), strict=True), RuntimeError,
     "independent of input 1. This is not allowed in strict mode"),
    (lambda lib: _f(lib).vjp(lambda x: x.detach(), lib.ones(3), lib.ones(3), strict=True), RuntimeError,
     "Output 0 of the user-provided function does not require gradients"),
    (lambda lib: _f(lib).jacobian(lambda x, y: x * 2, _inputs(lib, B, B), strict=True), RuntimeError,
     "Output 0 of the user-provided function is independent of input 1"),
    (lambda lib: _f(lib).jacobian(lambda x: x * 2, lib.ones(3), strict=True, vectorize=True), RuntimeError,
     "`strict=True` and `vectorized=True` are not supported together"),
    (lambda lib: _f(lib).jacobian(lambda x: x * 2, lib.ones(3), strategy="forward-mode"), NotImplementedError,
     "only implemented for `vectorize=True`"),
    (lambda lib: _f(lib).jacobian(lambda x: x * 2, lib.ones(3), strategy="forward-mode", vectorize=True,
                                  create_graph=True), NotImplementedError, "`create_graph=True` and"),
    (lambda lib: _f(lib).jacobian(lambda x: x * 2, lib.ones(3), strategy="sideways"), AssertionError,
     'Expected strategy to be either "forward-mode" or "reverse-mode"'),
    (lambda lib: _f(lib).hessian(lambda x: x * 2, lib.ones(3)), RuntimeError,
     "should contain a single element"),
    (lambda lib: _f(lib).hessian(lambda x: 2 * x.sum(), lib.ones(3), strict=True), RuntimeError,
     "jacobian of the user-provided function with respect to input 0 is independent of the input"),
    (lambda lib: _f(lib).vjp(lambda x: x * 2, lib.ones(3)), RuntimeError,
     "The vector v can only be None if the user-provided function returns a single Tensor"),
    (lambda lib: _f(lib).jvp(lambda x: x * 2, lib.ones(3), lib.ones(4)), RuntimeError,
     "v has invalid size: should be"),
    (lambda lib: _f(lib).jvp(lambda x, y: x * y, _inputs(lib, B, B), (lib.ones(3),)), RuntimeError,
     "v is a tuple of invalid length: should be 2 but got 1"),
    (lambda lib: _f(lib).vhp(lambda x: (x, x), lib.ones(1)), RuntimeError,
     "The function given to vhp should return a single Tensor"),
    (lambda lib: _f(lib).jacobian(lambda x: x, [1.0, 2.0]), TypeError,
     "The inputs given to jacobian must be either a Tensor or a tuple of Tensors"),
])
def test_errors_match_torch(call, error, message):
    assert_raises_like_torch(call, error, message)
