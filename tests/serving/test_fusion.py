"""The planner's load-time rewrites: each applies only where it is safe, and none changes a result."""

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from serving import InferenceSession
from serving.errors import InvalidModelError, KernelError

RNG = np.random.default_rng(7)


def _model(nodes, inputs, outputs, initializers) -> onnx.ModelProto:
    tensors = [numpy_helper.from_array(value, name) for name, value in initializers.items()]
    graph = helper.make_graph(nodes, "g", inputs, outputs, tensors)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _steps(model) -> list[str]:
    return [step.ctx.node.op_type for step in InferenceSession(model)._graph.steps]


def _same_as_onnxruntime(model, feeds):
    ours = InferenceSession(model).run(None, feeds)
    theirs = ort.InferenceSession(model.SerializeToString()).run(None, feeds)
    for got, want in zip(ours, theirs):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def _conv_bn_relu(extra_outputs=()):
    c = 4
    params = {
        "w": RNG.standard_normal((c, 3, 3, 3)).astype(np.float32), "cb": RNG.standard_normal(c).astype(np.float32),
        "scale": RNG.uniform(0.5, 2, c).astype(np.float32), "shift": RNG.standard_normal(c).astype(np.float32),
        "mean": RNG.standard_normal(c).astype(np.float32), "var": RNG.uniform(0.5, 2, c).astype(np.float32),
    }
    nodes = [
        helper.make_node("Conv", ["x", "w", "cb"], ["conv"], pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["conv", "scale", "shift", "mean", "var"], ["bn"], epsilon=1e-3),
        helper.make_node("Relu", ["bn"], ["y"]),
    ]
    outputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("y", *extra_outputs)]
    return _model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 8, 8])], outputs, params)


def test_conv_batchnorm_relu_become_one_conv_relu():
    model = _conv_bn_relu()
    assert _steps(model) == ["ConvRelu"]
    _same_as_onnxruntime(model, {"x": RNG.standard_normal((2, 3, 8, 8)).astype(np.float32)})


@pytest.mark.parametrize("group, dtype", [(1, np.float32), (1, np.float64), (4, np.float32), (2, np.float32),
                                          (1, np.float16)])
