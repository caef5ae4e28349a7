"""Reduction kernels: axes as attribute or input, no-op reductions, empty sets, and TopK's tie order
for types the conformance cases do not tie on."""

import numpy as np
import pytest

from serving.kernels import reduce as red
from serving.kernels.registry import KernelContext


def ctx(opset=18, n_outputs=1):
    return KernelContext(np, opset, n_outputs, (True,) * n_outputs, None)


X = np.arange(24, dtype=np.float32).reshape(2, 3, 4)


def test_axes_attribute_and_input_agree():
    by_attr = red.ReduceSum(ctx(11), X, axes=[0, -1], keepdims=0)
    by_input = red.ReduceSum(ctx(13), X, np.array([-1, 0], np.int64), keepdims=0)
    np.testing.assert_array_equal(by_attr, by_input)
    np.testing.assert_array_equal(by_attr, X.sum(axis=(0, 2)))


def test_noop_with_empty_axes_applies_only_the_elementwise_part():
    np.testing.assert_array_equal(red.ReduceSumSquare(ctx(), X, np.array([], np.int64), noop_with_empty_axes=1), X * X)
    assert red.ReduceMax(ctx(), X, None).shape == (1, 1, 1)


def test_integer_sums_stay_in_their_type():
    x = np.full((3, 100), 100, dtype=np.int8)
    assert red.ReduceSum(ctx(), x).dtype == np.int8
    assert red.ReduceProd(ctx(), x.astype(np.int32), np.array([0], np.int64)).dtype == np.int32


@pytest.mark.parametrize(("op", "fill"), [("ReduceMax", -np.inf), ("ReduceMin", np.inf), ("ReduceLogSumExp", -np.inf)])
def test_empty_set_gives_the_identity(op, fill):
    x = np.zeros((2, 0, 4), np.float32)
    got = getattr(red, op)(ctx(), x, np.array([1], np.int64), keepdims=1)
    assert got.shape == (2, 1, 4) and np.all(got == fill)


def test_log_sum_exp_is_stable_and_passes_infinities():
    x = np.array([[1000.0, 1000.0], [-np.inf, 0.0], [np.inf, 1.0]])
    got = red.ReduceLogSumExp(ctx(), x, np.array([1], np.int64), keepdims=0)
    np.testing.assert_allclose(got, [1000 + np.log(2), 0.0, np.inf])


@pytest.mark.parametrize("dtype", [np.uint8, np.int32, np.float32])
def test_topk_ties_keep_the_lower_index_first(dtype):
    x = np.array([[3, 1, 3, 2, 1, 3]], dtype=dtype)
    values, indices = red.TopK(ctx(11, 2), x, np.array([4], np.int64))
    np.testing.assert_array_equal(indices, [[0, 2, 5, 3]])
    np.testing.assert_array_equal(values, [[3, 3, 3, 2]])
    values, indices = red.TopK(ctx(11, 2), x, np.array([3], np.int64), largest=0)
    np.testing.assert_array_equal(indices, [[1, 4, 3]])
    assert values.dtype == dtype and indices.dtype == np.int64


def test_topk_rejects_k_beyond_the_axis():
    with pytest.raises(ValueError, match="k=7"):
        red.TopK(ctx(11, 2), X, np.array([7], np.int64), axis=1)


def test_cumulative_exclusive_reverse():
    x = np.array([1, 2, 3, 4], np.int32)
    np.testing.assert_array_equal(red.CumSum(ctx(), x, np.array(0), exclusive=1, reverse=1), [9, 7, 4, 0])
    np.testing.assert_array_equal(red.CumProd(ctx(26), x, np.array(-1), exclusive=1), [1, 1, 2, 6])


def test_argmax_select_last_index():
    x = np.array([[1, 5, 5], [7, 7, 0]], np.float32)
    np.testing.assert_array_equal(red.ArgMax(ctx(), x, axis=1, keepdims=0, select_last_index=1), [2, 1])
    np.testing.assert_array_equal(red.ArgMin(ctx(), x, axis=1, keepdims=1), [[0], [2]])
