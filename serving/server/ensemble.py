"""Triton ensembles: a model folder whose config.pbtxt chains other models of the repository.

    platform: "ensemble"
    input [...]  output [...]                      # the ensemble's own tensors, declared in full
    ensemble_scheduling { step [ { model_name: "preprocess" model_version: -1
                                   input_map { key: "<step model input>" value: "<ensemble tensor>" }
                                   output_map { key: "<step model output>" value: "<ensemble tensor>" } }, ... ] }

Loading checks the pipeline on its own (every tensor read has one producer, no cycles, every output
written) and against its members' configs (names, datatypes, shapes, batch sizes); a member that is
not loaded yet is loaded first. A request runs the steps in dependency order, each through its
member's own scheduler, so members batch dynamically and count their statistics as when called
directly. When a member is unloaded its ensembles become UNAVAILABLE; when it loads again, they reload.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import numpy as np

from serving.server import config as model_config
from serving.server.config import wire_shape
from serving.server.dtypes import NUMPY, from_config
from serving.server.errors import InvalidRequestError, ModelLoadError, NotFoundError, ServerError, UnavailableError
from serving.server.protocol import config_pb
from serving.server.scheduler import Job
from serving.server.stats import ModelStats
from serving.server.validation import RequestSchema

log = logging.getLogger("sardonyx.serve")

PLATFORM = "ensemble"
# Settings of an ONNX model that mean nothing for an ensemble, which has no instances or model file of its own.
_NOT_FOR_ENSEMBLES = ("instance_group", "model_warmup", "default_model_filename")


def is_ensemble(config) -> bool:
    return config.platform == PLATFORM or config.HasField("ensemble_scheduling")


@dataclass(frozen=True)
class Step:
    index: int  # 1-based position in config.pbtxt, for messages
    model: str
    version: str  # "" for the latest version that serves, as a request names it
    inputs: dict[str, str]  # step model input -> ensemble tensor it reads
    outputs: dict[str, str]  # step model output -> ensemble tensor it writes

    def __str__(self) -> str:
        return f"step {self.index} (model '{self.model}')"


# Static checks: the config on its own.

def complete(file: model_config.ConfigFile, name: str):
    """Check an ensemble's config.pbtxt on its own and fill its defaults; raises ModelLoadError."""
    config = model_config.named_copy(file, name)
    if config.platform != PLATFORM or config.backend:
        raise ModelLoadError(f"model '{name}' is configured as an ensemble but asks for platform "
                             f"'{config.platform}' backend '{config.backend}'; an ensemble has platform '{PLATFORM}' "
                             "and no backend")
    if config.max_batch_size < 0:
        raise ModelLoadError(f"max_batch_size must be >= 0 for model '{name}', got {config.max_batch_size}")
    if not config.ensemble_scheduling.step:
        raise ModelLoadError(f"ensemble '{name}' has no ensemble_scheduling step; list at least one")
    for kind, tensors in (("input", config.input), ("output", config.output)):
        if not tensors:
            raise ModelLoadError(f"ensemble '{name}' declares no {kind}s; an ensemble's config must list its "
                                 f"{kind}s with data_type and dims")
        for tensor in tensors:
            if tensor.data_type == config_pb.TYPE_INVALID:
                raise ModelLoadError(f"ensemble '{name}' {kind} '{tensor.name}' has no data_type")
    if not config.HasField("version_policy"):
        config.version_policy.latest.num_versions = 1
    return config


def ignored_fields(config) -> list[str]:
    return [field for field in _NOT_FOR_ENSEMBLES if getattr(config, field)]


def plan(config) -> list[Step]:
    """The steps in an order that runs each after the steps writing what it reads; raises ModelLoadError."""
    name = config.name
    steps = []
    for index, step in enumerate(config.ensemble_scheduling.step, 1):
        if not step.model_name:
            raise ModelLoadError(f"ensemble '{name}' step {index} has no model_name")
        if step.model_name == name:
            raise ModelLoadError(f"ensemble '{name}' step {index} runs the ensemble itself")
        if step.model_version < -1:
            raise ModelLoadError(f"ensemble '{name}' step {index} (model '{step.model_name}') has model_version "
                                 f"{step.model_version}; expected -1 (the latest) or a version number")
        if not step.input_map or not step.output_map:
            raise ModelLoadError(f"ensemble '{name}' step {index} (model '{step.model_name}') needs both an "
                                 "input_map and an output_map")
        version = str(step.model_version) if step.model_version > 0 else ""
        steps.append(Step(index, step.model_name, version, dict(step.input_map), dict(step.output_map)))
    writers: dict[str, Step | None] = {tensor.name: None for tensor in config.input}  # None: the request
    for step in steps:
        for tensor in step.outputs.values():
            if tensor in writers:
                first = "the ensemble's inputs" if writers[tensor] is None else str(writers[tensor])
                raise ModelLoadError(f"ensemble '{name}': tensor '{tensor}' is written by both {first} and {step}; "
                                     "each ensemble tensor has exactly one producer")
            writers[tensor] = step
    for step in steps:
        for tensor in step.inputs.values():
            if tensor not in writers:
                raise ModelLoadError(f"ensemble '{name}': {step} reads tensor '{tensor}', which is neither an "
                                     "ensemble input nor written by any step")
    for tensor in config.output:
        if writers.get(tensor.name) is None:
            raise ModelLoadError(f"ensemble '{name}': output '{tensor.name}' is not written by any step")
    return _dependency_order(name, steps, writers)


