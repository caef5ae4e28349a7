"""RNN/GRU/LSTM kernels against ONNX Runtime on what the conformance cases leave out: uneven sequence_lens
with reverse and bidirectional directions, clip, non-default activations with alpha/beta, GRU's
linear_before_reset, LSTM's input_forget and peepholes, and layout=1 (which ONNX Runtime's CPU kernels
refuse, so it is checked against our own layout=0)."""

import numpy as np
import pytest
from onnx import TensorProto, helper

from serving import InferenceSession

ort = pytest.importorskip("onnxruntime")

GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}
SEQ, BATCH, INPUT, HIDDEN = 5, 3, 4, 6


def _inputs(op, dirs, rng, layout=0, seq_lens=None, peepholes=False):
    g = GATES[op]
    x_shape = (BATCH, SEQ, INPUT) if layout else (SEQ, BATCH, INPUT)
    state_shape = (BATCH, dirs, HIDDEN) if layout else (dirs, BATCH, HIDDEN)
    feeds = {
        "X": rng.standard_normal(x_shape).astype(np.float32),
        "W": rng.standard_normal((dirs, g * HIDDEN, INPUT)).astype(np.float32) * 0.5,
        "R": rng.standard_normal((dirs, g * HIDDEN, HIDDEN)).astype(np.float32) * 0.5,
        "B": rng.standard_normal((dirs, 2 * g * HIDDEN)).astype(np.float32) * 0.5,
        "sequence_lens": np.array(seq_lens if seq_lens is not None else [SEQ] * BATCH, dtype=np.int32),
        "initial_h": rng.standard_normal(state_shape).astype(np.float32),
    }
    if op == "LSTM":
        feeds["initial_c"] = rng.standard_normal(state_shape).astype(np.float32)
        if peepholes:
            feeds["P"] = rng.standard_normal((dirs, 3 * HIDDEN)).astype(np.float32)
    return feeds


def _model(op, feeds, **attrs):
    outputs = ["Y", "Y_h", "Y_c"] if op == "LSTM" else ["Y", "Y_h"]
    node = helper.make_node(op, list(feeds), outputs, hidden_size=HIDDEN, **attrs)
    graph = helper.make_graph(
        [node], "rnn",
        [helper.make_tensor_value_info(k, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape) for k, v in feeds.items()],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, [None] * (4 if o == "Y" else 3)) for o in outputs],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)], ir_version=8)


def _run_both(model, feeds):
    ours = InferenceSession(model.SerializeToString()).run(None, feeds)
    theirs = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)
    return ours, theirs


def _assert_close(ours, theirs):
    for a, b in zip(ours, theirs):
        assert a.dtype == b.dtype
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


CASES = [
    ("RNN", {}),
    ("RNN", {"activations": ["Relu", "Relu"], "clip": 1.5}),
    ("RNN", {"activations": ["LeakyRelu", "ScaledTanh"], "activation_alpha": [0.2, 0.7], "activation_beta": [1.3]}),
    ("GRU", {}),
    ("GRU", {"linear_before_reset": 1}),
    ("GRU", {"activations": ["HardSigmoid", "Softsign", "Sigmoid", "Elu"], "activation_alpha": [0.3, 0.8],
             "activation_beta": [0.4]}),
    ("GRU", {"clip": 0.5, "linear_before_reset": 1}),
    ("LSTM", {}),
    ("LSTM", {"input_forget": 1}),
    ("LSTM", {"clip": 0.8}),
    ("LSTM", {"activations": ["Sigmoid", "Softplus", "Affine", "HardSigmoid", "Tanh", "ThresholdedRelu"],
              "activation_alpha": [0.5, 0.25, 0.1], "activation_beta": [0.2, 0.6]}),
]


@pytest.mark.parametrize("direction", ["forward", "reverse", "bidirectional"])
@pytest.mark.parametrize("seq_lens", [None, [5, 2, 4]], ids=["full", "uneven"])
@pytest.mark.parametrize(("op", "attrs"), CASES, ids=[f"{op}-{i}" for i, (op, _) in enumerate(CASES)])
def test_matches_onnxruntime(op, attrs, direction, seq_lens):
    dirs = 2 if direction == "bidirectional" else 1
    if "activations" in attrs and dirs == 1:
        per_dir = len(attrs["activations"]) // 2
        attrs = {**attrs, "activations": attrs["activations"][:per_dir]}
    feeds = _inputs(op, dirs, np.random.default_rng(0), seq_lens=seq_lens)
    _assert_close(*_run_both(_model(op, feeds, direction=direction, **attrs), feeds))


@pytest.mark.parametrize("direction", ["forward", "bidirectional"])
def test_lstm_peepholes_with_uneven_lengths(direction):
    dirs = 2 if direction == "bidirectional" else 1
    feeds = _inputs("LSTM", dirs, np.random.default_rng(1), seq_lens=[3, 5, 1], peepholes=True)
    _assert_close(*_run_both(_model("LSTM", feeds, direction=direction), feeds))


