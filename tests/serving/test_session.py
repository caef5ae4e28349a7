"""InferenceSession's API as ONNX Runtime users know it, and its errors for bad models and feeds."""

import importlib
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from serving import (
    InferenceSession,
    InvalidArgumentError,
    InvalidModelError,
    SessionError,
    UnsupportedOperatorError,
    float_errors,
)


def _mlp(opset: int = 17) -> onnx.ModelProto:
    """y = relu(x @ w + b) with a symbolic batch dim and a second output."""
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((4, 3)).astype(np.float32), "w")
    b = numpy_helper.from_array(rng.standard_normal(3).astype(np.float32), "b")
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "w"], ["xw"], name="matmul"),
            helper.make_node("Add", ["xw", "b"], ["pre"], name="add"),
            helper.make_node("Relu", ["pre"], ["y"], name="relu"),
        ],
        "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3]),
         helper.make_tensor_value_info("pre", TensorProto.FLOAT, ["batch", 3])],
        [w, b],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="tests")
    model.metadata_props.add(key="author", value="sardonyx")
    return model


def test_matches_onnxruntime_and_describes_io_like_it():
    model = _mlp()
    ours, theirs = InferenceSession(model.SerializeToString()), ort.InferenceSession(model.SerializeToString())
    x = np.random.default_rng(1).standard_normal((5, 4)).astype(np.float32)
    for got, want in zip(ours.run(None, {"x": x}), theirs.run(None, {"x": x})):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    for mine, reference in zip(ours.get_inputs() + ours.get_outputs(), theirs.get_inputs() + theirs.get_outputs()):
        assert (mine.name, mine.type, mine.shape) == (reference.name, reference.type, reference.shape)
    meta = ours.get_modelmeta()
    assert meta.producer_name == "tests" and meta.graph_name == "mlp"
    assert meta.custom_metadata_map == {"author": "sardonyx"}
    assert ours.get_providers() == ["CPUExecutionProvider"]


def test_accepts_a_path_bytes_or_a_proto_and_selected_outputs(tmp_path):
    model = _mlp()
    path = tmp_path / "mlp.onnx"
    onnx.save(model, path)
    x = np.ones((2, 4), np.float32)
    sources = (str(path), path, model.SerializeToString(), model)
    results = [InferenceSession(m).run(["pre"], {"x": x})[0] for m in sources]
    for r in results[1:]:
        np.testing.assert_array_equal(r, results[0])


@pytest.mark.parametrize(
    ("output_names", "feed", "message"),
    [
        (None, {"x": np.ones((2, 4), np.float32), "z": np.ones(1)},
         r"unknown input name\(s\) \['z'\].*x: tensor\(float\)"),
        (None, {}, r"missing input\(s\) \['x'\]; the model expects x: tensor\(float\) \['batch', 4\]"),
        (None, {"x": np.ones((2, 4), np.float64)},
         r"expects tensor\(float\) \(numpy float32\), got an array of float64"),
        (None, {"x": np.ones(4, np.float32)}, r"expects rank 2 with shape \['batch', 4\], got shape \[4\]"),
        (None, {"x": np.ones((2, 5), np.float32)}, r"dimension 1 must be 4"),
        (["nope"], {"x": np.ones((2, 4), np.float32)}, r"unknown output name\(s\) \['nope'\]; the model's outputs are"),
        ("y", {"x": np.ones((2, 4), np.float32)}, r"must be a list of names"),
        (None, [np.ones((2, 4), np.float32)], r"input_feed must be a dict"),
    ],
)
def test_bad_feeds_say_what_the_model_expects(output_names, feed, message):
    with pytest.raises(InvalidArgumentError, match=message):
        InferenceSession(_mlp()).run(output_names, feed)


def test_unsupported_operator_is_reported_at_load_with_domain_and_opset():
    model = _mlp()
    model.graph.node[2].op_type = "Frobnicate"
    with pytest.raises(UnsupportedOperatorError, match=r"'Frobnicate' of domain 'ai.onnx' at opset 17"):
        InferenceSession(model)
    custom = _mlp()
    custom.graph.node[2].domain = "com.example"
    custom.opset_import.add(domain="com.example", version=3)
    with pytest.raises(UnsupportedOperatorError, match=r"'Relu' of domain 'com.example' at opset 3"):
        InferenceSession(custom)


