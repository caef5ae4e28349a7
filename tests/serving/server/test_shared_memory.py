"""System shared memory through the unmodified tritonclient (gRPC and HTTP) and its shared_memory utilities."""

import contextlib
import http.client
import json
import os
import threading
from pathlib import Path

import grpc
import numpy as np
import pytest
import serverkit
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
import tritonclient.utils.shared_memory as shm
from tritonclient.utils import InferenceServerException, serialize_byte_tensor

from serving import InferenceSession
from serving.server.errors import NotFoundError
from serving.server.protocol import pb
from serving.server.shared_memory import SystemSharedMemory


@pytest.fixture(scope="module")
def server(standard_repo):
    with serverkit.running_server(standard_repo, model_control_mode="explicit", load_models=["*"], http_port=0,
                                  http_address=serverkit.HOST) as running:
        yield running


@pytest.fixture
def grpc_client(server):
    with serverkit.client(server) as c:
        yield c
        c.unregister_system_shared_memory()  # every test starts with no region registered


@pytest.fixture
def http_client(server):
    with httpclient.InferenceServerClient(f"{serverkit.HOST}:{server.http_port}") as c:
        yield c
        c.unregister_system_shared_memory()


@contextlib.contextmanager
def regions(*specs):
    """Shared-memory objects created for a test: (name, byte_size) each, keyed per process; always destroyed."""
    handles = []
    try:
        for name, size in specs:
            handles.append(shm.create_shared_memory_region(name, f"/sardonyx_{os.getpid()}_{name}", size))
        yield handles
    finally:
        for handle in handles:
            shm.destroy_shared_memory_region(handle)


def key(name):
    return f"/sardonyx_{os.getpid()}_{name}"


def mapped(name) -> bool:
    """Whether the server (it runs in this process) maps the object of region `name`: the test's own handle
    from `regions` is one mapping, the server's would be a second."""
    path = f"/dev/shm{key(name)}"
    return sum(line.endswith(path) for line in Path("/proc/self/maps").read_text().splitlines()) > 1


def _simple_arrays(standard_repo, batch=2):
    rng = np.random.default_rng(batch)
    a, b = (rng.standard_normal((batch, 16)).astype(np.float32) for _ in range(2))
    expected = InferenceSession(str(standard_repo / "simple" / "1" / "model.onnx")).run(None, {"INPUT0": a,
                                                                                              "INPUT1": b})
    return a, b, expected


def _fails(call, status, message):
    with pytest.raises(InferenceServerException) as info:
        call()
    assert info.value.status() == status, info.value
    assert message in info.value.message()


@pytest.mark.parametrize("client_kind", ["grpc", "http"])
def test_inputs_and_outputs_through_shared_memory_match_the_session(request, standard_repo, client_kind):
    client = request.getfixturevalue(f"{client_kind}_client")
    protocol = grpcclient if client_kind == "grpc" else httpclient
    a, b, expected = _simple_arrays(standard_repo)
    size = a.nbytes
    with regions(("in", 2 * size), ("out", 2 * size)) as (inputs, outputs):
        shm.set_shared_memory_region(inputs, [a, b])
        client.register_system_shared_memory("in", key("in"), 2 * size)
        client.register_system_shared_memory("out", key("out"), 2 * size)
        feeds = [protocol.InferInput("INPUT0", [2, 16], "FP32"), protocol.InferInput("INPUT1", [2, 16], "FP32")]
        feeds[0].set_shared_memory("in", size)
        feeds[1].set_shared_memory("in", size, offset=size)
        wanted = [protocol.InferRequestedOutput("OUTPUT0"), protocol.InferRequestedOutput("OUTPUT1")]
        wanted[0].set_shared_memory("out", size)
        wanted[1].set_shared_memory("out", size, offset=size)
        result = client.infer("simple", feeds, outputs=wanted)
        np.testing.assert_array_equal(shm.get_contents_as_numpy(outputs, np.float32, [2, 16]), expected[0])
        np.testing.assert_array_equal(shm.get_contents_as_numpy(outputs, np.float32, [2, 16], offset=size),
                                      expected[1])
        # The response describes the outputs and carries none of their data, as Triton's.
        if client_kind == "grpc":
            response = result.get_response()
            assert list(response.raw_output_contents) == [b"", b""]
            params = {o.name: {k: v.WhichOneof("parameter_choice") and getattr(v, v.WhichOneof("parameter_choice"))
                               for k, v in o.parameters.items()} for o in response.outputs}
        else:
            params = {o["name"]: o["parameters"] for o in result.get_response()["outputs"]}
            assert all("data" not in o for o in result.get_response()["outputs"])
        assert params == {"OUTPUT0": {"shared_memory_region": "out", "shared_memory_byte_size": size},
                          "OUTPUT1": {"shared_memory_region": "out", "shared_memory_byte_size": size,
                                      "shared_memory_offset": size}}


