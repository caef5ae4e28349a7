"""The model repository: config.pbtxt, completion from the model, version policies, control modes."""

import logging
import time

import numpy as np
import pytest
import serverkit
from serverkit import add_model, infer_input, write_model
from tritonclient.utils import InferenceServerException

from serving.server import config as model_config
from serving.server.protocol import config_pb
from serving.server.repository import select_versions

TRITON_CONFIG = """
name: "simple"
platform: "onnxruntime_onnx"
max_batch_size: 8
input [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ 16 ] }, { name: "INPUT1" data_type: TYPE_FP32 dims: [ 16 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ 16 ] } ]
instance_group [ { count: 2 kind: KIND_CPU rate_limiter { resources [ { name: "R1" count: 4 } ] } } ]
dynamic_batching { preferred_batch_size: [ 4, 8 ] max_queue_delay_microseconds: 100 priority_levels: 2
  default_priority_level: 1 }
optimization { execution_accelerators { cpu_execution_accelerator : [ { name : "openvino" } ] } }
model_warmup [ { name: "zeros" batch_size: 2 inputs { key: "INPUT0" value: { data_type: TYPE_FP32 dims: [ 16 ]
  zero_data: true } } inputs { key: "INPUT1" value: { data_type: TYPE_FP32 dims: [ 16 ] random_data: true } } } ]
response_cache { enable: true }
"""


def _x(batch=1):
    return [infer_input("x", np.zeros((batch, 4), np.float32), "FP32")]


def test_triton_config_parses_and_unknown_fields_are_reported(tmp_path, caplog):
    write_model(tmp_path, "simple", serverkit.simple_model(), TRITON_CONFIG)
    with caplog.at_level(logging.INFO, logger="sardonyx.serve"):
        with serverkit.running_server(tmp_path) as server, serverkit.client(server) as client:
            config = client.get_model_config("simple").config
            assert [o.name for o in config.output] == ["OUTPUT0"]  # the config may list a subset of outputs
            assert list(config.dynamic_batching.preferred_batch_size) == [4, 8]
            assert config.instance_group[0].count == 2
            a = np.ones((2, 16), np.float32)
            result = client.infer("simple", [infer_input("INPUT0", a, "FP32"), infer_input("INPUT1", a, "FP32")])
            np.testing.assert_array_equal(result.as_numpy("OUTPUT0"), a + a)
            assert result.as_numpy("OUTPUT1") is None
    ignored = [r.message for r in caplog.records if "ignored" in r.message]
    assert len(ignored) == 1
    for name in ("instance_group.rate_limiter", "optimization"):
        assert name in ignored[0]
    assert "priority_levels" not in ignored[0]  # acted on: the batcher queues by priority
    assert any("warmed up model 'simple'" in r.message for r in caplog.records)


def test_config_is_completed_from_the_model(tmp_path):
    write_model(tmp_path, "auto", add_model(1.0))  # no config.pbtxt: Triton's autocomplete
    write_model(tmp_path, "partial", add_model(1.0), 'input [ { name: "x" } ]\nmax_batch_size: 0\n')
    with serverkit.running_server(tmp_path) as server, serverkit.client(server) as client:
        auto = client.get_model_config("auto").config
        assert auto.max_batch_size == 4 and auto.HasField("dynamic_batching")
        assert (auto.input[0].data_type, list(auto.input[0].dims)) == (config_pb.TYPE_FP32, [4])
        assert [o.name for o in auto.output] == ["y"] and auto.platform == "onnxruntime_onnx"
        partial = client.get_model_config("partial").config
        assert partial.max_batch_size == 0 and list(partial.input[0].dims) == [-1, 4]
        result = client.infer("partial", [infer_input("x", np.zeros((5, 4), np.float32), "FP32")])
        np.testing.assert_array_equal(result.as_numpy("y"), np.ones((5, 4), np.float32))


def test_config_that_contradicts_the_model_is_unavailable_with_its_reason(tmp_path):
    write_model(tmp_path, "good", add_model(1.0))
    write_model(tmp_path, "wrongtype", add_model(1.0), 'input [ { name: "x" data_type: TYPE_INT32 } ]')
    write_model(tmp_path, "wrongname", add_model(1.0), 'input [ { name: "z" } ]')
    write_model(tmp_path, "broken", b"not an onnx model")
    write_model(tmp_path, "badtext", add_model(1.0), "max_batch_size: {")
    with serverkit.running_server(tmp_path) as server, serverkit.client(server) as client:
        assert client.is_model_ready("good")
        np.testing.assert_array_equal(client.infer("good", _x()).as_numpy("y"), np.ones((1, 4), np.float32))
        index = {m.name: m for m in client.get_model_repository_index().models}
        assert index["good"].state == "READY"
        assert "unexpected datatype TYPE_INT32 for inference input 'x'" in index["wrongtype"].reason
        assert "input 'z' for model 'wrongname', allowed inputs are: x" in index["wrongname"].reason
        assert "failed to load 'broken' version 1" in index["broken"].reason
        assert "failed to parse" in index["badtext"].reason
        for name in ("wrongtype", "broken", "badtext"):
            assert index[name].state == "UNAVAILABLE"
            assert not client.is_model_ready(name)
        with pytest.raises(InferenceServerException) as info:
            client.infer("broken", _x())
        assert info.value.status() == "StatusCode.UNAVAILABLE" and "has no available versions" in info.value.message()


def test_select_versions():
    policy = config_pb.ModelVersionPolicy()
    assert select_versions([1, 3, 2], policy) == [3]
    policy.latest.num_versions = 2
    assert select_versions([1, 3, 2], policy) == [3, 2]
    policy.all.SetInParent()
    assert select_versions([1, 3, 2], policy) == [3, 2, 1]
    policy.specific.versions.extend([1, 5])
    assert select_versions([1, 3, 2], policy) == [5, 1]


