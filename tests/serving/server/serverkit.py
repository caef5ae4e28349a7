"""Helpers for the server tests: ONNX test models, repositories on disk, a server on a free port."""

from __future__ import annotations

import contextlib
from pathlib import Path

import grpc
import numpy as np
import onnx
import tritonclient.grpc as grpcclient
from onnx import TensorProto, helper, numpy_helper

from serving.server import InferenceServer, ServerOptions
from serving.server.protocol import grpc_pb, pb

HOST = "127.0.0.1"


def _model(nodes, inputs, outputs, opset: int = 17) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "test", inputs, outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


def _vi(name, elem, shape):
    return helper.make_tensor_value_info(name, elem, shape)


def simple_model(width: int = 16) -> onnx.ModelProto:
    """Triton's `simple`: OUTPUT0 = INPUT0 + INPUT1, OUTPUT1 = INPUT0 - INPUT1, shape [batch, width]."""
    shape = ["batch", width]
    return _model([helper.make_node("Add", ["INPUT0", "INPUT1"], ["OUTPUT0"]),
                   helper.make_node("Sub", ["INPUT0", "INPUT1"], ["OUTPUT1"])],
                  [_vi("INPUT0", TensorProto.FLOAT, shape), _vi("INPUT1", TensorProto.FLOAT, shape)],
                  [_vi("OUTPUT0", TensorProto.FLOAT, shape), _vi("OUTPUT1", TensorProto.FLOAT, shape)])


def dtypes_model() -> onnx.ModelProto:
    """One input per datatype under test, each with an output computed from it, batch first."""
    shape = ["batch", 3]
    return _model(
        [helper.make_node("Mul", ["fp32", "fp32"], ["fp32_sq"]),
         helper.make_node("Neg", ["int64"], ["int64_neg"]),
         helper.make_node("Not", ["bool"], ["bool_not"]),
         helper.make_node("Add", ["fp16", "fp16"], ["fp16_x2"]),
         helper.make_node("Identity", ["bytes"], ["bytes_out"])],
        [_vi("fp32", TensorProto.FLOAT, shape), _vi("int64", TensorProto.INT64, shape),
         _vi("bool", TensorProto.BOOL, shape), _vi("fp16", TensorProto.FLOAT16, shape),
         _vi("bytes", TensorProto.STRING, shape)],
        [_vi("fp32_sq", TensorProto.FLOAT, shape), _vi("int64_neg", TensorProto.INT64, shape),
         _vi("bool_not", TensorProto.BOOL, shape), _vi("fp16_x2", TensorProto.FLOAT16, shape),
         _vi("bytes_out", TensorProto.STRING, shape)])


def fixed_model() -> onnx.ModelProto:
    """A model that does not batch: y = x * 2 for x of shape exactly [2, 8] (INT32)."""
    two = helper.make_tensor("two", TensorProto.INT32, [], [2])
    return _model([helper.make_node("Constant", [], ["c"], value=two), helper.make_node("Mul", ["x", "c"], ["y"])],
                  [_vi("x", TensorProto.INT32, [2, 8])], [_vi("y", TensorProto.INT32, [2, 8])])


def add_model(value: float) -> onnx.ModelProto:
    """y = x + value, x of shape [batch, 4]: versions of one model tell themselves apart by `value`."""
    c = helper.make_tensor("c", TensorProto.FLOAT, [], [value])
    return _model([helper.make_node("Constant", [], ["k"], value=c), helper.make_node("Add", ["x", "k"], ["y"])],
                  [_vi("x", TensorProto.FLOAT, ["batch", 4])], [_vi("y", TensorProto.FLOAT, ["batch", 4])])


def write_model(repo: Path, name: str, model: onnx.ModelProto | bytes, config: str | None = None,
                version: int = 1, filename: str = "model.onnx") -> Path:
    folder = repo / name
    (folder / str(version)).mkdir(parents=True, exist_ok=True)
    data = model if isinstance(model, bytes) else model.SerializeToString()
    (folder / str(version) / filename).write_bytes(data)
    if config is not None:
        (folder / "config.pbtxt").write_text(config)
    return folder


@contextlib.contextmanager
def running_server(repo: Path, **options):
    """An in-process server on free ports; always stopped, whatever the test does."""
    options.setdefault("metrics_port", None)
    server = InferenceServer(ServerOptions(model_repository=str(repo), grpc_port=0, grpc_address=HOST,
                                           shutdown_timeout=5.0, **options))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def client(server) -> grpcclient.InferenceServerClient:
    return grpcclient.InferenceServerClient(f"{HOST}:{server.grpc_port}")


def infer_input(name: str, array, datatype: str) -> grpcclient.InferInput:
    tensor = grpcclient.InferInput(name, list(array.shape), datatype)
    tensor.set_data_from_numpy(array)
    return tensor


def channel(server) -> grpc.Channel:
    limit = 2**31 - 1  # as tritonclient's own channel, so large responses come back
    return grpc.insecure_channel(f"{HOST}:{server.grpc_port}", options=[("grpc.max_receive_message_length", limit),
                                                                        ("grpc.max_send_message_length", limit)])


def stub(channel):
    return grpc_pb.GRPCInferenceServiceStub(channel)


def pb_request(model: str, inputs: dict, typed: bool = False, datatype: str = "FP32", shape=None):
    """A ModelInferRequest built by hand, for what tritonclient would never send."""
    request = pb.ModelInferRequest(model_name=model)
    for name, values in inputs.items():
        array = np.asarray(values, dtype=np.float32)
        tensor = request.inputs.add(name=name, datatype=datatype, shape=shape or [1, array.size])
        if typed:
            tensor.contents.fp32_contents.extend(array.ravel().tolist())
        else:
            request.raw_input_contents.append(array.tobytes())
    return request


def slow_model(size: int = 1024, steps: int = 48) -> onnx.ModelProto:
    """y = tanh(x @ W) applied `steps` times, x of shape [batch, size]: slow enough to be caught in flight."""
    nodes, previous = [], "x"
    for step in range(steps):
        nodes.append(helper.make_node("MatMul", [previous, "W"], [f"m{step}"]))
        nodes.append(helper.make_node("Tanh", [f"m{step}"], [out := ("y" if step == steps - 1 else f"t{step}")]))
        previous = out
    graph = helper.make_graph(nodes, "slow", [_vi("x", TensorProto.FLOAT, ["batch", size])],
                              [_vi("y", TensorProto.FLOAT, ["batch", size])],
                              initializer=[numpy_helper.from_array(np.eye(size, dtype=np.float32) * 0.5, "W")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model