def test_status_lists_regions_over_grpc_and_http(grpc_client, http_client):
    with regions(("r1", 64), ("r2", 4096 + 128)):
        grpc_client.register_system_shared_memory("r1", key("r1"), 64)
        http_client.register_system_shared_memory("r2", key("r2"), 64, offset=4096 + 3)
        status = grpc_client.get_system_shared_memory_status()
        assert {name: (r.key, r.offset, r.byte_size) for name, r in status.regions.items()} == {
            "r1": (key("r1"), 0, 64), "r2": (key("r2"), 4096 + 3, 64)}
        assert http_client.get_system_shared_memory_status() == [
            {"name": "r1", "key": key("r1"), "offset": 0, "byte_size": 64},
            {"name": "r2", "key": key("r2"), "offset": 4099, "byte_size": 64}]
        assert http_client.get_system_shared_memory_status("r2") == [
            {"name": "r2", "key": key("r2"), "offset": 4099, "byte_size": 64}]
        assert list(grpc_client.get_system_shared_memory_status("r1").regions) == ["r1"]
        assert mapped("r1") and mapped("r2")
        http_client.unregister_system_shared_memory("r1")
        assert not mapped("r1")
        assert list(grpc_client.get_system_shared_memory_status().regions) == ["r2"]
        grpc_client.unregister_system_shared_memory()  # "" unregisters them all
        assert http_client.get_system_shared_memory_status() == []
        assert not mapped("r2")


def test_registration_errors_carry_tritons_codes(grpc_client, http_client):
    with regions(("small", 128)):
        grpc_client.register_system_shared_memory("small", key("small"), 128)
        _fails(lambda: grpc_client.register_system_shared_memory("small", key("small"), 64),
               "StatusCode.ALREADY_EXISTS", "shared memory region 'small' already in manager")
        _fails(lambda: http_client.register_system_shared_memory("small", key("small"), 64), "400",
               "shared memory region 'small' already in manager")
        _fails(lambda: grpc_client.register_system_shared_memory("ghost", "/sardonyx_no_such_key", 64),
               "StatusCode.INTERNAL", "Unable to open shared memory region: '/sardonyx_no_such_key'")
        _fails(lambda: http_client.register_system_shared_memory("ghost", "/sardonyx_no_such_key", 64), "500",
               "Unable to open shared memory region: '/sardonyx_no_such_key'")
        for offset, size in ((0, 129), (100, 29), (200, 1)):
            _fails(lambda o=offset, s=size: grpc_client.register_system_shared_memory("big", key("small"), s, o),
                   "StatusCode.INVALID_ARGUMENT", "failed to register shared memory region 'big': invalid args")
        _fails(lambda: http_client.register_system_shared_memory("big", key("small"), 100, 29), "400",
               "failed to register shared memory region 'big': invalid args")
        _fails(lambda: grpc_client.get_system_shared_memory_status("ghost"), "StatusCode.NOT_FOUND",
               "Unable to find system shared memory region: 'ghost'")
        _fails(lambda: http_client.get_system_shared_memory_status("ghost"), "404",
               "Unable to find system shared memory region: 'ghost'")
        # Unregistering a name that is not registered succeeds, as in Triton.
        grpc_client.unregister_system_shared_memory("ghost")
        http_client.unregister_system_shared_memory("ghost")
        assert list(grpc_client.get_system_shared_memory_status().regions) == ["small"]
        _fails(lambda: grpc_client.get_cuda_shared_memory_status(), "StatusCode.UNIMPLEMENTED",
               "does not support CUDA shared memory")
        assert "system_shared_memory" in grpc_client.get_server_metadata().extensions


