"""The KServe v2 HTTP/REST endpoint, driven by the unmodified tritonclient.http client and by raw requests."""

import gzip
import http.client
import json
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import serverkit
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from serving import InferenceSession
from serving.server.cli import parse_args

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def server(standard_repo):
    with serverkit.running_server(standard_repo, model_control_mode="explicit", load_models=["*"], http_port=0,
                                  http_address=serverkit.HOST) as running:
        yield running


@pytest.fixture
def client(server):
    with httpclient.InferenceServerClient(f"{serverkit.HOST}:{server.http_port}") as c:
        yield c


def _input(name, array, datatype, binary=True):
    tensor = httpclient.InferInput(name, list(array.shape), datatype)
    tensor.set_data_from_numpy(array, binary_data=binary)
    return tensor


def _simple(batch=2, binary=True):
    rng = np.random.default_rng(batch)
    a, b = (rng.standard_normal((batch, 16)).astype(np.float32) for _ in range(2))
    return a, b, [_input("INPUT0", a, "FP32", binary), _input("INPUT1", b, "FP32", binary)]


def _fails(call, status, message):
    with pytest.raises(InferenceServerException) as info:
        call()
    assert info.value.status() == status, (info.value.status(), info.value.message())
    assert message in info.value.message(), info.value.message()


