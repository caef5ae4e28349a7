"""Loop and Scan against ONNX Runtime on what the conformance cases leave out: a Loop without M or without
cond, one that runs zero times, Scan's axes and directions, and opset 8's Scan with uneven sequence_lens."""

import numpy as np
import pytest
from onnx import TensorProto, helper

from serving import InferenceSession

ort = pytest.importorskip("onnxruntime")

FLOAT, INT64, BOOL = TensorProto.FLOAT, TensorProto.INT64, TensorProto.BOOL


def _run_both(model, feeds):
    data = model.SerializeToString()
    ours = InferenceSession(data).run(None, feeds)
    theirs = ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, feeds)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-6)
    return ours


def _loop_model(with_m, with_cond, opset=16):
    """Adds x to a running sum while the sum stays under a limit; scans out each partial sum."""
    body = helper.make_graph(
        [
            helper.make_node("Add", ["sum_in", "x"], ["sum_out"]),
            helper.make_node("ReduceSum", ["sum_out"], ["total"], keepdims=0),
            helper.make_node("Less", ["total", "limit"], ["cond_out"]),
            helper.make_node("Identity", ["sum_out"], ["scan_out"]),
        ],
        "body",
        [helper.make_tensor_value_info("i", INT64, []), helper.make_tensor_value_info("cond_in", BOOL, []),
         helper.make_tensor_value_info("sum_in", FLOAT, [2])],
        [helper.make_tensor_value_info("cond_out", BOOL, []), helper.make_tensor_value_info("sum_out", FLOAT, [2]),
         helper.make_tensor_value_info("scan_out", FLOAT, [2])],
    )
    node = helper.make_node("Loop", ["M" if with_m else "", "cond" if with_cond else "", "start"],
                            ["final", "partials"], body=body)
    inputs = [helper.make_tensor_value_info("start", FLOAT, [2]), helper.make_tensor_value_info("x", FLOAT, [2]),
              helper.make_tensor_value_info("limit", FLOAT, [])]
    if with_m:
        inputs.append(helper.make_tensor_value_info("M", INT64, []))
    if with_cond:
        inputs.append(helper.make_tensor_value_info("cond", BOOL, []))
    graph = helper.make_graph([node], "loop", inputs, [helper.make_tensor_value_info("final", FLOAT, [2]),
                                                       helper.make_tensor_value_info("partials", FLOAT, [None, 2])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=8)


def _loop_feeds(with_m, with_cond, m=10, cond=True, limit=9.0):
    feeds = {"start": np.array([0.0, 1.0], np.float32), "x": np.array([1.0, 0.5], np.float32),
             "limit": np.array(limit, np.float32)}
    if with_m:
        feeds["M"] = np.array(m, np.int64)
    if with_cond:
        feeds["cond"] = np.array(cond)
    return feeds


@pytest.mark.parametrize(("with_m", "with_cond"), [(True, True), (True, False), (False, True)])
def test_loop_trip_count_and_condition(with_m, with_cond):
    final, partials = _run_both(_loop_model(with_m, with_cond), _loop_feeds(with_m, with_cond, m=3))
    assert partials.shape[0] == (3 if with_m else 6)  # the step that turns cond false is still scanned out


def test_loop_that_runs_zero_times_has_empty_typed_scan_outputs():
    feeds = _loop_feeds(True, True, m=0)
    final, partials = _run_both(_loop_model(True, True), feeds)
    np.testing.assert_array_equal(final, feeds["start"])
    assert partials.shape == (0, 2)


def test_loop_false_initial_cond_runs_zero_times():
    final, partials = _run_both(_loop_model(True, True), _loop_feeds(True, True, cond=False))
    assert partials.shape == (0, 2)


def _scan_model(opset, n_scan_inputs=2, **attrs):
    """state += a_t * b_t; scans out the product and the running state."""
    body = helper.make_graph(
        [helper.make_node("Mul", ["a", "b"], ["prod"]), helper.make_node("Add", ["state_in", "prod"], ["state_out"]),
         helper.make_node("Identity", ["state_out"], ["running"])],
        "body",
        [helper.make_tensor_value_info("state_in", FLOAT, [3]), helper.make_tensor_value_info("a", FLOAT, [3]),
         helper.make_tensor_value_info("b", FLOAT, [3])],
        [helper.make_tensor_value_info("state_out", FLOAT, [3]), helper.make_tensor_value_info("prod", FLOAT, [3]),
         helper.make_tensor_value_info("running", FLOAT, [3])],
    )
    inputs = ["state", "a", "b"] if opset >= 9 else ["lens", "state", "a", "b"]
    node = helper.make_node("Scan", inputs, ["final", "prods", "runnings"], body=body,
                            num_scan_inputs=n_scan_inputs, **attrs)
    return node


def _scan_graph(node, input_shapes, opset, output_ranks):
    inputs = [helper.make_tensor_value_info(name, INT64 if name == "lens" else FLOAT, shape)
              for name, shape in input_shapes.items()]
    outputs = [helper.make_tensor_value_info(name, FLOAT, [None] * rank)
               for name, rank in zip(("final", "prods", "runnings"), output_ranks)]
    graph = helper.make_graph([node], "scan", inputs, outputs)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=8)