@pytest.mark.parametrize("op", ["RNN", "GRU", "LSTM"])
def test_layout_1_is_layout_0_transposed(op):
    rng = np.random.default_rng(2)
    feeds = _inputs(op, 2, rng, seq_lens=[4, 5, 2])
    expected = InferenceSession(_model(op, feeds, direction="bidirectional").SerializeToString()).run(None, feeds)
    batchwise = dict(feeds)
    batchwise["X"] = feeds["X"].transpose(1, 0, 2)
    batchwise["initial_h"] = feeds["initial_h"].transpose(1, 0, 2)
    if op == "LSTM":
        batchwise["initial_c"] = feeds["initial_c"].transpose(1, 0, 2)
    model = _model(op, batchwise, direction="bidirectional", layout=1)
    got = InferenceSession(model.SerializeToString()).run(None, batchwise)
    np.testing.assert_allclose(got[0], expected[0].transpose(2, 0, 1, 3), rtol=1e-6)
    for g, e in zip(got[1:], expected[1:]):
        np.testing.assert_allclose(g, e.transpose(1, 0, 2), rtol=1e-6)


def test_omitted_outputs_and_inputs():
    rng = np.random.default_rng(3)
    feeds = {k: v for k, v in _inputs("GRU", 1, rng).items() if k in ("X", "W", "R")}
    node = helper.make_node("GRU", ["X", "W", "R"], ["", "Y_h"], hidden_size=HIDDEN)
    graph = helper.make_graph(
        [node], "gru", [helper.make_tensor_value_info(k, TensorProto.FLOAT, v.shape) for k, v in feeds.items()],
        [helper.make_tensor_value_info("Y_h", TensorProto.FLOAT, [None] * 3)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)], ir_version=8)
    _assert_close(*_run_both(model, feeds))


def test_float16_keeps_its_dtype():
    rng = np.random.default_rng(4)
    feeds = {k: v.astype(np.float16) if v.dtype == np.float32 else v for k, v in _inputs("RNN", 1, rng).items()}
    model = _model("RNN", feeds)
    for value in model.graph.output:
        value.type.tensor_type.elem_type = TensorProto.FLOAT16
    y, y_h = InferenceSession(model.SerializeToString()).run(None, feeds)
    assert y.dtype == np.float16 and y_h.dtype == np.float16
    single = {k: v.astype(np.float32) if v.dtype == np.float16 else v for k, v in feeds.items()}
    expected = InferenceSession(_model("RNN", single).SerializeToString()).run(None, single)[0]
    np.testing.assert_allclose(y.astype(np.float32), expected, atol=2e-3)


def test_unknown_activation_is_reported():
    feeds = _inputs("RNN", 1, np.random.default_rng(5))
    with pytest.raises(Exception, match="unknown activation 'Swish'"):
        InferenceSession(_model("RNN", feeds, activations=["Swish"]).SerializeToString()).run(None, feeds)


def test_sequence_lens_longer_than_the_sequence_is_reported():
    feeds = _inputs("LSTM", 1, np.random.default_rng(6), seq_lens=[5, 9, 1])
    with pytest.raises(Exception, match="sequence_lens must hold one length in 0..5"):
        InferenceSession(_model("LSTM", feeds).SerializeToString()).run(None, feeds)


@pytest.mark.cuda
@pytest.mark.parametrize(("op", "attrs"), [("GRU", {"linear_before_reset": 1}), ("LSTM", {"clip": 0.8})])
def test_cuda_matches_cpu(op, attrs):
    feeds = _inputs(op, 2, np.random.default_rng(7), seq_lens=[5, 2, 4], peepholes=True)
    model = _model(op, feeds, direction="bidirectional", **attrs).SerializeToString()
    cpu = InferenceSession(model).run(None, feeds)
    cuda = InferenceSession(model, device="cuda").run(None, feeds)
    for a, b in zip(cuda, cpu):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("layout", [0, 1])
@pytest.mark.parametrize("direction", ["forward", "reverse", "bidirectional"])
def test_lstm_fast_path_matches_the_generic_loop(monkeypatch, direction, layout):
    """The NumPy LSTM on preallocated buffers (default activations, full-length sequences) against the generic
    step loop, which a no-op clip selects."""
    from serving.kernels import rnn

    taken = []
    fast = rnn._lstm_standard
    monkeypatch.setattr(rnn, "_lstm_standard", lambda *args: taken.append(1) or fast(*args))
    dirs = 2 if direction == "bidirectional" else 1
    feeds = _inputs("LSTM", dirs, np.random.default_rng(8), layout=layout)
    ours = InferenceSession(_model("LSTM", feeds, direction=direction, layout=layout).SerializeToString())
    generic = InferenceSession(_model("LSTM", feeds, direction=direction, layout=layout, clip=1e30).SerializeToString())
    got, expected = ours.run(None, feeds), generic.run(None, feeds)
    assert taken == [1]
    for a, b in zip(got, expected):
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
