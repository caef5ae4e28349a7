"""Expanding an op into its function body: model-local functions and ONNX's schema-defined ones.

Many ONNX ops (Celu, HardSwish, LayerNormalization, ...) are defined by a body of simpler ops. When
no kernel exists for such an op, the planner inlines that body in the node's place, so the runtime
covers every function op its primitive kernels can express.
"""

from __future__ import annotations

import onnx
from onnx import defs

from serving.runtime import scopes
from serving.runtime.opsets import Opsets


def find_body(
    node: onnx.NodeProto,
    opsets: Opsets,
    local_functions: dict[tuple[str, str], onnx.FunctionProto],
    input_types: list[onnx.TypeProto | None],
) -> tuple[onnx.FunctionProto, dict[str, onnx.AttributeProto]] | None:
    """The function body that defines ``node`` at its opset and its attribute defaults, or None."""
    local = local_functions.get((node.domain, node.op_type))
    if local is not None:
        return local, {a.name: a for a in local.attribute_proto}
    version = opsets.version(node.domain)
    try:
        schema = defs.get_schema(node.op_type, version, node.domain)
    except defs.SchemaError:
        return None
    # A schema function's body names attributes the caller may omit; their defaults live in the schema.
    defaults = {name: attr.default_value for name, attr in schema.attributes.items()
                if attr.default_value.type != onnx.AttributeProto.UNDEFINED}
    body = None
    if schema.function_opset_versions:
        usable = [v for v in schema.function_opset_versions if v <= version]
        if usable:
            body = _parse_function(schema.get_function_with_opset_version(max(usable)))
    if body is None and schema.has_context_dependent_function and all(t is not None for t in input_types):
        usable = [v for v in schema.context_dependent_function_opset_versions if v <= version]
        if usable:
            body = _parse_function(schema.get_context_dependent_function_with_opset_version(
                max(usable), node.SerializeToString(), [t.SerializeToString() for t in input_types]
            ))
    return (body, defaults) if body is not None else None


def _parse_function(data: bytes) -> onnx.FunctionProto | None:
    if not data:
        return None
    function = onnx.FunctionProto()
    function.ParseFromString(data)
    return function if function.node else None


def inline(node: onnx.NodeProto, body: onnx.FunctionProto, defaults: dict[str, onnx.AttributeProto],
           prefix: str) -> list[onnx.NodeProto]:
    """The body's nodes, wired to ``node``'s inputs and outputs, internal names made unique by ``prefix``."""
    names = {formal: actual for formal, actual in zip(body.input, node.input)}
    names.update({formal: "" for formal in body.input[len(node.input):]})
    names.update({formal: actual for formal, actual in zip(body.output, node.output)})
    caller_attrs = {a.name: a for a in node.attribute}

    def rename(name: str) -> str:
        if not name:
            return name
        if name not in names:
            names[name] = f"{prefix}/{name}"
        return names[name]

    inlined = []
    for inner in body.node:
        copy = onnx.NodeProto()
        copy.CopyFrom(inner)
        copy.name = f"{prefix}/{inner.name or inner.op_type}"
        copy.input[:] = [rename(n) for n in inner.input]
        copy.output[:] = [rename(n) for n in inner.output]
        del copy.attribute[:]
        for attr in inner.attribute:
            if attr.ref_attr_name:
                source = caller_attrs.get(attr.ref_attr_name) or defaults.get(attr.ref_attr_name)
                if source is None:
                    continue
                resolved = copy.attribute.add()
                resolved.CopyFrom(source)
                resolved.name = attr.name
            else:
                kept = copy.attribute.add()
                kept.CopyFrom(attr)
                for graph in scopes.subgraphs(kept):
                    _rename_outer_references(graph, names)
        inlined.append(copy)
    return inlined


def _rename_outer_references(graph: onnx.GraphProto, names: dict[str, str]) -> None:
    """Point a subgraph's references to function-scope values at their inlined names."""
    for node in graph.node:
        node.input[:] = [names.get(n, n) for n in node.input]
        for attr in node.attribute:
            for g in scopes.subgraphs(attr):
                _rename_outer_references(g, names)
