"""Turning a graph into a plan, once per session: the only work ``run`` does is walk it.

Planning expands function ops that have no kernel, orders the nodes topologically, resolves each
node's kernel by (domain, op_type, opset), decodes its attributes, places initializers on the
device, folds the nodes whose inputs are all constant, and records after which step each
intermediate value is last used so the executor can release it there.
"""

from __future__ import annotations

import heapq
import inspect
from collections.abc import Callable
from typing import Any

import onnx

from serving.errors import InvalidModelError, UnsupportedOperatorError
from serving.kernels import registry
from serving.kernels.fused import FUSED_DOMAIN
from serving.runtime import functions, fusion, scopes
from serving.runtime.buffers import BufferPool
from serving.runtime.device import Device
from serving.runtime.executor import SAME_INPUTS, SAME_VALUE, Graph, Step, reads
from serving.runtime.opsets import Opsets
from serving.runtime.values import sparse_to_array, tensor_to_array

# Ops whose output must differ between runs, so they are never folded into constants.
_NONDETERMINISTIC = {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial",
                     "Bernoulli", "Dropout"}
# Deep enough for functions defined through other functions; a cycle of definitions stops here.
_MAX_EXPANSION_DEPTH = 16


class Planner:
    """Compiles a model's graphs (the main one and every subgraph) into ``Graph`` plans."""

    def __init__(self, model: onnx.ModelProto, device: Device, *, fold_constants: bool = True, fuse: bool = True):
        self.device = device
        # Switches for graph_optimization_level: ONNX Runtime's basic level folds constants, its extended one fuses.
        self.fold_constants, self.fuse = fold_constants, fuse
        # One pool for the session's graphs, subgraphs included; CuPy pools device memory itself.
        self.pool = BufferPool() if device.type == "cpu" else None
        self.local_functions = {(f.domain, f.name): f for f in model.functions}
        self._signatures: dict[Callable, tuple[set[str] | None, int | None]] = {}
        self._expansions = 0

    def plan(self, graph: onnx.GraphProto, opsets: Opsets, outer_scope: frozenset[str] = frozenset()) -> Graph:
        types = _value_types(graph)
        initializers = {t.name: t for t in graph.initializer}
        sparse = {s.values.name: s for s in graph.sparse_initializer}
        input_names = [i.name for i in graph.input]
        constants = {name: self.device.put(tensor_to_array(t)) for name, t in initializers.items()}
        constants.update({name: self.device.put(sparse_to_array(s)) for name, s in sparse.items()})
        # An initializer that is also a graph input is only a default the caller may override.
        overridable = {name for name in input_names if name in constants}
        defaults = {name: constants.pop(name) for name in overridable}

        nodes = []
        for node in graph.node:
            nodes.extend(self._expand(node, opsets, types, depth=0))
        known = set(input_names) | set(constants) | set(outer_scope)
        ordered = _topological_order(nodes, known, graph.name)
        output_names = [o.name for o in graph.output]
        if self.fuse:
            ordered = fusion.fuse(ordered, constants, set(output_names), self.device.xp)

        # Constants include what fusion aliased (an Identity of a constant), which no node outputs any more.
        visible = frozenset(outer_scope | known | set(constants) | {o for node, _ in ordered for o in node.output})
        steps = [self._step(node, node_opsets, visible) for node, node_opsets in ordered]
        if self.fold_constants:
            steps = _fold_constants(steps, constants)
        _drop_unread(constants, steps, output_names)
        _lend_prepared_stores(steps, constants)
        _mark_shape_steps(steps, constants)
        return Graph(
            name=graph.name, input_names=input_names, output_names=output_names,
            constants=constants, defaults=defaults, steps=steps, outer_scope=outer_scope, pool=self.pool,
        )

    def _expand(self, node, opsets: Opsets, types, depth: int) -> list[tuple[onnx.NodeProto, Opsets]]:
        """``node`` itself when a kernel runs it, else its function body, expanded recursively."""
        version = opsets.version(node.domain)
        if registry.lookup(node.domain, node.op_type, version) is not None:
            return [(node, opsets)]
        input_types = [types.get(name) if name else None for name in node.input]
        found = functions.find_body(node, opsets, self.local_functions, input_types)
        if found is None or depth >= _MAX_EXPANSION_DEPTH:
            raise UnsupportedOperatorError(
                f"no kernel for operator {node.op_type!r} of domain {node.domain or 'ai.onnx'!r} at opset {version} "
                f"(node {node.name!r}), and no function body defines it"
            )
        body, defaults = found
        self._expansions += 1
        prefix = f"{node.name or node.op_type}#{self._expansions}"
        body_opsets = opsets.overlaid(body.opset_import)
        expanded = []
        for inner in functions.inline(node, body, defaults, prefix):
            expanded.extend(self._expand(inner, body_opsets, types, depth + 1))
        return expanded

    def _step(self, node: onnx.NodeProto, opsets: Opsets, visible: frozenset[str]) -> Step:
        version = opsets.version(node.domain)
        fn = registry.lookup(node.domain, node.op_type, version)
        attrs: dict[str, Any] = {}
        graphs: dict[str, Any] = {}
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                graphs[attr.name] = self.plan(attr.g, opsets, visible)
            elif attr.type == onnx.AttributeProto.GRAPHS:
                graphs[attr.name] = [self.plan(g, opsets, visible) for g in attr.graphs]
            else:
                attrs[attr.name] = self._attribute(attr, node)
        self._check_signature(fn, node, version, [*attrs, *graphs])
        ctx = registry.KernelContext(
            xp=self.device.xp, opset=version, n_outputs=len(node.output),
            outputs_wanted=tuple(bool(o) for o in node.output), node=node, pool=self.pool,
        )
        return Step(fn, ctx, list(node.input), list(node.output), attrs, graphs)

    def _attribute(self, attr: onnx.AttributeProto, node: onnx.NodeProto):
        kind = attr.type
        if kind == onnx.AttributeProto.FLOAT:
            return attr.f
        if kind == onnx.AttributeProto.INT:
            return attr.i
        if kind == onnx.AttributeProto.STRING:
            return attr.s.decode("utf-8", errors="surrogateescape")
        if kind == onnx.AttributeProto.TENSOR:
            return self.device.put(tensor_to_array(attr.t))
        if kind == onnx.AttributeProto.SPARSE_TENSOR:
            return self.device.put(sparse_to_array(attr.sparse_tensor))
        if kind == onnx.AttributeProto.FLOATS:
            return list(attr.floats)
        if kind == onnx.AttributeProto.INTS:
            return list(attr.ints)
        if kind == onnx.AttributeProto.STRINGS:
            return [s.decode("utf-8", errors="surrogateescape") for s in attr.strings]
        if kind == onnx.AttributeProto.TENSORS:
            return [self.device.put(tensor_to_array(t)) for t in attr.tensors]
        if kind == onnx.AttributeProto.SPARSE_TENSORS:
            return [self.device.put(sparse_to_array(s)) for s in attr.sparse_tensors]
        if kind == onnx.AttributeProto.TYPE_PROTO:
            return attr.tp
        if kind == onnx.AttributeProto.TYPE_PROTOS:
            return list(attr.type_protos)
        raise InvalidModelError(f"attribute {attr.name!r} of node {node.name!r} ({node.op_type}) has no type set")

    def _check_signature(self, fn: Callable, node: onnx.NodeProto, version: int, attr_names: list[str]) -> None:
        """Refuse at load time what the kernel cannot take, instead of failing on the first run."""
        if fn not in self._signatures:
            params = list(inspect.signature(fn).parameters.values())[1:]  # after ctx
            keywords = None if any(p.kind is p.VAR_KEYWORD for p in params) else {
                p.name for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}
            positional = None if any(p.kind is p.VAR_POSITIONAL for p in params) else sum(
                p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)
            self._signatures[fn] = (keywords, positional)
        keywords, positional = self._signatures[fn]
        where = f"{node.op_type!r} (domain {node.domain or 'ai.onnx'!r}, opset {version}) in node {node.name!r}"
        unknown = [a for a in attr_names if keywords is not None and a not in keywords]
        if unknown:
            raise UnsupportedOperatorError(f"the runtime's kernel for {where} does not support attribute(s) {unknown}")
        if positional is not None and len(node.input) > positional:
            raise UnsupportedOperatorError(
                f"the runtime's kernel for {where} takes at most {positional} inputs, the node has {len(node.input)}")


