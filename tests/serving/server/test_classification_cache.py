"""Triton's classification extension and response cache, through tritonclient's gRPC and HTTP clients."""

import json
import urllib.request

import numpy as np
import pytest
import serverkit
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from onnx import TensorProto, helper
from tritonclient.utils import InferenceServerException

from serving import InferenceSession
from serving.server.cli import parse_args
from serving.server.protocol import pb
from serving.server.response_cache import ResponseCache, parse_cache_config

LABELS = ["cat", "dog", "", "bird", "fish", "owl"]  # index 2 has an empty line: no label, as in Triton


def _scores_model() -> bytes:
    """probs = Softmax(x) over 6 classes, ids = x cast to INT32: one float and one integer output to rank."""
    return serverkit._model(
        [helper.make_node("Softmax", ["x"], ["probs"], axis=-1), helper.make_node("Cast", ["x"], ["ids"], to=6),
         helper.make_node("Cast", ["x"], ["half"], to=TensorProto.FLOAT16)],
        [serverkit._vi("x", TensorProto.FLOAT, ["batch", 6])],
        [serverkit._vi("probs", TensorProto.FLOAT, ["batch", 6]), serverkit._vi("ids", TensorProto.INT32, ["batch", 6]),
         serverkit._vi("half", TensorProto.FLOAT16, ["batch", 6])]).SerializeToString()


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    repo = tmp_path_factory.mktemp("repo")
    model = _scores_model()
    labelled = serverkit.write_model(repo, "labelled", model, 'max_batch_size: 4\noutput [{ name: "probs" '
                                     'data_type: TYPE_FP32 dims: [6] label_filename: "labels.txt" }]\n')
    (labelled / "labels.txt").write_text("\n".join(LABELS) + "\n")
    serverkit.write_model(repo, "plain", model, "max_batch_size: 4\n")
    serverkit.write_model(repo, "cached", model, "max_batch_size: 4\nresponse_cache { enable: true }\n")
    serverkit.write_model(repo, "uncached", model, "max_batch_size: 4\n")
    serverkit.write_model(repo, "fixed", serverkit.fixed_model(), "response_cache { enable: true }\n")
    return repo, InferenceSession(model)


@pytest.fixture(scope="module")
def server(repo):
    # Room for three [1, 6] FP32 + INT32 + FP16 responses (60 bytes each), not four.
    with serverkit.running_server(repo[0], http_port=0, http_address=serverkit.HOST, metrics_port=0,
                                  response_cache_bytes=200) as running:
        yield running


@pytest.fixture
def grpc(server):
    with serverkit.client(server) as c:
        yield c


@pytest.fixture
def http(server):
    with httpclient.InferenceServerClient(f"{serverkit.HOST}:{server.http_port}") as c:
        yield c


