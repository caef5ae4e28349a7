"""Indexing kernels against ONNX Runtime beyond the conformance cases: GatherND with two batch dims, negative
indices everywhere, scatter reductions over repeated indices, Unique along an axis unsorted, short Compress
conditions and NonZero on 3-D input."""

import numpy as np
import pytest
from onnx import helper, numpy_helper

from serving import InferenceSession
from serving.kernels import indexing
from serving.kernels.registry import KernelContext
from tests.serving.test_tensor import i64, run_both

pytest.importorskip("onnxruntime")
RNG = np.random.default_rng(0)
DATA = RNG.standard_normal((2, 3, 4, 5)).astype(np.float32)


def test_gather_negative_2d_indices():
    run_both("Gather", {"x": DATA}, [("i", np.array([[-1, 0], [2, -3]], dtype=np.int64))], axis=1)


def test_gather_elements_negative_indices_last_axis():
    run_both("GatherElements", {"x": DATA}, [("i", RNG.integers(-5, 5, (2, 3, 4, 2)))], axis=-1)


def test_gather_nd_two_batch_dims():
    run_both("GatherND", {"x": DATA}, [("i", RNG.integers(-4, 4, (2, 3, 6, 1)))], batch_dims=2)


@pytest.mark.parametrize("reduction", ["none", "add", "mul", "max", "min"])
def test_scatter_elements_negative_and_repeated(reduction):
    indices = np.array([[[[-1, 0, -1]]]], dtype=np.int64).repeat(2, 0).repeat(3, 1).repeat(4, 2)
    if reduction == "none":
        indices = np.array([[[[-1, 0, 2]]]], dtype=np.int64).repeat(2, 0).repeat(3, 1).repeat(4, 2)
    updates = RNG.standard_normal(indices.shape).astype(np.float32)
    run_both("ScatterElements", {"x": DATA}, [("i", indices), ("u", updates)], axis=3, reduction=reduction)


@pytest.mark.parametrize("reduction", ["add", "mul", "max", "min"])
def test_scatter_nd_repeated_slices(reduction):
    indices = np.array([[1, -1], [0, 2], [1, 2]], dtype=np.int64)
    updates = RNG.standard_normal((3, 4, 5)).astype(np.float32)
    run_both("ScatterND", {"x": DATA}, [("i", indices), ("u", updates)], reduction=reduction)


@pytest.mark.parametrize("axis", [None, 0, 1])
@pytest.mark.parametrize("is_sorted", [0, 1])
def test_unique(axis, is_sorted):
    x = np.array([[3, 1, 3], [2, 1, 2], [3, 1, 3], [0, 5, 0]], dtype=np.int64)
    attrs = {"sorted": is_sorted} if axis is None else {"sorted": is_sorted, "axis": axis}
    run_both("Unique", {"x": x}, n_outputs=4, opset=11, **attrs)


def test_compress_short_condition_and_nonzero():
    run_both("Compress", {"x": DATA}, [("c", np.array([True, False], dtype=bool))], axis=2)
    run_both("NonZero", {"x": (DATA > 0.5).astype(np.int32)})


def test_tensor_scatter_circular_write():
    cache = np.zeros((2, 3, 6, 4), dtype=np.float32)
    update = RNG.standard_normal((2, 3, 3, 4)).astype(np.float32)
    # ONNX Runtime has no TensorScatter: check against the operator's definition instead
    graph = helper.make_graph(
        [helper.make_node("TensorScatter", ["c", "u", "w"], ["y"], mode="circular", axis=2)], "ts",
        [helper.make_tensor_value_info("c", 1, cache.shape), helper.make_tensor_value_info("u", 1, update.shape)],
        [helper.make_tensor_value_info("y", 1, cache.shape)],
        initializer=[numpy_helper.from_array(i64(5, 1), "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 24)], ir_version=10)
    (y,) = InferenceSession(model.SerializeToString()).run(None, {"c": cache, "u": update})
    expected = cache.copy()
    for b, start in enumerate((5, 1)):
        for s in range(3):
            expected[b, :, (start + s) % 6] = update[b, :, s]
    np.testing.assert_array_equal(y, expected)


class _GenericXp:
    """NumPy behind a different object: kernels take their generic (CuPy-style) path with it."""

    def __getattr__(self, name):
        return getattr(np, name)


@pytest.mark.parametrize(("data", "indices", "axis"), [
    (DATA, np.array(-1), 0), (DATA, np.array(2, dtype=np.int32), 2), (DATA, np.array([[-1, 0], [2, -4]]), 2),
    (np.array([3, 32, 16], dtype=np.int64), np.array(1), 0), (DATA, np.zeros((0,), dtype=np.int64), 1),
], ids=["scalar-negative", "scalar-int32-axis2", "matrix", "shape-vector", "empty"])
def test_gather_numpy_path_matches_the_generic_one(data, indices, axis):
    fast = indexing.Gather(KernelContext(np, 13, 1, (True,), None), data, indices, axis=axis)
    generic = indexing.Gather(KernelContext(_GenericXp(), 13, 1, (True,), None), data, indices, axis=axis)
    assert isinstance(fast, np.ndarray) and fast.shape == generic.shape and fast.dtype == generic.dtype
    np.testing.assert_array_equal(fast, generic)


@pytest.mark.parametrize("indices", [np.array(4), np.array(-5), np.array([0, 4])])
def test_gather_out_of_range_is_reported(indices):
    with pytest.raises(ValueError, match=r"indices must lie in \[-4, 3\]"):
        indexing.Gather(KernelContext(np, 13, 1, (True,), None), DATA, indices, axis=2)
