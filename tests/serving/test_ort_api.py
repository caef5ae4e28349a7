"""ONNX Runtime's Python API beyond ``run``: session and run options, profiling, OrtValue, I/O binding, providers
and Python custom operators, each compared with onnxruntime itself on the same models."""

import json
import logging
import threading
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

import serving
from serving import (
    ExecutionMode,
    GraphOptimizationLevel,
    InferenceSession,
    InvalidArgumentError,
    OrtValue,
    RunOptions,
    RunTerminatedError,
    SessionOptions,
    UnsupportedOperatorError,
)
from serving.kernels.fused import FUSED_DOMAIN


def _mlp() -> bytes:
    """y = relu(x @ w + b), symbolic batch, with a second output."""
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((4, 3)).astype(np.float32), "w")
    b = numpy_helper.from_array(rng.standard_normal(3).astype(np.float32), "b")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["xw"], name="matmul"),
         helper.make_node("Add", ["xw", "b"], ["pre"], name="add"),
         helper.make_node("Relu", ["pre"], ["y"], name="relu")],
        "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3]),
         helper.make_tensor_value_info("pre", TensorProto.FLOAT, ["batch", 3])],
        [w, b])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def _cnn() -> bytes:
    """Conv -> BatchNormalization -> Relu -> MaxPool, plus a scale computed from constants only (foldable)."""
    rng = np.random.default_rng(1)
    inits = [numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name) for name, shape in
             [("w", (4, 2, 3, 3)), ("cb", (4,)), ("scale", (4,)), ("shift", (4,)), ("mean", (4,))]]
    inits += [numpy_helper.from_array(rng.uniform(0.5, 1.5, 4).astype(np.float32), "var"),
              numpy_helper.from_array(np.float32(2.0), "two")]
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w", "cb"], ["c"], name="conv", pads=[1, 1, 1, 1]),
         helper.make_node("BatchNormalization", ["c", "scale", "shift", "mean", "var"], ["n"], name="bn"),
         helper.make_node("Relu", ["n"], ["r"], name="relu"),
         helper.make_node("MaxPool", ["r"], ["p"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
         helper.make_node("Mul", ["two", "two"], ["four"], name="const_mul"),
         helper.make_node("Mul", ["p", "four"], ["y"], name="out_mul")],
        "cnn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4, 4, 4])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def _x(*shape, seed=2):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _theirs(model, options=None):
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def _op_types(session):
    return [step.ctx.node.op_type for step in session._graph.steps]


# ----------------------------------------------------------------- SessionOptions
def test_session_options_defaults_and_enums_match_onnxruntime():
    ours, theirs = SessionOptions(), ort.SessionOptions()
    for name in ("intra_op_num_threads", "inter_op_num_threads", "log_severity_level", "log_verbosity_level",
                 "logid", "optimized_model_filepath", "enable_profiling", "profile_file_prefix",
                 "enable_cpu_mem_arena", "enable_mem_pattern", "use_deterministic_compute"):
        assert getattr(ours, name) == getattr(theirs, name), name
    assert ours.graph_optimization_level.name == theirs.graph_optimization_level.name
    assert ours.execution_mode.name == theirs.execution_mode.name
    for ours_enum, their_enum in ((GraphOptimizationLevel, ort.GraphOptimizationLevel),
                                  (ExecutionMode, ort.ExecutionMode)):
        assert {m.name: int(m) for m in ours_enum} == {n: int(m) for n, m in their_enum.__members__.items()}


def test_session_options_refuse_what_onnxruntime_refuses():
    for options in (SessionOptions(), ort.SessionOptions()):
        with pytest.raises(TypeError):
            options.graph_optimization_level = 99
        with pytest.raises(RuntimeError, match="does not have configuration with key: missing"):
            options.get_session_config_entry("missing")
        options.add_session_config_entry("session.key", "1")
        assert options.get_session_config_entry("session.key") == "1"
        with pytest.raises(RuntimeError):
            options.add_initializer("w", np.ones(3, np.float32))  # an OrtValue is required
    with pytest.raises(InvalidArgumentError, match="intra_op_num_threads must be >= 0"):
        SessionOptions().intra_op_num_threads = -1
    with pytest.raises(InvalidArgumentError, match="no native operator libraries.*register_custom_op"):
        SessionOptions().register_custom_ops_library("/nonexistent/libcustom.so")


@pytest.mark.parametrize("level", list(GraphOptimizationLevel))
def test_every_optimization_level_computes_what_onnxruntime_does(level):
    options, their_options = SessionOptions(), ort.SessionOptions()
    options.graph_optimization_level = level
    their_options.graph_optimization_level = ort.GraphOptimizationLevel(int(level))
    x = _x(2, 2, 8, 8)
    (got,) = InferenceSession(_cnn(), options).run(None, {"x": x})
    (want,) = _theirs(_cnn(), their_options).run(None, {"x": x})
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_disable_all_runs_the_graph_as_written_and_basic_only_folds():
    def op_types(level):
        options = SessionOptions()
        options.graph_optimization_level = level
        return _op_types(InferenceSession(_cnn(), options))

    assert op_types(GraphOptimizationLevel.ORT_DISABLE_ALL) == [
        "Conv", "BatchNormalization", "Relu", "MaxPool", "Mul", "Mul"]
    assert op_types(GraphOptimizationLevel.ORT_ENABLE_BASIC) == ["Conv", "BatchNormalization", "Relu", "MaxPool", "Mul"]
    assert op_types(GraphOptimizationLevel.ORT_ENABLE_ALL) == ["ConvMaxPool", "Mul"]


def test_the_optimized_model_is_written_as_onnx_and_runs_the_same(tmp_path):
    path = tmp_path / "optimized.onnx"
    options = SessionOptions()
    options.optimized_model_filepath = str(path)
    x = _x(3, 2, 8, 8)
    (expected,) = InferenceSession(_cnn(), options).run(None, {"x": x})
    written = onnx.load(str(path))
    assert [(n.domain, n.op_type) for n in written.graph.node] == [(FUSED_DOMAIN, "ConvMaxPool"), ("", "Mul")]
    assert {o.domain: o.version for o in written.opset_import} == {"": 17, FUSED_DOMAIN: 1}
    assert "four" in {t.name for t in written.graph.initializer}  # the folded constant
    (got,) = InferenceSession(written).run(None, {"x": x})
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    np.testing.assert_allclose(got, _theirs(_cnn()).run(None, {"x": x})[0], rtol=1e-5, atol=1e-5)


def test_free_dimension_overrides_fix_the_dimension_as_onnxruntime_does():
    ours_options, their_options = SessionOptions(), ort.SessionOptions()
    for options in (ours_options, their_options):
        options.add_free_dimension_override_by_name("batch", 2)
    ours, theirs = InferenceSession(_mlp(), ours_options), _theirs(_mlp(), their_options)
    assert ours.get_inputs()[0].shape == theirs.get_inputs()[0].shape == [2, 4]
    assert [o.shape for o in ours.get_outputs()] == [o.shape for o in theirs.get_outputs()]
    np.testing.assert_allclose(ours.run(None, {"x": _x(2, 4)})[0], theirs.run(None, {"x": _x(2, 4)})[0], rtol=1e-6)
    with pytest.raises(InvalidArgumentError, match="dimension 0 must be 2"):
        ours.run(None, {"x": _x(5, 4)})
    with pytest.raises(Exception, match="Got invalid dimensions"):
        theirs.run(None, {"x": _x(5, 4)})


def test_add_initializer_replaces_the_models_value_before_folding():
    weight = np.arange(12, dtype=np.float32).reshape(4, 3)
    ours_options, their_options = SessionOptions(), ort.SessionOptions()
    ours_value = OrtValue.ortvalue_from_numpy(weight)
    their_value = ort.OrtValue.ortvalue_from_numpy(weight)  # ONNX Runtime needs it kept alive
    ours_options.add_initializer("w", ours_value)
    their_options.add_initializer("w", their_value)
    x = _x(3, 4)
    got = InferenceSession(_mlp(), ours_options).run(["pre"], {"x": x})[0]
    np.testing.assert_allclose(got, _theirs(_mlp(), their_options).run(["pre"], {"x": x})[0], rtol=1e-6)
    assert not np.allclose(got, InferenceSession(_mlp()).run(["pre"], {"x": x})[0])


def test_a_session_keeps_its_options_and_logs_at_their_severity(caplog):
    options = SessionOptions()
    options.logid = "my-model"
    session = InferenceSession(_mlp(), options)
    assert session.get_session_options() is options
    assert "my-model" not in caplog.text  # warning and above by default
    options.log_severity_level = 1
    with caplog.at_level(logging.INFO, logger="serving"):
        InferenceSession(_mlp(), options)
    assert "[my-model] planned" in caplog.text
    run_options = RunOptions()
    run_options.logid, run_options.log_severity_level = "request-7", 0
    with caplog.at_level(logging.DEBUG, logger="serving"):
        session.run(None, {"x": _x(2, 4)}, run_options)
    assert "[request-7] run starts" in caplog.text and "[request-7] run ends" in caplog.text


def test_intra_op_num_threads_limits_blas_during_runs_only():
    threadpoolctl = pytest.importorskip("threadpoolctl")

    def blas_threads():
        return max(p["num_threads"] for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas")

    seen = []
    serving.register_custom_op("test.threads", "Probe", lambda x: (seen.append(blas_threads()), x)[1])
    try:
        graph = helper.make_graph([helper.make_node("Probe", ["x"], ["y"], domain="test.threads")], "g",
                                  [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                        helper.make_opsetid("test.threads", 1)])
        options = SessionOptions()
        options.intra_op_num_threads = 1
        before = blas_threads()
        InferenceSession(model, options).run(None, {"x": np.ones(2, np.float32)})
        assert seen == [1] and blas_threads() == before
    finally:
        serving.unregister_custom_op("test.threads", "Probe")


# ----------------------------------------------------------------- profiling
def test_profiles_are_chrome_traces_shaped_like_onnxruntimes(tmp_path):
    ours_options, their_options = SessionOptions(), ort.SessionOptions()
    for options, prefix in ((ours_options, "ours"), (their_options, "theirs")):
        options.enable_profiling = True
        options.profile_file_prefix = str(tmp_path / prefix)
    ours, theirs = InferenceSession(_mlp(), ours_options), _theirs(_mlp(), their_options)
    assert ours.get_profiling_start_time_ns() > 0
    for session in (ours, theirs):
        for _ in range(2):
            session.run(None, {"x": _x(2, 4)})
    ours_path, their_path = ours.end_profiling(), theirs.end_profiling()
    assert ours_path.startswith(str(tmp_path / "ours_")) and ours_path.endswith(".json")
    ours_events, their_events = json.loads(open(ours_path).read()), json.loads(open(their_path).read())
    assert {frozenset(e) for e in ours_events} == {frozenset(e) for e in their_events}  # the same keys
    nodes = [e for e in ours_events if e["cat"] == "Node"]
    assert [e["name"] for e in nodes] == ["matmul+add_kernel_time", "relu_kernel_time"] * 2
    assert nodes[0]["args"]["op_name"] == "MatMulAdd" and nodes[1]["args"]["op_name"] == "Relu"
    assert nodes[1]["args"]["input_type_shape"] == [{"float": [2, 3]}]
    their_node = next(e for e in their_events if e["cat"] == "Node")
    assert set(nodes[0]["args"]) >= {"op_name", "provider", "node_index", "input_type_shape", "output_type_shape"}
    assert set(their_node["args"]) >= {"op_name", "provider", "node_index", "input_type_shape", "output_type_shape"}
    assert all(e["ph"] == "X" and e["dur"] >= 0 and e["ts"] >= 0 for e in ours_events)
    runs = [e for e in ours_events if e["name"] == "model_run"]
    assert len(runs) == 2 and {"model_run", "session_initialization"} <= {e["name"] for e in their_events}
    assert ours.end_profiling() == theirs.end_profiling() == ""
    ours.run(None, {"x": _x(2, 4)})  # no longer profiled, and still runs


# ----------------------------------------------------------------- RunOptions
def test_terminate_stops_a_run_before_it_starts_and_between_nodes():
    session = InferenceSession(_mlp())
    options, their_options = RunOptions(), ort.RunOptions()
    options.terminate = their_options.terminate = True
    with pytest.raises(RunTerminatedError, match="terminate flag being set to true"):
        session.run(None, {"x": _x(2, 4)}, options)
    with pytest.raises(Exception, match="terminate flag being set to true"):
        _theirs(_mlp()).run(None, {"x": _x(2, 4)}, their_options)

    calls = []
    options = RunOptions()

    def stop(x):
        calls.append("stop")
        options.terminate = True  # as another thread would, while the run is under way
        return x

    serving.register_custom_op("test.stop", "Stop", stop)
    serving.register_custom_op("test.stop", "Never", lambda x: calls.append("never") or x)
    try:
        graph = helper.make_graph([helper.make_node("Stop", ["x"], ["s"], domain="test.stop", name="stop"),
                                   helper.make_node("Never", ["s"], ["y"], domain="test.stop", name="never")], "g",
                                  [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                        helper.make_opsetid("test.stop", 1)])
        with pytest.raises(RunTerminatedError, match="before node 'never'"):
            InferenceSession(model).run(None, {"x": np.ones(2, np.float32)}, options)
        assert calls == ["stop"]
    finally:
        serving.unregister_custom_op("test.stop", "Stop")
        serving.unregister_custom_op("test.stop", "Never")


def test_run_options_keep_config_entries_like_onnxruntime():
    for options in (RunOptions(), ort.RunOptions()):
        assert (options.logid, options.log_severity_level, options.terminate) == ("", -1, False)
        with pytest.raises(RuntimeError, match="does not have configuration with key: k"):
            options.get_run_config_entry("k")
        options.add_run_config_entry("k", "v")
        assert options.get_run_config_entry("k") == "v"
    got = InferenceSession(_mlp()).run(None, {"x": _x(2, 4)}, RunOptions())
    np.testing.assert_allclose(got[0], _theirs(_mlp()).run(None, {"x": _x(2, 4)}, ort.RunOptions())[0], rtol=1e-6)


# ----------------------------------------------------------------- OrtValue
def test_ort_values_describe_themselves_as_onnxruntimes_do():
    for array in (np.arange(6, dtype=np.float32).reshape(2, 3), np.array([1, 2], np.int64), np.zeros((), np.bool_)):
        ours, theirs = OrtValue.ortvalue_from_numpy(array), ort.OrtValue.ortvalue_from_numpy(array)
        for method in ("shape", "data_type", "element_type", "device_name", "is_tensor", "has_value",
                       "is_tensor_sequence", "tensor_size_in_bytes"):
            assert getattr(ours, method)() == getattr(theirs, method)(), method
        assert ours.data_ptr() == array.ctypes.data  # the array's own memory, as ONNX Runtime shares it
    array = np.zeros(3, np.float32)
    value = OrtValue.ortvalue_from_numpy(array)
    value.numpy()[0] = 7
    value.update_inplace(np.array([1, 2, 3], np.float32))
    np.testing.assert_array_equal(array, [1, 2, 3])
    with pytest.raises(InvalidArgumentError, match="update_inplace needs an array of shape"):
        value.update_inplace(np.ones(4, np.float32))
    empty = OrtValue.ortvalue_from_shape_and_type([2, 3], np.float32)
    assert empty.shape() == ort.OrtValue.ortvalue_from_shape_and_type([2, 3], np.float32).shape()
    assert OrtValue.ortvalue_from_shape_and_type([4], TensorProto.INT32).numpy().dtype == np.int32
    with pytest.raises(InvalidArgumentError, match="unknown device_type 'gpu'"):
        OrtValue.ortvalue_from_numpy(array, "gpu")


def test_ort_values_feed_run_and_run_with_ort_values():
    x = _x(3, 4)
    ours, theirs = InferenceSession(_mlp()), _theirs(_mlp())
    np.testing.assert_allclose(ours.run(["y"], {"x": OrtValue.ortvalue_from_numpy(x)})[0],
                               theirs.run(["y"], {"x": ort.OrtValue.ortvalue_from_numpy(x)})[0], rtol=1e-6)
    got = ours.run_with_ort_values(["pre", "y"], {"x": OrtValue.ortvalue_from_numpy(x)})
    want = theirs.run_with_ort_values(["pre", "y"], {"x": ort.OrtValue.ortvalue_from_numpy(x)})
    assert [v.device_name() for v in got] == [v.device_name() for v in want] == ["cpu", "cpu"]
    for a, b in zip(got, want):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6)
    with pytest.raises(InvalidArgumentError, match="takes OrtValues"):
        ours.run_with_ort_values(None, {"x": x})


# ----------------------------------------------------------------- IOBinding
def test_io_binding_matches_onnxruntime():
    x = _x(2, 4)
    results = []
    for session in (InferenceSession(_mlp()), _theirs(_mlp())):
        binding = session.io_binding()
        binding.bind_cpu_input("x", x)
        binding.bind_output("y")
        binding.bind_output("pre", "cpu")
        session.run_with_iobinding(binding)
        results.append((binding.copy_outputs_to_cpu(), [v.shape() for v in binding.get_outputs()]))
    (ours, our_shapes), (theirs, their_shapes) = results
    assert our_shapes == their_shapes == [[2, 3], [2, 3]]
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_bound_outputs_and_buffers_are_written_in_place():
    session, x = InferenceSession(_mlp()), _x(2, 4)
    (want,) = session.run(["y"], {"x": x})
    out = OrtValue.ortvalue_from_numpy(np.zeros((2, 3), np.float32))
    pre = np.zeros((2, 3), np.float32)
    binding = session.io_binding()
    binding.bind_input("x", "cpu", 0, np.float32, [2, 4], x.ctypes.data)
    binding.bind_ortvalue_output("y", out)
    binding.bind_output("pre", "cpu", 0, np.float32, [2, 3], pre.ctypes.data)
    session.run_with_iobinding(binding)
    np.testing.assert_allclose(out.numpy(), want, rtol=1e-6)
    np.testing.assert_allclose(pre, session.run(["pre"], {"x": x})[0], rtol=1e-6)
    assert binding.get_outputs()[0] is out
    copied = binding.copy_outputs_to_cpu()[0]
    copied[...] = -1  # a copy: the bound value keeps the result
    np.testing.assert_allclose(out.numpy(), want, rtol=1e-6)
    binding.synchronize_inputs()
    binding.synchronize_outputs()
    small = session.io_binding()
    small.bind_cpu_input("x", x)
    small.bind_ortvalue_output("y", OrtValue.ortvalue_from_numpy(np.zeros((5, 3), np.float32)))
    with pytest.raises(InvalidArgumentError, match=r"output 'y' is \[2, 3\] float32, but the value bound"):
        session.run_with_iobinding(small)


def test_io_binding_errors_name_what_is_wrong():
    session = InferenceSession(_mlp())
    binding = session.io_binding()
    with pytest.raises(InvalidArgumentError, match="Failed to find NodeArg with name: nope"):
        binding.bind_cpu_input("nope", _x(2, 4))
    with pytest.raises(InvalidArgumentError, match="Failed to find NodeArg with name: nope"):
        binding.bind_output("nope")
    binding.bind_cpu_input("x", _x(2, 4))
    with pytest.raises(InvalidArgumentError, match="At least one output should be requested"):
        session.run_with_iobinding(binding)
    binding.bind_output("y")
    binding.clear_binding_inputs()
    with pytest.raises(InvalidArgumentError, match=r"missing input\(s\) \['x'\]"):
        session.run_with_iobinding(binding)
    with pytest.raises(InvalidArgumentError, match="IOBinding must be used with the session that created it"):
        InferenceSession(_mlp()).run_with_iobinding(binding)
    binding.clear_binding_outputs()
    with pytest.raises(InvalidArgumentError, match="no outputs yet"):
        binding.get_outputs()


# ----------------------------------------------------------------- providers
def test_providers_are_reported_as_onnxruntime_reports_them():
    ours, theirs = InferenceSession(_mlp()), _theirs(_mlp())
    assert ours.get_providers() == theirs.get_providers() == ["CPUExecutionProvider"]
    assert ours.get_provider_options() == theirs.get_provider_options() == {"CPUExecutionProvider": {}}
    assert "CPUExecutionProvider" in serving.get_available_providers()
    assert serving.get_all_providers() == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert serving.get_device() == ("GPU" if "CUDAExecutionProvider" in serving.get_available_providers() else "CPU")
    assert serving.__version__ == serving.get_version_string()
    ours.set_providers(["CPUExecutionProvider"])
    ours.disable_fallback()
    ours.enable_fallback()
    np.testing.assert_allclose(ours.run(None, {"x": _x(2, 4)})[0], theirs.run(None, {"x": _x(2, 4)})[0], rtol=1e-6)
    with pytest.raises(InvalidArgumentError, match="same length"):
        InferenceSession(_mlp(), providers=["CPUExecutionProvider"], provider_options=[{}, {}])


def test_an_unavailable_cuda_provider_falls_back_to_the_cpu_with_onnxruntimes_warning():
    if "CUDAExecutionProvider" in serving.get_available_providers():
        pytest.skip("CUDA is available here")
    for make in (lambda p: InferenceSession(_mlp(), providers=p), lambda p: ort.InferenceSession(_mlp(), providers=p)):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            session = make(["CUDAExecutionProvider", "CPUExecutionProvider"])
        assert session.get_providers() == ["CPUExecutionProvider"]
        assert any("'CUDAExecutionProvider' is not in available provider names" in str(w.message) for w in caught)
    with pytest.raises(InvalidArgumentError):
        InferenceSession(_mlp(), providers=["CUDAExecutionProvider"], enable_fallback=False)


# ----------------------------------------------------------------- custom operators
def _custom_model(domain="com.example", op="ScaledTanh"):
    graph = helper.make_graph([helper.make_node(op, ["x"], ["y"], domain=domain, name="custom", alpha=0.5)], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(domain, 1)])


