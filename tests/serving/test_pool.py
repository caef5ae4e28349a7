"""Pooling kernels against ONNX Runtime on the attribute combinations the conformance cases leave out:
MaxPool's Indices with strides, dilations, padding and ceil mode in both storage orders, its separable
values-only path against the per-tap one, NaN in both, AveragePool's
padding counts, LpPool, and MaxUnpool inverting MaxPool."""

import numpy as np
import onnxruntime as ort
import pytest
from onnx import helper

from serving.kernels import pool
from serving.kernels.registry import KernelContext

RNG = np.random.default_rng(1)


def ctx(n_outputs=1, opset=22):
    return KernelContext(np, opset, n_outputs, (True,) * n_outputs, None)


def ort_run(op, x, attrs, n_outputs=1, opset=22):
    outputs = ["y", "i"][:n_outputs]
    node = helper.make_node(op, ["x"], outputs, **attrs)
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", helper.np_dtype_to_tensor_dtype(x.dtype), x.shape)],
        [
            helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(dtype), None)
            for name, dtype in zip(outputs, [x.dtype, np.dtype(np.int64)])
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})


WINDOWS = [
    {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]},
    {"kernel_shape": [2, 3], "strides": [2, 1], "pads": [0, 1, 1, 0], "ceil_mode": 1},
    {"kernel_shape": [3, 2], "strides": [1, 2], "dilations": [2, 2]},
    {"kernel_shape": [2, 2], "strides": [3, 3], "ceil_mode": 1},
    {"kernel_shape": [3, 3], "auto_pad": "SAME_UPPER", "strides": [2, 2]},
]


@pytest.mark.parametrize("attrs", WINDOWS)
@pytest.mark.parametrize("storage_order", [0, 1])
def test_max_pool_values_and_indices_match_onnxruntime(attrs, storage_order):
    x = RNG.standard_normal((2, 3, 9, 10), dtype=np.float32)
    attrs = {**attrs, "storage_order": storage_order}
    y, indices = pool.MaxPool(ctx(2), x, **attrs)
    ref_y, ref_i = ort_run("MaxPool", x, attrs, n_outputs=2)
    np.testing.assert_array_equal(y, ref_y)
    np.testing.assert_array_equal(indices, ref_i)


@pytest.mark.parametrize("attrs", [*WINDOWS, {"kernel_shape": [2, 2], "strides": [2, 2]}, {"kernel_shape": [1, 3]}])
def test_separable_max_pool_matches_the_per_tap_path(attrs):
    # Without Indices MaxPool reduces one axis after another; the Indices path compares every tap.
    x = RNG.standard_normal((2, 3, 9, 10), dtype=np.float32)
    values, _ = pool.MaxPool(ctx(2), x, **attrs)
    np.testing.assert_array_equal(pool.MaxPool(ctx(), x, **attrs), values)


def test_nan_wins_its_window_with_or_without_indices_as_in_pytorch():
    # ONNX leaves NaN open; ONNX Runtime and the reference evaluator skip it, which hides a broken input.
    # Serving propagates it, as PyTorch (where the models come from) does, whether or not Indices are read.
    torch = pytest.importorskip("torch")
    x = RNG.standard_normal((2, 3, 6, 8), dtype=np.float32)
    x.reshape(-1)[RNG.choice(x.size, 20, replace=False)] = np.nan
    attrs = {"kernel_shape": [2, 2], "strides": [2, 2]}
    values, indices = pool.MaxPool(ctx(2), x, **attrs)
    expected, expected_indices = torch.nn.functional.max_pool2d(torch.from_numpy(x), 2, 2, return_indices=True)
    np.testing.assert_array_equal(values, expected.numpy())
    np.testing.assert_array_equal(pool.MaxPool(ctx(), x, **attrs), values)
    windows = x.reshape(2, 3, 3, 2, 4, 2).transpose(0, 1, 2, 4, 3, 5).reshape(2, 3, 3, 4, 4)
    single = np.isnan(windows).sum(-1) <= 1  # PyTorch points at the last NaN, serving at the first
    in_plane = indices % (6 * 8)  # ONNX counts over the whole tensor, PyTorch within each (n, c) plane
    np.testing.assert_array_equal(in_plane[single], expected_indices.numpy()[single])
    assert np.isnan(values).any() and np.isnan(x.reshape(-1)[indices[np.isnan(values)]]).all()


def test_separable_max_pool_in_three_dimensions_matches_onnxruntime():
    x = RNG.standard_normal((1, 2, 7, 6, 8), dtype=np.float32)
    attrs = {"kernel_shape": [3, 2, 2], "strides": [2, 1, 2], "pads": [1, 0, 1, 1, 1, 0], "dilations": [1, 2, 1]}
    np.testing.assert_array_equal(pool.MaxPool(ctx(), x, **attrs), ort_run("MaxPool", x, attrs)[0])