def _post(server, path, body: bytes, headers=None):
    """(status, headers, body) of a raw POST, errors included."""
    request = urllib.request.Request(f"http://{serverkit.HOST}:{server.http_port}{path}", data=body,
                                     headers=headers or {"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def test_health_metadata_and_config(client):
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready("simple") and client.is_model_ready("simple", "1")
    assert not client.is_model_ready("simple", "7") and not client.is_model_ready("no_such_model")
    metadata = client.get_server_metadata()
    assert metadata["name"] == "sardonyx-serve"
    assert {"binary_tensor_data", "model_repository", "statistics"} <= set(metadata["extensions"])
    model = client.get_model_metadata("simple")
    assert model["platform"] == "onnxruntime_onnx" and model["versions"] == ["1"]
    assert [(t["name"], t["datatype"], t["shape"]) for t in model["inputs"]] == \
        [("INPUT0", "FP32", [-1, 16]), ("INPUT1", "FP32", [-1, 16])]
    assert client.get_model_metadata("simple", "1")["name"] == "simple"
    config = client.get_model_config("simple")
    assert config["max_batch_size"] == 8 and config["input"][0]["dims"] == [16]
    assert [o["name"] for o in config["output"]] == ["OUTPUT0", "OUTPUT1"]
    assert client.get_model_config("fixed", "1")["input"][0]["dims"] == [2, 8]


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
def test_infer_matches_in_process_run(client, standard_repo, binary):
    a, b, inputs = _simple(binary=binary)
    outputs = [httpclient.InferRequestedOutput("OUTPUT1", binary_data=binary),
               httpclient.InferRequestedOutput("OUTPUT0", binary_data=not binary)]
    result = client.infer("simple", inputs, outputs=outputs, request_id="abc")
    expected = InferenceSession(str(standard_repo / "simple" / "1" / "model.onnx")).run(None, {"INPUT0": a,
                                                                                                "INPUT1": b})
    np.testing.assert_array_equal(result.as_numpy("OUTPUT0"), expected[0])
    np.testing.assert_array_equal(result.as_numpy("OUTPUT1"), expected[1])
    response = result.get_response()
    assert response["id"] == "abc" and [o["name"] for o in response["outputs"]] == ["OUTPUT1", "OUTPUT0"]
    assert ("data" in response["outputs"][0]) != binary


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
def test_dtypes_round_trip(client, standard_repo, binary):
    feeds = {
        "fp32": np.array([[1.5, -2.0, 3.25]], np.float32),
        "int64": np.array([[2**40, -7, 0]], np.int64),
        "bool": np.array([[True, False, True]]),
        "fp16": np.array([[0.5, -1.0, 6.0]], np.float16),
        "bytes": np.array([["caf\u00e9".encode(), b"", b"x" * 300]], dtype=object),
    }
    wire = {"fp32": "FP32", "int64": "INT64", "bool": "BOOL", "fp16": "FP16", "bytes": "BYTES"}
    names = ["fp32_sq", "int64_neg", "bool_not", "fp16_x2", "bytes_out"]
    result = client.infer("dtypes", [_input(n, v, wire[n], binary) for n, v in feeds.items()],
                          outputs=[httpclient.InferRequestedOutput(n, binary_data=binary) for n in names])
    expected = InferenceSession(str(standard_repo / "dtypes" / "1" / "model.onnx")).run(None, feeds)
    for name, want in zip(names, expected):
        got = result.as_numpy(name)
        assert got.shape == want.shape, name
        if name == "bytes_out":  # JSON carries BYTES as text, the binary form as bytes
            assert [v if isinstance(v, str) else v.decode() for v in got.ravel()] == list(want.ravel())
        else:
            assert got.dtype == want.dtype, name
            np.testing.assert_array_equal(got, want)


def test_async_infer_and_compression(client):
    a, b, inputs = _simple(3)
    pending = client.async_infer("simple", inputs)
    np.testing.assert_array_equal(pending.get_result(timeout=10).as_numpy("OUTPUT0"), a + b)
    squeezed = client.infer("simple", inputs, request_compression_algorithm="gzip",
                            response_compression_algorithm="deflate")
    np.testing.assert_array_equal(squeezed.as_numpy("OUTPUT1"), a - b)


def test_statistics_are_numbers_shared_with_grpc(client, server):
    before = client.get_inference_statistics("simple")["model_stats"][0]
    client.infer("simple", _simple(3)[2])
    with serverkit.client(server) as grpc_client:  # the same counters, whichever protocol served
        grpc_client.infer("simple", [serverkit.infer_input(f"INPUT{i}", np.ones((1, 16), np.float32), "FP32")
                                     for i in range(2)])
    _fails(lambda: client.infer("simple", _simple()[2][:1]), "400", "expected 2 inputs but got 1 inputs")
    after = client.get_inference_statistics("simple", "1")["model_stats"][0]
    assert (after["name"], after["version"]) == ("simple", "1")
    assert after["inference_stats"]["success"]["count"] == before["inference_stats"]["success"]["count"] + 2
    assert after["inference_stats"]["fail"]["count"] == before["inference_stats"]["fail"]["count"] + 1
    assert after["inference_count"] == before["inference_count"] + 4
    assert isinstance(after["last_inference"], int) and after["inference_stats"]["compute_infer"]["ns"] > 0
    assert any(b["batch_size"] == 3 for b in after["batch_stats"])
    every = client.get_inference_statistics()["model_stats"]
    assert {s["name"] for s in every} >= {"simple", "dtypes", "fixed", "batched"}


def test_repository_index_load_and_unload(client, server):
    index = {m["name"]: m for m in client.get_model_repository_index()}
    assert (index["simple"]["state"], index["simple"]["version"]) == ("READY", "1")
    fixed = [_input("x", np.ones((2, 8), np.int32), "INT32")]
    client.unload_model("fixed")
    try:
        assert not client.is_model_ready("fixed")
        index = {m["name"]: m for m in client.get_model_repository_index()}
        assert (index["fixed"]["state"], index["fixed"]["reason"]) == ("UNAVAILABLE", "unloaded")
        status, _, body = _post(server, "/v2/repository/index", b'{"ready": true}')
        assert status == 200 and "fixed" not in {m["name"] for m in json.loads(body)}
        _fails(lambda: client.infer("fixed", fixed), "503", "Request for unknown model: 'fixed' has no available")
    finally:
        client.load_model("fixed")
    np.testing.assert_array_equal(client.infer("fixed", fixed).as_numpy("y"), np.full((2, 8), 2, np.int32))
    client.load_model("simple", config='{"max_batch_size": 2}')
    try:
        assert client.get_model_config("simple")["max_batch_size"] == 2
    finally:
        client.load_model("simple")
    _fails(lambda: client.load_model("no_such_model"), "404", "no model folder 'no_such_model'")
    _fails(lambda: client.load_model("simple", files={"file:1/model.onnx": b"x"}), "400",
           "unsupported load parameter 'file:1/model.onnx'")


def test_malformed_requests_get_tritons_codes_and_messages(client, server):
    _fails(lambda: client.infer("simple", [_input(f"INPUT{i}", np.ones((1, 8), np.float32), "FP32") for i in (0, 1)]),
           "400", "unexpected shape for input 'INPUT0' for model 'simple'. Expected [-1,16], got [1,8]")
    _fails(lambda: client.infer("simple", [_input(f"INPUT{i}", np.ones((1, 16), np.int32), "INT32") for i in (0, 1)]),
           "400", "inference input 'INPUT0' data-type is 'INT32', but model 'simple' expects 'FP32'")
    _fails(lambda: client.infer("nope", _simple()[2]), "404", "Request for unknown model: 'nope' is not found")
    _fails(lambda: client.infer("simple", _simple()[2], model_version="3"), "404",
           "Request for unknown model: 'simple' version 3 is not found")
    short = _input("INPUT0", np.ones((1, 15), np.float32), "FP32")
    short.set_shape([1, 16])  # 60 bytes of data for a [1,16] FP32 tensor
    _fails(lambda: client.infer("simple", [short, _input("INPUT1", np.ones((1, 16), np.float32), "FP32")]), "400",
           "input byte size mismatch for input 'INPUT0' for model 'simple'. Expected 64, got 60")
    zeros = {n: np.zeros((1, 3), t) for n, t in (("fp32", np.float32), ("int64", np.int64), ("bool", bool),
                                                     ("fp16", np.float16))}
    binary_bytes = [_input(n, v, d) for (n, v), d in zip(zeros.items(), ("FP32", "INT64", "BOOL", "FP16"))]
    binary_bytes.append(_input("bytes", np.array([[b"\xff", b"a", b"b"]], dtype=object), "BYTES"))
    _fails(lambda: client.infer("dtypes", binary_bytes, outputs=[httpclient.InferRequestedOutput(
        "bytes_out", binary_data=False)]), "400", "output 'bytes_out' of model 'dtypes' holds bytes that are not UTF-8")
    raw = client.infer("dtypes", binary_bytes, outputs=[httpclient.InferRequestedOutput("bytes_out")])
    assert list(raw.as_numpy("bytes_out").ravel()) == [b"\xff", b"a", b"b"]  # binary BYTES carry any bytes
    _fails(lambda: client.get_cuda_shared_memory_status(), "501", "does not support CUDA shared memory")
    _fails(lambda: client.get_log_settings(), "501", "does not support log settings")
    status, _, body = _post(server, "/v2/models/simple/infer", b'{"inputs": [')
    assert status == 400 and json.loads(body)["error"].startswith("failed to parse the request JSON")
    status, _, body = _post(server, "/v2/models/simple/infer", json.dumps({"inputs": [
        {"name": "INPUT0", "shape": [1, 16], "datatype": "FP32", "data": [1.0] * 15}]}).encode())
    assert status == 400 and "shape [1, 16] holds 16 elements but 'data' has 15" in json.loads(body)["error"]
    status, _, body = _post(server, "/v2/models/simple/infer", b'{"inputs": []}',
                            {"Inference-Header-Content-Length": "14", "Content-Type": "application/json"})
    assert status == 400 and "expected 2 inputs but got 0 inputs" in json.loads(body)["error"]
    status, _, body = _post(server, "/v2/models/simple/infer", b'{"inputs": []}xyz',
                            {"Inference-Header-Content-Length": "14"})
    assert status == 400 and "3 bytes of binary data that no input" in json.loads(body)["error"]
    status, _, body = _post(server, "/v2/nowhere", b"")
    assert status == 404 and "no endpoint /v2/nowhere" in json.loads(body)["error"]
    status, _, body = _post(server, "/v2/health/live", b"")
    assert status == 405 and "use GET" in json.loads(body)["error"]
    assert client.is_server_live()  # still serving


def test_raw_json_request_and_keep_alive(server):
    connection = http.client.HTTPConnection(serverkit.HOST, server.http_port, timeout=10)
    try:
        rows = [[1.0] * 16] * 2  # KServe's nested form of 'data', and below the flat one
        body = {"id": "7", "inputs": [{"name": "INPUT0", "shape": [2, 16], "datatype": "FP32", "data": rows},
                                      {"name": "INPUT1", "shape": [2, 16], "datatype": "FP32", "data": [0.5] * 32}],
                "outputs": [{"name": "OUTPUT0"}]}
        sockets = []
        for _ in range(2):  # the second request travels on the same connection
            connection.request("POST", "/v2/models/simple/versions/1/infer", json.dumps(body),
                               {"Content-Type": "application/json"})
            response = connection.getresponse()
            assert response.status == 200 and response.getheader("Content-Type") == "application/json"
            answer = json.loads(response.read())
            sockets.append(connection.sock)
        assert sockets[0] is sockets[1] is not None
    finally:
        connection.close()
    assert answer == {"model_name": "simple", "model_version": "1", "id": "7",
                      "outputs": [{"name": "OUTPUT0", "datatype": "FP32", "shape": [2, 16], "data": [1.5] * 32}]}
    status, headers, packed = _post(server, "/v2/models/simple/infer", json.dumps(body).encode(),
                                    {"Accept-Encoding": "deflate;q=0, gzip"})
    assert status == 200 and headers["Content-Encoding"] == "gzip" and json.loads(gzip.decompress(packed)) == answer


def test_request_over_the_size_limit_is_413(standard_repo):
    with serverkit.running_server(standard_repo, load_models=["simple"], model_control_mode="explicit",
                                  http_port=0, http_address=serverkit.HOST, http_max_input_bytes=1024) as small:
        status, headers, body = _post(small, "/v2/models/simple/infer", b" " * 2000)
        assert status == 413 and "exceeds the server's limit of 1024 bytes" in json.loads(body)["error"]
        packed = gzip.compress(b" " * 5000)  # small on the wire, over the limit once inflated
        status, _, body = _post(small, "/v2/models/simple/infer", packed, {"Content-Encoding": "gzip"})
        assert status == 413 and "decompressed request body exceeds" in json.loads(body)["error"]


def test_stop_finishes_in_flight_http_requests(tmp_path):
    serverkit.write_model(tmp_path, "slow", serverkit.slow_model(steps=48), "max_batch_size: 256\n")
    x = np.full((128, 1024), 0.1, np.float32)
    running = serverkit.running_server(tmp_path, http_port=0, http_address=serverkit.HOST)
    server = running.__enter__()
    results = queue.Queue()

    def one_request():
        with httpclient.InferenceServerClient(f"{serverkit.HOST}:{server.http_port}", network_timeout=60) as c:
            results.put(c.infer("slow", [_input("x", x, "FP32")]).as_numpy("y"))

    worker = threading.Thread(target=one_request)
    worker.start()
    deadline = time.monotonic() + 30
    while server._http._busy == 0:  # the request is being served
        assert time.monotonic() < deadline and worker.is_alive()
        time.sleep(0.005)
    running.__exit__(None, None, None)  # stop(): refuse new connections, let this one finish
    worker.join(60)
    expected = x
    for _ in range(48):
        expected = np.tanh(expected @ (np.eye(1024, dtype=np.float32) * 0.5))
    np.testing.assert_allclose(results.get_nowait(), expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://{serverkit.HOST}:{server.http_port}/v2/health/live", timeout=5)


def test_cli_serves_http_on_the_port_it_logs_and_exits_0_on_sigterm(tmp_path):
    assert parse_args([]).http_port == 8000 and parse_args([]).allow_http
    assert not parse_args(["--allow-http", "false"]).allow_http
    serverkit.write_model(tmp_path, "good", serverkit.add_model(1.0))
    command = [sys.executable, "-m", "serving.server.cli", "--model-repository", str(tmp_path), "--grpc-port", "0",
               "--grpc-address", serverkit.HOST, "--metrics-port", "-1", "--http-port", "0",
               "--http-address", serverkit.HOST]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        while not lines or not lines[-1].startswith("sardonyx-serve ready:"):
            line = process.stdout.readline()
            assert line, "".join(lines)
            lines.append(line)
        port = int(re.search(r"HTTP on [\d.]+:(\d+)", "".join(lines)).group(1))
        with httpclient.InferenceServerClient(f"{serverkit.HOST}:{port}") as c:
            assert c.is_server_ready()
            y = c.infer("good", [_input("x", np.zeros((3, 4), np.float32), "FP32")]).as_numpy("y")
        np.testing.assert_array_equal(y, np.ones((3, 4), np.float32))
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)
