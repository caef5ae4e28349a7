"""``ShapeProp``: run a ``GraphModule`` on example inputs and record each node's tensor shape and dtype."""

from __future__ import annotations

from typing import Any, NamedTuple

import trainer
from trainer.fx.interpreter import Interpreter
from trainer.fx.node import Node, map_aggregate


class TensorMetadata(NamedTuple):
    shape: trainer.Size
    dtype: trainer.dtype
    requires_grad: bool
    stride: tuple[int, ...]
    memory_format: Any
    is_quantized: bool
    qparams: dict[str, Any]


def _extract_tensor_metadata(result: trainer.Tensor) -> TensorMetadata:
    memory_format = trainer.contiguous_format if result.is_contiguous() else None
    return TensorMetadata(result.shape, result.dtype, result.requires_grad, result.stride(), memory_format,
                          False, {})


class ShapeProp(Interpreter):
    """``ShapeProp(gm).propagate(*args)`` fills ``node.meta['tensor_meta']`` (a ``TensorMetadata``, or the same
    structure of them for tuple/list results) and ``node.meta['type']`` for every node."""

    def run_node(self, n: Node) -> Any:
        result = super().run_node(n)
        found_tensor = False

        def extract(obj: Any) -> Any:
            nonlocal found_tensor
            if isinstance(obj, trainer.Tensor):
                found_tensor = True
                return _extract_tensor_metadata(obj)
            return obj

        meta = map_aggregate(result, extract)
        if found_tensor:
            n.meta["tensor_meta"] = meta
        n.meta["type"] = type(result)
        return result

    def propagate(self, *args) -> Any:
        return super().run(*args)