def _dependency_order(name: str, steps: list[Step], writers: dict) -> list[Step]:
    after = {step.index: {writers[t].index for t in step.inputs.values() if writers[t] is not None} for step in steps}
    ordered, done = [], set()
    while len(ordered) < len(steps):
        ready = [step for step in steps if step.index not in done and after[step.index] <= done]
        if not ready:
            # Leave out the steps that only wait on a cycle: what remains is waited on by another of them.
            stuck = {step.index for step in steps} - done
            while (waited_on := stuck & set().union(*(after[i] for i in stuck))) != stuck:
                stuck = waited_on
            stuck = ", ".join(str(step) for step in steps if step.index in stuck)
            raise ModelLoadError(f"ensemble '{name}' has a cycle: {stuck} each wait for another's output")
        ordered.extend(ready)
        done.update(step.index for step in ready)
    return ordered


# Checks against the members' configs.

def _own_shape(config, tensor) -> list[int]:
    """An ensemble tensor's shape between the steps: the reshape when the config gives one, else the dims."""
    batch = [-1] if config.max_batch_size > 0 else []
    return batch + [int(d) for d in (tensor.reshape.shape if tensor.HasField("reshape") else tensor.dims)]


def _fits(produced: list[int], taken: list[int]) -> bool:
    return len(produced) == len(taken) and all(p == -1 or t == -1 or p == t for p, t in zip(produced, taken))


def check_members(config, steps: list[Step], members: dict[tuple[str, str], object]) -> None:
    """Check every step against its member's config (`members`: (model, version) -> the ModelVersion serving)."""
    name = config.name
    # Ensemble tensor -> (datatype, shape, who writes it).
    known = {t.name: (from_config(t.data_type), _own_shape(config, t), "the ensemble's input") for t in config.input}
    for step in steps:
        member = members[(step.model, step.version)].config
        if config.max_batch_size > member.max_batch_size:
            raise ModelLoadError(f"ensemble '{name}' has max_batch_size {config.max_batch_size} but {step} takes at "
                                 f"most {member.max_batch_size}; an ensemble batches no more than each of its models")
        inputs = {t.name: t for t in member.input}
        outputs = {t.name: t for t in member.output}
        for kind, mapped, allowed in (("input", step.inputs, inputs), ("output", step.outputs, outputs)):
            unknown = [key for key in mapped if key not in allowed]
            if unknown:
                raise ModelLoadError(f"ensemble '{name}': {step} maps {kind} '{unknown[0]}', which model "
                                     f"'{step.model}' does not have; its {kind}s are: {', '.join(allowed)}")
        missing = [t.name for t in member.input if not t.optional and t.name not in step.inputs]
        if missing:
            raise ModelLoadError(f"ensemble '{name}': {step} leaves required input(s) {missing} of model "
                                 f"'{step.model}' out of its input_map")
        for key, tensor in step.inputs.items():
            _check_link(name, tensor, known[tensor], from_config(inputs[key].data_type),
                        wire_shape(member, inputs[key]), f"input '{key}' of {step}")
        for key, tensor in step.outputs.items():
            known[tensor] = (from_config(outputs[key].data_type), wire_shape(member, outputs[key]),
                             f"output '{key}' of {step}")
    for tensor in config.output:
        _check_link(name, tensor.name, known[tensor.name], from_config(tensor.data_type), _own_shape(config, tensor),
                    f"ensemble output '{tensor.name}'")


def _check_link(name: str, tensor: str, written, datatype: str, shape: list[int], reader: str) -> None:
    written_type, written_shape, writer = written
    if written_type != datatype:
        raise ModelLoadError(f"ensemble '{name}': tensor '{tensor}' is {written_type} as {writer} but {reader} "
                             f"takes {datatype}")
    if not _fits(written_shape, shape):
        raise ModelLoadError(f"ensemble '{name}': tensor '{tensor}' has shape {_dims(written_shape)} as {writer} "
                             f"but {reader} takes {_dims(shape)}")


def _dims(dims) -> str:
    return "[" + ",".join(str(int(d)) for d in dims) + "]"


# Serving.

