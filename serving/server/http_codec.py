"""The KServe v2 REST encoding: JSON inference requests (with Triton's binary tensor extension) <-> the
protocol's messages, and protobuf answers -> the JSON bodies Triton's HTTP endpoint writes.

A request is turned into the same `ModelInferRequest` the gRPC front end receives, every input as raw
bytes, so one validation path checks both; only what JSON itself can get wrong is checked here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor

from serving.server import schedule_policy, sequence_flags, shared_memory, tensors
from serving.server.core import Output
from serving.server.dtypes import NUMPY
from serving.server.errors import InvalidRequestError
from serving.server.protocol import pb

_INT64_TYPES = {FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_SINT64,
                FieldDescriptor.TYPE_FIXED64, FieldDescriptor.TYPE_SFIXED64}


@dataclass
class InferRequest:
    """A decoded HTTP inference request: the protocol message and how each output should travel."""

    message: object  # pb.ModelInferRequest
    binary_outputs: dict[str, bool]  # per requested output, its `binary_data` parameter when given
    binary_default: bool  # the request's `binary_data_output` parameter


def message_to_json(message) -> dict:
    """A protobuf answer as Triton's HTTP endpoint writes it: field names as in the .proto, every field present,
    and 64-bit integers as JSON numbers (protobuf's own JSON mapping would write them as strings)."""
    data = json_format.MessageToDict(message, preserving_proto_field_name=True,
                                     always_print_fields_with_no_presence=True)
    return _numbers(data, message.DESCRIPTOR)


def _numbers(data: dict, descriptor) -> dict:
    for field in descriptor.fields:
        if field.name not in data:
            continue
        value = data[field.name]
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            entry = field.message_type.fields_by_name["value"]
            data[field.name] = {key: _number(item, entry) for key, item in value.items()}
        elif field.is_repeated:
            data[field.name] = [_number(item, field) for item in value]
        else:
            data[field.name] = _number(value, field)
    return data


def _number(value, field):
    if field.message_type is not None:
        return _numbers(value, field.message_type)
    if field.type in _INT64_TYPES:
        return int(value)
    return value


# Requests.

def parse_infer_request(body: bytes, header_length: int | None, model: str, version: str) -> InferRequest:
    """`body` is the JSON header, then (with Inference-Header-Content-Length) the inputs' binary data in order."""
    if header_length is None:
        header_length = len(body)
    elif header_length > len(body):
        raise InvalidRequestError(f"Inference-Header-Content-Length is {header_length} but the request body has "
                                  f"only {len(body)} bytes")
    document = _json_object(body[:header_length])
    binary, offset = memoryview(body)[header_length:], 0
    message = pb.ModelInferRequest(model_name=model, model_version=version, id=_string(document, "id", "request"))
    inputs = document.get("inputs")
    if not isinstance(inputs, list):
        raise InvalidRequestError("the request needs 'inputs', a list of input tensors")
    for index, tensor in enumerate(inputs):
        if not isinstance(tensor, dict):
            raise InvalidRequestError(f"input {index} of the request is not a JSON object")
        name = _string(tensor, "name", f"input {index}", required=True)
        datatype = _string(tensor, "datatype", f"input '{name}'", required=True)
        shape = tensor.get("shape")
        if not isinstance(shape, list) or not all(type(d) is int for d in shape):
            raise InvalidRequestError(f"input '{name}' needs 'shape', a list of integers, got {shape!r}")
        parameters = _parameters(tensor, f"input '{name}'")
        if shared_memory.REGION in parameters:
            if "data" in tensor or "binary_data_size" in parameters:
                raise InvalidRequestError(f"input '{name}' reads its data from shared memory region "
                                          f"'{parameters[shared_memory.REGION]}', so it must not also send data")
            shared = message.inputs.add(name=name, datatype=datatype, shape=shape)
            shared_memory.json_parameters(parameters, shared.parameters, f"input '{name}'")
            continue
        size = parameters.get("binary_data_size")
        if size is not None:
            if type(size) is not int or size < 0:
                raise InvalidRequestError(f"'binary_data_size' of input '{name}' must be a non-negative integer")
            if "data" in tensor:
                raise InvalidRequestError(f"input '{name}' sets both 'data' and 'binary_data_size'; send one")
            if offset + size > len(binary):
                raise InvalidRequestError(f"input '{name}' claims {size} bytes of binary data but only "
                                          f"{len(binary) - offset} remain in the request body")
            raw = bytes(binary[offset:offset + size])
            offset += size
        elif "data" in tensor:
            raw = _raw_from_json(tensor["data"], datatype, shape, name)
        elif tensors.element_count(shape) == 0:
            raw = b""
        else:
            raise InvalidRequestError(f"input '{name}' has no data: set its 'data' or 'binary_data_size'")
        message.inputs.add(name=name, datatype=datatype, shape=shape)
        message.raw_input_contents.append(raw)
    if offset != len(binary):
        raise InvalidRequestError(f"the request body has {len(binary) - offset} bytes of binary data that no "
                                  "input's 'binary_data_size' accounts for")
    binary_outputs = {}
    outputs = document.get("outputs", [])
    if not isinstance(outputs, list):
        raise InvalidRequestError("'outputs' of the request must be a list of requested outputs")
    for index, tensor in enumerate(outputs):
        if not isinstance(tensor, dict):
            raise InvalidRequestError(f"output {index} of the request is not a JSON object")
        name = _string(tensor, "name", f"output {index}", required=True)
        parameters = _parameters(tensor, f"output '{name}'")
        requested = message.outputs.add(name=name)
        shared_memory.json_parameters(parameters, requested.parameters, f"output '{name}'")
        classification = parameters.get("classification")
        if classification is not None:
            if type(classification) is not int or classification < 0:
                raise InvalidRequestError(f"Unable to set 'classification' of output '{name}': expected an unsigned "
                                          f"integer, got {json.dumps(classification)}")
            if classification > 0:  # over HTTP, as in Triton, 0 asks for the plain tensor
                requested.parameters["classification"].int64_param = classification
        if "binary_data" in parameters:
            binary_outputs[name] = _boolean(parameters["binary_data"], f"'binary_data' of output '{name}'")
    request_parameters = _parameters(document, "the request")
    sequence_flags.from_json(request_parameters, message.parameters)
    schedule_policy.from_json(request_parameters, message.parameters)
    binary_default = _boolean(request_parameters.get("binary_data_output", False), "'binary_data_output'")
    return InferRequest(message, binary_outputs, binary_default)


def _json_object(text: bytes) -> dict:
    try:
        document = json.loads(text)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidRequestError(f"failed to parse the request JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise InvalidRequestError(f"the request JSON must be an object, got {type(document).__name__}")
    return document


def request_json(body: bytes) -> dict:
    """The JSON object body of a control request (repository index, load, unload); empty means {}."""
    return _json_object(body) if body.strip() else {}


def _string(document: dict, key: str, what: str, required: bool = False) -> str:
    value = document.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise InvalidRequestError(f"{what} needs '{key}', a string" + (f", got {value!r}" if value is not None else ""))
    return value


def _parameters(document: dict, what: str) -> dict:
    parameters = document.get("parameters", {})
    if not isinstance(parameters, dict):
        raise InvalidRequestError(f"'parameters' of {what} must be a JSON object")
    return parameters


def _boolean(value, what: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidRequestError(f"{what} must be true or false, got {value!r}")
    return value


def _flatten(data, out: list) -> list:
    """KServe lets 'data' be flat or nested row-major; either way it holds the elements in order."""
    for item in data:
        if isinstance(item, list):
            _flatten(item, out)
        else:
            out.append(item)
    return out


def _raw_from_json(data, datatype: str, shape: list[int], name: str) -> bytes:
    """JSON 'data' -> the raw little-endian bytes the shared validation decodes."""
    if not isinstance(data, list):
        data = [data]
    values = _flatten(data, [])
    count = tensors.element_count(shape)
    if len(values) != count:
        raise InvalidRequestError(f"unable to parse 'data' of input '{name}': shape {shape} holds {count} elements "
                                  f"but 'data' has {len(values)}")
    dtype = NUMPY.get(datatype)
    if dtype is None:
        return b""  # an unknown datatype: validation names it, with the model's own
    if datatype == "BYTES":
        if not all(isinstance(v, str) for v in values):
            raise InvalidRequestError(f"'data' of BYTES input '{name}' must hold strings")
        items = np.empty(count, dtype=object)
        items[:] = [v.encode("utf-8") for v in values]
        return tensors.to_raw(items, datatype)
    if datatype == "BOOL":
        ok = all(type(v) is bool for v in values)
    elif dtype.kind in "iu":
        ok = all(type(v) is int for v in values)
        if ok and values and (min(values) < np.iinfo(dtype).min or max(values) > np.iinfo(dtype).max):
            raise InvalidRequestError(f"a value in 'data' of input '{name}' does not fit in {datatype}")
    else:
        ok = all(type(v) in (int, float) for v in values)
    if not ok:
        raise InvalidRequestError(f"'data' of input '{name}' must hold only "
                                  f"{'true/false' if datatype == 'BOOL' else 'numbers'} for datatype {datatype}")
    # Floats pass through float64 so that FP16 and BF16, which JSON knows only as numbers, round once.
    wide = np.array(values, dtype=np.float64 if dtype.kind not in "iub" else dtype)
    return tensors.to_raw(wide.astype(dtype), datatype)


# Responses.

def infer_response(request: InferRequest, model, outputs: list[Output],
                   shared: shared_memory.SharedMemoryBinding | None = None) -> tuple[dict, list[bytes]]:
    """The JSON header and the binary chunks that follow it, in the order of the outputs that travel binary;
    outputs that asked for a shared-memory region (`shared`) are written there and only described."""
    header = {"model_name": model.name, "model_version": str(model.version)}
    if request.message.id:
        header["id"] = request.message.id
    chunks, described = [], []
    for name, datatype, value in outputs:
        tensor = {"name": name, "datatype": datatype, "shape": list(value.shape)}
        placed = None if shared is None else shared.write_output(name, datatype, value)
        if placed is not None:
            tensor["parameters"] = placed
        elif request.binary_outputs.get(name, request.binary_default):
            raw = tensors.to_raw(value, datatype)
            tensor["parameters"] = {"binary_data_size": len(raw)}
            chunks.append(raw)
        else:
            tensor["data"] = _json_data(value, datatype, name, model.name)
        described.append(tensor)
    header["outputs"] = described
    return header, chunks


def _json_data(value: np.ndarray, datatype: str, name: str, model: str) -> list:
    flat = value.reshape(-1)
    if datatype == "BYTES":
        try:  # the runtime's strings keep non-UTF-8 bytes as surrogates, which JSON text cannot hold either
            return [item.decode("utf-8") if isinstance(item, bytes) else _text(str(item)) for item in flat]
        except UnicodeError as exc:
            raise InvalidRequestError(f"output '{name}' of model '{model}' holds bytes that are not UTF-8, which JSON "
                                      "cannot carry; request it with \"binary_data\": true") from exc
    if datatype in ("FP16", "BF16"):
        flat = flat.astype(np.float32)
    return flat.tolist()  # NaN and infinities are written as JavaScript spells them, which JSON readers accept


def _text(value: str) -> str:
    value.encode("utf-8")  # raises UnicodeEncodeError for a surrogate-escaped byte
    return value
