"""``SessionOptions.optimized_model_filepath``: a session's plan written back as an ONNX model.

The plan's steps become the nodes, in the order they run: fused steps as nodes of the runtime's own domain
(``ai.sardonyx.fused``, which this runtime loads and other runtimes do not know, as ONNX Runtime's fused nodes live
in ``com.microsoft``), function ops as their expanded bodies, and every value folded at load time as an
initializer. Inputs, outputs and metadata are the model's.
"""

from __future__ import annotations

import onnx
from onnx import numpy_helper

from serving.errors import InvalidArgumentError
from serving.kernels.registry import canonical_domain
from serving.runtime.device import to_host
from serving.runtime.executor import Graph


def planned_model(source: onnx.ModelProto, graph: Graph) -> onnx.ModelProto:
    """``source`` with its main graph replaced by the plan ``graph``."""
    versions = {canonical_domain(o.domain): o.version for o in source.opset_import}
    nodes = []
    for step in graph.steps:
        node = step.ctx.node
        domain = canonical_domain(node.domain)
        imported = versions.setdefault(domain, step.ctx.opset)
        if imported != step.ctx.opset:
            # An expanded function body may run at another version of a domain than the model imports.
            raise InvalidArgumentError(
                f"cannot write the optimized model: node {node.name!r} ({node.op_type}) runs at opset "
                f"{step.ctx.opset} of domain {domain or 'ai.onnx'!r}, the model imports opset {imported}; "
                "set graph_optimization_level to ORT_DISABLE_ALL or leave optimized_model_filepath empty")
        nodes.append(node)
    values = {**graph.constants, **graph.defaults}
    initializers = [numpy_helper.from_array(to_host(value), name) for name, value in values.items()]
    model = onnx.ModelProto()
    model.CopyFrom(source)
    model.graph.ClearField("node")
    model.graph.node.extend(nodes)
    model.graph.ClearField("initializer")
    model.graph.ClearField("sparse_initializer")
    model.graph.initializer.extend(initializers)
    model.graph.ClearField("value_info")  # names of values the plan no longer has
    model.ClearField("opset_import")
    model.opset_import.extend(onnx.helper.make_opsetid(d, v) for d, v in versions.items())
    return model


def write_planned_model(path: str, source: onnx.ModelProto, graph: Graph) -> None:
    model = planned_model(source, graph)
    try:
        onnx.save(model, path)
    except (OSError, ValueError) as exc:
        raise InvalidArgumentError(f"could not write the optimized model to {path!r}: {exc}") from exc
