"""The check that no output was baked in: a value trainer computed from the inputs by code the exporter does not
observe (array code on ``.numpy()`` or ``._data``, a kernel outside trainer's ops) reaches the graph as a constant, and
the graph would answer every input with the traced one. The exporter refuses an output that depends on none of the
graph's inputs while an input reaches no node, unless it knows where the output's value came from (a parameter or
buffer, or a constant it saw an op or factory make); a model that really returns a constant from forward registers
it as a buffer.
"""

from __future__ import annotations

from onnx import AttributeProto

from exporter.errors import ExportError


def refuse_baked_outputs(tracer, state, outputs) -> None:
    """Raise for the first output of ``state`` (one per tensor of ``outputs``) that is a trace's value baked in."""
    inputs = {info.name for info in state.inputs}
    producers = {out: node for node in state.nodes for out in node.output}
    read = {name for node in state.nodes for name in _inputs_of(node)}
    ignored = sorted(inputs - read)
    if not ignored:
        return
    for tensor, name in zip(outputs, state.outputs):
        if tracer.is_explained(tensor) or _depends_on(name, producers, inputs):
            continue
        raise ExportError(f"the model's output {name!r} depends on none of the model's inputs, and the input(s) "
                          f"{ignored} reach no node of the graph: trainer computed the output from them by code the "
                          "exporter does not observe (array code on .numpy() or ._data, or a kernel outside trainer's "
                          "ops), so the exported graph would return the traced values for every input. Compute it "
                          "with trainer ops; if it really is a constant, register it as a buffer and return that.")


def _depends_on(name: str, producers: dict, inputs: set) -> bool:
    seen, pending = set(), [name]
    while pending:
        value = pending.pop()
        if value in inputs:
            return True
        node = producers.get(value)
        if value in seen or node is None:
            continue
        seen.add(value)
        pending.extend(_inputs_of(node))
    return False


def _inputs_of(node) -> list[str]:
    """The values a node reads: its inputs and those its subgraphs (Loop, Scan, If bodies) read from outside."""
    names = [name for name in node.input if name]
    for attribute in node.attribute:
        graphs = [attribute.g] if attribute.type == AttributeProto.GRAPH else list(attribute.graphs)
        for graph in graphs:
            names.extend(name for inner in graph.node for name in _inputs_of(inner))
    return names