def test_conv_relu_on_every_convolution_path(group, dtype):
    """The chunked GEMM (float32/64, group 1), depthwise, grouped im2col and widened float16 paths."""
    params = {"w": RNG.standard_normal((8, 4 // group, 3, 3)).astype(dtype), "b": RNG.standard_normal(8).astype(dtype)}
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["conv"], pads=[1, 1, 1, 1], group=group),
             helper.make_node("Relu", ["conv"], ["y"])]
    elem = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    model = _model(nodes, [helper.make_tensor_value_info("x", elem, [3, 4, 9, 9])],
                   [helper.make_tensor_value_info("y", elem, None)], params)
    assert _steps(model) == ["ConvRelu"]
    x = RNG.standard_normal((3, 4, 9, 9)).astype(dtype)
    (got,) = InferenceSession(model).run(None, {"x": x})
    (want,) = ReferenceEvaluator(model).run(None, {"x": x})  # ONNX Runtime has no float64 Conv
    assert got.dtype == dtype and (got >= 0).all()
    tolerance = 1e-2 if dtype == np.float16 else 1e-5
    np.testing.assert_allclose(got, want, rtol=tolerance, atol=tolerance)


def _conv_then_max_pool(conv_attrs, pool_attrs, *, relu=True, dtype=np.float32, in_shape=(3, 4, 11, 11),
                        channels=8, kernel=(3, 3), pool_outputs=("y",)):
    group = conv_attrs.get("group", 1)
    params = {"w": RNG.standard_normal((channels, in_shape[1] // group, *kernel)).astype(dtype),
              "b": RNG.standard_normal(channels).astype(dtype)}
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["conv"], **conv_attrs)]
    if relu:
        nodes.append(helper.make_node("Relu", ["conv"], ["act"]))
    nodes.append(helper.make_node("MaxPool", ["act" if relu else "conv"], list(pool_outputs), **pool_attrs))
    elem = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    outputs = [helper.make_tensor_value_info("y", elem, None)]
    if len(pool_outputs) > 1 and pool_outputs[1]:
        outputs.append(helper.make_tensor_value_info(pool_outputs[1], TensorProto.INT64, None))
    return _model(nodes, [helper.make_tensor_value_info("x", elem, list(in_shape))], outputs, params)


@pytest.mark.parametrize("conv_attrs, pool_attrs, relu, dtype", [
    ({"pads": [1, 1, 1, 1]}, {"kernel_shape": [2, 2], "strides": [2, 2]}, True, np.float32),  # the MNIST CNN's
    ({}, {"kernel_shape": [2, 2], "strides": [2, 2]}, True, np.float32),  # windows miss the last row and column
    ({}, {"kernel_shape": [3, 3], "strides": [2, 2]}, False, np.float32),  # overlapping windows, no Relu
    ({"strides": [2, 2]}, {"kernel_shape": [2, 3], "strides": [1, 2], "dilations": [2, 1]}, True, np.float64),
    ({"pads": [1, 1, 1, 1]}, {"kernel_shape": [1, 2], "strides": [1, 2], "auto_pad": "VALID"}, True, np.float32),
    ({"pads": [1, 1, 1, 1], "group": 2}, {"kernel_shape": [2, 2], "strides": [2, 2]}, True, np.float32),  # im2col
    ({"pads": [1, 1, 1, 1], "group": 4}, {"kernel_shape": [2, 2], "strides": [2, 2]}, True, np.float32),  # depthwise
    ({"pads": [1, 1, 1, 1]}, {"kernel_shape": [2, 2], "strides": [2, 2]}, True, np.float16),
])
def test_conv_then_max_pool_becomes_one_conv_max_pool(conv_attrs, pool_attrs, relu, dtype):
    """Pooled chunk by chunk on the chunked GEMM; after the whole convolution on the other paths."""
    model = _conv_then_max_pool(conv_attrs, pool_attrs, relu=relu, dtype=dtype)
    assert _steps(model) == ["ConvMaxPool"]
    x = RNG.standard_normal((3, 4, 11, 11)).astype(dtype)
    (got,) = InferenceSession(model).run(None, {"x": x})
    (want,) = ReferenceEvaluator(model).run(None, {"x": x})
    assert got.dtype == want.dtype and got.shape == want.shape
    tolerance = 1e-2 if dtype == np.float16 else 1e-5
    np.testing.assert_allclose(got, want, rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("in_shape, kernel, pool_attrs", [
    ((2, 3, 20), (3,), {"kernel_shape": [3], "strides": [2]}),
    ((2, 3, 7, 8, 9), (3, 2, 3), {"kernel_shape": [2, 2, 2], "strides": [2, 1, 2]}),
])
def test_conv_max_pool_in_one_and_three_dimensions(in_shape, kernel, pool_attrs):
    model = _conv_then_max_pool({}, pool_attrs, in_shape=in_shape, kernel=kernel)
    assert _steps(model) == ["ConvMaxPool"]
    _same_as_onnxruntime(model, {"x": RNG.standard_normal(in_shape).astype(np.float32)})


def test_conv_max_pool_over_batches_of_several_chunks():
    """A batch larger than one chunk of the column buffer: each chunk is pooled into its own images."""
    model = _conv_then_max_pool({}, {"kernel_shape": [2, 2], "strides": [2, 2]}, in_shape=(40, 32, 26, 26),
                                channels=64)
    assert _steps(model) == ["ConvMaxPool"]
    x = {"x": RNG.standard_normal((40, 32, 26, 26)).astype(np.float32)}
    (got,) = InferenceSession(model).run(None, x)
    (want,) = ort.InferenceSession(model.SerializeToString()).run(None, x)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)  # sums of 288 products of values around 1


@pytest.mark.parametrize("pool_attrs, pool_outputs", [
    ({"kernel_shape": [2, 2], "strides": [2, 2], "pads": [0, 0, 1, 1]}, ("y",)),
    ({"kernel_shape": [2, 2], "strides": [2, 2], "auto_pad": "SAME_UPPER"}, ("y",)),
    ({"kernel_shape": [2, 2], "strides": [2, 2], "ceil_mode": 1}, ("y",)),
    ({"kernel_shape": [2, 2], "strides": [2, 2]}, ("y", "indices")),
])
def test_a_max_pool_that_pads_or_returns_indices_stays_separate(pool_attrs, pool_outputs):
    model = _conv_then_max_pool({}, pool_attrs, pool_outputs=pool_outputs)
    assert _steps(model) == ["ConvRelu", "MaxPool"]
    _same_as_onnxruntime(model, {"x": RNG.standard_normal((3, 4, 11, 11)).astype(np.float32)})


def test_a_fused_max_pool_of_the_wrong_rank_names_its_nodes_and_what_was_expected():
    model = _conv_then_max_pool({}, {"kernel_shape": [2]}, relu=False)
    assert _steps(model) == ["ConvMaxPool"]
    with pytest.raises(KernelError, match=r"node 'conv\+y' .*kernel_shape \[2\].*one value per spatial axis .*\(2\)"):
        InferenceSession(model).run(None, {"x": RNG.standard_normal((3, 4, 11, 11)).astype(np.float32)})


def test_a_fused_max_pool_wider_than_the_convolution_is_a_clear_error():
    model = _conv_then_max_pool({}, {"kernel_shape": [12, 2]})
    assert _steps(model) == ["ConvMaxPool"]
    with pytest.raises(KernelError, match="pool kernel extent 12 exceeds padded input size 9"):
        InferenceSession(model).run(None, {"x": RNG.standard_normal((3, 4, 11, 11)).astype(np.float32)})


def test_the_private_relu_switch_of_conv_cannot_be_set_by_a_model():
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], _relu=1)]
    model = _model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 4, 4])],
                   [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                   {"w": np.ones((1, 1, 3, 3), np.float32)})
    with pytest.raises(InvalidModelError, match="Unrecognized attribute: _relu"):
        InferenceSession(model)


