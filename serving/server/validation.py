"""Check a ModelInferRequest against a model's configuration and decode it into a `Job`.

Messages follow Triton's wording, so users find them familiar (see PROTOCOL.md). What decoding needs
from the config is read once per loaded version, into a `RequestSchema`: for small tensors, walking the
config's protobuf fields on every request cost more than running the model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from serving.server import schedule_policy, sequence_flags, tensors
from serving.server.config import wire_shape
from serving.server.dtypes import NUMPY, from_config
from serving.server.errors import InvalidRequestError
from serving.server.scheduler import Job


def _dims(dims) -> str:
    return "[" + ",".join(str(int(d)) for d in dims) + "]"


@dataclass(frozen=True)
class InputSpec:
    datatype: str  # the protocol's name, e.g. "FP32"
    wire_shape: tuple[int, ...]  # as clients send it: -1 for the batch dimension and variable dims
    reshape: tuple[int, ...] | None  # the model's own shape past the batch dimension, when the config reshapes
    optional: bool


@dataclass(frozen=True)
class OutputSpec:
    datatype: str
    reshape: tuple[int, ...] | None  # the shape clients receive past the batch dimension, when it differs


class RequestSchema:
    """A model config's inputs and outputs as decoding and encoding need them."""

    def __init__(self, config):
        self.model = config.name
        self.max_batch_size = config.max_batch_size
        self.inputs = {t.name: InputSpec(from_config(t.data_type), tuple(wire_shape(config, t)),
                                         tuple(t.reshape.shape) if t.HasField("reshape") else None, t.optional)
                       for t in config.input}
        self.required = [name for name, spec in self.inputs.items() if not spec.optional]
        self.outputs = {t.name: OutputSpec(from_config(t.data_type), tuple(t.dims) if t.HasField("reshape") else None)
                        for t in config.output}

    def batch_dims(self, batch: int) -> tuple[int, ...]:
        """The leading dimensions a reshaped tensor keeps: the batch, for a model that batches."""
        return (batch,) if self.max_batch_size > 0 else ()


def decode(request, schema: RequestSchema) -> Job:
    model = schema.model
    raw = request.raw_input_contents
    # Each protobuf field read costs more than the check made on it, so the inputs are read in one pass.
    given = [(t.name, t.datatype, tuple(t.shape), t.HasField("contents"), t) for t in request.inputs]
    if raw:
        for name, _, _, typed, _ in given:
            if typed:
                raise InvalidRequestError(f"contents field must not be specified when using raw_input_contents for "
                                          f"'{name}' for model '{model}'")
        if len(raw) != len(given):
            raise InvalidRequestError(f"expected {len(given)} raw_input_contents (one per input) but got {len(raw)} "
                                      f"for model '{model}'")
    declared = schema.inputs
    seen: set[str] = set()
    for name, datatype, _, _, _ in given:
        spec = declared.get(name)
        if spec is None:
            raise InvalidRequestError(f"unexpected inference input '{name}' for model '{model}', allowed inputs "
                                      f"are: {', '.join(declared)}")
        if name in seen:
            raise InvalidRequestError(f"input '{name}' appears more than once in the request for model '{model}'")
        seen.add(name)
        if datatype != spec.datatype:
            raise InvalidRequestError(f"inference input '{name}' data-type is '{datatype}', but model "
                                      f"'{model}' expects '{spec.datatype}'")
    missing = [name for name in schema.required if name not in seen]
    if missing:
        raise InvalidRequestError(
            f"expected {len(schema.required)} inputs but got {len(given)} inputs for model '{model}'. Got input(s) "
            f"{sorted(seen)}, but missing required input(s) {missing}. Please provide all required input(s).")
    batch = _batch_size(given, schema)
    lead = schema.batch_dims(batch)
    feeds = {}
    for index, (name, datatype, shape, typed, tensor) in enumerate(given):
        where = f"input '{name}' for model '{model}'"
        if raw:
            array = tensors.from_raw(raw[index], datatype, shape, where)
        elif typed:
            array = tensors.from_contents(tensor.contents, datatype, shape, where)
        elif tensors.element_count(shape) == 0:
            array = np.empty(shape, dtype=NUMPY[datatype])
        else:
            raise InvalidRequestError(f"{where} has no data: set its contents or raw_input_contents")
        reshape = declared[name].reshape
        if reshape is not None:
            array = array.reshape(lead + reshape)
        feeds[name] = array
    return Job(inputs=feeds, outputs=_requested_outputs(request, schema), batch=batch,
               sequence=sequence_flags.read(request), schedule=schedule_policy.read(request))


def _batch_size(given, schema: RequestSchema) -> int:
    """Check every input's shape; return the request's batch size (1 for a model that does not batch)."""
    model, max_batch = schema.model, schema.max_batch_size
    batch = None
    for name, _, shape, _, _ in given:
        expected = schema.inputs[name].wire_shape
        if (len(shape) != len(expected) or any(d < 0 for d in shape)
                or any(e != -1 and e != d for e, d in zip(expected, shape))):
            raise InvalidRequestError(f"unexpected shape for input '{name}' for model '{model}'. Expected "
                                      f"{_dims(expected)}, got {_dims(shape)}")
        if max_batch <= 0:
            continue
        if shape[0] < 1:
            raise InvalidRequestError(f"inference request batch-size must be >= 1 for '{model}', got {shape[0]} for "
                                      f"input '{name}'")
        if shape[0] > max_batch:
            raise InvalidRequestError(f"inference request batch-size must be <= {max_batch} for '{model}'")
        if batch is not None and shape[0] != batch:
            raise InvalidRequestError(f"input '{name}' has batch size {shape[0]} but the other inputs have "
                                      f"{batch} for model '{model}'; all inputs of a request share the batch size")
        batch = shape[0]
    return batch or 1


def _requested_outputs(request, schema: RequestSchema) -> list[str]:
    names = schema.outputs
    if not request.outputs:
        return list(names)
    wanted = []
    for output in request.outputs:
        if output.name not in names:
            raise InvalidRequestError(f"unexpected inference output '{output.name}' for model '{schema.model}', "
                                      f"allowed outputs are: {', '.join(names)}")
        if output.name not in wanted:
            wanted.append(output.name)
    return wanted
