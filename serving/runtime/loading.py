"""Reading a model safely: parse, resolve external data inside the model's folder only, check, infer.

External data paths come from the file itself, so a crafted model could otherwise make the runtime
read any file on the machine (``/etc/passwd``, ``../../secret``); the same flaw has had CVEs in
ONNX tooling. Every location is resolved and must stay inside the model's folder.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import onnx
from onnx import external_data_helper

from serving.errors import InvalidModelError
from serving.runtime import scopes

# The checker and shape inference serialise the model; protobuf refuses messages past 2 GiB.
_PROTOBUF_LIMIT = 2**31 - 1


def load_model(model) -> tuple[onnx.ModelProto, str | None]:
    """Parse ``model`` (a path, bytes or a ModelProto); returns the proto and the folder it came from."""
    if isinstance(model, onnx.ModelProto):
        proto, folder = model, None
    elif isinstance(model, (bytes, bytearray, memoryview)):
        proto, folder = _parse(bytes(model), "the given bytes"), None
    elif isinstance(model, (str, os.PathLike)):
        path = os.fspath(model)
        if not os.path.isfile(path):
            raise InvalidModelError(f"no model file at {path!r}")
        with open(path, "rb") as f:
            proto = _parse(f.read(), repr(path))
        folder = os.path.dirname(os.path.abspath(path))
    else:
        raise InvalidModelError(
            f"model must be a path, bytes or an onnx.ModelProto, got {type(model).__name__}"
        )
    _load_external_data(proto, folder)
    return proto, folder


def _parse(data: bytes, where: str) -> onnx.ModelProto:
    proto = onnx.ModelProto()
    try:
        proto.ParseFromString(data)
    except Exception as exc:  # protobuf's DecodeError and friends: truncated or corrupted bytes
        raise InvalidModelError(f"{where} is not a valid ONNX model (protobuf parse failed: {exc})") from exc
    if not proto.HasField("graph"):
        raise InvalidModelError(f"{where} is not an ONNX model: it has no graph")
    return proto


def _tensors(graph: onnx.GraphProto) -> Iterator[onnx.TensorProto]:
    """Every tensor a graph holds: initializers, attribute tensors, and those of subgraphs."""
    yield from graph.initializer
    yield from (sparse.values for sparse in graph.sparse_initializer)
    for node in graph.node:
        for attr in node.attribute:
            if attr.HasField("t"):
                yield attr.t
            yield from attr.tensors
            for g in scopes.subgraphs(attr):
                yield from _tensors(g)


def _load_external_data(proto: onnx.ModelProto, folder: str | None) -> None:
    external = [t for t in _tensors(proto.graph) if external_data_helper.uses_external_data(t)]
    if not external:
        return
    if folder is None:
        raise InvalidModelError(
            "the model keeps tensors in external data files but was not given as a path; "
            "load it from its .onnx file so the data files can be found next to it"
        )
    root = os.path.realpath(folder)
    for tensor in external:
        info = external_data_helper.ExternalDataInfo(tensor)
        location = info.location
        if not location or os.path.isabs(location):
            raise InvalidModelError(
                f"tensor {tensor.name!r} refers to external data at {location!r}: only paths relative to "
                "the model's folder are allowed"
            )
        resolved = os.path.realpath(os.path.join(root, location))
        if os.path.commonpath([root, resolved]) != root:
            raise InvalidModelError(
                f"tensor {tensor.name!r} refers to external data {location!r}, which is outside the model's "
                f"folder {root!r}; refusing to read it"
            )
        if not os.path.isfile(resolved):
            raise InvalidModelError(f"external data file {location!r} of tensor {tensor.name!r} does not exist")
        size = os.path.getsize(resolved)
        end = (info.offset or 0) + (info.length or 0)
        if (info.offset or 0) > size or end > size:
            raise InvalidModelError(
                f"external data of tensor {tensor.name!r} asks for bytes up to {end} of {location!r}, "
                f"which has only {size}"
            )
        try:
            external_data_helper.load_external_data_for_tensor(tensor, root)
        except Exception as exc:
            raise InvalidModelError(f"could not read external data of tensor {tensor.name!r}: {exc}") from exc
        tensor.data_location = onnx.TensorProto.DEFAULT
        del tensor.external_data[:]


def check_and_infer(proto: onnx.ModelProto) -> onnx.ModelProto:
    """onnx's checker, then shape inference (types the planner and ``get_outputs`` use)."""
    small = proto.ByteSize() < _PROTOBUF_LIMIT
    if small:
        # The checker insists that graph inputs and outputs state a shape; ONNX Runtime runs models
        # that leave it out (unknown rank), and so do we: check with a placeholder, then take it away.
        unshaped = [v.type.tensor_type for v in (*proto.graph.input, *proto.graph.output)
                    if v.type.HasField("tensor_type") and not v.type.tensor_type.HasField("shape")]
        for tensor_type in unshaped:
            tensor_type.shape.SetInParent()
        try:
            onnx.checker.check_model(proto)
        except Exception as exc:  # ValidationError, and C++ errors surfaced as other types
            raise InvalidModelError(f"the model is not valid ONNX: {exc}") from exc
        finally:
            for tensor_type in unshaped:
                tensor_type.ClearField("shape")
    if not small:
        return proto
    try:
        return onnx.shape_inference.infer_shapes(proto, check_type=False, strict_mode=False, data_prop=True)
    except Exception:
        # Inference is an aid, not a gate: a model the checker accepts still runs without it.
        return proto