def test_a_registered_python_kernel_runs_custom_domain_nodes():
    x = np.array([-1, 0, 2], np.float32)
    with pytest.raises(UnsupportedOperatorError, match="'ScaledTanh' of domain 'com.example'"):
        InferenceSession(_custom_model())
    serving.register_custom_op("com.example", "ScaledTanh", lambda x, alpha: np.tanh(x) * np.float32(alpha))
    try:
        np.testing.assert_allclose(InferenceSession(_custom_model()).run(None, {"x": x})[0], np.tanh(x) * 0.5,
                                   rtol=1e-6)
        serving.register_custom_op("com.example", "ScaledTanh", lambda x, alpha: x * np.float32(alpha))  # replaces
        np.testing.assert_allclose(InferenceSession(_custom_model()).run(None, {"x": x})[0], x * 0.5)
    finally:
        serving.unregister_custom_op("com.example", "ScaledTanh")
    with pytest.raises(UnsupportedOperatorError):
        InferenceSession(_custom_model())
    with pytest.raises(InvalidArgumentError, match="belongs to ONNX or to the runtime"):
        serving.register_custom_op("", "Relu", lambda x: x)
    with pytest.raises(InvalidArgumentError, match="belongs to ONNX or to the runtime"):
        serving.register_custom_op(FUSED_DOMAIN, "MatMulAdd", lambda x: x)


