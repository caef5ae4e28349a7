"""``InferenceSession``: load an ONNX model once, run it many times, as with ONNX Runtime."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import onnx

from serving.errors import InvalidArgumentError, InvalidModelError, SessionError, UnsupportedOperatorError
from serving.kernels import registry
from serving.runtime import loading, scopes, types
from serving.runtime.device import Device, to_host
from serving.runtime.feeds import FeedCheck
from serving.runtime.opsets import Opsets
from serving.runtime.planner import Planner

_PROVIDER_DEVICES = {"CPUExecutionProvider": "cpu", "CUDAExecutionProvider": "cuda"}


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

    ``model`` is a path, the model's bytes, or an ``onnx.ModelProto``. ``providers`` accepts ONNX
    Runtime's names (``["CUDAExecutionProvider", "CPUExecutionProvider"]``) so code written for it
    runs unchanged; ``device`` says the same thing in PyTorch's spelling and wins when both are given.
    """

    def __init__(self, model, sess_options=None, providers: Sequence[str] | None = None,
                 provider_options=None, *, device: str | None = None):
        del sess_options, provider_options  # accepted for ONNX Runtime's signature; nothing to tune here
        self._device = Device(device or _device_for(providers))
        try:
            proto = self._load(model)
        except SessionError:
            raise
        except Exception as exc:
            # A damaged file can trip onnx or protobuf internals in ways no check above anticipates.
            raise InvalidModelError(f"the model could not be loaded: {type(exc).__name__}: {exc}") from exc
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

    def _load(self, model) -> onnx.ModelProto:
        proto, _ = loading.load_model(model)
        _check_operators(proto)
        proto = loading.check_and_infer(proto)
        with self._device.scope():
            self._graph = Planner(proto, self._device).plan(proto.graph, Opsets(proto.opset_import))
        return proto

    def get_inputs(self) -> list[NodeArg]:
        return list(self._inputs)

    def get_outputs(self) -> list[NodeArg]:
        return list(self._outputs)

    def get_overridable_initializers(self) -> list[NodeArg]:
        return list(self._overridable)

    def get_modelmeta(self) -> ModelMetadata:
        return self._meta

    def get_providers(self) -> list[str]:
        return ["CUDAExecutionProvider" if self._device.type == "cuda" else "CPUExecutionProvider"]

    @property
    def device(self) -> str:
        return repr(self._device)

    def run(self, output_names: Sequence[str] | None, input_feed: Mapping[str, Any], run_options=None, *,
            keep_on_device: bool = False) -> list:
        """Compute ``output_names`` (all outputs when None) from ``input_feed`` ({input name: array}).

        Results are NumPy arrays (lists for sequence outputs); on CUDA, ``keep_on_device=True``
        returns CuPy arrays instead.
        """
        del run_options
        wanted = self._output_indices(output_names)
        feeds = self._validated(input_feed)
        if self._device.type == "cpu":
            results = self._graph.run(feeds)
        else:
            with self._device.scope():
                results = self._graph.run({name: self._device.put(value) for name, value in feeds.items()})
        picked = [results[i] for i in wanted]
        return picked if keep_on_device else [to_host(v) for v in picked]

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
        return {name: checks[name].check(name, value) for name, value in feed.items()}

    def _describe_inputs(self) -> str:
        return ", ".join(f"{a.name}: {a.type} {a.shape}" for a in self._inputs) or "no inputs"


def _device_for(providers) -> str:
    for provider in providers or ():
        name = provider[0] if isinstance(provider, tuple) else provider
        if name not in _PROVIDER_DEVICES:
            raise InvalidArgumentError(f"unknown provider {name!r}; expected one of {sorted(_PROVIDER_DEVICES)}")
    first = providers[0] if providers else "CPUExecutionProvider"
    return _PROVIDER_DEVICES[first[0] if isinstance(first, tuple) else first]


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
