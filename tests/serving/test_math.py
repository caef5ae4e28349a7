"""Math kernels on what the conformance cases leave out: erf's two approximations against math.erf over
the whole float range, the blocked NumPy path against the direct one, and ONNX's integer rules."""

import math

import numpy as np
import pytest

from serving.kernels import math as kmath
from serving.kernels.registry import KernelContext


def ctx(opset=21, n_outputs=1):
    return KernelContext(np, opset, n_outputs, (True,) * n_outputs, None)


def _erf_reference(x):
    return np.array([math.erf(float(v)) for v in x.reshape(-1)]).reshape(x.shape)


def _points():
    grid = np.linspace(-7, 7, 20001)
    tiny = np.logspace(-300, 1, 2000)
    return np.concatenate([grid, tiny, -tiny, [0.0, -0.0, 26.9, -27.5, 1e300]])


def test_erf_float64_is_exact_to_rounding():
    x = _points()
    np.testing.assert_allclose(kmath.erf(np, x), _erf_reference(x), rtol=2e-15, atol=0)


def test_erf_float32_within_two_ulp():
    x = _points()
    x = x[np.abs(x) < 1e30].astype(np.float32)
    got = kmath.erf(np, x)
    assert got.dtype == np.float32
    expected = _erf_reference(x).astype(np.float32)
    ulps = np.abs(got.view(np.int32).astype(np.int64) - expected.view(np.int32).astype(np.int64))
    assert ulps.max() <= 2


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_erf_limits_and_nan(dtype):
    x = np.array([np.inf, -np.inf, np.nan, 0.0, -0.0], dtype=dtype)
    got = kmath.erf(np, x)
    assert got.dtype == dtype
    np.testing.assert_array_equal(got[:2], [1, -1])
    assert np.isnan(got[2]) and got[3] == 0 and np.signbit(got[4])


def test_blocked_path_matches_direct_path(monkeypatch):
    x = np.random.default_rng(0).standard_normal((7, 1001)).astype(np.float32) * 3
    direct = kmath.Erf(ctx(), x)  # below the blocking threshold: one call on the whole array
    monkeypatch.setattr(kmath, "_BLOCK", 256)
    blocked = kmath.Erf(ctx(), x)
    np.testing.assert_array_equal(blocked, direct)


def test_integer_div_truncates_toward_zero():
    a = np.array([7, -7, 7, -7, -1, 0], dtype=np.int32)
    b = np.array([2, 2, -2, -2, 3, -5], dtype=np.int32)
    got = kmath.Div(ctx(), a, b)
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, [3, -3, -3, 3, 0, 0])


def test_mod_sign_rules():
    a = np.array([-4, 7, 5, 4, -7, 8], dtype=np.int64)
    b = np.array([3, -3, 8, -3, 3, 5], dtype=np.int64)
    np.testing.assert_array_equal(kmath.Mod(ctx(), a, b), np.mod(a, b))  # the divisor's sign
    np.testing.assert_array_equal(kmath.Mod(ctx(), a, b, fmod=1), np.fmod(a, b))  # the dividend's sign


def test_pow_keeps_the_base_type():
    assert kmath.Pow(ctx(), np.array([2, 3], np.int32), np.array([0.5, 2.0], np.float32)).dtype == np.int32
    assert kmath.Pow(ctx(), np.array([2.0], np.float32), np.array([3], np.int64)).dtype == np.float32


def test_bitshift_out_of_range_shifts():
    x = np.array([-128, -1, 64, 1], dtype=np.int8)
    np.testing.assert_array_equal(kmath.BitShift(ctx(28), x, np.int8(8), direction="RIGHT"), [-1, -1, 0, 0])
    np.testing.assert_array_equal(kmath.BitShift(ctx(28), x, np.int8(-1), direction="LEFT"), [0, 0, 0, 0])
    np.testing.assert_array_equal(kmath.BitShift(ctx(28), x, np.int8(1), direction="LEFT"), [0, -2, -128, 2])
    with pytest.raises(ValueError, match="direction"):
        kmath.BitShift(ctx(), x, x, direction="UP")


def test_clip_opset6_defaults_to_the_float32_range():
    x = np.array([-np.inf, 0.5, np.inf], dtype=np.float32)
    np.testing.assert_array_equal(kmath.Clip(ctx(6), x), [-kmath._FLT_MAX, 0.5, kmath._FLT_MAX])
    np.testing.assert_array_equal(kmath.Clip(ctx(1), x), x)  # opset 1: no bound unless given
    np.testing.assert_array_equal(kmath.Clip(ctx(13), x, None, np.float32(0)), [-np.inf, 0, 0])


def test_gemm_integer_and_scaled():
    a = np.arange(6, dtype=np.int32).reshape(2, 3)
    b = np.arange(12, dtype=np.int32).reshape(4, 3)
    c = np.array([1, 2, 3, 4], dtype=np.int32)
    got = kmath.Gemm(ctx(), a, b, c, alpha=2.0, beta=3.0, transB=1)
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, 2 * a @ b.T + 3 * c)


def test_legacy_broadcast_aligns_b_at_axis():
    a = np.zeros((2, 3, 4), np.float32)
    b = np.array([1, 2, 3], np.float32)
    got = kmath.Add(ctx(6), a, b, broadcast=1, axis=1)
    np.testing.assert_array_equal(got[:, :, 0], [[1, 2, 3], [1, 2, 3]])