@pytest.mark.parametrize("attrs", [
    {},
    {"scan_input_axes": [1, 0], "scan_input_directions": [1, 0]},
    {"scan_input_axes": [-1, 0], "scan_output_axes": [1, -2], "scan_output_directions": [1, 0]},
], ids=["defaults", "input-axes-directions", "output-axes-directions"])
def test_scan9_axes_and_directions(attrs):
    rng = np.random.default_rng(0)
    a_axis = (attrs.get("scan_input_axes") or [0])[0] % 2
    a = rng.standard_normal((4, 3) if a_axis == 0 else (3, 4)).astype(np.float32)
    feeds = {"state": np.zeros(3, np.float32), "a": a, "b": rng.standard_normal((4, 3)).astype(np.float32)}
    model = _scan_graph(_scan_model(16, **attrs), {k: v.shape for k, v in feeds.items()}, 16, (1, 2, 2))
    _run_both(model, feeds)


def test_scan8_batch_axis_and_uneven_sequence_lens():
    rng = np.random.default_rng(1)
    feeds = {"lens": np.array([4, 2], np.int64), "state": rng.standard_normal((2, 3)).astype(np.float32),
             "a": rng.standard_normal((2, 4, 3)).astype(np.float32),
             "b": rng.standard_normal((2, 4, 3)).astype(np.float32)}
    model = _scan_graph(_scan_model(8, directions=[0, 1]), {k: v.shape for k, v in feeds.items()}, 8, (2, 3, 3))
    final, prods, runnings = _run_both(model, feeds)
    assert not prods[1, 2:].any()


@pytest.mark.cuda
def test_loop_and_scan_on_cuda_match_cpu():
    feeds = _loop_feeds(True, True, m=4)
    model = _loop_model(True, True).SerializeToString()
    for a, b in zip(InferenceSession(model, device="cuda").run(None, feeds), InferenceSession(model).run(None, feeds)):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    rng = np.random.default_rng(2)
    feeds = {"state": np.zeros(3, np.float32), "a": rng.standard_normal((3, 4)).astype(np.float32),
             "b": rng.standard_normal((4, 3)).astype(np.float32)}
    node = _scan_model(16, scan_input_axes=[1, 0], scan_output_directions=[1, 0])
    model = _scan_graph(node, {k: v.shape for k, v in feeds.items()}, 16, (1, 2, 2)).SerializeToString()
    for a, b in zip(InferenceSession(model, device="cuda").run(None, feeds), InferenceSession(model).run(None, feeds)):
        np.testing.assert_allclose(a, b, rtol=1e-6)
