"""Graph passes over a ``GraphBuilder``: shape inference, constant folding, identity and dead-node removal,
unused-initializer removal, constant deduplication, and the optional Conv+BatchNormalization fold.

Folding evaluates a node whose inputs are all initializers with onnx's reference implementation,
and turns ``Shape``/``Gather`` of sizes that shape inference proves static into constants; what
stays is the arithmetic on sizes of dynamic axes.
"""

from __future__ import annotations

import hashlib

import numpy as np
import onnx
from onnx import helper, numpy_helper, shape_inference
from onnx.reference import ReferenceEvaluator

from exporter.opsets import make_model

# a folded value may be a little larger than its inputs (a Concat of shapes), never much larger (an Expand)
_FOLD_GROWTH_LIMIT = 1024
# a quantized weight stays int8 and is dequantized in the graph: the QDQ form int8 runtimes look for
_KEPT_UNFOLDED = frozenset({"DequantizeLinear"})


class GraphState:
    """The builder's nodes and initializers plus the graph's inputs (value infos) and output names."""

    def __init__(self, builder, inputs: list, outputs: list[str], opset: int):
        self.builder = builder
        self.inputs = inputs
        self.outputs = outputs
        self.opset = opset

    @property
    def nodes(self):
        return self.builder.nodes

    @property
    def initializers(self) -> dict:
        return self.builder.initializers


# ----------------------------------------------------------------- shape inference
def infer_shapes(state: GraphState) -> dict[str, onnx.ValueInfoProto]:
    """Every value's inferred type and shape, from a copy of the graph that carries only small initializers
    (large ones are declared as inputs: inference needs their shapes, not their bytes)."""
    small, declared = [], list(state.inputs)
    for name, array in state.initializers.items():
        if array.size <= 64 or array.dtype == np.int64:
            small.append(numpy_helper.from_array(array, name))
        else:
            declared.append(helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(array.dtype),
                                                          list(array.shape)))
    outputs = [helper.make_empty_tensor_value_info(name) for name in state.outputs]
    graph = helper.make_graph(list(state.nodes), "inference", declared, outputs, initializer=small)
    inferred = shape_inference.infer_shapes(make_model(graph, state.opset), data_prop=True).graph
    return {info.name: info for info in (*inferred.value_info, *inferred.output, *declared)}


def static_dims(info: onnx.ValueInfoProto | None) -> list | None:
    """The dims of a value (an int where static, None where not), or None when its rank is unknown."""
    if info is None or not info.type.tensor_type.HasField("shape"):
        return None
    return [d.dim_value if d.HasField("dim_value") else None for d in info.type.tensor_type.shape.dim]


# ----------------------------------------------------------------- folding
def fold_constants(state: GraphState) -> None:
    """Fold until nothing changes: static sizes first (they need shape inference), then whatever they enabled."""
    while _fold_static_sizes(state, infer_shapes(state)) | _fold_evaluable(state):
        pass


def _fold_static_sizes(state: GraphState, infos) -> bool:
    changed = False
    producers = {out: node for node in state.nodes for out in node.output}
    for node in list(state.nodes):
        value = None
        if node.op_type == "Shape" and not node.attribute:
            dims = static_dims(infos.get(node.input[0]))
            if dims is not None and None not in dims:
                value = np.asarray(dims, dtype=np.int64)
        elif node.op_type == "Gather" and node.input[1] in state.initializers:
            source = producers.get(node.input[0])
            if source is not None and source.op_type == "Shape" and not source.attribute:
                dims = static_dims(infos.get(source.input[0]))
                picked = state.initializers[node.input[1]]
                if dims is not None and all(dims[int(i)] is not None for i in picked.reshape(-1)):
                    value = np.asarray([dims[int(i)] for i in picked.reshape(-1)], np.int64).reshape(picked.shape)
        if value is not None:
            _replace_by_constant(state, node, [value])
            changed = True
    return changed


def _fold_evaluable(state: GraphState) -> bool:
    changed = False
    for node in list(state.nodes):
        inputs = [i for i in node.input if i]
        if not inputs or not all(i in state.initializers for i in inputs) or node.op_type in _KEPT_UNFOLDED:
            continue
        arrays = [state.initializers[i] for i in inputs]
        results = _evaluate(node, state)
        if results is None or sum(r.size for r in results) > sum(a.size for a in arrays) + _FOLD_GROWTH_LIMIT:
            continue
        _replace_by_constant(state, node, results)
        changed = True
    return changed