def test_a_trainer_custom_op_exported_to_a_custom_domain_runs_with_its_python_kernel():
    trainer = pytest.importorskip("trainer")
    exporter = pytest.importorskip("exporter")

    @trainer.library.custom_op("sardonyx_ort_api_test::scaled_tanh", mutates_args=())
    def scaled_tanh(x: trainer.Tensor, alpha: float) -> trainer.Tensor:
        return trainer.from_numpy(np.tanh(x.numpy()) * np.float32(alpha))

    class Model(trainer.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = trainer.nn.Linear(3, 4)

        def forward(self, x):
            return scaled_tanh(self.fc(x), 0.5) + 1

    trainer.manual_seed(0)
    model = Model().eval()
    x = trainer.randn(5, 3)
    name = "sardonyx_ort_api_test::scaled_tanh"
    exporter.register_custom_op_symbolic(name, lambda g, x, alpha: g.op("com.example::ScaledTanh", x, alpha_f=alpha),
                                         13)
    try:
        proto = exporter.export(model, (x,), None, opset_version=17)
    finally:
        exporter.unregister_custom_op_symbolic(name, 13)
    assert ("com.example", "ScaledTanh") in {(n.domain, n.op_type) for n in proto.graph.node}
    with pytest.raises(UnsupportedOperatorError, match="'ScaledTanh' of domain 'com.example'"):
        InferenceSession(proto)
    serving.register_custom_op("com.example", "ScaledTanh", lambda v, alpha: np.tanh(v) * np.float32(alpha))
    try:
        (got,) = InferenceSession(proto).run(None, {proto.graph.input[0].name: x.numpy()})
    finally:
        serving.unregister_custom_op("com.example", "ScaledTanh")
    with trainer.no_grad():
        np.testing.assert_allclose(got, model(x).numpy(), rtol=1e-5, atol=1e-6)


def test_concurrent_runs_with_profiling_record_every_node(tmp_path):
    options = SessionOptions()
    options.enable_profiling = True
    options.profile_file_prefix = str(tmp_path / "threads")
    session = InferenceSession(_mlp(), options)
    threads = [threading.Thread(target=lambda: [session.run(None, {"x": _x(2, 4)}) for _ in range(5)])
               for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    events = json.loads(open(session.end_profiling()).read())
    assert sum(e["cat"] == "Node" for e in events) == 3 * 5 * 2


# ----------------------------------------------------------------- CUDA
@pytest.mark.cuda
def test_cuda_io_binding_passes_device_arrays_through():
    import cupy

    session = InferenceSession(_mlp(), providers=["CUDAExecutionProvider"])
    assert session.get_providers() == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    x = cupy.asarray(_x(2, 4))
    out = OrtValue.ortvalue_from_shape_and_type([2, 3], np.float32, "cuda", 0)
    binding = session.io_binding()
    binding.bind_ortvalue_input("x", OrtValue.ortvalue_from_numpy(x, "cuda", 0))
    binding.bind_ortvalue_output("y", out)
    binding.bind_output("pre", "cuda")
    session.run_with_iobinding(binding)
    binding.synchronize_outputs()
    (pre,) = [v for v in binding.get_outputs() if v is not out]
    assert isinstance(pre.value(), cupy.ndarray) and pre.device_name() == "cuda"
    assert out.data_ptr() == out.value().data.ptr
    want = InferenceSession(_mlp()).run(None, {"x": x.get()})
    np.testing.assert_allclose(out.numpy(), want[0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(pre.numpy(), want[1], rtol=1e-5, atol=1e-5)
    assert OrtValue.ortvalue_from_numpy(x, "cuda", 0).data_ptr() == x.data.ptr  # no copy of a device array
