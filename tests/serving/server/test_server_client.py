"""The unmodified tritonclient.grpc client against a real server on a free port."""

import queue

import numpy as np
import pytest
import serverkit
import tritonclient.grpc as grpcclient
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from serverkit import infer_input
from tritonclient.utils import InferenceServerException

from serving import InferenceSession


def _simple_inputs(batch=2):
    rng = np.random.default_rng(batch)
    a, b = (rng.standard_normal((batch, 16)).astype(np.float32) for _ in range(2))
    return a, b, [infer_input("INPUT0", a, "FP32"), infer_input("INPUT1", b, "FP32")]


def test_server_and_model_status(client):
    assert client.is_server_live()
    assert client.is_server_ready()
    assert client.is_model_ready("simple")
    assert client.is_model_ready("simple", "1")
    assert not client.is_model_ready("simple", "7")
    assert not client.is_model_ready("no_such_model")
    metadata = client.get_server_metadata()
    assert metadata.name == "sardonyx-serve"
    assert "model_repository" in metadata.extensions


def test_model_metadata_and_config(client):
    metadata = client.get_model_metadata("simple")
    assert metadata.platform == "onnxruntime_onnx" and list(metadata.versions) == ["1"]
    assert [(t.name, t.datatype, list(t.shape)) for t in metadata.inputs] == \
        [("INPUT0", "FP32", [-1, 16]), ("INPUT1", "FP32", [-1, 16])]
    config = client.get_model_config("simple", as_json=True)["config"]
    assert config["max_batch_size"] == 8
    assert [i["name"] for i in config["output"]] == ["OUTPUT0", "OUTPUT1"]
    fixed = client.get_model_config("fixed").config
    assert fixed.max_batch_size == 0 and list(fixed.input[0].dims) == [2, 8]


def test_infer_matches_in_process_run(client, standard_repo):
    a, b, inputs = _simple_inputs()
    outputs = [grpcclient.InferRequestedOutput("OUTPUT1"), grpcclient.InferRequestedOutput("OUTPUT0")]
    result = client.infer("simple", inputs, outputs=outputs, request_id="abc")
    expected = InferenceSession(str(standard_repo / "simple" / "1" / "model.onnx")).run(None, {"INPUT0": a,
                                                                                                "INPUT1": b})
    np.testing.assert_array_equal(result.as_numpy("OUTPUT0"), expected[0])
    np.testing.assert_array_equal(result.as_numpy("OUTPUT1"), expected[1])
    response = result.get_response()
    assert response.id == "abc" and [o.name for o in response.outputs] == ["OUTPUT1", "OUTPUT0"]


def test_dtypes_round_trip(client, standard_repo):
    feeds = {
        "fp32": np.array([[1.5, -2.0, 3.25]], np.float32),
        "int64": np.array([[2**40, -7, 0]], np.int64),
        "bool": np.array([[True, False, True]]),
        "fp16": np.array([[0.5, -1.0, 6.0]], np.float16),
        "bytes": np.array([[b"caf\xc3\xa9", b"", b"x" * 300]], dtype=object),
    }
    wire = {"fp32": "FP32", "int64": "INT64", "bool": "BOOL", "fp16": "FP16", "bytes": "BYTES"}
    result = client.infer("dtypes", [infer_input(n, v, wire[n]) for n, v in feeds.items()])
    expected = InferenceSession(str(standard_repo / "dtypes" / "1" / "model.onnx")).run(None, feeds)
    names = ["fp32_sq", "int64_neg", "bool_not", "fp16_x2", "bytes_out"]
    for name, want in zip(names, expected):
        got = result.as_numpy(name)
        assert got.shape == want.shape, name
        if name == "bytes_out":
            assert [v.decode() for v in got.ravel()] == list(want.ravel())
        else:
            assert got.dtype == want.dtype, name
            np.testing.assert_array_equal(got, want)


def test_typed_contents_are_accepted(server):
    """Inputs in InferTensorContents instead of raw bytes (what KServe clients other than Triton's send)."""
    request = serverkit.pb_request("simple", {"INPUT0": [1.0] * 16, "INPUT1": [0.5] * 16}, typed=True)
    with serverkit.channel(server) as channel:
        response = serverkit.stub(channel).ModelInfer(request, timeout=10)
    values = np.frombuffer(response.raw_output_contents[0], np.float32)
    np.testing.assert_array_equal(values, np.full(16, 1.5, np.float32))


def test_async_infer(client):
    a, b, inputs = _simple_inputs(3)
    done = queue.Queue()
    client.async_infer("simple", inputs, callback=lambda result, error: done.put((result, error)))
    result, error = done.get(timeout=10)
    assert error is None
    np.testing.assert_array_equal(result.as_numpy("OUTPUT0"), a + b)


