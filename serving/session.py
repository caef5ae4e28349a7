"""``InferenceSession``: load an ONNX model once, run it many times, as with ONNX Runtime."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import onnx
from onnx import numpy_helper

from serving import providers as provider_names
from serving.blas_threads import BlasThreads
from serving.errors import (
    InvalidArgumentError,
    InvalidModelError,
    RunTerminatedError,
    SessionError,
    UnsupportedOperatorError,
)
from serving.io_binding import IOBinding
from serving.kernels import registry
from serving.optimized_model import write_planned_model
from serving.options import GraphOptimizationLevel, RunOptions, SessionOptions, logging_level
from serving.ort_value import OrtValue
from serving.profiling import Profiler
from serving.runtime import loading, scopes, types
from serving.runtime.device import Device, to_host
from serving.runtime.feeds import FeedCheck
from serving.runtime.opsets import Opsets
from serving.runtime.planner import Planner

_logger = logging.getLogger("serving")


class NodeArg(NamedTuple):
    """An input or output as ``get_inputs()``/``get_outputs()`` describe it (ONNX Runtime's fields)."""

    name: str
    type: str  # e.g. "tensor(float)", "seq(tensor(int64))"
    shape: list[int | str | None]  # ints for fixed dims, names for symbolic ones, None for unknown dims


class ModelMetadata(NamedTuple):
    producer_name: str
    graph_name: str
    domain: str
    description: str
    graph_description: str
    version: int
    custom_metadata_map: dict[str, str]


class InferenceSession:
    """Run an ONNX model on NumPy (``device="cpu"``) or CuPy (``device="cuda[:N]"``).

    ``model`` is a path, the model's bytes, or an ``onnx.ModelProto``. ``sess_options`` is a
    ``serving.SessionOptions``. ``providers`` accepts ONNX Runtime's names (``["CUDAExecutionProvider",
    "CPUExecutionProvider"]``, with options as ``(name, {"device_id": 1})`` or ``provider_options``) so code
    written for it runs unchanged; ``device`` says the same thing in PyTorch's spelling and wins when both are
    given. ``enable_fallback`` (ONNX Runtime's) lets the CPU take over when CUDA is unavailable or fails.
    """

    def __init__(self, model, sess_options: SessionOptions | None = None, providers: Sequence | None = None,
                 provider_options: Sequence[dict] | None = None, *, device: str | None = None,
                 enable_fallback: bool = True):
        if sess_options is not None and not isinstance(sess_options, SessionOptions):
            raise InvalidArgumentError(
                f"sess_options must be a serving.SessionOptions, got {type(sess_options).__name__}")
        self._source = model
        self._options = sess_options if sess_options is not None else SessionOptions()
        self._fallback = enable_fallback
        self._build(providers, provider_options, device)

    def _build(self, providers, provider_options, device: str | None) -> None:
        names, options = provider_names.normalized(providers, provider_options)
        if device is None:
            provider, device, chosen = provider_names.select(names, options, self._fallback)
        else:
            provider = provider_names.CUDA if str(device).startswith("cuda") else provider_names.CPU
            chosen = {}
        self._device = Device(device)
        self._providers = [provider] if provider == provider_names.CPU else [provider, provider_names.CPU]
        self._provider_options = {name: chosen if name == provider else {} for name in self._providers}
        options = self._options
        self._log_level = logging_level(options.log_severity_level)
        self._profiler = None
        if options.enable_profiling:
            self._profiler = Profiler(options.profile_file_prefix, provider, self._device)
        began = self._profiler.now() if self._profiler else 0
        try:
            proto = self._load(self._source)
        except SessionError:
            raise
        except Exception as exc:
            # A damaged file can trip onnx or protobuf internals in ways no check above anticipates.
            raise InvalidModelError(f"the model could not be loaded: {type(exc).__name__}: {exc}") from exc
        if self._profiler:
            self._profiler.record("Session", "session_initialization", began, self._profiler.now())
        if options.optimized_model_filepath:
            write_planned_model(os.fspath(options.optimized_model_filepath), proto, self._graph)
        initializers = {t.name for t in proto.graph.initializer}
        self._inputs = [_node_arg(v) for v in proto.graph.input if v.name not in initializers]
        self._overridable = [_node_arg(v) for v in proto.graph.input if v.name in initializers]
        self._outputs = [_node_arg(v) for v in proto.graph.output]
        # Each name at its first position, as list.index would find it.
        self._output_index = {}
        for i, arg in enumerate(self._outputs):
            self._output_index.setdefault(arg.name, i)
        self._feed_checks = {v.name: FeedCheck(v.type) for v in proto.graph.input}
        self._required = [arg.name for arg in self._inputs]
        self._meta = ModelMetadata(
            producer_name=proto.producer_name, graph_name=proto.graph.name, domain=proto.domain,
            description=proto.doc_string, graph_description=proto.graph.doc_string, version=proto.model_version,
            custom_metadata_map={p.key: p.value for p in proto.metadata_props},
        )
        threads = options.intra_op_num_threads
        self._blas = BlasThreads(threads) if threads and self._device.type == "cpu" else None
        # Runs with none of profiling, thread limits or a device to place feeds on walk the plan directly.
        self._plain = self._device.type == "cpu" and self._profiler is None and self._blas is None
        self._log(logging.INFO, f"planned {len(self._graph.steps)} steps on {self._device!r} "
                                f"(graph_optimization_level {options.graph_optimization_level.name})")

    def _load(self, model) -> onnx.ModelProto:
        proto, _ = loading.load_model(model)
        proto = self._overridden(proto, model)
        _check_operators(proto)
        proto = loading.check_and_infer(proto)
        level = self._options.graph_optimization_level
        planner = Planner(proto, self._device, fold_constants=level >= GraphOptimizationLevel.ORT_ENABLE_BASIC,
                          fuse=level >= GraphOptimizationLevel.ORT_ENABLE_EXTENDED)
        with self._device.scope():
            self._graph = planner.plan(proto.graph, Opsets(proto.opset_import))
        return proto

    def _overridden(self, proto: onnx.ModelProto, source) -> onnx.ModelProto:
        """``proto`` with the options' free dimension overrides and initializers applied (on a copy of a
        caller's ModelProto)."""
        dims, values = self._options.free_dimension_overrides, self._options.initializers
        if not dims and not values:
            return proto
        if proto is source:
            proto = onnx.ModelProto()
            proto.CopyFrom(source)
        for value_info in proto.graph.input:
            if value_info.type.HasField("tensor_type"):
                for dim in value_info.type.tensor_type.shape.dim:
                    if dim.WhichOneof("value") == "dim_param" and dim.dim_param in dims:
                        dim.dim_value = dims[dim.dim_param]
        initializers = {t.name: t for t in proto.graph.initializer}
        for name, value in values.items():
            if name in initializers:
                initializers[name].CopyFrom(numpy_helper.from_array(value.numpy(), name))
            else:
                self._log(logging.WARNING, f"add_initializer: the model has no initializer {name!r}; ignored")
        return proto

    def _log(self, level: int, message: str, logid: str | None = None, threshold: int | None = None) -> None:
        """Log ``message`` to the ``serving`` logger if the session's severity (or a run's) lets it through."""
        if level >= (self._log_level if threshold is None else threshold):
            _logger.log(level, "[%s] %s", logid or self._options.logid or "session", message)

    def get_inputs(self) -> list[NodeArg]:
        return list(self._inputs)

    def get_outputs(self) -> list[NodeArg]:
        return list(self._outputs)

    def get_overridable_initializers(self) -> list[NodeArg]:
        return list(self._overridable)

    def get_modelmeta(self) -> ModelMetadata:
        return self._meta

    def get_providers(self) -> list[str]:
        return list(self._providers)

    def get_provider_options(self) -> dict[str, dict[str, str]]:
        return {name: dict(options) for name, options in self._provider_options.items()}

    def set_providers(self, providers: Sequence | None = None, provider_options: Sequence[dict] | None = None) -> None:
        """Rebuild the session for ``providers`` (the CPU when None), as ONNX Runtime re-creates its session."""
        self._build(providers, provider_options, None)

    def disable_fallback(self) -> None:
        self._fallback = False

    def enable_fallback(self) -> None:
        """Let a run whose CUDA device fails rebuild the session on the CPU and retry once (the default)."""
        self._fallback = True

    def get_session_options(self) -> SessionOptions:
        return self._options

    def end_profiling(self) -> str:
        """Stop profiling and write what was recorded; returns the JSON file's path ("" when not profiling)."""
        profiler, self._profiler = self._profiler, None
        self._plain = self._device.type == "cpu" and self._blas is None
        return profiler.end() if profiler else ""

    def get_profiling_start_time_ns(self) -> int:
        """When profiling began, on ``time.monotonic_ns()``'s clock (0 when not profiling)."""
        return self._profiler.start_ns if self._profiler else 0

    def io_binding(self) -> IOBinding:
        return IOBinding(self)

    def run_with_iobinding(self, iobinding: IOBinding, run_options: RunOptions | None = None) -> None:
        if not isinstance(iobinding, IOBinding) or iobinding._session is not self:
            raise InvalidArgumentError("IOBinding must be used with the session that created it.")
        iobinding._run(run_options)

    def run_with_ort_values(self, output_names: Sequence[str] | None, input_dict_ort_values: Mapping[str, OrtValue],
                            run_options: RunOptions | None = None) -> list[OrtValue]:
        """``run`` on OrtValues; the outputs are OrtValues on the session's device."""
        if not isinstance(input_dict_ort_values, Mapping):
            raise InvalidArgumentError(f"input_dict_ort_values must be a dict of {{input name: OrtValue}}, got "
                                       f"{type(input_dict_ort_values).__name__}")
        wrong = [name for name, v in input_dict_ort_values.items() if not isinstance(v, OrtValue)]
        if wrong:
            raise InvalidArgumentError(f"run_with_ort_values takes OrtValues; input(s) {wrong} are not")
        feeds = {name: value.value() for name, value in input_dict_ort_values.items()}
        return [OrtValue(v, self._device) for v in self._run_on_device(output_names, feeds, run_options)]

    @property
    def device(self) -> str:
        return repr(self._device)

    def run(self, output_names: Sequence[str] | None, input_feed: Mapping[str, Any],
            run_options: RunOptions | None = None, *, keep_on_device: bool = False) -> list:
        """Compute ``output_names`` (all outputs when None) from ``input_feed`` ({input name: array or OrtValue}).

        Results are NumPy arrays (lists for sequence outputs); on CUDA, ``keep_on_device=True``
        returns CuPy arrays instead.
        """
        picked = self._run_on_device(output_names, input_feed, run_options)
        return picked if keep_on_device else [to_host(v) for v in picked]

    def _run_on_device(self, output_names, input_feed, run_options) -> list:
        wanted = self._output_indices(output_names)
        feeds = self._validated(input_feed)
        if self._plain and run_options is None:
            results = self._graph.run(feeds)
        else:
            try:
                results = self._run_configured(feeds, run_options)
            except SessionError as exc:
                if not (self._fallback and self._device.type == "cuda" and _device_failed(exc)):
                    raise
                # ONNX Runtime's fallback: a failing GPU hands the session to the CPU, once.
                print(f"EP Error: {exc} using {self._providers}\n"
                      "Falling back to ['CPUExecutionProvider'] and retrying.")
                self.set_providers([provider_names.CPU])
                self.disable_fallback()
                return self._run_on_device(output_names, {k: to_host(v) for k, v in feeds.items()}, run_options)
        return [results[i] for i in wanted]

    def _run_configured(self, feeds: dict, run_options: RunOptions | None) -> list:
        """A run with what ``_plain`` runs skip: device placement, BLAS threads, profiling, cancellation, logs."""
        if run_options is not None and not isinstance(run_options, RunOptions):
            raise InvalidArgumentError(f"run_options must be a serving.RunOptions, got {type(run_options).__name__}")
        logid, threshold = None, None
        if run_options is not None:
            logid = run_options.logid
            threshold = logging_level(run_options.log_severity_level) if run_options.log_severity_level >= 0 else None
            self._log(logging.DEBUG, "run starts", logid, threshold)
        device, profiler = self._device, self._profiler
        run_step = _step_runner(profiler, run_options)
        began = profiler.now() if profiler else 0
        with device.scope(), self._blas.limited() if self._blas else contextlib.nullcontext():
            if device.type == "cuda":
                feeds = {name: device.put(value) for name, value in feeds.items()}
            results = self._graph.run(feeds) if run_step is None else self._graph.run_watched(feeds, run_step)
        if profiler:
            ended = profiler.now()
            profiler.record("Session", "SequentialExecutor::Execute", began, ended)
            profiler.record("Session", "model_run", began, ended)
        if run_options is not None:
            self._log(logging.DEBUG, "run ends", logid, threshold)
        return results

    def _output_indices(self, output_names) -> list[int] | range:
        if output_names is None:
            return range(len(self._outputs))
        if isinstance(output_names, str):
            raise InvalidArgumentError(f"output_names must be a list of names, got the string {output_names!r}")
        index = self._output_index
        unknown = [n for n in output_names if n not in index]
        if unknown:
            names = [o.name for o in self._outputs]
            raise InvalidArgumentError(f"unknown output name(s) {unknown}; the model's outputs are {names}")
        return [index[n] for n in output_names]

    def _validated(self, feed: Mapping[str, Any]) -> dict[str, Any]:
        if not isinstance(feed, Mapping):
            raise InvalidArgumentError(f"input_feed must be a dict of {{input name: array}}, got {type(feed).__name__}")
        checks = self._feed_checks
        unknown = [name for name in feed if name not in checks]
        if unknown:
            raise InvalidArgumentError(f"unknown input name(s) {unknown}; the model expects {self._describe_inputs()}")
        missing = [name for name in self._required if name not in feed]
        if missing:
            raise InvalidArgumentError(f"missing input(s) {missing}; the model expects {self._describe_inputs()}")
        return {name: checks[name].check(name, value.value() if type(value) is OrtValue else value)
                for name, value in feed.items()}

    def _describe_inputs(self) -> str:
        return ", ".join(f"{a.name}: {a.type} {a.shape}" for a in self._inputs) or "no inputs"


def _step_runner(profiler: Profiler | None, run_options: RunOptions | None):
    """How the executor runs each step for this run: None (plainly), or through profiling and/or a check of
    ``run_options.terminate`` before each node."""
    if run_options is not None and run_options.terminate:
        raise RunTerminatedError("Exiting due to terminate flag being set to true.")
    if run_options is None:
        return None if profiler is None else profiler.run_step
    step_runner = profiler.run_step if profiler else _run_plainly

    def run_unless_terminated(index, step, env):
        if run_options.terminate:
            raise RunTerminatedError(f"Exiting due to terminate flag being set to true (before node "
                                     f"{step.ctx.node.name!r}, step {index}).")
        step_runner(index, step, env)

    return run_unless_terminated


def _run_plainly(index, step, env) -> None:
    step.run(env)


def _device_failed(error: SessionError) -> bool:
    """Whether a run failed in CUDA itself (out of memory, a launch failure), not in the model or its inputs."""
    cause = error.__cause__
    return cause is not None and type(cause).__module__.startswith(("cupy", "cupy_backends"))


def _node_arg(value_info: onnx.ValueInfoProto) -> NodeArg:
    shape = types.dims(value_info.type)
    # ONNX Runtime shows an unknown rank as [], like a scalar's shape.
    return NodeArg(value_info.name, types.type_string(value_info.type), [] if shape is None else shape)


def _check_operators(proto: onnx.ModelProto) -> None:
    """Name an operator nothing can run before onnx's checker gives a vaguer message about it."""
    local = {(f.domain, f.name) for f in proto.functions}
    opsets = Opsets(proto.opset_import)

    def visit(graph: onnx.GraphProto) -> None:
        for node in graph.node:
            if (node.domain, node.op_type) not in local:
                version = opsets.version(node.domain)
                if registry.lookup(node.domain, node.op_type, version) is None and not _has_schema(node, version):
                    raise UnsupportedOperatorError(
                        f"unsupported operator {node.op_type!r} of domain {node.domain or 'ai.onnx'!r} at opset "
                        f"{version} (node {node.name!r}): the runtime has no kernel for it and ONNX defines no "
                        "function body for it"
                    )
            for attr in node.attribute:
                for g in scopes.subgraphs(attr):
                    visit(g)

    visit(proto.graph)


def _has_schema(node: onnx.NodeProto, version: int) -> bool:
    try:
        schema = onnx.defs.get_schema(node.op_type, version, node.domain)
    except onnx.defs.SchemaError:
        return False
    return schema.has_function or schema.has_context_dependent_function or bool(schema.function_opset_versions)
