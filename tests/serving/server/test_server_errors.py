"""Malformed requests: the right status code and a message like Triton's; the server keeps serving."""

import grpc
import numpy as np
import pytest
import serverkit
from serverkit import infer_input
from tritonclient.utils import InferenceServerException

from serving.server.protocol import pb

INVALID, NOT_FOUND = "StatusCode.INVALID_ARGUMENT", "StatusCode.NOT_FOUND"


def _fails(client, model, inputs, status, message, **kwargs):
    with pytest.raises(InferenceServerException) as info:
        client.infer(model, inputs, **kwargs)
    assert info.value.status() == status
    assert message in info.value.message(), info.value.message()


def _pair(batch=1, width=16, dtype=np.float32, datatype="FP32"):
    a = np.ones((batch, width), dtype)
    return [infer_input("INPUT0", a, datatype), infer_input("INPUT1", a, datatype)]


def test_wrong_datatype(client):
    _fails(client, "simple", _pair(dtype=np.int32, datatype="INT32"), INVALID,
           "inference input 'INPUT0' data-type is 'INT32', but model 'simple' expects 'FP32'")


def test_wrong_shape_and_rank(client):
    _fails(client, "simple", _pair(width=8), INVALID,
           "unexpected shape for input 'INPUT0' for model 'simple'. Expected [-1,16], got [1,8]")
    rank3 = np.ones((1, 16, 1), np.float32)
    _fails(client, "simple", [infer_input("INPUT0", rank3, "FP32"), infer_input("INPUT1", rank3, "FP32")], INVALID,
           "unexpected shape for input 'INPUT0' for model 'simple'. Expected [-1,16], got [1,16,1]")
    _fails(client, "fixed", [infer_input("x", np.ones((2, 4), np.int32), "INT32")], INVALID,
           "unexpected shape for input 'x' for model 'fixed'. Expected [2,8], got [2,4]")


def test_unknown_input_model_and_version(client):
    extra = _pair() + [infer_input("INPUT9", np.ones((1, 16), np.float32), "FP32")]
    _fails(client, "simple", extra, INVALID,
           "unexpected inference input 'INPUT9' for model 'simple', allowed inputs are: INPUT0, INPUT1")
    _fails(client, "nope", _pair(), NOT_FOUND, "Request for unknown model: 'nope' is not found")
    _fails(client, "simple", _pair(), NOT_FOUND, "Request for unknown model: 'simple' version 3 is not found",
           model_version="3")


def test_missing_input(client):
    _fails(client, "simple", _pair()[:1], INVALID,
           "expected 2 inputs but got 1 inputs for model 'simple'. Got input(s) ['INPUT0'], but missing required "
           "input(s) ['INPUT1']")


def test_batch_over_max_batch_size(client):
    _fails(client, "simple", _pair(batch=9), INVALID, "inference request batch-size must be <= 8 for 'simple'")


def test_unknown_output(client):
    import tritonclient.grpc as grpcclient

    _fails(client, "simple", _pair(), INVALID, "unexpected inference output 'OUTPUT7' for model 'simple'",
           outputs=[grpcclient.InferRequestedOutput("OUTPUT7")])


def _call(server, request):
    with serverkit.channel(server) as channel:
        return serverkit.stub(channel).ModelInfer(request, timeout=10)


def _status(server, request):
    with pytest.raises(grpc.RpcError) as info:
        _call(server, request)
    return info.value.code(), info.value.details()


def test_raw_byte_size_mismatch(server):
    request = serverkit.pb_request("simple", {"INPUT0": [1.0] * 16, "INPUT1": [1.0] * 16})
    request.raw_input_contents[1] += b"\0" * 8
    assert _status(server, request) == (
        grpc.StatusCode.INVALID_ARGUMENT, "input byte size mismatch for input 'INPUT1' for model 'simple'. "
                                          "Expected 64, got 72")


def test_raw_mixed_with_typed_contents(server):
    request = serverkit.pb_request("simple", {"INPUT0": [1.0] * 16, "INPUT1": [1.0] * 16})
    request.inputs[0].contents.fp32_contents.extend([1.0] * 16)
    code, message = _status(server, request)
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert "contents field must not be specified when using raw_input_contents for 'INPUT0'" in message


def test_typed_contents_of_the_wrong_kind_or_count(server):
    request = serverkit.pb_request("simple", {"INPUT0": [1.0] * 16, "INPUT1": [1.0] * 16}, typed=True)
    request.inputs[1].contents.ClearField("fp32_contents")
    request.inputs[1].contents.int_contents.extend([1] * 16)
    code, message = _status(server, request)
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "'fp32_contents'" in message
    request = serverkit.pb_request("simple", {"INPUT0": [1.0] * 16, "INPUT1": [1.0] * 15}, typed=True, shape=[1, 16])
    code, message = _status(server, request)
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "Expected 16, got 15" in message


def test_malformed_bytes_tensor(server):
    request = pb.ModelInferRequest(model_name="dtypes")
    for name, datatype, raw in [("fp32", "FP32", np.zeros(3, np.float32).tobytes()),
                                ("int64", "INT64", np.zeros(3, np.int64).tobytes()),
                                ("bool", "BOOL", np.zeros(3, bool).tobytes()),
                                ("fp16", "FP16", np.zeros(3, np.float16).tobytes()),
                                ("bytes", "BYTES", b"\x05\x00\x00\x00ab")]:
        request.inputs.add(name=name, datatype=datatype, shape=[1, 3])
        request.raw_input_contents.append(raw)
    code, message = _status(server, request)
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "claims 5 bytes but only 2 remain" in message


