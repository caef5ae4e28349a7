"""Parameters a kernel derives once per session (Conv's and LSTM's weight matrices): kept only where they are
model constants, so a weight fed by the caller, or an initializer the caller overrides, is never used stale."""

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

import serving

RNG = np.random.default_rng(0)
X = RNG.standard_normal((2, 3, 8, 8), dtype=np.float32)
W = RNG.standard_normal((4, 3, 3, 3), dtype=np.float32)
B = RNG.standard_normal(4, dtype=np.float32)


def conv_model(weight_as_input: bool, bias_overridable: bool = False) -> bytes:
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(X.shape))]
    initializers = [numpy_helper.from_array(B, "b")]
    if weight_as_input:
        inputs.append(helper.make_tensor_value_info("w", TensorProto.FLOAT, list(W.shape)))
    else:
        initializers.append(numpy_helper.from_array(W, "w"))
    if bias_overridable:
        inputs.append(helper.make_tensor_value_info("b", TensorProto.FLOAT, [4]))
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w", "b"], ["y"], pads=[1, 1, 1, 1])], "conv", inputs,
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], initializers,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def ort_run(model: bytes, feeds: dict) -> np.ndarray:
    return ort.InferenceSession(model, providers=["CPUExecutionProvider"]).run(None, feeds)[0]


def assert_fed_array_is_read_as_it_is_now(session, model: bytes, feeds: dict, name: str, factor: float) -> None:
    """Run, change ``feeds[name]`` in place (the same array object, new values), run again: the result is
    ONNX Runtime's for the new values, so nothing derived from the first values was kept."""
    session.run(None, feeds)
    feeds[name] *= factor
    np.testing.assert_allclose(session.run(None, feeds)[0], ort_run(model, feeds), rtol=1e-5, atol=1e-5)


def context_of(session, op_type: str):
    """The kernel context of the session's one ``op_type`` step."""
    (step,) = [s for s in session._graph.steps if s.ctx.node.op_type == op_type]
    return step.ctx


def test_constant_weights_are_packed_once_and_reused():
    model = conv_model(weight_as_input=False)
    session = serving.InferenceSession(model)
    first = session.run(None, {"x": X})[0]
    packed = context_of(session, "Conv").prepared["gemm_weights"]
    second = session.run(None, {"x": X * 2})[0]
    assert context_of(session, "Conv").prepared["gemm_weights"] is packed
    np.testing.assert_allclose(first, ort_run(model, {"x": X}), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(second, ort_run(model, {"x": X * 2}), rtol=1e-5, atol=1e-5)


def test_a_fed_weight_changed_in_place_between_runs_is_used_as_it_is_now():
    model = conv_model(weight_as_input=True)
    session = serving.InferenceSession(model)
    assert_fed_array_is_read_as_it_is_now(session, model, {"x": X, "w": W.copy()}, "w", -3)
    assert not context_of(session, "Conv").prepared


def test_an_overridden_initializer_is_not_a_constant():
    model = conv_model(weight_as_input=False, bias_overridable=True)
    session = serving.InferenceSession(model)
    session.run(None, {"x": X})
    other = -B
    np.testing.assert_allclose(session.run(None, {"x": X, "b": other})[0], ort_run(model, {"x": X, "b": other}),
                               rtol=1e-5, atol=1e-5)
    assert not context_of(session, "Conv").prepared


T, BATCH, INPUT, HIDDEN = 5, 3, 4, 6
LSTM_X = RNG.standard_normal((T, BATCH, INPUT), dtype=np.float32)
LSTM_W = RNG.standard_normal((1, 4 * HIDDEN, INPUT), dtype=np.float32)
LSTM_R = RNG.standard_normal((1, 4 * HIDDEN, HIDDEN), dtype=np.float32)
LSTM_B = RNG.standard_normal((1, 8 * HIDDEN), dtype=np.float32)


def lstm_model(recurrence_as_input: bool) -> bytes:
    """An LSTM whose initial state is computed from an input, as torch exports it, so that the node's inputs
    after the first are never all constants; its R is an initializer or fed by the caller."""
    state = [BATCH, 1, HIDDEN]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(LSTM_X.shape)),
              helper.make_tensor_value_info("h0", TensorProto.FLOAT, state)]
    initializers = [numpy_helper.from_array(LSTM_W, "w"), numpy_helper.from_array(LSTM_B, "b")]
    if recurrence_as_input:
        inputs.append(helper.make_tensor_value_info("r", TensorProto.FLOAT, list(LSTM_R.shape)))
    else:
        initializers.append(numpy_helper.from_array(LSTM_R, "r"))
    nodes = [
        helper.make_node("Transpose", ["h0"], ["h"], perm=[1, 0, 2]),
        helper.make_node("LSTM", ["x", "w", "r", "b", "", "h", "h"], ["y"], hidden_size=HIDDEN),
    ]
    graph = helper.make_graph(nodes, "lstm", inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)]).SerializeToString()


