"""``readable_graph``: an exported model as text for ``export(verbose=True)``, onnx's printer without the weights'
values (one line per initializer instead)."""

from __future__ import annotations

import onnx
from onnx import helper


def readable_graph(model: onnx.ModelProto) -> str:
    graph = onnx.GraphProto()
    graph.CopyFrom(model.graph)
    del graph.initializer[:]
    weights = [f"  {t.name}: {helper.tensor_dtype_to_np_dtype(t.data_type)}{list(t.dims)}"
               for t in model.graph.initializer]
    opsets = ", ".join(f"{o.domain or 'ai.onnx'} {o.version}" for o in model.opset_import)
    text = f"Exported graph (opsets: {opsets}):\n{onnx.printer.to_text(graph)}"
    return text + ("\nInitializers:\n" + "\n".join(weights) if weights else "")