def test_truncated_corrupted_and_foreign_files_are_refused(tmp_path):
    data = _mlp().SerializeToString()
    with pytest.raises(InvalidModelError, match="not a valid ONNX model"):
        InferenceSession(data[: len(data) // 2])
    with pytest.raises(InvalidModelError):
        InferenceSession(b"\xff" * 64)
    with pytest.raises(InvalidModelError, match="no model file"):
        InferenceSession(tmp_path / "missing.onnx")
    with pytest.raises(InvalidModelError, match="must be a path, bytes or an onnx.ModelProto"):
        InferenceSession(42)


def test_a_graph_with_a_cycle_is_refused():
    model = _mlp()
    model.graph.node[0].input[0] = "y"  # matmul now reads relu's output
    with pytest.raises(InvalidModelError):
        InferenceSession(model)


def _with_external_weight(tmp_path, location: str) -> str:
    model = _mlp()
    weight = model.graph.initializer[0]
    (tmp_path / "weights.bin").write_bytes(numpy_helper.to_array(weight).tobytes())
    weight.ClearField("float_data")
    weight.ClearField("raw_data")
    weight.data_location = TensorProto.EXTERNAL
    weight.external_data.add(key="location", value=location)
    path = tmp_path / "model" / "m.onnx"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(model.SerializeToString())
    return str(path)


def test_external_data_is_read_from_the_model_folder(tmp_path):
    path = _with_external_weight(tmp_path, "w.bin")
    (tmp_path / "model" / "w.bin").write_bytes((tmp_path / "weights.bin").read_bytes())
    x = np.ones((1, 4), np.float32)
    np.testing.assert_allclose(InferenceSession(path).run(["y"], {"x": x})[0],
                               InferenceSession(_mlp()).run(["y"], {"x": x})[0])


@pytest.mark.parametrize("location", ["../weights.bin", "/etc/passwd", "sub/../../weights.bin"])
def test_external_data_outside_the_model_folder_is_refused(tmp_path, location):
    path = _with_external_weight(tmp_path, location)
    with pytest.raises(InvalidModelError, match="outside the model's folder|only paths relative"):
        InferenceSession(path)


def test_external_data_needs_a_path():
    model = _mlp()
    model.graph.initializer[0].data_location = TensorProto.EXTERNAL
    model.graph.initializer[0].external_data.add(key="location", value="w.bin")
    with pytest.raises(InvalidModelError, match="was not given as a path"):
        InferenceSession(model.SerializeToString())


def test_constant_subgraphs_are_folded_and_intermediates_released():
    two = helper.make_node("Constant", [], ["two"], value=numpy_helper.from_array(np.array(2.0, np.float32)))
    four = helper.make_node("Mul", ["two", "two"], ["four"])
    graph = helper.make_graph(
        [two, four, helper.make_node("Mul", ["x", "four"], ["x4"]), helper.make_node("Relu", ["x4"], ["y"])],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3])],
    )
    session = InferenceSession(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))
    plan = session._graph
    assert [s.ctx.node.op_type for s in plan.steps] == ["Mul", "Relu"]
    assert plan.steps[0].release == ("x",) and plan.steps[1].release == ("x4",)
    np.testing.assert_array_equal(session.run(None, {"x": np.array([1, -1, 2], np.float32)})[0], [4, 0, 8])


def test_model_local_functions_are_expanded():
    square_plus = helper.make_function(
        "local", "SquarePlus", ["a", "b"], ["c"],
        [helper.make_node("Mul", ["a", "a"], ["sq"]), helper.make_node("Add", ["sq", "b"], ["c"])],
        opset_imports=[helper.make_opsetid("", 17)],
    )
    graph = helper.make_graph(
        [helper.make_node("SquarePlus", ["x", "y"], ["z"], domain="local")], "g",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, [2]) for n in "xy"],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, [2])],
    )
    model = helper.make_model(graph, functions=[square_plus],
                              opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("local", 1)])
    x, y = np.array([1, 2], np.float32), np.array([10, 20], np.float32)
    np.testing.assert_array_equal(InferenceSession(model).run(None, {"x": x, "y": y})[0], [11, 24])


