"""Which values a node reads, counting what its subgraphs (If, Loop, Scan bodies) take from outside."""

from __future__ import annotations

import onnx


def subgraphs(attr: onnx.AttributeProto) -> list[onnx.GraphProto]:
    return ([attr.g] if attr.HasField("g") else []) + list(attr.graphs)


def used_names(node: onnx.NodeProto) -> set[str]:
    """The values a node reads: its inputs and what its subgraphs take from the enclosing scope."""
    used = {name for name in node.input if name}
    for attr in node.attribute:
        for graph in subgraphs(attr):
            used |= outer_references(graph)
    return used


def outer_references(graph: onnx.GraphProto) -> set[str]:
    """The names a graph reads without defining them: values of the scopes around it."""
    defined = {i.name for i in graph.input} | {t.name for t in graph.initializer}
    defined |= {s.values.name for s in graph.sparse_initializer}
    defined |= {o for node in graph.node for o in node.output}
    used = {o.name for o in graph.output}
    for node in graph.node:
        used |= used_names(node)
    return used - defined