def test_values_the_caller_can_see_are_neither_folded_away_nor_overwritten():
    model = _conv_bn_relu(extra_outputs=("conv", "bn"))
    assert _steps(model) == ["Conv", "BatchNormalization", "Relu"]
    _same_as_onnxruntime(model, {"x": RNG.standard_normal((2, 3, 8, 8)).astype(np.float32)})


def test_relu_of_a_view_stays_out_of_place():
    """Reshape returns a view of its input: overwriting it would change `x`, which is also an output."""
    nodes = [helper.make_node("Reshape", ["x", "shape"], ["flat"]), helper.make_node("Relu", ["flat"], ["y"])]
    model = _model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
                   [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("y", "x2")],
                   {"shape": np.array([6], np.int64)})
    model.graph.node.append(helper.make_node("Identity", ["x"], ["x2"]))
    assert "ReluInPlace" not in _steps(model)
    x = np.array([[-1, 2, -3], [4, -5, 6]], np.float32)
    y, x2 = InferenceSession(model).run(None, {"x": x})
    np.testing.assert_array_equal(x2, [[-1, 2, -3], [4, -5, 6]])
    np.testing.assert_array_equal(y, [0, 2, 0, 4, 0, 6])


@pytest.mark.parametrize("bias_first", [False, True])
def test_matmul_then_bias_becomes_matmuladd(bias_first):
    params = {"w": RNG.standard_normal((5, 3)).astype(np.float32), "b": RNG.standard_normal(3).astype(np.float32)}
    add_inputs = ["b", "xw"] if bias_first else ["xw", "b"]
    nodes = [helper.make_node("MatMul", ["x", "w"], ["xw"]), helper.make_node("Add", add_inputs, ["y"])]
    model = _model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4, 5])],
                   [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], params)
    assert _steps(model) == ["MatMulAdd"]
    _same_as_onnxruntime(model, {"x": RNG.standard_normal((2, 4, 5)).astype(np.float32)})