def _x(batch: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((batch, 6)).astype(np.float32)


def _expected(scores: np.ndarray, k: int, labels=()) -> np.ndarray:
    """Triton's strings for a NumPy top-k: "%f" of the value, the index, the label when there is one."""
    rows = []
    for row in scores.reshape(scores.shape[0], -1):
        order = sorted(range(row.size), key=lambda i: (-float(row[i]), i))[:k]
        rows.append([(f"{float(row[i]):f}" if row.dtype.kind == "f" else str(int(row[i]))) + f":{i}"
                     + (f":{labels[i]}" if i < len(labels) and labels[i] else "") for i in order])
    return np.array(rows, dtype=object).astype(bytes)


def _grpc_classify(client, model, x, output, k):
    inputs = [serverkit.infer_input("x", x, "FP32")]
    result = client.infer(model, inputs, outputs=[grpcclient.InferRequestedOutput(output, class_count=k)])
    return result.as_numpy(output), result.get_output(output)


def _http_classify(client, model, x, output, k, binary=True):
    tensor = httpclient.InferInput("x", list(x.shape), "FP32")
    tensor.set_data_from_numpy(x)
    requested = httpclient.InferRequestedOutput(output, binary_data=binary, class_count=k)
    result = client.infer(model, [tensor], outputs=[requested])
    return result.as_numpy(output), result.get_output(output)


def _stats(client, model):
    return client.get_inference_statistics(model).model_stats[0]


# Classification.

@pytest.mark.parametrize("model, labels", [("plain", ()), ("labelled", LABELS)])
@pytest.mark.parametrize("k", [1, 3, 6, 10])
def test_grpc_classification_is_numpy_topk_of_the_session(grpc, repo, model, labels, k):
    x = _x(3, k)
    probs = repo[1].run(["probs"], {"x": x})[0]
    values, tensor = _grpc_classify(grpc, model, x, "probs", k)
    assert tensor.datatype == "BYTES" and list(tensor.shape) == [3, min(k, 6)]
    np.testing.assert_array_equal(values.astype(bytes), _expected(probs, k, labels))


@pytest.mark.parametrize("binary", [True, False])
@pytest.mark.parametrize("model, labels", [("plain", ()), ("labelled", LABELS)])
def test_http_classification_is_numpy_topk_of_the_session(http, repo, model, labels, binary):
    x = _x(2, 7)
    probs = repo[1].run(["probs"], {"x": x})[0]
    values, tensor = _http_classify(http, model, x, "probs", 4, binary)
    assert tensor["datatype"] == "BYTES" and tensor["shape"] == [2, 4]
    np.testing.assert_array_equal(values.astype(bytes), _expected(probs, 4, labels))


def test_integer_outputs_rank_with_ties_in_index_order(grpc):
    x = np.array([[3, -1, 7, 7, 0, 3]], dtype=np.float32)
    values, _ = _grpc_classify(grpc, "plain", x, "ids", 4)
    assert values.astype(bytes).tolist() == [[b"7:2", b"7:3", b"3:0", b"3:5"]]


def test_model_without_batching_gives_a_flat_list(grpc):
    x = np.arange(16, dtype=np.int32).reshape(2, 8)
    result = grpc.infer("fixed", [serverkit.infer_input("x", x, "INT32")],
                        outputs=[grpcclient.InferRequestedOutput("y", class_count=3)])
    assert list(result.get_output("y").shape) == [3]  # Triton: no batch dimension, the whole tensor is one item
    assert result.as_numpy("y").astype(bytes).tolist() == [b"30:15", b"28:14", b"26:13"]


def test_unclassified_outputs_travel_beside_classified_ones(grpc, repo):
    x = _x(2, 3)
    probs, ids = repo[1].run(["probs", "ids"], {"x": x})
    result = grpc.infer("plain", [serverkit.infer_input("x", x, "FP32")],
                        outputs=[grpcclient.InferRequestedOutput("probs", class_count=2),
                                 grpcclient.InferRequestedOutput("ids")])
    np.testing.assert_array_equal(result.as_numpy("ids"), ids)
    np.testing.assert_array_equal(result.as_numpy("probs").astype(bytes), _expected(probs, 2))


def _fails(call, message):
    with pytest.raises(InferenceServerException) as info:
        call()
    assert message in info.value.message(), info.value.message()
    return info.value


def test_non_numeric_output_is_refused_as_triton_does(grpc, http):
    x = _x(1, 0)
    message = "class result not available for output due to unsupported type 'FP16'"
    error = _fails(lambda: _grpc_classify(grpc, "plain", x, "half", 2), message)
    assert error.status() == "StatusCode.INVALID_ARGUMENT"
    assert _fails(lambda: _http_classify(http, "plain", x, "half", 2), message).status() == "400"


def test_invalid_class_counts_are_refused(server, http):
    request = pb.ModelInferRequest(model_name="plain")
    request.inputs.add(name="x", datatype="FP32", shape=[1, 6])
    request.raw_input_contents.append(_x(1, 0).tobytes())
    output = request.outputs.add(name="probs")
    with serverkit.channel(server) as channel:
        stub = serverkit.stub(channel)
        output.parameters["classification"].int64_param = -2
        with pytest.raises(Exception, match="invalid value for 'classification' parameter, expected >= 0"):
            stub.ModelInfer(request)
        output.parameters["classification"].string_param = "3"
        with pytest.raises(Exception, match="invalid value type for 'classification' parameter, expected int64"):
            stub.ModelInfer(request)
    tensor = httpclient.InferInput("x", [1, 6], "FP32")
    tensor.set_data_from_numpy(_x(1, 0))
    _fails(lambda: http.infer("plain", [tensor], outputs=[httpclient.InferRequestedOutput("probs", class_count=-1)]),
           "Unable to set 'classification' of output 'probs'")


def test_http_class_count_zero_is_the_plain_tensor(server, repo):
    x = _x(1, 5)
    body = {"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 6], "data": x.ravel().tolist()}],
            "outputs": [{"name": "probs", "parameters": {"classification": 0}}]}
    url = f"http://{serverkit.HOST}:{server.http_port}/v2/models/plain/infer"
    answer = json.loads(urllib.request.urlopen(url, json.dumps(body).encode(), timeout=10).read())
    assert answer["outputs"][0]["datatype"] == "FP32"
    np.testing.assert_allclose(answer["outputs"][0]["data"], repo[1].run(["probs"], {"x": x})[0].ravel(), rtol=1e-6)


def test_classification_is_an_extension_and_missing_labels_fail_the_load(grpc, tmp_path):
    assert "classification" in grpc.get_server_metadata().extensions
    serverkit.write_model(tmp_path, "m", _scores_model(), 'max_batch_size: 4\noutput [{ name: "probs" '
                          'data_type: TYPE_FP32 dims: [6] label_filename: "missing.txt" }]\n')
    with serverkit.running_server(tmp_path, strict_readiness=False) as server, serverkit.client(server) as client:
        assert not client.is_model_ready("m")
        index = {m.name: m.reason for m in client.get_model_repository_index().models}
        assert "unable to read label file" in index["m"] and "missing.txt" in index["m"]


# Response cache.

def test_identical_requests_are_answered_without_running_the_model(grpc, http, repo):
    x = _x(1, 11)
    before = _stats(grpc, "cached")
    first = grpc.infer("cached", [serverkit.infer_input("x", x, "FP32")])
    second = grpc.infer("cached", [serverkit.infer_input("x", x, "FP32")])
    tensor = httpclient.InferInput("x", [1, 6], "FP32")
    tensor.set_data_from_numpy(x)
    third = http.infer("cached", [tensor])
    after = _stats(grpc, "cached")
    probs = repo[1].run(["probs"], {"x": x})[0]
    for result in (first, second, third):
        np.testing.assert_array_equal(result.as_numpy("probs"), probs)
    assert after.execution_count - before.execution_count == 1
    assert after.inference_stats.cache_miss.count - before.inference_stats.cache_miss.count == 1
    assert after.inference_stats.cache_hit.count - before.inference_stats.cache_hit.count == 2
    assert after.inference_stats.success.count - before.inference_stats.success.count == 3
    assert after.inference_count - before.inference_count == 3
    assert after.inference_stats.compute_infer.count - before.inference_stats.compute_infer.count == 1


def test_different_inputs_outputs_and_class_counts_miss(grpc):
    x = _x(1, 12)
    before = _stats(grpc, "cached")
    grpc.infer("cached", [serverkit.infer_input("x", x, "FP32")])
    grpc.infer("cached", [serverkit.infer_input("x", x + 1, "FP32")])
    grpc.infer("cached", [serverkit.infer_input("x", x, "FP32")], outputs=[grpcclient.InferRequestedOutput("ids")])
    values, _ = _grpc_classify(grpc, "cached", x, "probs", 2)
    again, _ = _grpc_classify(grpc, "cached", x, "probs", 2)
    _grpc_classify(grpc, "cached", x, "probs", 3)
    after = _stats(grpc, "cached")
    assert after.execution_count - before.execution_count == 5
    assert after.inference_stats.cache_hit.count - before.inference_stats.cache_hit.count == 1
    np.testing.assert_array_equal(values, again)


def test_least_recently_used_entries_are_evicted(grpc):
    xs = [_x(1, 100 + i) for i in range(4)]

    def run(x):
        grpc.infer("cached", [serverkit.infer_input("x", x, "FP32")])

    for x in xs[:3]:
        run(x)
    run(xs[0])  # now the most recently used: xs[1] goes first
    before = _stats(grpc, "cached").execution_count
    run(xs[3])  # a fourth response does not fit
    run(xs[0])
    run(xs[2])
    assert _stats(grpc, "cached").execution_count - before == 1
    run(xs[1])
    assert _stats(grpc, "cached").execution_count - before == 2


def test_models_without_enable_and_sequence_requests_are_never_cached(server, grpc):
    x = _x(1, 13)
    before = _stats(grpc, "uncached")
    for _ in range(2):
        grpc.infer("uncached", [serverkit.infer_input("x", x, "FP32")])
    after = _stats(grpc, "uncached")
    assert after.execution_count - before.execution_count == 2
    assert after.inference_stats.cache_hit.count == after.inference_stats.cache_miss.count == 0
    request = pb.ModelInferRequest(model_name="cached")
    request.inputs.add(name="x", datatype="FP32", shape=[1, 6])
    request.raw_input_contents.append(x.tobytes())
    request.parameters["sequence_id"].int64_param = 7
    before = _stats(grpc, "cached")
    with serverkit.channel(server) as channel:
        stub = serverkit.stub(channel)
        for _ in range(2):
            stub.ModelInfer(request)
    after = _stats(grpc, "cached")
    assert after.execution_count - before.execution_count == 2
    assert after.inference_stats.cache_hit.count == before.inference_stats.cache_hit.count


def test_no_cache_without_the_server_flag(repo):
    with serverkit.running_server(repo[0], model_control_mode="explicit", load_models=["cached"]) as server, \
            serverkit.client(server) as client:
        x = _x(1, 14)
        for _ in range(2):
            client.infer("cached", [serverkit.infer_input("x", x, "FP32")])
        stats = _stats(client, "cached")
        assert stats.execution_count == 2 and stats.inference_stats.cache_miss.count == 0


def test_cache_metrics_use_tritons_names(server, grpc):
    grpc.infer("cached", [serverkit.infer_input("x", _x(1, 15), "FP32")])
    text = urllib.request.urlopen(f"http://{serverkit.HOST}:{server.metrics_port}/metrics", timeout=10).read().decode()
    stats = _stats(grpc, "cached").inference_stats
    assert f'nv_cache_num_hits_per_model{{model="cached",version="1"}} {float(stats.cache_hit.count)}' in text
    assert f'nv_cache_num_misses_per_model{{model="cached",version="1"}} {float(stats.cache_miss.count)}' in text
    assert 'nv_cache_hit_duration_per_model{model="cached",version="1"}' in text
    assert 'nv_cache_miss_duration_per_model{model="cached",version="1"}' in text
    assert 'nv_cache_num_hits_per_model{model="uncached"' not in text


def test_cache_flags_follow_triton():
    assert parse_args(["--cache-config", "local,size=1048576"]).response_cache_bytes == 1048576
    assert parse_args(["--response-cache-byte-size", "4096"]).response_cache_bytes == 4096
    assert parse_args([]).response_cache_bytes == 0
    for bad in (["--cache-config", "redis,host=localhost"], ["--cache-config", "local"],
                ["--cache-config", "local,size=big"],
                ["--cache-config", "local,size=8", "--response-cache-byte-size", "8"]):
        with pytest.raises(SystemExit):
            parse_args(bad)
    with pytest.raises(ValueError, match="only the 'local' cache"):
        parse_cache_config(["redis,size=1"])


def test_an_entry_larger_than_the_cache_is_not_kept():
    cache = ResponseCache(16)
    big = [("y", "FP32", np.zeros(5, np.float32))]
    assert not cache.insert(b"k", big) and len(cache) == 0
    assert cache.insert(b"a", [("y", "FP32", np.zeros(2, np.float32))]) and cache.size == 8
