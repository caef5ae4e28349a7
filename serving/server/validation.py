"""Check a ModelInferRequest against a model's configuration and decode it into a `Job`.

Messages follow Triton's wording, so users find them familiar (see PROTOCOL.md).
"""

from __future__ import annotations

import numpy as np

from serving.server import tensors
from serving.server.config import wire_shape
from serving.server.dtypes import NUMPY, from_config
from serving.server.errors import InvalidRequestError
from serving.server.scheduler import Job


def _dims(dims) -> str:
    return "[" + ",".join(str(int(d)) for d in dims) + "]"


def decode(request, config) -> Job:
    model = config.name
    inputs = list(request.inputs)
    raw = list(request.raw_input_contents)
    if raw:
        for tensor in inputs:
            if tensor.HasField("contents"):
                raise InvalidRequestError(f"contents field must not be specified when using raw_input_contents for "
                                          f"'{tensor.name}' for model '{model}'")
        if len(raw) != len(inputs):
            raise InvalidRequestError(f"expected {len(inputs)} raw_input_contents (one per input) but got {len(raw)} "
                                      f"for model '{model}'")
    declared = {tensor.name: tensor for tensor in config.input}
    seen: set[str] = set()
    for tensor in inputs:
        if tensor.name not in declared:
            raise InvalidRequestError(f"unexpected inference input '{tensor.name}' for model '{model}', allowed inputs "
                                      f"are: {', '.join(declared)}")
        if tensor.name in seen:
            raise InvalidRequestError(
                f"input '{tensor.name}' appears more than once in the request for model '{model}'")
        seen.add(tensor.name)
        expected_type = from_config(declared[tensor.name].data_type)
        if tensor.datatype != expected_type:
            raise InvalidRequestError(f"inference input '{tensor.name}' data-type is '{tensor.datatype}', but model "
                                      f"'{model}' expects '{expected_type}'")
    required = [name for name, spec in declared.items() if not spec.optional]
    missing = [name for name in required if name not in seen]
    if missing:
        raise InvalidRequestError(
            f"expected {len(required)} inputs but got {len(inputs)} inputs for model '{model}'. Got input(s) "
            f"{sorted(seen)}, but missing required input(s) {missing}. Please provide all required input(s).")
    batch = _batch_size(inputs, config)
    feeds = {}
    for index, tensor in enumerate(inputs):
        spec = declared[tensor.name]
        where = f"input '{tensor.name}' for model '{model}'"
        shape = [int(d) for d in tensor.shape]
        if raw:
            array = tensors.from_raw(raw[index], tensor.datatype, shape, where)
        elif tensor.HasField("contents"):
            array = tensors.from_contents(tensor.contents, tensor.datatype, shape, where)
        elif tensors.element_count(shape) == 0:
            array = np.empty(shape, dtype=NUMPY[tensor.datatype])
        else:
            raise InvalidRequestError(f"{where} has no data: set its contents or raw_input_contents")
        if spec.HasField("reshape"):
            array = array.reshape(([batch] if config.max_batch_size > 0 else []) + list(spec.reshape.shape))
        feeds[tensor.name] = array
    return Job(inputs=feeds, outputs=_requested_outputs(request, config), batch=batch)


def _batch_size(inputs, config) -> int:
    """Check every input's shape; return the request's batch size (1 for a model that does not batch)."""
    model, batching = config.name, config.max_batch_size > 0
    specs = {tensor.name: tensor for tensor in config.input}
    batch = None
    for tensor in inputs:
        expected = wire_shape(config, specs[tensor.name])
        shape = list(tensor.shape)
        if (len(shape) != len(expected) or any(d < 0 for d in shape)
                or any(e != -1 and e != d for e, d in zip(expected, shape))):
            raise InvalidRequestError(f"unexpected shape for input '{tensor.name}' for model '{model}'. Expected "
                                      f"{_dims(expected)}, got {_dims(shape)}")
        if not batching:
            continue
        if shape[0] < 1:
            raise InvalidRequestError(f"inference request batch-size must be >= 1 for '{model}', got {shape[0]} for "
                                      f"input '{tensor.name}'")
        if shape[0] > config.max_batch_size:
            raise InvalidRequestError(f"inference request batch-size must be <= {config.max_batch_size} for '{model}'")
        if batch is not None and shape[0] != batch:
            raise InvalidRequestError(f"input '{tensor.name}' has batch size {shape[0]} but the other inputs have "
                                      f"{batch} for model '{model}'; all inputs of a request share the batch size")
        batch = shape[0]
    return batch or 1


def _requested_outputs(request, config) -> list[str]:
    names = [tensor.name for tensor in config.output]
    if not request.outputs:
        return names
    wanted = []
    for output in request.outputs:
        if output.name not in names:
            raise InvalidRequestError(f"unexpected inference output '{output.name}' for model '{config.name}', "
                                      f"allowed outputs are: {', '.join(names)}")
        count = output.parameters.get("classification")
        if count is not None and count.int64_param > 0:
            raise InvalidRequestError(f"output '{output.name}' of model '{config.name}' asks for classification, "
                                      "which sardonyx-serve does not offer; request the raw output")
        if output.name not in wanted:
            wanted.append(output.name)
    return wanted
