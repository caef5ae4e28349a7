"""NonMaxSuppression against ONNX Runtime on many random boxes, both box encodings, with and without a
score threshold."""

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from serving.kernels import detection
from serving.kernels.registry import KernelContext

RNG = np.random.default_rng(4)


def ort_nms(inputs, center_point_box):
    names = ["boxes", "scores", "limit", "iou", "floor"][: len(inputs)]
    node = helper.make_node("NonMaxSuppression", names, ["selected"], center_point_box=center_point_box)
    graph = helper.make_graph(
        [node],
        "g",
        [
            helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape)
            for n, a in zip(names, inputs)
        ],
        [helper.make_tensor_value_info("selected", TensorProto.INT64, None)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)])
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, dict(zip(names, inputs)))[0]


def random_boxes(batch, count, center_point_box):
    corners = RNG.uniform(0, 10, (batch, count, 2)).astype(np.float32)
    sizes = RNG.uniform(0.5, 4, (batch, count, 2)).astype(np.float32)
    if center_point_box:
        return np.concatenate([corners, sizes], axis=2)
    # Corners in either order: the encoding allows flipped boxes.
    far = corners + sizes
    flip = RNG.random((batch, count, 1)) < 0.3
    return np.concatenate([np.where(flip, far, corners), np.where(flip, corners, far)], axis=2)


@pytest.mark.parametrize("center_point_box", [0, 1])
@pytest.mark.parametrize("floor", [None, 0.4])
def test_non_max_suppression_matches_onnxruntime(center_point_box, floor):
    boxes = random_boxes(2, 60, center_point_box)
    scores = RNG.random((2, 3, 60)).astype(np.float32)
    inputs = [boxes, scores, np.array([7], np.int64), np.array([0.3], np.float32)]
    if floor is not None:
        inputs.append(np.array([floor], np.float32))
    ours = detection.NonMaxSuppression(
        KernelContext(np, 11, 1, (True,), None), *inputs, center_point_box=center_point_box
    )
    np.testing.assert_array_equal(ours, ort_nms(inputs, center_point_box))


def test_without_a_box_limit_nothing_is_selected():
    ours = detection.NonMaxSuppression(
        KernelContext(np, 11, 1, (True,), None), random_boxes(1, 5, 0), RNG.random((1, 1, 5)).astype(np.float32)
    )
    assert ours.shape == (0, 3) and ours.dtype == np.int64