_CODES = {"grpc": ("StatusCode.NOT_FOUND", "StatusCode.INVALID_ARGUMENT", "StatusCode.INTERNAL"),
          "http": ("404", "400", "500")}


@pytest.mark.parametrize("client_kind", ["grpc", "http"])
def test_inference_errors_name_the_region_and_sizes(request, standard_repo, client_kind):
    client = request.getfixturevalue(f"{client_kind}_client")
    protocol, codes = (grpcclient if client_kind == "grpc" else httpclient), _CODES[client_kind]
    a, b, _ = _simple_arrays(standard_repo, batch=1)
    with regions(("data", 128), ("tiny", 32)) as (data, _):
        shm.set_shared_memory_region(data, [a, b])
        client.register_system_shared_memory("data", key("data"), 128)
        client.register_system_shared_memory("tiny", key("tiny"), 32)

        def infer(in_region=("data", 64, 0), out_region=None):
            first = protocol.InferInput("INPUT0", [1, 16], "FP32")
            first.set_shared_memory(*in_region)
            second = protocol.InferInput("INPUT1", [1, 16], "FP32")
            second.set_data_from_numpy(b)
            wanted = [protocol.InferRequestedOutput("OUTPUT0")]
            if out_region is not None:
                wanted[0].set_shared_memory(*out_region)
            return client.infer("simple", [first, second], outputs=wanted)

        _fails(lambda: infer(("nowhere", 64)), codes[0],
               "Unable to find shared memory region: 'nowhere'")
        _fails(lambda: infer(("data", 64, 128)), codes[1],
               "Invalid offset for shared memory region: 'data'")
        _fails(lambda: infer(("data", 64, 96)), codes[1],
               "Invalid offset + byte size for shared memory region: 'data'")
        _fails(lambda: infer(("data", 60)), codes[1],
               "input byte size mismatch for input 'INPUT0' for model 'simple'. Expected 64, got 60")
        _fails(lambda: infer(out_region=("tiny", 32)), codes[2],
               "shared memory size specified with the request for output 'OUTPUT0' (32 bytes) should be at least "
               "64 bytes to hold the results")
        _fails(lambda: infer(out_region=("nowhere", 64)), codes[0],
               "Unable to find shared memory region: 'nowhere'")


