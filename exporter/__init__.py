"""Sardonyx's exporter: traces a trainer model into a standard ONNX graph.

`export()` mirrors `torch.onnx.export`: it runs the model once in eval mode, observes each op
through the trainer's hook, lowers it through a per-op, opset-aware table, turns parameters into
initializers named after their `state_dict` keys, and writes a model that passes onnx's full check.
`verify()` runs the written model in Sardonyx's serving runtime and ONNX Runtime and reports how far
each output is from the trainer's.
"""

from exporter.custom_symbolics import register_custom_op_symbolic, unregister_custom_op_symbolic
from exporter.errors import ExportError, OpsetError, UnsupportedOpError, VerificationError
from exporter.export import export
from exporter.opsets import MIN_OPSET, newest_opset
from exporter.training_mode import OperatorExportTypes, TrainingMode
from exporter.verify import verify

__all__ = ["MIN_OPSET", "ExportError", "OpsetError", "UnsupportedOpError", "VerificationError", "export",
           "newest_opset", "verify"]
__all__ += ["OperatorExportTypes", "TrainingMode", "register_custom_op_symbolic", "unregister_custom_op_symbolic"]
