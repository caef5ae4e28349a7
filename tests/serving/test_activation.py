"""Activation kernels: the where-free formulas against their textbook definitions, across both tails,
with the blocked NumPy path forced on, and half precision computed in float32."""

import math

import numpy as np
import pytest

from serving.kernels import activation as act
from serving.kernels import math as kmath
from serving.kernels.registry import KernelContext

X = np.concatenate([np.linspace(-120, 120, 4001), np.linspace(-3, 3, 2001), [0.0, -0.0]])


def ctx(opset=24):
    return KernelContext(np, opset, 1, (True,), None)


def _sigmoid(x):
    return np.array([1 / (1 + math.exp(-v)) if v >= 0 else math.exp(v) / (1 + math.exp(v)) for v in x])


def _erf(x):
    return np.array([math.erf(v) for v in x])


DEFINITIONS = {
    "Sigmoid": ({}, _sigmoid),
    "Swish": ({"alpha": 0.7}, lambda x: x * _sigmoid(0.7 * x)),
    "LeakyRelu": ({"alpha": 0.1}, lambda x: np.where(x >= 0, x, 0.1 * x)),
    "Elu": ({"alpha": 0.5}, lambda x: np.where(x > 0, x, 0.5 * np.expm1(x))),
    "Celu": ({"alpha": 2.0}, lambda x: np.maximum(x, 0) + np.minimum(0, 2.0 * np.expm1(x / 2.0))),
    "HardSwish": ({}, lambda x: x * np.clip(x / 6 + 0.5, 0, 1)),
    "Softplus": ({}, lambda x: np.array([math.log1p(math.exp(-abs(v))) + max(v, 0) for v in x])),
    "Mish": ({}, lambda x: x * np.tanh(np.array([math.log1p(math.exp(-abs(v))) + max(v, 0) for v in x]))),
    "ThresholdedRelu": ({"alpha": 1.5}, lambda x: np.where(x > 1.5, x, 0)),
    "Gelu": ({}, lambda x: 0.5 * x * (1 + _erf(x / math.sqrt(2)))),
}
# 1 + erf(x) cancels for very negative x in any implementation of the definition: only absolute accuracy.
ATOL = {"Gelu": 1e-15}


@pytest.mark.parametrize("op", sorted(DEFINITIONS))
@pytest.mark.parametrize("block", [None, 64])
def test_matches_definition(op, block, monkeypatch):
    if block:
        monkeypatch.setattr(kmath, "_BLOCK", block)
    attrs, definition = DEFINITIONS[op]
    got = getattr(act, op)(ctx(), X, **attrs)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, definition(X), rtol=1e-12, atol=ATOL.get(op, 1e-300))


def test_leaky_relu_with_alpha_above_one():
    x = np.array([-2.0, 3.0])
    np.testing.assert_array_equal(act.LeakyRelu(ctx(), x, alpha=3.0), [-6.0, 3.0])


def test_prelu_opset6_slope_is_per_channel():
    x = -np.ones((1, 3, 2, 2), np.float32)
    slope = np.array([1, 2, 3], np.float32)
    np.testing.assert_array_equal(act.PRelu(ctx(6), x, slope)[0, :, 0, 0], [-1, -2, -3])


def test_half_precision_is_computed_in_float32():
    x = np.array([-12.0, -5.0, 0.0, 5.0], np.float16)
    got = act.Sigmoid(ctx(), x)
    assert got.dtype == np.float16
    np.testing.assert_allclose(got.astype(np.float64), _sigmoid(x.astype(np.float64)), rtol=1e-3)


def test_softmax_family_coerces_to_2d_before_opset_13():
    x = np.random.default_rng(0).standard_normal((2, 3, 4))
    old = act.Softmax(ctx(11), x, axis=1)
    flat = x.reshape(2, 12)
    np.testing.assert_allclose(old, (np.exp(flat) / np.exp(flat).sum(1, keepdims=True)).reshape(x.shape))
    new = act.Softmax(ctx(13), x, axis=1)
    np.testing.assert_allclose(new, np.exp(x) / np.exp(x).sum(1, keepdims=True))
    np.testing.assert_allclose(np.exp(act.LogSoftmax(ctx(13), x)), act.Softmax(ctx(13), x))
    hard = act.Hardmax(ctx(13), np.array([[1.0, 3.0, 3.0], [2.0, 0.0, 1.0]]))
    np.testing.assert_array_equal(hard, [[0, 1, 0], [1, 0, 0]])  # the first maximum wins ties


def test_swiglu_rejects_broadcasting():
    with pytest.raises(ValueError, match="one shape"):
        act.SwiGLU(KernelContext(np, 28, 1, (True,), None), np.zeros((2, 3)), np.zeros((3,)))


class _GenericXp:
    """NumPy behind a different object: kernels take their generic (CuPy-style) path with it."""

    def __getattr__(self, name):
        return getattr(np, name)


@pytest.mark.parametrize("fn", [act._softmax, act._log_softmax], ids=["softmax", "log_softmax"])
@pytest.mark.parametrize("axis", [-1, 1])
@pytest.mark.parametrize("case", ["narrow", "wide", "masked", "nan", "few rows"])
def test_softmax_fast_path_matches_the_generic_one(fn, axis, case):
    """One shift for the whole tensor (small spread), transposed short rows and BLAS row sums against the
    per-row max and sum."""
    rng = np.random.default_rng(5)
    x = (rng.standard_normal((4, 6, 32)) * 2).astype(np.float32)
    if case == "wide":
        x[0] -= 30  # spread past the global-shift limit: rows keep their own max
    elif case == "masked":
        x[:, :, 5:] = -np.inf  # attention masks: exp gives exact zeros, no NaN
    elif case == "nan":
        x[1, 2, 3] = np.nan
    elif case == "few rows":
        x = x[0, :3] * 20
    with np.errstate(invalid="ignore"):
        got, expected = fn(np, x, axis), fn(_GenericXp(), x, axis)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=2e-6, atol=1e-6 if fn is act._log_softmax else 0)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int32])
@pytest.mark.parametrize("size", [7, act._ZERO_BLOCK, 3 * act._ZERO_BLOCK + 5])
def test_relu_across_zero_block_rows_and_tail(dtype, size):
    x = np.random.default_rng(size).standard_normal(size).astype(dtype) if dtype != np.int32 else (
        np.random.default_rng(size).integers(-9, 9, size, dtype=dtype))
    x[: min(size, 3)] = [0, -1, 2][: min(size, 3)]
    got = act.Relu(ctx(), x.reshape(1, -1))
    np.testing.assert_array_equal(got.reshape(-1), np.maximum(x, 0))
    assert got.dtype == dtype


def test_relu_keeps_nan_and_infinities_and_leaves_its_input():
    x = np.array([np.nan, -np.nan, -np.inf, np.inf, -0.5, 0.5] * 5000, dtype=np.float32).reshape(3, -1)
    before = x.copy()
    got = act.Relu(ctx(), x)
    expected = np.array([np.nan, np.nan, 0, np.inf, 0, 0.5] * 5000, dtype=np.float32).reshape(3, -1)
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(x, before)


def test_relu_in_place_on_a_strided_view_writes_only_the_view():
    base = np.full((4, 6), -1.0, dtype=np.float32)
    view = base[:, ::2]
    act.relu(np, view, out=view)
    np.testing.assert_array_equal(base[:, ::2], 0)
    np.testing.assert_array_equal(base[:, 1::2], -1)