def test_mixed_inputs_and_outputs(grpc_client, http_client, server, standard_repo):
    a, b, expected = _simple_arrays(standard_repo, batch=3)
    with regions(("half", 192), ("result", 4096 + 192)) as (half, result):
        shm.set_shared_memory_region(half, [b])
        grpc_client.register_system_shared_memory("half", key("half"), 192)
        grpc_client.register_system_shared_memory("result", key("result"), 4096 + 192)
        for client, protocol in ((grpc_client, grpcclient), (http_client, httpclient)):
            first = protocol.InferInput("INPUT0", [3, 16], "FP32")
            first.set_data_from_numpy(a)
            second = protocol.InferInput("INPUT1", [3, 16], "FP32")
            second.set_shared_memory("half", 192)
            wanted = [protocol.InferRequestedOutput("OUTPUT0"), protocol.InferRequestedOutput("OUTPUT1")]
            wanted[1].set_shared_memory("result", 192, offset=4096)
            reply = client.infer("simple", [first, second], outputs=wanted)
            np.testing.assert_array_equal(reply.as_numpy("OUTPUT0"), expected[0])
            np.testing.assert_array_equal(shm.get_contents_as_numpy(result, np.float32, [3, 16], offset=4096),
                                          expected[1])
            shm.set_shared_memory_region(result, [np.zeros((3, 16), np.float32)], offset=4096)
        # Typed contents (gRPC's other way to send data) mix with shared memory too.
        request = serverkit.pb_request("simple", {"INPUT0": a.ravel()}, typed=True, shape=[3, 16])
        tensor = request.inputs.add(name="INPUT1", datatype="FP32", shape=[3, 16])
        tensor.parameters["shared_memory_region"].string_param = "half"
        tensor.parameters["shared_memory_byte_size"].int64_param = 192
        with serverkit.channel(server) as channel:
            reply = serverkit.stub(channel).ModelInfer(request, timeout=10)
        np.testing.assert_array_equal(np.frombuffer(reply.raw_output_contents[0], np.float32).reshape(3, 16),
                                      expected[0])


def test_every_datatype_and_bytes_through_shared_memory(grpc_client, http_client, standard_repo):
    feeds = {"fp32": np.array([[1.5, -2.0, 3.25]], np.float32), "int64": np.array([[1, -2, 3]], np.int64),
             "bool": np.array([[True, False, True]]), "fp16": np.array([[0.5, 1.5, -3.0]], np.float16),
             "bytes": np.array([[b"a", b"\xffbc", b""]], dtype=object)}
    datatypes = {"fp32": "FP32", "int64": "INT64", "bool": "BOOL", "fp16": "FP16", "bytes": "BYTES"}
    expected = InferenceSession(str(standard_repo / "dtypes" / "1" / "model.onnx")).run(None, feeds)
    serialized = serialize_byte_tensor(feeds["bytes"])
    pieces = [*(feeds[n] for n in ("fp32", "int64", "bool", "fp16")), serialized]
    sizes = [p.nbytes for p in pieces[:4]] + [len(serialized.item())]
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).tolist()
    with regions(("typed", sum(sizes)), ("answers", 4096)) as (typed, answers):
        shm.set_shared_memory_region(typed, pieces)
        grpc_client.register_system_shared_memory("typed", key("typed"), sum(sizes))
        grpc_client.register_system_shared_memory("answers", key("answers"), 4096)
        for client, protocol in ((grpc_client, grpcclient), (http_client, httpclient)):
            inputs = []
            for name, size, offset in zip(("fp32", "int64", "bool", "fp16", "bytes"), sizes, offsets):
                tensor = protocol.InferInput(name, [1, 3], datatypes[name])
                tensor.set_shared_memory("typed", size, offset)
                inputs.append(tensor)
            wanted = [protocol.InferRequestedOutput(n) for n in ("fp32_sq", "int64_neg", "bool_not", "fp16_x2")]
            wanted.append(protocol.InferRequestedOutput("bytes_out"))
            wanted[-1].set_shared_memory("answers", 64, offset=16)
            wanted[2].set_shared_memory("answers", 3)
            reply = client.infer("dtypes", inputs, outputs=wanted)
            for name, value in zip(("fp32_sq", "int64_neg", "fp16_x2"), (expected[0], expected[1], expected[3])):
                np.testing.assert_array_equal(reply.as_numpy(name), value)
            np.testing.assert_array_equal(shm.get_contents_as_numpy(answers, np.bool_, [1, 3]), expected[2])
            assert shm.get_contents_as_numpy(answers, np.object_, [1, 3], offset=16).tolist() == [[b"a", b"\xffbc",
                                                                                                   b""]]
            shm.set_shared_memory_region(answers, [np.zeros(4096, np.uint8)])