def test_weights_shared_through_identity_are_constants_for_the_rewrites():
    """torch exports a weight that two layers share once, the second layer reading it through Identity."""
    params = {"w": RNG.standard_normal((5, 3)).astype(np.float32), "b": RNG.standard_normal(3).astype(np.float32)}
    nodes = [
        helper.make_node("Identity", ["w"], ["w_shared"]),
        helper.make_node("Identity", ["b"], ["b_shared"]),
        helper.make_node("MatMul", ["x", "w_shared"], ["xw"]),
        helper.make_node("Add", ["xw", "b_shared"], ["y"]),
    ]
    outputs = [helper.make_tensor_value_info(name, TensorProto.FLOAT, None) for name in ("y", "w_shared")]
    model = _model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 5])], outputs, params)
    assert _steps(model) == ["MatMulAdd"]
    _same_as_onnxruntime(model, {"x": RNG.standard_normal((2, 5)).astype(np.float32)})


def test_a_value_read_inside_a_subgraph_is_neither_folded_away_nor_overwritten():
    """`conv` feeds the BatchNormalization and, from outside its scope, an If branch."""
    model = _conv_bn_relu()
    branch = helper.make_graph([helper.make_node("Identity", ["conv"], ["seen"])], "branch", [],
                               [helper.make_tensor_value_info("seen", TensorProto.FLOAT, None)])
    model.graph.initializer.append(numpy_helper.from_array(np.array(True), "flag"))
    model.graph.node.append(helper.make_node("If", ["flag"], ["from_branch"], then_branch=branch, else_branch=branch))
    model.graph.output.append(helper.make_tensor_value_info("from_branch", TensorProto.FLOAT, None))
    assert _steps(model)[:2] == ["Conv", "BatchNormalization"]
    _same_as_onnxruntime(model, {"x": RNG.standard_normal((2, 3, 8, 8)).astype(np.float32)})


def test_a_constant_behind_identity_stays_visible_to_a_subgraph():
    w = RNG.standard_normal((3,)).astype(np.float32)
    then_branch = helper.make_graph([helper.make_node("Add", ["x", "w_shared"], ["then_y"])], "then", [],
                                    [helper.make_tensor_value_info("then_y", TensorProto.FLOAT, None)])
    else_branch = helper.make_graph([helper.make_node("Sub", ["x", "w_shared"], ["else_y"])], "else", [],
                                    [helper.make_tensor_value_info("else_y", TensorProto.FLOAT, None)])
    nodes = [helper.make_node("Identity", ["w"], ["w_shared"]),
             helper.make_node("If", ["flag"], ["y"], then_branch=then_branch, else_branch=else_branch)]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3]),
              helper.make_tensor_value_info("flag", TensorProto.BOOL, [])]
    model = _model(nodes, inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], {"w": w})
    x = RNG.standard_normal(3).astype(np.float32)
    for flag in (True, False):
        _same_as_onnxruntime(model, {"x": x, "flag": np.array(flag)})


@pytest.mark.cuda
@pytest.mark.parametrize("pool_attrs", [{"kernel_shape": [2, 2], "strides": [2, 2]},
                                        {"kernel_shape": [3, 3], "strides": [2, 2], "dilations": [1, 2]}])
def test_fused_convolutions_on_cuda_match_cpu(pool_attrs):
    """On CuPy, ConvMaxPool runs the convolution and its Relu whole, then pools."""
    model = _conv_then_max_pool({"pads": [1, 1, 1, 1]}, pool_attrs)
    assert _steps(model) == ["ConvMaxPool"]
    feeds = {"x": RNG.standard_normal((3, 4, 11, 11)).astype(np.float32)}
    (cpu,) = InferenceSession(model).run(None, feeds)
    (cuda,) = InferenceSession(model, device="cuda").run(None, feeds)
    np.testing.assert_allclose(cuda, cpu, rtol=1e-4, atol=1e-4)
