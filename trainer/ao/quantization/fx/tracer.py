"""``QuantizationTracer``: ``symbolic_trace`` that keeps trainer's quantization modules (fused, QAT, observers) as
single ``call_module`` nodes and records, for each node, the module whose ``forward`` created it (the scope that
``QConfigMapping.set_module_name`` and friends match against)."""

from __future__ import annotations

from typing import Any

from trainer.fx import GraphModule, Tracer
from trainer.nn import Module, Sequential


class QuantizationTracer(Tracer):
    """``node_name_to_scope`` maps each node's name to ``(module path, module type)`` of the module being traced
    when the node was made (``("", type(root))`` at the top)."""

    def __init__(self, skipped_module_names: list[str] | None = None,
                 skipped_module_classes: list[type] | None = None) -> None:
        super().__init__()
        self.skipped_module_names = list(skipped_module_names or [])
        self.skipped_module_classes = list(skipped_module_classes or [])
        self.scope: tuple[str, type | None] = ("", None)
        self.node_name_to_scope: dict[str, tuple[str, type | None]] = {}

    def is_leaf_module(self, m: Module, module_qualified_name: str) -> bool:
        return ((type(m).__module__.startswith(("trainer.nn", "trainer.ao")) and not isinstance(m, Sequential))
                or (isinstance(m, Sequential) and type(m).__module__.startswith("trainer.ao"))
                or module_qualified_name in self.skipped_module_names
                or type(m) in self.skipped_module_classes)

    def call_module(self, m: Module, forward, args: tuple, kwargs: dict) -> Any:
        outer = self.scope
        self.scope = (self.path_of_module(m), type(m))
        try:
            return super().call_module(m, forward, args, kwargs)
        finally:
            self.scope = outer

    def create_node(self, kind: str, target: Any, args: tuple, kwargs: dict, name: str | None = None,
                    type_expr: Any = None):
        node = super().create_node(kind, target, args, kwargs, name, type_expr)
        self.node_name_to_scope[node.name] = self.scope
        return node


def trace_for_quantization(model: Module, prepare_custom_config: dict | None = None
                           ) -> tuple[GraphModule, dict[str, tuple[str, type | None]]]:
    """``model`` traced into a ``GraphModule``, and the scope of each node."""
    config = prepare_custom_config or {}
    tracer = QuantizationTracer(config.get("non_traceable_module_name"), config.get("non_traceable_module_class"))
    tracer.scope = ("", type(model))
    graph = tracer.trace(model)
    # named GraphModule, as PyTorch's prepared, fused and converted models print
    return GraphModule(model, graph), tracer.node_name_to_scope