def test_concurrent_requests_each_read_their_own_region(grpc_client, server, standard_repo):
    workers, rounds = 6, 5
    arrays = [_simple_arrays(standard_repo, batch=1 + i % 4) for i in range(workers)]
    names = [(f"in{i}", 128 * 4) for i in range(workers)] + [(f"out{i}", 128 * 4) for i in range(workers)]
    failures = []
    with regions(*names) as handles:
        for i, (a, b, _) in enumerate(arrays):
            shm.set_shared_memory_region(handles[i], [a, b])

        def work(i):
            try:
                a, b, expected = arrays[i]
                with serverkit.client(server) as client:
                    for _ in range(rounds):
                        client.register_system_shared_memory(f"in{i}", key(f"in{i}"), 512)
                        client.register_system_shared_memory(f"out{i}", key(f"out{i}"), 512)
                        first, second = (grpcclient.InferInput(n, list(a.shape), "FP32") for n in ("INPUT0", "INPUT1"))
                        first.set_shared_memory(f"in{i}", a.nbytes)
                        second.set_shared_memory(f"in{i}", b.nbytes, offset=a.nbytes)
                        wanted = grpcclient.InferRequestedOutput("OUTPUT1")
                        wanted.set_shared_memory(f"out{i}", a.nbytes)
                        client.infer("batched", [first, second], outputs=[wanted])
                        got = shm.get_contents_as_numpy(handles[workers + i], np.float32, list(a.shape))
                        np.testing.assert_array_equal(got, expected[1])
                        client.unregister_system_shared_memory(f"in{i}")
                        client.unregister_system_shared_memory(f"out{i}")
            except Exception as exc:  # reported by the main thread
                failures.append(exc)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert not failures, failures
    assert list(grpc_client.get_system_shared_memory_status().regions) == []


def test_a_region_unregistered_in_flight_stays_mapped_until_the_request_ends():
    manager = SystemSharedMemory()
    with regions(("pinned", 64)) as (handle,):
        shm.set_shared_memory_region(handle, [np.arange(16, dtype=np.float32)])
        manager.register("pinned", key("pinned"), 0, 64)
        request = pb.ModelInferRequest(model_name="m")
        tensor = request.inputs.add(name="x", datatype="FP32", shape=[16])
        tensor.parameters["shared_memory_region"].string_param = "pinned"
        tensor.parameters["shared_memory_byte_size"].int64_param = 64
        with manager.bind(request) as binding:
            manager.unregister("pinned")
            assert mapped("pinned")  # the request in flight still holds it
            with pytest.raises(NotFoundError, match="Unable to find shared memory region: 'pinned'"):
                manager.bind(request)
            assert np.frombuffer(binding.request.raw_input_contents[0], np.float32).tolist() == list(range(16))
        assert not mapped("pinned")


def test_regions_are_unmapped_when_the_server_stops(standard_repo):
    with regions(("stop", 64)):
        with serverkit.running_server(standard_repo, load_models=["simple"]) as running:
            with serverkit.client(running) as client:
                client.register_system_shared_memory("stop", key("stop"), 64)
            assert mapped("stop")
        assert not mapped("stop")


