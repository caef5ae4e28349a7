"""Random kernels: the conformance cases cannot check values, so check seeding, ranges and distributions."""

import numpy as np
import pytest
from onnx import TensorProto, helper

from serving import InferenceSession


def _session(op, inputs=(), out=(TensorProto.FLOAT, 1), opset=22, **attrs):
    """A one-node model; ``inputs`` are (name, type, rank) and ``out`` is the output's (type, rank)."""
    node = helper.make_node(op, [name for name, *_ in inputs], ["Y"], **attrs)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info(n, t, [None] * r) for n, t, r in inputs],
                              [helper.make_tensor_value_info("Y", out[0], [None] * out[1])])
    return InferenceSession(helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]))


def test_seeded_generators_repeat_and_unseeded_ones_do_not():
    seeded = _session("RandomNormal", shape=[1000], seed=3.0)
    first, second = seeded.run(None, {})[0], seeded.run(None, {})[0]
    np.testing.assert_array_equal(first, second)
    unseeded = _session("RandomNormal", shape=[1000])
    assert not np.array_equal(unseeded.run(None, {})[0], unseeded.run(None, {})[0])


def test_random_uniform_like_takes_shape_and_dtype_from_its_input_and_respects_the_range():
    session = _session("RandomUniformLike", [("X", TensorProto.DOUBLE, 2)], (TensorProto.DOUBLE, 2), low=-2.0,
                       high=3.0, seed=1.0)
    y = session.run(None, {"X": np.zeros((50, 40))})[0]
    assert y.shape == (50, 40) and y.dtype == np.float64
    assert y.min() >= -2.0 and y.max() < 3.0 and abs(y.mean() - 0.5) < 0.1


def test_random_normal_moments_and_dtype():
    session = _session("RandomNormal", out=(TensorProto.FLOAT16, 2), shape=[200, 100], mean=1.5, scale=0.5,
                       dtype=TensorProto.FLOAT16, seed=0.0)
    y = session.run(None, {})[0]
    assert y.dtype == np.float16
    assert abs(float(y.mean()) - 1.5) < 0.02 and abs(float(y.std()) - 0.5) < 0.02


def test_bernoulli_follows_its_probabilities():
    p = np.array([0.0, 1.0, 0.3], dtype=np.float32).repeat(4000)
    session = _session("Bernoulli", [("X", TensorProto.FLOAT, 1)], (TensorProto.INT32, 1), dtype=TensorProto.INT32,
                       seed=5.0)
    y = session.run(None, {"X": p})[0]
    assert y.dtype == np.int32
    assert y[:4000].sum() == 0 and y[4000:8000].all() and abs(y[8000:].mean() - 0.3) < 0.03


def test_multinomial_draws_classes_by_softmax_weight():
    logits = np.log(np.array([[0.2, 0.0, 0.8], [1.0, 0.0, 0.0]], dtype=np.float32) + 1e-30)
    session = _session("Multinomial", [("X", TensorProto.FLOAT, 2)], (TensorProto.INT64, 2), sample_size=5000,
                       seed=2.0, dtype=TensorProto.INT64)
    y = session.run(None, {"X": logits})[0]
    assert y.shape == (2, 5000) and y.dtype == np.int64
    assert not (y[0] == 1).any() and abs((y[0] == 2).mean() - 0.8) < 0.03
    assert (y[1] == 0).all()


def test_random_ops_reject_non_float_outputs():
    with pytest.raises(Exception, match="float"):
        _session("RandomNormalLike", [("X", TensorProto.INT64, 1)]).run(None, {"X": np.zeros(3, dtype=np.int64)})