def _value_types(graph: onnx.GraphProto) -> dict[str, onnx.TypeProto]:
    """The declared or inferred type of every value the graph names."""
    types = {v.name: v.type for v in (*graph.input, *graph.value_info, *graph.output) if v.type.WhichOneof("value")}
    for t in graph.initializer:
        types.setdefault(t.name, onnx.helper.make_tensor_type_proto(t.data_type, list(t.dims)))
    return types


def _topological_order(nodes, known: set[str], graph_name: str):
    """Kahn's algorithm in the file's order; names the nodes stuck on a cycle or on an undefined value."""
    producers = {}
    for index, (node, _) in enumerate(nodes):
        for out in node.output:
            if out:
                producers[out] = index
    waiting_on = []
    consumers: dict[int, list[int]] = {}
    for index, (node, _) in enumerate(nodes):
        needs = set()
        for name in scopes.used_names(node):
            if name in known and name not in producers:
                continue
            if name not in producers:
                raise InvalidModelError(
                    f"node {node.name!r} ({node.op_type}) in graph {graph_name!r} uses {name!r}, which is "
                    "neither a graph input, an initializer, nor the output of any node"
                )
            needs.add(producers[name])
        waiting_on.append(len(needs))
        for producer in needs:
            consumers.setdefault(producer, []).append(index)
    ready = [i for i, count in enumerate(waiting_on) if count == 0]
    heapq.heapify(ready)  # smallest index first: an already sorted graph keeps its order
    order = []
    while ready:
        index = heapq.heappop(ready)
        order.append(nodes[index])
        for consumer in consumers.get(index, ()):
            waiting_on[consumer] -= 1
            if waiting_on[consumer] == 0:
                heapq.heappush(ready, consumer)
    if len(order) != len(nodes):
        stuck = [nodes[i][0].name or nodes[i][0].op_type for i, count in enumerate(waiting_on) if count > 0]
        raise InvalidModelError(f"graph {graph_name!r} has a cycle: nodes {stuck[:10]} wait on each other")
    return order


