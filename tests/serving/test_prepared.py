"""Parameters a kernel derives once per session (Conv's weight matrix): kept only where they are model
constants, so a weight fed by the caller, or an initializer the caller overrides, is never used stale."""

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


def ort_conv(model: bytes, feeds: dict) -> np.ndarray:
    return ort.InferenceSession(model, providers=["CPUExecutionProvider"]).run(None, feeds)[0]


def conv_context(session):
    (step,) = session._graph.steps
    return step.ctx


def test_constant_weights_are_packed_once_and_reused():
    model = conv_model(weight_as_input=False)
    session = serving.InferenceSession(model)
    first = session.run(None, {"x": X})[0]
    packed = conv_context(session).prepared["gemm_weights"]
    second = session.run(None, {"x": X * 2})[0]
    assert conv_context(session).prepared["gemm_weights"] is packed
    np.testing.assert_allclose(first, ort_conv(model, {"x": X}), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(second, ort_conv(model, {"x": X * 2}), rtol=1e-5, atol=1e-5)


def test_a_fed_weight_changed_in_place_between_runs_is_used_as_it_is_now():
    model = conv_model(weight_as_input=True)
    session = serving.InferenceSession(model)
    assert conv_context(session).prepared is None
    w = W.copy()
    session.run(None, {"x": X, "w": w})
    w *= -3  # the same array object, new values
    np.testing.assert_allclose(session.run(None, {"x": X, "w": w})[0], ort_conv(model, {"x": X, "w": w}),
                               rtol=1e-5, atol=1e-5)


def test_an_overridden_initializer_is_not_a_constant():
    model = conv_model(weight_as_input=False, bias_overridable=True)
    session = serving.InferenceSession(model)
    assert conv_context(session).prepared is None
    session.run(None, {"x": X})
    other = -B
    np.testing.assert_allclose(session.run(None, {"x": X, "b": other})[0], ort_conv(model, {"x": X, "b": other}),
                               rtol=1e-5, atol=1e-5)