def test_bad_shared_memory_parameters_are_refused(grpc_client, server):
    def refused(request, message):
        with pytest.raises(grpc.RpcError) as info:
            stub.ModelInfer(request, timeout=10)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, info.value
        assert message in info.value.details()

    def shared(tensor, region="p", size=64):
        tensor.parameters["shared_memory_region"].string_param = region
        tensor.parameters["shared_memory_byte_size"].int64_param = size

    with regions(("p", 64)), serverkit.channel(server) as channel:
        stub = serverkit.stub(channel)
        grpc_client.register_system_shared_memory("p", key("p"), 64)
        request = serverkit.pb_request("simple", {"INPUT0": np.zeros(16), "INPUT1": np.zeros(16)})
        request.inputs[0].parameters["shared_memory_byte_size"].int64_param = 64
        refused(request, "'shared_memory_byte_size' can not be specified without 'shared_memory_region' parameter "
                         "for tensor 'INPUT0'")
        request.inputs[0].parameters["shared_memory_region"].int64_param = 3
        refused(request, "invalid value type for 'shared_memory_region' parameter for input 'INPUT0', expected "
                         "string_param")
        shared(request.inputs[0])  # raw contents still sent for both inputs
        refused(request, "expected 1 raw_input_contents (one per input not in shared memory) but got 2")
        del request.raw_input_contents[:]
        refused(request, "input 'INPUT1' for model 'simple' has no data")
        request.raw_input_contents.append(np.zeros(16, np.float32).tobytes())
        output = request.outputs.add(name="OUTPUT0")
        shared(output)
        output.parameters["classification"].int64_param = 2
        refused(request, "output can't set both 'shared_memory_region' and 'classification'")
        _fails(lambda: grpc_client.register_system_shared_memory("", key("p"), 64), "StatusCode.INVALID_ARGUMENT",
               "needs a name")
    status, body = _post_json(server, "/v2/models/simple/infer", {"inputs": [
        {"name": "INPUT0", "shape": [1, 16], "datatype": "FP32", "data": [0.0] * 16,
         "parameters": {"shared_memory_region": "p", "shared_memory_byte_size": 64}}]})
    assert status == 400 and "must not also send data" in body["error"]
    status, body = _post_json(server, "/v2/models/simple/infer", {"inputs": [
        {"name": "INPUT0", "shape": [1, 16], "datatype": "FP32",
         "parameters": {"shared_memory_region": "p", "shared_memory_byte_size": "64"}}]})
    assert status == 400
    assert "'shared_memory_byte_size' of input 'INPUT0' must be a non-negative integer" in body["error"]
    status, body = _post_json(server, "/v2/systemsharedmemory/region/q/register", {"key": key("p")})
    assert status == 400 and "needs 'byte_size', a non-negative integer" in body["error"]


def _post_json(server, path, document):
    connection = http.client.HTTPConnection(serverkit.HOST, server.http_port, timeout=10)
    try:
        connection.request("POST", path, json.dumps(document).encode(), {"Content-Type": "application/json"})
        reply = connection.getresponse()
        return reply.status, json.loads(reply.read() or b"{}")
    finally:
        connection.close()


def test_stream_infer_reads_and_writes_shared_memory(grpc_client, server, standard_repo):
    a, b, expected = _simple_arrays(standard_repo, batch=1)
    with regions(("sin", 64), ("sout", 64)) as (inputs, outputs), serverkit.channel(server) as channel:
        shm.set_shared_memory_region(inputs, [a])
        grpc_client.register_system_shared_memory("sin", key("sin"), 64)
        grpc_client.register_system_shared_memory("sout", key("sout"), 64)
        request = serverkit.pb_request("simple", {"INPUT1": b.ravel()})
        tensor = request.inputs.add(name="INPUT0", datatype="FP32", shape=[1, 16])
        tensor.parameters["shared_memory_region"].string_param = "sin"
        tensor.parameters["shared_memory_byte_size"].int64_param = 64
        output = request.outputs.add(name="OUTPUT1")
        output.parameters["shared_memory_region"].string_param = "sout"
        output.parameters["shared_memory_byte_size"].int64_param = 64
        missing = pb.ModelInferRequest()
        missing.CopyFrom(request)
        missing.outputs[0].parameters["shared_memory_region"].string_param = "gone"
        replies = list(serverkit.stub(channel).ModelStreamInfer(iter([request, missing]), timeout=10))
        assert not replies[0].error_message
        assert replies[0].infer_response.outputs[0].parameters["shared_memory_region"].string_param == "sout"
        np.testing.assert_array_equal(shm.get_contents_as_numpy(outputs, np.float32, [1, 16]), expected[1])
        assert replies[1].error_message == "Unable to find shared memory region: 'gone'"