def test_request_over_the_message_limit(standard_repo):
    """Over the limit: RESOURCE_EXHAUSTED from gRPC; the default limit (2^31-1) takes what grpcio's 4 MiB refuses."""
    big = np.ones((8, 16), np.float32)
    with serverkit.running_server(standard_repo, max_message_bytes=1024, load_models=["simple"],
                                  model_control_mode="explicit") as small:
        with serverkit.client(small) as client:
            with pytest.raises(InferenceServerException) as info:
                client.infer("simple", [infer_input("INPUT0", big, "FP32"), infer_input("INPUT1", big, "FP32")])
            assert info.value.status() == "StatusCode.RESOURCE_EXHAUSTED"
            assert "larger than max" in info.value.message()


def test_large_request_under_the_default_limit(server):
    width = 600_000  # 2 inputs x 2.4 MB: over grpcio's default 4 MiB, far under Triton's 2^31-1
    request = pb.ModelInferRequest(model_name="dtypes")
    arrays = {"fp32": np.ones((1, 3), np.float32), "int64": np.ones((1, 3), np.int64),
              "bool": np.ones((1, 3), bool), "fp16": np.ones((1, 3), np.float16)}
    for name, array in arrays.items():
        request.inputs.add(name=name, datatype={"fp32": "FP32", "int64": "INT64", "bool": "BOOL",
                                                "fp16": "FP16"}[name], shape=[1, 3])
        request.raw_input_contents.append(array.tobytes())
    blob = b"z" * width * 3
    request.inputs.add(name="bytes", datatype="BYTES", shape=[1, 3])
    request.raw_input_contents.append(b"".join(len(blob).to_bytes(4, "little") + blob for _ in range(3)))
    response = _call(server, request)
    assert len(response.raw_output_contents[4]) == 3 * (4 + len(blob))


def _random_malformed(rng, good):
    """A copy of `good` broken in one or more random ways."""
    request = pb.ModelInferRequest()
    request.CopyFrom(good)
    for _ in range(rng.integers(1, 4)):
        kind = rng.integers(0, 12)
        tensor = request.inputs[rng.integers(0, len(request.inputs))] if request.inputs else None
        if kind == 0 and tensor is not None:
            tensor.datatype = str(rng.choice(["INT32", "FP64", "BYTES", "FP16", "BOGUS", "", "BOOL"]))
        elif kind == 1 and tensor is not None:
            tensor.ClearField("shape")
            tensor.shape.extend(rng.integers(-3, 40, rng.integers(0, 5)).tolist())
        elif kind == 2 and tensor is not None:
            tensor.name = str(rng.choice(["", "INPUT0", "INPUT7", "x" * 100]))
        elif kind == 3 and request.raw_input_contents:
            i = int(rng.integers(0, len(request.raw_input_contents)))
            request.raw_input_contents[i] = rng.bytes(int(rng.integers(0, 200)))
        elif kind == 4 and request.inputs:
            del request.inputs[int(rng.integers(0, len(request.inputs)))]
        elif kind == 5 and tensor is not None:
            tensor.contents.fp32_contents.extend(rng.standard_normal(int(rng.integers(0, 20))).tolist())
        elif kind == 6:
            request.model_name = str(rng.choice(["", "nope", "simple", "dtypes", "fixed", "ünïcode"]))
        elif kind == 7:
            request.model_version = str(rng.choice(["0", "1", "2", "-1", "abc", "99999999999999999999"]))
        elif kind == 8:
            request.raw_input_contents.append(rng.bytes(int(rng.integers(0, 64))))
        elif kind == 9:
            request.outputs.add(name=str(rng.choice(["OUTPUT0", "nope", ""])))
        elif kind == 10 and tensor is not None:
            tensor.contents.bytes_contents.append(rng.bytes(5))
            tensor.contents.int64_contents.extend([2**62, -1])
        elif kind == 11:
            request.ClearField("raw_input_contents")
    return request


def test_fuzz_malformed_requests_then_a_good_one(server):
    rng = np.random.default_rng(6)
    good = serverkit.pb_request("simple", {"INPUT0": np.arange(32), "INPUT1": np.ones(32)}, shape=[2, 16])
    allowed = {grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND, grpc.StatusCode.UNAVAILABLE}
    codes = {}
    with serverkit.channel(server) as channel:
        stub = serverkit.stub(channel)
        for _ in range(400):
            request = _random_malformed(rng, good)
            try:
                stub.ModelInfer(request, timeout=10)
                codes["OK"] = codes.get("OK", 0) + 1  # some mutations happen to leave the request valid
            except grpc.RpcError as exc:
                assert exc.code() in allowed, (exc.code(), exc.details(), request)
                assert exc.details(), request
                codes[exc.code()] = codes.get(exc.code(), 0) + 1
        assert codes.get(grpc.StatusCode.INVALID_ARGUMENT, 0) > 200
        response = stub.ModelInfer(good, timeout=10)
    expected = np.arange(32, dtype=np.float32) + 1
    np.testing.assert_array_equal(np.frombuffer(response.raw_output_contents[0], np.float32), expected)
