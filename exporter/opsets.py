"""Which opsets an export may target: 13 up to the newest that both onnx and ONNX Runtime (if installed) know."""

from __future__ import annotations

import functools

import onnx
from onnx import helper

from exporter.errors import OpsetError

MIN_OPSET = 13
_LOCAL_FUNCTIONS_IR_VERSION = 8  # the IR version that added model-local functions


@functools.cache
def newest_opset() -> int:
    newest = onnx.defs.onnx_opset_version()
    try:
        import onnxruntime
    except ImportError:
        return newest
    for opset in range(newest, MIN_OPSET - 1, -1):
        if _runtime_accepts(onnxruntime, opset):
            return opset
    return MIN_OPSET


def _runtime_accepts(onnxruntime, opset: int) -> bool:
    """Whether ONNX Runtime loads a small model stamped with ``opset`` (it refuses opsets it does not know). The
    probe holds a QuantizeLinear / DequantizeLinear pair beside Relu: ONNX Runtime has known an opset before it
    had those two kernels at that opset's version."""
    x = helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])
    y = helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])
    scale = helper.make_tensor("scale", onnx.TensorProto.FLOAT, [], [0.5])
    nodes = [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("QuantizeLinear", ["r", "scale"], ["q"]),
             helper.make_node("DequantizeLinear", ["q", "scale"], ["y"])]
    graph = helper.make_graph(nodes, "probe", [x], [y], initializer=[scale])
    model = make_model(graph, opset)
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 4
    try:
        onnxruntime.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    except Exception:  # ORT raises its own exception types; any refusal means: not this opset
        return False
    return True


def make_model(graph, opset: int, custom_opsets=None, **kwargs) -> onnx.ModelProto:
    """A model importing ``opset`` and each custom domain its nodes and functions use (at its ``custom_opsets``
    version, else 1)."""
    imports = [helper.make_opsetid("", opset)]
    nodes = [*graph.node, *(node for function in kwargs.get("functions", ()) for node in function.node)]
    domains = sorted({node.domain for node in nodes} - {"", "ai.onnx"})
    custom = [helper.make_opsetid(domain, (custom_opsets or {}).get(domain, 1)) for domain in domains]
    ir_version = helper.find_min_ir_version_for(imports)
    if kwargs.get("functions"):
        ir_version = max(ir_version, _LOCAL_FUNCTIONS_IR_VERSION)
    return helper.make_model(graph, opset_imports=imports + custom, ir_version=ir_version, **kwargs)


def resolve_opset(opset_version: int | None) -> int:
    newest = newest_opset()
    if opset_version is None:
        return newest
    if not isinstance(opset_version, int) or isinstance(opset_version, bool):
        raise OpsetError(f"opset_version must be an int, got {opset_version!r}")
    if not MIN_OPSET <= opset_version <= newest:
        raise OpsetError(f"opset_version={opset_version} is outside the supported range {MIN_OPSET}..{newest} "
                         f"(the newest opset that the installed onnx {onnx.__version__} and ONNX Runtime both support)")
    return opset_version
