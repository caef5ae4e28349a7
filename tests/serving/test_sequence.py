"""Sequence kernels against ONNX Runtime where the conformance cases are thin: negative positions, a scalar
split with a remainder, ConcatFromSequence with new_axis, SequenceMap with two outputs, and shared inputs."""

import numpy as np
import pytest
from onnx import TensorProto, helper

from serving import InferenceSession
from serving.kernels import KernelContext
from serving.kernels.sequence import SequenceErase, SequenceInsert

ort = pytest.importorskip("onnxruntime")

FLOAT, INT64 = TensorProto.FLOAT, TensorProto.INT64


def _model(nodes, inputs, outputs, opset=17):
    graph = helper.make_graph(nodes, "seq", inputs, outputs)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=8)


def _seq_info(name, rank):
    return helper.make_tensor_sequence_value_info(name, FLOAT, [None] * rank)


def _assert_same(ours, theirs):
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        if isinstance(b, list):
            assert isinstance(a, list) and len(a) == len(b)
            _assert_same(a, b)
        else:
            assert a.dtype == b.dtype and a.shape == b.shape
            np.testing.assert_allclose(a, b)


def _run_both(model, feeds):
    data = model.SerializeToString()
    ours = InferenceSession(data).run(None, feeds)
    theirs = ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, feeds)
    _assert_same(ours, theirs)
    return ours


@pytest.mark.parametrize(("split", "keepdims"), [(None, 1), (None, 0), (np.array(2, np.int64), 1),
                                                 (np.array([1, 0, 4], np.int64), 1)],
                         ids=["ones", "ones-squeezed", "scalar-remainder", "sizes-with-empty"])
def test_split_to_sequence_then_concat(split, keepdims):
    x = np.arange(15, dtype=np.float32).reshape(3, 5)
    inputs = [helper.make_tensor_value_info("x", FLOAT, [3, 5])]
    split_name = ""
    feeds = {"x": x}
    if split is not None:
        split_name = "split"
        inputs.append(helper.make_tensor_value_info("split", INT64, list(split.shape)))
        feeds["split"] = split
    nodes = [
        helper.make_node("SplitToSequence", ["x", split_name] if split_name else ["x"], ["parts"], axis=-1,
                         keepdims=keepdims),
        helper.make_node("ConcatFromSequence", ["parts"], ["joined"], axis=-1, new_axis=0 if keepdims else 1),
        helper.make_node("SequenceLength", ["parts"], ["n"]),
    ]
    outputs = [_seq_info("parts", 2 if keepdims else 1), helper.make_tensor_value_info("joined", FLOAT, [3, None]),
               helper.make_tensor_value_info("n", INT64, [])]
    parts, joined, n = _run_both(_model(nodes, inputs, outputs), feeds)
    np.testing.assert_array_equal(joined, x)


def test_negative_positions():
    inputs = [_seq_info("s", 1), helper.make_tensor_value_info("t", FLOAT, [2])]
    nodes = [
        helper.make_node("Constant", [], ["minus1"], value=helper.make_tensor("m1", INT64, [], [-1])),
        helper.make_node("Constant", [], ["minus3"], value=helper.make_tensor("m3", INT64, [], [-3])),
        helper.make_node("SequenceInsert", ["s", "t", "minus1"], ["inserted"]),
        helper.make_node("SequenceErase", ["inserted", "minus3"], ["erased"]),
        helper.make_node("SequenceAt", ["erased", "minus1"], ["last"]),
    ]
    outputs = [_seq_info("inserted", 1), _seq_info("erased", 1), helper.make_tensor_value_info("last", FLOAT, [None])]
    feeds = {"s": [np.full(2, i, np.float32) for i in range(3)], "t": np.array([7.0, 8.0], np.float32)}
    _run_both(_model(nodes, inputs, outputs), feeds)


def test_sequence_map_with_two_outputs_and_a_broadcast_tensor():
    body = helper.make_graph(
        [helper.make_node("Add", ["elem", "offset"], ["shifted"]), helper.make_node("Shape", ["elem"], ["shape"])],
        "body",
        [helper.make_tensor_value_info("elem", FLOAT, [None]), helper.make_tensor_value_info("offset", FLOAT, [1])],
        [helper.make_tensor_value_info("shifted", FLOAT, [None]), helper.make_tensor_value_info("shape", INT64, [1])],
    )
    nodes = [helper.make_node("SequenceMap", ["s", "offset"], ["shifted", "shapes"], body=body)]
    inputs = [_seq_info("s", 1), helper.make_tensor_value_info("offset", FLOAT, [1])]
    outputs = [_seq_info("shifted", 1), helper.make_tensor_sequence_value_info("shapes", INT64, [1])]
    feeds = {"s": [np.arange(n, dtype=np.float32) for n in (1, 3, 2)], "offset": np.array([0.5], np.float32)}
    _run_both(_model(nodes, inputs, outputs), feeds)


def test_kernels_leave_their_input_list_alone():
    ctx = KernelContext(np, 11, 1, (True,), None)
    seq = [np.zeros(1), np.ones(1)]
    SequenceInsert(ctx, seq, np.full(1, 2.0), np.array(0))
    SequenceErase(ctx, seq)
    assert len(seq) == 2


def test_out_of_range_position_is_reported():
    ctx = KernelContext(np, 11, 1, (True,), helper.make_node("SequenceErase", ["s", "p"], ["o"]))
    with pytest.raises(ValueError, match="position 2 is out of range for a sequence of length 2"):
        SequenceErase(ctx, [np.zeros(1), np.ones(1)], np.array(2))