def _fold_constants(steps: list[Step], constants: dict) -> list[Step]:
    """Run now every step whose inputs are all constants; what it makes becomes a constant."""
    kept = []
    for step in steps:
        foldable = (
            not step.graphs
            and step.ctx.node.op_type not in _NONDETERMINISTIC
            and all(not name or name in constants for name in step.inputs)
        )
        if foldable:
            try:
                step.run(constants)
            except Exception:
                # Leave it to run time, where the failure is reported with the node in view.
                kept.append(step)
        else:
            kept.append(step)
    return kept


def _drop_unread(constants: dict, steps: list[Step], output_names: list[str]) -> None:
    """Forget constants nothing reads any more (inputs of folded or fused nodes), freeing their memory."""
    read = {name for step in steps for name in reads(step)} | set(output_names)
    for name in [n for n in constants if n not in read]:
        del constants[name]


def _lend_prepared_stores(steps: list[Step], constants: dict) -> None:
    """A store for derived parameters (``KernelContext.prepare``) to each node with constants among its inputs
    after the first, and which of its inputs never change (constants, absent ones). Defaults a caller may
    override are not constants, so nothing derived can go stale."""
    for step in steps:
        if any(name in constants for name in step.inputs[1:] if name):
            fixed = frozenset(i for i, name in enumerate(step.inputs) if i and (not name or name in constants))
            step.ctx = step.ctx._replace(prepared={}, constant_inputs=fixed)


def _mark_shape_steps(steps: list[Step], constants: dict) -> None:
    """Let the shape arithmetic of dynamic-shape exports run once per input shape, not once per run.

    Exporters compute reshape targets at run time (Shape -> Gather -> Unsqueeze -> Concat -> Reshape):
    often half of a graph's nodes, each costing more in dispatch than its arithmetic. Shape and Size
    hand back last run's array when their value repeats, and every deterministic step that reads only
    such values and constants reuses its last outputs when handed the very same input arrays.
    """
    derived = set(constants)
    # A remembered array must stay as computed: never remember what an in-place step overwrites.
    overwritten = {s.inputs[0] for s in steps
                   if (s.ctx.node.domain, s.ctx.node.op_type) == (FUSED_DOMAIN, "ReluInPlace")}
    for step in steps:
        op = step.ctx.node.op_type
        if step.graphs or step.ctx.node.domain or op in _NONDETERMINISTIC or overwritten.intersection(step.outputs):
            continue
        if op in ("Shape", "Size"):
            step.memo_mode = SAME_VALUE
        elif all(not name or name in derived for name in step.inputs) and any(step.inputs):
            step.memo_mode = SAME_INPUTS
        else:
            continue
        derived.update(name for name in step.outputs if name)