def test_cuda_without_cupy_or_unknown_devices_say_what_to_do():
    with pytest.raises(InvalidArgumentError, match="unknown device 'tpu'"):
        InferenceSession(_mlp(), device="tpu")
    with pytest.raises(InvalidArgumentError, match="unknown provider"):
        InferenceSession(_mlp(), providers=["TensorrtExecutionProvider"])


@pytest.mark.cuda
def test_cuda_session_matches_cpu_and_accepts_numpy_or_cupy_feeds():
    import cupy

    x = np.random.default_rng(2).standard_normal((3, 4)).astype(np.float32)
    cpu = InferenceSession(_mlp()).run(None, {"x": x})
    gpu = InferenceSession(_mlp(), providers=["CUDAExecutionProvider"])
    for feed in (x, cupy.asarray(x)):
        for got, want in zip(gpu.run(None, {"x": feed}), cpu):
            assert isinstance(got, np.ndarray)
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert isinstance(gpu.run(None, {"x": x}, keep_on_device=True)[0], cupy.ndarray)


def _mutations(model: onnx.ModelProto, rng: np.random.Generator):
    """Damaged copies of ``model``: flipped bytes, and fields set to values a careless writer could leave."""
    data = bytearray(model.SerializeToString())
    for _ in range(150):
        damaged = bytearray(data)
        for position in rng.integers(0, len(damaged), size=rng.integers(1, 4)):
            damaged[position] = int(rng.integers(0, 256))
        yield bytes(damaged)
    field_edits = [
        lambda m: m.graph.node[int(rng.integers(3))].ClearField("input"),
        lambda m: m.graph.node[int(rng.integers(3))].output.append("extra"),
        lambda m: setattr(m.graph.node[int(rng.integers(3))], "op_type", "Conv"),
        lambda m: m.graph.initializer[0].dims.append(int(rng.integers(0, 10**6))),
        lambda m: setattr(m.graph.initializer[1], "data_type", int(rng.integers(0, 30))),
        lambda m: m.graph.initializer[0].ClearField("raw_data"),
        lambda m: setattr(m.opset_import[0], "version", int(rng.integers(-5, 40))),
        lambda m: setattr(m, "ir_version", int(rng.integers(-1, 20))),
        lambda m: m.graph.input[0].type.tensor_type.shape.dim[1].__setattr__("dim_value", int(rng.integers(0, 9))),
        lambda m: m.graph.node[int(rng.integers(3))].attribute.add(name="axis", i=int(rng.integers(-9, 9)),
                                                                   type=onnx.AttributeProto.INT),
        lambda m: m.graph.ClearField("output"),
        lambda m: m.graph.node.append(helper.make_node("Add", ["y", "nothing"], ["z"])),
    ]
    for _ in range(60):
        edited = onnx.ModelProto()
        edited.CopyFrom(model)
        field_edits[int(rng.integers(len(field_edits)))](edited)
        yield edited.SerializeToString()


@pytest.mark.parametrize("where", ["input", "output"])
def test_an_element_type_onnx_does_not_define_is_refused_at_load(where):
    model = _mlp()
    (model.graph.input if where == "input" else model.graph.output)[0].type.tensor_type.elem_type = 53
    with pytest.raises(InvalidModelError, match="element type 53 is not an ONNX TensorProto.DataType"):
        InferenceSession(model.SerializeToString())


def test_randomly_damaged_models_load_or_raise_the_runtimes_error():
    rng = np.random.default_rng(0)
    x = np.ones((2, 4), np.float32)
    loaded = refused = 0
    for data in _mutations(_mlp(), rng):
        try:
            session = InferenceSession(data)
        except SessionError:
            refused += 1
            continue
        loaded += 1
        try:
            session.run(None, {arg.name: x for arg in session.get_inputs()})
        except SessionError:
            pass
    assert loaded and refused


