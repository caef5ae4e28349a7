"""Layout/shape kernels against ONNX Runtime beyond the conformance cases: negative slice steps with clamped
sentinels, every Pad mode with negative pads and axes, uneven Split, allowzero, ReverseSequence along batch 0,
odd CenterCropPad, batched Trilu, OneHot along axis 0, CRD DepthToSpace and integer Range."""

import numpy as np
import pytest
from onnx import helper, numpy_helper, shape_inference

from serving import InferenceSession

ort = pytest.importorskip("onnxruntime")
INT64_MAX, INT64_MIN = 2**63 - 1, -(2**63)


def run_both(op, feeds, consts=(), opset=18, n_outputs=1, **attrs):
    """Run one node on serving and on ONNX Runtime; ``consts`` are (name, array) initializers, None for ''."""
    names = list(feeds) + [name if value is not None else "" for name, value in consts]
    outputs = [f"y{i}" for i in range(n_outputs)]
    graph = helper.make_graph(
        [helper.make_node(op, names, outputs, **attrs)], op,
        [helper.make_tensor_value_info(k, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape) for k, v in feeds.items()],
        [helper.make_value_info(o, helper.TypeProto()) for o in outputs],
        initializer=[numpy_helper.from_array(v, name) for name, v in consts if v is not None],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=9)
    data = shape_inference.infer_shapes(model).SerializeToString()  # types the outputs
    ours = InferenceSession(data).run(None, feeds)
    theirs = ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, feeds)
    for a, b in zip(ours, theirs, strict=True):
        assert a.dtype == b.dtype and a.shape == b.shape
        if a.dtype == object:
            np.testing.assert_array_equal(a, b)
        else:
            np.testing.assert_allclose(a, b, rtol=1e-6)
    return ours


def i64(*values):
    return np.array(values, dtype=np.int64)


X = np.arange(2 * 3 * 5 * 4, dtype=np.float32).reshape(2, 3, 5, 4)


@pytest.mark.parametrize("starts,ends,axes,steps", [
    ((INT64_MAX, -1), (INT64_MIN, 0), (2, 3), (-1, -2)),
    ((-2, 1), (-100, 100), (-1, 1), (-1, 1)),
    ((4,), (1,), (2,), (-2,)),
    ((0, 10), (5, 20), (0, 2), (1, 1)),
])
def test_slice(starts, ends, axes, steps):
    run_both("Slice", {"x": X}, [("starts", i64(*starts)), ("ends", i64(*ends)), ("axes", i64(*axes)),
                                 ("steps", i64(*steps))])


@pytest.mark.parametrize("mode", ["constant", "reflect", "edge", "wrap"])
@pytest.mark.parametrize("pads,axes", [((1, 2, 2, 1), (2, 3)), ((-1, 1, 1, -1), (-2, -1)), ((0, 1, 3, 2, 0, 1), None)])
def test_pad(mode, pads, axes):
    x = X[0] if axes is None else X
    consts = [("pads", i64(*pads)), ("value", np.array(7.5, dtype=np.float32) if mode == "constant" else None)]
    if axes is not None:
        consts.append(("axes", i64(*axes)))
    run_both("Pad", {"x": x}, consts, mode=mode)


def test_split_uneven_num_outputs():
    run_both("Split", {"x": X}, axis=2, num_outputs=3, n_outputs=3)


def test_reshape_allowzero_keeps_zero_dims():
    x = np.zeros((0, 3), dtype=np.float32)
    run_both("Reshape", {"x": x}, [("shape", i64(3, 0))], allowzero=1)
    run_both("Reshape", {"x": X}, [("shape", i64(0, -1, 4))])


def test_reverse_sequence_batch_axis_0():
    x = np.arange(4 * 5 * 2, dtype=np.float32).reshape(4, 5, 2)
    run_both("ReverseSequence", {"x": x}, [("lens", i64(1, 5, 3, 0).clip(1))], batch_axis=0, time_axis=1)


def test_center_crop_pad_odd_differences():
    x = np.arange(5 * 6 * 3, dtype=np.float32).reshape(5, 6, 3)
    run_both("CenterCropPad", {"x": x}, [("shape", i64(8, 3))], axes=[0, 1])


@pytest.mark.parametrize("upper", [0, 1])
@pytest.mark.parametrize("k", [-2, 0, 3])
def test_trilu_batched(upper, k):
    run_both("Trilu", {"x": X}, [("k", i64(k).reshape(()))], upper=upper)


def test_one_hot_axis_0_negative_and_out_of_range():
    indices = np.array([[0, -1, 3], [7, -4, 2]], dtype=np.int64)
    run_both("OneHot", {"i": indices}, [("depth", np.array(4, dtype=np.int64)),
                                        ("values", np.array([-2, 5], dtype=np.int64))], axis=0)


@pytest.mark.parametrize("mode", ["DCR", "CRD"])
def test_depth_to_space_round_trip(mode):
    x = np.random.default_rng(0).standard_normal((2, 8, 3, 5)).astype(np.float32)
    (y,) = run_both("DepthToSpace", {"x": x}, blocksize=2, mode=mode)
    if mode == "DCR":
        np.testing.assert_array_equal(run_both("SpaceToDepth", {"y": y}, blocksize=2)[0], x)


@pytest.mark.parametrize("start,limit,delta,dtype", [(10, -7, -3, np.int64), (-5, 9, 4, np.int32),
                                                      (0.5, 3.2, 0.3, np.float32)])
def test_range(start, limit, delta, dtype):
    run_both("Range", {}, [("a", np.array(start, dtype)), ("b", np.array(limit, dtype)), ("c", np.array(delta, dtype))])


def test_expand_tile_and_unsqueeze():
    x = np.arange(3, dtype=np.float32).reshape(3, 1)
    run_both("Expand", {"x": x}, [("shape", i64(2, 1, 4))])
    run_both("Tile", {"x": x}, [("r", i64(2, 3))])
    run_both("Unsqueeze", {"x": x}, [("axes", i64(-1, 0, 3))])