def test_max_pool_on_integers_pads_with_the_dtype_minimum():
    x = RNG.integers(0, 255, (1, 2, 5, 5)).astype(np.uint8)
    attrs = {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]}
    np.testing.assert_array_equal(pool.MaxPool(ctx(), x, **attrs), ort_run("MaxPool", x, attrs)[0])


@pytest.mark.parametrize("attrs", WINDOWS[:2] + WINDOWS[3:])
@pytest.mark.parametrize("count_include_pad", [0, 1])
def test_average_pool_matches_onnxruntime(attrs, count_include_pad):
    x = RNG.standard_normal((2, 3, 9, 10), dtype=np.float32)
    attrs = {**attrs, "count_include_pad": count_include_pad}
    np.testing.assert_allclose(pool.AveragePool(ctx(), x, **attrs), ort_run("AveragePool", x, attrs)[0], atol=1e-6)


def test_average_pool_three_dimensional_with_dilations():
    x = RNG.standard_normal((1, 2, 7, 8, 6), dtype=np.float32)
    attrs = {"kernel_shape": [2, 3, 2], "strides": [2, 1, 2], "dilations": [2, 1, 2], "pads": [1, 1, 0, 0, 1, 1]}
    np.testing.assert_allclose(pool.AveragePool(ctx(), x, **attrs), ort_run("AveragePool", x, attrs)[0], atol=1e-6)


def test_lp_pool_matches_onnxruntime():
    x = RNG.standard_normal((2, 3, 8, 7), dtype=np.float32)
    attrs = {"kernel_shape": [3, 2], "strides": [2, 2], "pads": [1, 0, 1, 1], "p": 3}
    np.testing.assert_allclose(pool.LpPool(ctx(), x, **attrs), ort_run("LpPool", x, attrs, opset=18)[0], rtol=1e-5)


def test_max_unpool_puts_each_maximum_back_where_max_pool_found_it():
    x = RNG.standard_normal((2, 3, 6, 8), dtype=np.float32)
    attrs = {"kernel_shape": [2, 2], "strides": [2, 2]}
    y, indices = pool.MaxPool(ctx(2), x, **attrs)
    restored = pool.MaxUnpool(ctx(), y, indices, **attrs)
    assert restored.shape == x.shape
    flat, where = restored.reshape(-1), indices.reshape(-1)
    np.testing.assert_array_equal(flat[where], y.reshape(-1))
    elsewhere = np.ones(flat.size, dtype=bool)
    elsewhere[where] = False
    assert not flat[elsewhere].any()


def test_global_pools_reduce_every_spatial_axis():
    x = RNG.standard_normal((2, 3, 4, 5, 6), dtype=np.float32)
    np.testing.assert_allclose(pool.GlobalAveragePool(ctx(), x), x.mean(axis=(2, 3, 4), keepdims=True), rtol=1e-6)
    np.testing.assert_array_equal(pool.GlobalMaxPool(ctx(), x), x.max(axis=(2, 3, 4), keepdims=True))
    expected = np.sqrt((x.astype(np.float64) ** 2).sum(axis=(2, 3, 4), keepdims=True))
    np.testing.assert_allclose(pool.GlobalLpPool(ctx(), x), expected, rtol=1e-5)


def test_pool_without_kernel_shape_is_an_error():
    with pytest.raises(ValueError, match="kernel_shape"):
        pool.MaxPool(ctx(), np.zeros((1, 1, 4, 4), np.float32))


POOL_DEVICE_CASES = {
    "max_indices": (pool.MaxPool, {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]}, 2),
    "average": (pool.AveragePool, {"kernel_shape": [3, 2], "strides": [2, 1], "ceil_mode": 1}, 1),
    "lp": (pool.LpPool, {"kernel_shape": [2, 2], "strides": [2, 2], "p": 3}, 1),
}


@pytest.mark.cuda
@pytest.mark.parametrize("name", sorted(POOL_DEVICE_CASES))
def test_cupy_matches_numpy(name):
    import cupy

    fn, attrs, n_outputs = POOL_DEVICE_CASES[name]
    x = RNG.standard_normal((2, 3, 9, 10), dtype=np.float32)
    host = fn(ctx(n_outputs), x, **attrs)
    device = fn(KernelContext(cupy, 22, n_outputs, (True,) * n_outputs, None), cupy.asarray(x), **attrs)
    for h, d in zip(*((host, device) if n_outputs > 1 else ((host,), (device,)))):
        np.testing.assert_allclose(cupy.asnumpy(d), h, rtol=1e-5, atol=1e-6)