def test_lstm_weights_are_packed_once_when_only_its_state_is_computed():
    model = lstm_model(recurrence_as_input=False)
    session = serving.InferenceSession(model)
    h0 = RNG.standard_normal((BATCH, 1, HIDDEN), dtype=np.float32)
    first = session.run(None, {"x": LSTM_X, "h0": h0})[0]
    packed = context_of(session, "LSTM").prepared["lstm_weights"]
    second = session.run(None, {"x": LSTM_X, "h0": -h0})[0]
    assert context_of(session, "LSTM").prepared["lstm_weights"] is packed
    np.testing.assert_allclose(first, ort_run(model, {"x": LSTM_X, "h0": h0}), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(second, ort_run(model, {"x": LSTM_X, "h0": -h0}), rtol=1e-5, atol=1e-5)


def test_a_fed_lstm_recurrence_changed_in_place_is_used_as_it_is_now():
    model = lstm_model(recurrence_as_input=True)
    session = serving.InferenceSession(model)
    feeds = {"x": LSTM_X, "h0": np.zeros((BATCH, 1, HIDDEN), np.float32), "r": LSTM_R.copy()}
    assert_fed_array_is_read_as_it_is_now(session, model, feeds, "r", -0.5)
    assert not context_of(session, "LSTM").prepared


GEMM_A = RNG.standard_normal((8, 5), dtype=np.float32)
GEMM_B = RNG.standard_normal((3, 5), dtype=np.float32)  # transB=1: (N, K), as torch exports Linear


def gemm_model(weight_as_input: bool) -> bytes:
    inputs = [helper.make_tensor_value_info("a", TensorProto.FLOAT, [None, 5])]
    initializers = [numpy_helper.from_array(np.ones(3, np.float32), "c")]
    if weight_as_input:
        inputs.append(helper.make_tensor_value_info("b", TensorProto.FLOAT, [3, 5]))
    else:
        initializers.append(numpy_helper.from_array(GEMM_B, "b"))
    graph = helper.make_graph([helper.make_node("Gemm", ["a", "b", "c"], ["y"], transB=1)], "gemm", inputs,
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString()


def test_gemm_keeps_a_constant_transposed_weight_for_batches_and_reads_a_fed_one_each_run():
    constant = gemm_model(weight_as_input=False)
    session = serving.InferenceSession(constant)
    for rows in (8, 1, 3):
        np.testing.assert_allclose(session.run(None, {"a": GEMM_A[:rows]})[0], ort_run(constant, {"a": GEMM_A[:rows]}),
                                   rtol=1e-5, atol=1e-5)
    kept = context_of(session, "Gemm").prepared["transposed_b"]
    np.testing.assert_array_equal(kept, GEMM_B.T)
    assert kept.flags.c_contiguous

    fed = gemm_model(weight_as_input=True)
    session = serving.InferenceSession(fed)
    assert_fed_array_is_read_as_it_is_now(session, fed, {"a": GEMM_A, "b": GEMM_B.copy()}, "b", -2)