def test_version_policies_and_default_model_filename(tmp_path):
    for version in (1, 2, 3):
        write_model(tmp_path, "latest", add_model(version), version=version)
        write_model(tmp_path, "all", add_model(version), "version_policy: { all { } }", version=version)
        write_model(tmp_path, "specific", add_model(version), "version_policy: { specific { versions: [1, 3] } }",
                    version=version)
    write_model(tmp_path, "renamed", add_model(7.0), 'default_model_filename: "net.onnx"', filename="net.onnx")
    with serverkit.running_server(tmp_path) as server, serverkit.client(server) as client:
        def y(model, version=""):
            return client.infer(model, _x(), model_version=version).as_numpy("y")[0, 0]

        assert y("latest") == 3 and not client.is_model_ready("latest", "2")
        assert [y("all", v) for v in "123"] == [1, 2, 3] and y("all") == 3
        assert y("specific", "1") == 1 and y("specific") == 3 and not client.is_model_ready("specific", "2")
        assert list(client.get_model_metadata("all").versions) == ["1", "2", "3"]
        assert y("renamed") == 7
        stats = client.get_inference_statistics("all").model_stats
        assert [s.version for s in stats] == ["1", "2", "3"]


def test_mode_none_refuses_load_and_unload(tmp_path):
    write_model(tmp_path, "m", add_model(1.0))
    with serverkit.running_server(tmp_path) as server, serverkit.client(server) as client:
        with pytest.raises(InferenceServerException) as info:
            client.unload_model("m")
        assert info.value.status() == "StatusCode.UNAVAILABLE" and "explicit" in info.value.message()
        assert client.is_model_ready("m")


def test_explicit_mode_loads_only_what_it_is_asked(tmp_path):
    write_model(tmp_path, "a", add_model(1.0))
    write_model(tmp_path, "b", add_model(2.0))
    with serverkit.running_server(tmp_path, model_control_mode="explicit", load_models=["a"]) as server, \
            serverkit.client(server) as client:
        assert client.is_model_ready("a") and not client.is_model_ready("b")
        assert {m.name: m.state for m in client.get_model_repository_index().models} == {"a": "READY", "b": ""}
        client.load_model("b")
        assert client.infer("b", _x()).as_numpy("y")[0, 0] == 2
        with pytest.raises(InferenceServerException) as info:
            client.load_model("c")
        assert info.value.status() == "StatusCode.NOT_FOUND"


def test_poll_mode_follows_the_repository(tmp_path):
    import shutil

    write_model(tmp_path, "a", add_model(1.0))
    with serverkit.running_server(tmp_path, model_control_mode="poll", repository_poll_secs=0.2) as server, \
            serverkit.client(server) as client:
        assert client.infer("a", _x()).as_numpy("y")[0, 0] == 1
        write_model(tmp_path, "b", add_model(2.0))
        write_model(tmp_path, "a", add_model(5.0), version=2)
        _wait(lambda: client.is_model_ready("b") and client.is_model_ready("a", "2"))
        assert client.infer("a", _x()).as_numpy("y")[0, 0] == 5
        shutil.rmtree(tmp_path / "b")
        _wait(lambda: not client.is_model_ready("b"))


def _wait(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the repository did not change in time"
        time.sleep(0.05)


def test_ignored_fields_lists_unknown_and_unused_settings(tmp_path):
    (tmp_path / "config.pbtxt").write_text(TRITON_CONFIG)
    file = model_config.read(tmp_path)
    assert "instance_group.rate_limiter" in file.unknown
    assert "dynamic_batching.priority_levels" not in model_config.ignored_fields(file)  # acted on
    assert "max_batch_size" in file.mentioned


def _health(server):
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with serverkit.channel(server) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
    return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)


def test_strict_readiness_follows_the_models(tmp_path):
    write_model(tmp_path, "good", add_model(1.0))
    write_model(tmp_path, "broken", b"not an onnx model")
    with serverkit.running_server(tmp_path, model_control_mode="explicit", load_models=["*"]) as server, \
            serverkit.client(server) as client:
        assert client.is_server_live() and not client.is_server_ready() and _health(server) == "NOT_SERVING"
        client.unload_model("broken")  # an unloaded model no longer holds the server back, as in Triton
        assert client.is_server_ready() and _health(server) == "SERVING"
        with pytest.raises(InferenceServerException):
            client.load_model("broken")
        assert not client.is_server_ready() and _health(server) == "NOT_SERVING"
    with serverkit.running_server(tmp_path, strict_readiness=False) as server, serverkit.client(server) as client:
        assert client.is_server_ready() and _health(server) == "SERVING"


def test_reshape_between_wire_and_model(tmp_path):
    """`reshape`: clients send [batch, 4]; the model takes [batch, 2, 2] and the output goes back as [batch, 4]."""
    from onnx import TensorProto, helper

    shape = ["batch", 2, 2]
    graph = helper.make_graph([helper.make_node("Neg", ["x"], ["y"])], "neg",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    config = ('max_batch_size: 4\ninput [{ name: "x" data_type: TYPE_FP32 dims: [4] reshape: { shape: [2, 2] } }]\n'
              'output [{ name: "y" data_type: TYPE_FP32 dims: [4] reshape: { shape: [2, 2] } }]\n')
    write_model(tmp_path, "neg", model, config)
    with serverkit.running_server(tmp_path) as server, serverkit.client(server) as client:
        x = np.arange(12, dtype=np.float32).reshape(3, 4)
        y = client.infer("neg", [infer_input("x", x, "FP32")]).as_numpy("y")
        np.testing.assert_array_equal(y, -x)