def _evaluate(node, state: GraphState):
    inputs = [helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(state.initializers[name].dtype),
                                            None) for name in node.input if name]
    outputs = [helper.make_empty_tensor_value_info(name) for name in node.output]
    graph = helper.make_graph([node], "fold", inputs, outputs)
    evaluator = ReferenceEvaluator(make_model(graph, state.opset))
    feeds = {name: state.initializers[name] for name in node.input if name}
    return [np.asarray(r) for r in evaluator.run(None, feeds)]


def _replace_by_constant(state: GraphState, node, values) -> None:
    state.nodes.remove(node)
    for name, value in zip(node.output, values):
        state.initializers[name] = value
        state.builder.constant_names.add(name)


# ----------------------------------------------------------------- clean-up
def remove_identities(state: GraphState) -> None:
    """Drop Identity nodes, renaming the consumers' inputs (or, for a graph output, the producer's output)."""
    graph_inputs = {i.name for i in state.inputs}
    for node in [n for n in state.nodes if n.op_type == "Identity"]:
        source, target = node.input[0], node.output[0]
        if target in state.outputs:
            producer = next((n for n in state.nodes if source in n.output), None)
            if producer is None or source in state.outputs or source in graph_inputs:
                continue  # an output that is an input or initializer (or another output) needs its Identity
            _rename_output(producer, source, target)
            _rename_inputs(state, source, target)
        else:
            _rename_inputs(state, target, source)
        state.nodes.remove(node)


def _rename_output(node, old: str, new: str) -> None:
    for i, name in enumerate(node.output):
        if name == old:
            node.output[i] = new


def _rename_inputs(state: GraphState, old: str, new: str) -> None:
    for node in state.nodes:
        for i, name in enumerate(node.input):
            if name == old:
                node.input[i] = new


def remove_dead_nodes(state: GraphState) -> None:
    """Drop nodes none of whose outputs reaches a graph output (attention weights nobody reads, say)."""
    needed = set(state.outputs)
    kept = []
    for node in reversed(state.nodes):
        if any(out in needed for out in node.output):
            kept.append(node)
            needed.update(i for i in node.input if i)
    state.nodes[:] = kept[::-1]


def remove_unused_initializers(state: GraphState) -> None:
    used = {i for node in state.nodes for i in node.input} | set(state.outputs)
    for name in [n for n in state.initializers if n not in used]:
        del state.initializers[name]


def deduplicate_constants(state: GraphState) -> None:
    """Merge equal constants (folding makes new ones); parameters and buffers keep their own names."""
    seen: dict[tuple, str] = {}
    for name in [n for n in state.initializers if n in state.builder.constant_names and n not in state.outputs]:
        array = state.initializers[name]
        key = (array.dtype.str, array.shape, hashlib.sha1(np.asarray(array, order="C").tobytes()).digest())
        if key in seen:
            _rename_inputs(state, name, seen[key])
            del state.initializers[name]
        else:
            seen[key] = name


# ----------------------------------------------------------------- Conv + BatchNormalization
def fuse_conv_batch_norm(state: GraphState) -> None:
    """Fold an inference BatchNormalization into the Conv before it, when the Conv's output feeds only it."""
    consumers: dict[str, list] = {}
    for node in state.nodes:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    producers = {out: node for node in state.nodes for out in node.output}
    for bn in [n for n in state.nodes if n.op_type == "BatchNormalization"]:
        conv = producers.get(bn.input[0])
        if (conv is None or conv.op_type != "Conv" or len(consumers.get(conv.output[0], [])) != 1
                or conv.output[0] in state.outputs or not all(i in state.initializers for i in bn.input[1:])
                or conv.input[1] not in state.initializers
                or (len(conv.input) > 2 and conv.input[2] and conv.input[2] not in state.initializers)):
            continue
        scale, shift, mean, var = (state.initializers[i] for i in bn.input[1:5])
        eps = next((a.f for a in bn.attribute if a.name == "epsilon"), 1e-5)
        weight = state.initializers[conv.input[1]]
        factor = (scale / np.sqrt(var + eps)).astype(weight.dtype)
        bias = state.initializers[conv.input[2]] if len(conv.input) > 2 and conv.input[2] else np.zeros_like(mean)
        fused_w = state.builder.fresh(f"{conv.input[1]}_fused")
        fused_b = state.builder.fresh(f"{conv.name}/bias_fused")
        state.initializers[fused_w] = weight * factor.reshape(-1, *([1] * (weight.ndim - 1)))
        state.initializers[fused_b] = ((bias - mean) * factor + shift).astype(weight.dtype)
        state.builder.constant_names.update((fused_w, fused_b))
        data = conv.input[0]
        del conv.input[:]
        conv.input.extend([data, fused_w, fused_b])
        conv.output[0] = bn.output[0]
        state.nodes.remove(bn)