class EnsembleScheduler:
    """Runs one request through the steps, each on its member's scheduler; waits for in-flight requests at close."""

    def __init__(self, config, steps: list[Step], resolve):
        self._name = config.name
        self._outputs = {t.name: tuple(t.reshape.shape) for t in config.output if t.HasField("reshape")}
        self._batching = config.max_batch_size > 0
        self._steps = steps
        self._resolve = resolve  # (model, version) -> the member's ModelVersion, as the repository serves it
        self._in_flight = 0
        self._closing = False
        self._idle = threading.Condition()

    @property
    def pending(self) -> int:
        """Requests in flight through the ensemble (each waits on one member at a time)."""
        return self._in_flight

    def infer(self, job: Job) -> dict[str, np.ndarray]:
        with self._idle:
            if self._closing:
                raise UnavailableError(f"ensemble '{self._name}' was unloaded")
            self._in_flight += 1
        try:
            job.started_ns = time.perf_counter_ns()
            tensors = dict(job.inputs)
            for step in self._steps:
                results = self._run_step(step, {key: tensors[tensor] for key, tensor in step.inputs.items()})
                tensors.update((tensor, results[key]) for key, tensor in step.outputs.items())
            job.infer_ns = time.perf_counter_ns() - job.started_ns
            lead = (job.batch,) if self._batching else ()
            return {name: tensors[name].reshape(lead + self._outputs[name]) if name in self._outputs else tensors[name]
                    for name in job.outputs}
        finally:
            with self._idle:
                self._in_flight -= 1
                self._idle.notify_all()

    def _run_step(self, step: Step, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        start = time.perf_counter_ns()
        try:
            member = self._resolve(step.model, step.version)
        except (NotFoundError, UnavailableError) as exc:
            raise UnavailableError(f"ensemble '{self._name}' cannot run {step}: {exc.message}") from exc
        schema = member.schema
        try:
            job = _member_job(self._name, step, schema, feeds)
            results = member.infer(job)
        except ServerError:
            member.stats.request_done(False, time.perf_counter_ns() - start)
            raise
        computed = time.perf_counter_ns()
        # As a client of the member would receive them: in the member's output shapes.
        lead = schema.batch_dims(job.batch)
        results = {name: value.reshape(lead + schema.outputs[name].reshape)
                   if schema.outputs[name].reshape is not None else value for name, value in results.items()}
        end = time.perf_counter_ns()
        member.stats.request_done(True, end - start, job.batch, max(0, job.started_ns - job.enqueued_ns), 0,
                                  job.infer_ns, end - computed)
        return results

    def close(self, timeout: float) -> None:
        """Refuse new requests and wait up to `timeout` seconds for those in flight."""
        deadline = time.monotonic() + timeout
        with self._idle:
            self._closing = True
            while self._in_flight and time.monotonic() < deadline:
                self._idle.wait(deadline - time.monotonic())


def _member_job(ensemble: str, step: Step, schema: RequestSchema, feeds: dict[str, np.ndarray]) -> Job:
    """What decoding a request does for a member, on tensors that come from the previous steps."""
    batch = None
    for name, array in feeds.items():
        spec = schema.inputs[name]
        where = f"ensemble '{ensemble}' {step}"
        if array.dtype != NUMPY[spec.datatype]:
            raise InvalidRequestError(f"{where}: input '{name}' is {array.dtype} but model '{step.model}' expects "
                                      f"{spec.datatype}")
        if not _fits(list(array.shape), list(spec.wire_shape)):
            raise InvalidRequestError(f"{where}: unexpected shape for input '{name}' for model '{step.model}'. "
                                      f"Expected {_dims(spec.wire_shape)}, got {_dims(array.shape)}")
        if schema.max_batch_size > 0:
            if batch is not None and array.shape[0] != batch:
                raise InvalidRequestError(f"{where}: input '{name}' has batch size {array.shape[0]} but the other "
                                          f"inputs have {batch}")
            batch = array.shape[0]
            if not 1 <= batch <= schema.max_batch_size:
                raise InvalidRequestError(f"{where}: batch size {batch} is outside [1, {schema.max_batch_size}] "
                                          f"for model '{step.model}'")
    batch = batch or 1
    lead = schema.batch_dims(batch)
    inputs = {name: array.reshape(lead + schema.inputs[name].reshape) if schema.inputs[name].reshape is not None
              else array for name, array in feeds.items()}
    return Job(inputs=inputs, outputs=list(step.outputs), batch=batch)


class EnsembleModel:
    """One version of an ensemble: what the service and metrics read of a loaded model version."""

    def __init__(self, name: str, version: int, config, steps: list[Step], resolve,
                 labels: dict[str, list[str]] | None = None):
        self.name = name
        self.version = version
        self.config = config
        self.labels = labels or {}  # {output name: its classification labels}
        self.schema = RequestSchema(config)
        self.stats = ModelStats()
        self.scheduler = EnsembleScheduler(config, steps, resolve)

    def infer(self, job: Job) -> dict[str, np.ndarray]:
        return self.scheduler.infer(job)

    def close(self, timeout: float) -> None:
        self.scheduler.close(timeout)
