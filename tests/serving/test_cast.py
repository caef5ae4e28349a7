"""Cast kernels beyond the conformance cases: strings both ways (against ONNX Runtime), integer wrap-around,
bool, float8 saturation against ml_dtypes' clamped values, CastLike to a string and BitCast on sub-byte types."""

import ml_dtypes
import numpy as np
import pytest
from onnx import TensorProto, helper

from serving import InferenceSession
from tests.serving.test_tensor import run_both

pytest.importorskip("onnxruntime")


def test_strings_to_numbers():
    x = np.array(["1.5", "-INF", "+inf", "NaN", "1e-5", "-3", "100"], dtype=object)
    for to in (TensorProto.FLOAT, TensorProto.DOUBLE):
        run_both("Cast", {"x": x}, to=to)


def test_integer_strings_to_int64():
    run_both("Cast", {"x": np.array(["12", "-7", "9223372036854775807"], dtype=object)}, to=TensorProto.INT64)


def test_numbers_to_strings():
    (y,) = run_both("Cast", {"x": np.array([1, -20, 300], dtype=np.int32)}, to=TensorProto.STRING)
    assert list(y) == ["1", "-20", "300"]


@pytest.mark.parametrize("to", [TensorProto.INT8, TensorProto.UINT8, TensorProto.BOOL, TensorProto.FLOAT16])
def test_integers_wrap_and_floats_overflow(to):
    run_both("Cast", {"x": np.array([200, -129, 70000, 0, 1], dtype=np.int64)}, to=to)


def test_float_to_bool_and_back():
    run_both("Cast", {"x": np.array([0.0, -0.0, 0.25, np.nan, -np.inf], dtype=np.float32)}, to=TensorProto.BOOL)
    run_both("Cast", {"x": np.array([True, False], dtype=bool)}, to=TensorProto.FLOAT)


def _run(op, feeds, **attrs):
    graph = helper.make_graph(
        [helper.make_node(op, list(feeds), ["y"], **attrs)], op,
        [helper.make_tensor_value_info(k, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape) for k, v in feeds.items()],
        [helper.make_tensor_value_info("y", attrs["to"], next(iter(feeds.values())).shape)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 26)], ir_version=11)
    return InferenceSession(model.SerializeToString()).run(None, feeds)[0]


@pytest.mark.parametrize("to,dtype", [(TensorProto.FLOAT8E4M3FN, ml_dtypes.float8_e4m3fn),
                                      (TensorProto.FLOAT8E5M2, ml_dtypes.float8_e5m2)])
def test_float8_saturates_by_default_and_not_when_asked(to, dtype):
    x = np.array([1e6, -1e6, np.inf, np.nan, 0.3], dtype=np.float32)
    info = ml_dtypes.finfo(dtype)
    saturated = _run("Cast", {"x": x}, to=to).astype(np.float32)
    np.testing.assert_array_equal(saturated[:3], np.array([info.max, info.min, info.max], dtype=np.float32))
    assert np.isnan(saturated[3])
    wide = _run("Cast", {"x": x}, to=to, saturate=0)
    np.testing.assert_array_equal(wide.view(np.uint8), x.astype(dtype).view(np.uint8))


def test_bitcast_sub_byte_keeps_the_bits():
    x = np.array([-1, -8, 7, 0], dtype=ml_dtypes.int4)
    y = _run("BitCast", {"x": x}, to=TensorProto.UINT4)
    np.testing.assert_array_equal(y.astype(np.int32), [15, 8, 7, 0])


def test_bitcast_rejects_different_widths():
    with pytest.raises(Exception, match="same bit width"):
        _run("BitCast", {"x": np.zeros(3, dtype=np.float32)}, to=TensorProto.INT64)
