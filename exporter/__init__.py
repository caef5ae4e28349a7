"""Sardonyx's exporter: traces a trainer model into a standard ONNX graph.

`export()` mirrors `torch.onnx.export`: it runs the model once in eval mode, observes each op
through the trainer's hook, lowers it through a per-op, opset-aware table, turns parameters into
initializers named after their `state_dict` keys, and checks the result against ONNX Runtime and
Sardonyx's own serving runtime before handing it back.
"""

__all__: list[str] = []