def test_outputs_without_a_declared_shape_run_as_in_onnxruntime():
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, None)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    x = np.array([[-1.0, 2.0]], np.float32)
    session = InferenceSession(model)
    np.testing.assert_array_equal(session.run(None, {"x": x})[0], ort.InferenceSession(
        model.SerializeToString()).run(None, {"x": x})[0])
    assert session.get_inputs()[0].shape == ort.InferenceSession(model.SerializeToString()).get_inputs()[0].shape


def test_shape_arithmetic_is_reused_per_input_shape_and_redone_when_it_changes():
    """Shape -> Gather -> Unsqueeze -> Concat -> Reshape, as dynamic-batch exports write x.view(x.size(0), -1)."""
    const = {name: numpy_helper.from_array(np.array(value, np.int64), name)
             for name, value in (("zero", 0), ("axes", [0]), ("minus_one", [-1]))}
    graph = helper.make_graph(
        [
            helper.make_node("Shape", ["x"], ["shape"]),
            helper.make_node("Gather", ["shape", "zero"], ["batch"], axis=0),
            helper.make_node("Unsqueeze", ["batch", "axes"], ["batch_1d"]),
            helper.make_node("Concat", ["batch_1d", "minus_one"], ["target"], axis=0),
            helper.make_node("Reshape", ["x", "target"], ["y"]),
        ],
        "flatten", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 2, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 6])], list(const.values()),
    )
    session = InferenceSession(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))
    modes = {step.ctx.node.op_type: step.memo_mode for step in session._graph.steps}
    assert modes["Shape"] and modes["Gather"] and modes["Concat"] and not modes["Reshape"]
    concat = next(step for step in session._graph.steps if step.ctx.node.op_type == "Concat")
    targets = []
    for n in (2, 5, 5, 2):
        x = np.arange(n * 6, dtype=np.float32).reshape(n, 2, 3)
        np.testing.assert_array_equal(session.run(None, {"x": x})[0], x.reshape(n, 6))
        targets.append(concat.memo[1][0])
    assert targets[1] is targets[2]  # same shape: the Concat reused its last result
    assert targets[0] is not targets[1] and targets[3] is not targets[2]  # new shape: computed again
    np.testing.assert_array_equal(targets[3], [2, -1])


@pytest.mark.parametrize("op", ["Celu", "HardSwish", "LayerNormalization"])
def test_schema_function_ops_without_a_kernel_run_as_their_function_body(monkeypatch, op):
    """Hide the kernel: the planner must expand ONNX's definition of the op and get the same answer."""
    from serving.kernels import registry

    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 4])]
    initializers = []
    if op == "LayerNormalization":
        initializers = [numpy_helper.from_array(rng.standard_normal(4).astype(np.float32), n) for n in ("s", "b")]
    node = helper.make_node(op, ["x", *[t.name for t in initializers]], ["y"])
    graph = helper.make_graph([node], "g", inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3, 4])],
                              initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 22)])
    with_kernel = InferenceSession(model)
    real_lookup = registry.lookup
    monkeypatch.setattr(registry, "lookup", lambda d, o, v: None if o == op else real_lookup(d, o, v))
    expanded = InferenceSession(model)
    assert op not in {step.ctx.node.op_type for step in expanded._graph.steps}
    np.testing.assert_allclose(expanded.run(None, {"x": x})[0], with_kernel.run(None, {"x": x})[0], rtol=1e-5,
                               atol=1e-6)


def test_float_errors_in_kernels_are_silent_as_in_onnxruntime():
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "x"], ["sum"]), helper.make_node("Log", ["x"], ["log"])], "float_errors",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, [2]) for name in ("sum", "log")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()
    x = np.array([np.finfo(np.float32).min, 0.0], np.float32)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # every warning shown, then serving's own filter in front of that
        importlib.reload(float_errors)
        ours = InferenceSession(model).run(None, {"x": x})
        np.log(np.zeros(1))  # the user's own NumPy code still warns
    theirs = ort.InferenceSession(model, providers=["CPUExecutionProvider"]).run(None, {"x": x})
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a, b)
    assert [str(w.message) for w in caught] == ["divide by zero encountered in log"]