def test_streaming(client):
    responses = queue.Queue()
    client.start_stream(callback=lambda result, error: responses.put((result, error)))
    try:
        sent = []
        for i in range(4):
            a, b, inputs = _simple_inputs(i + 1)
            sent.append(a - b)
            client.async_stream_infer("simple", inputs, request_id=str(i), enable_empty_final_response=i == 3)
        client.async_stream_infer("no_such_model", _simple_inputs()[2])
        got = [responses.get(timeout=10) for _ in range(5)]
    finally:
        client.stop_stream()
    for i, (result, error) in enumerate(got[:4]):
        assert error is None
        assert result.get_response().id == str(i)
        np.testing.assert_array_equal(result.as_numpy("OUTPUT1"), sent[i])
        final = result.get_response().parameters.get("triton_final_response")
        assert (final is not None and final.bool_param) == (i == 3)
    assert got[4][0] is None and "unknown model" in str(got[4][1])


def test_statistics(client):
    before = client.get_inference_statistics("simple").model_stats[0]
    _, _, inputs = _simple_inputs(3)
    client.infer("simple", inputs)
    with pytest.raises(InferenceServerException):
        client.infer("simple", [inputs[0]])
    after = client.get_inference_statistics("simple", "1").model_stats[0]
    assert (after.name, after.version) == ("simple", "1")
    assert after.inference_stats.success.count == before.inference_stats.success.count + 1
    assert after.inference_stats.fail.count == before.inference_stats.fail.count + 1
    assert after.inference_count == before.inference_count + 3
    assert after.execution_count == before.execution_count + 1
    assert after.last_inference > 0 and after.inference_stats.compute_infer.ns > 0
    assert any(b.batch_size == 3 for b in after.batch_stats)
    every = client.get_inference_statistics()
    assert {s.name for s in every.model_stats} >= {"simple", "dtypes", "fixed", "batched"}


def test_repository_index_load_and_unload(client, server):
    index = {m.name: m for m in client.get_model_repository_index().models}
    assert index["simple"].state == "READY" and index["simple"].version == "1"
    client.unload_model("fixed")
    assert not client.is_model_ready("fixed")
    index = {m.name: m for m in client.get_model_repository_index().models}
    assert (index["fixed"].state, index["fixed"].reason) == ("UNAVAILABLE", "unloaded")
    with serverkit.channel(server) as channel:  # tritonclient has no argument for the `ready` filter
        ready = serverkit.stub(channel).RepositoryIndex(serverkit.pb.RepositoryIndexRequest(ready=True), timeout=10)
    assert "fixed" not in {m.name for m in ready.models} and "simple" in {m.name for m in ready.models}
    with pytest.raises(InferenceServerException, match="fixed"):
        client.infer("fixed", [infer_input("x", np.ones((2, 8), np.int32), "INT32")])
    client.load_model("fixed")
    assert client.is_model_ready("fixed")
    result = client.infer("fixed", [infer_input("x", np.ones((2, 8), np.int32), "INT32")])
    np.testing.assert_array_equal(result.as_numpy("y"), np.full((2, 8), 2, np.int32))


def test_load_with_config_override(client):
    client.load_model("simple", config='{"max_batch_size": 2}')
    try:
        assert client.get_model_config("simple").config.max_batch_size == 2
    finally:
        client.load_model("simple")
    assert client.get_model_config("simple").config.max_batch_size == 8


def test_unimplemented_extensions(client):
    for call in (lambda: client.get_cuda_shared_memory_status(), lambda: client.get_trace_settings(),
                 lambda: client.get_log_settings()):
        with pytest.raises(InferenceServerException) as info:
            call()
        assert info.value.status() == "StatusCode.UNIMPLEMENTED"
        assert "does not support" in info.value.message()


def test_health_service_answers_serving(server):
    with serverkit.channel(server) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        for service in ("", "inference.GRPCInferenceService"):
            reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_reflection_lists_the_services(server):
    with serverkit.channel(server) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        requests = [reflection_pb2.ServerReflectionRequest(list_services=""),
                    reflection_pb2.ServerReflectionRequest(file_containing_symbol="inference.ModelInferRequest")]
        replies = list(stub.ServerReflectionInfo(iter(requests), timeout=5))
    names = {s.name for s in replies[0].list_services_response.service}
    assert {"inference.GRPCInferenceService", "grpc.health.v1.Health"} <= names
    assert replies[1].file_descriptor_response.file_descriptor_proto
