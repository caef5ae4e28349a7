"""``trainer.export`` (``torch.export``): ``export(model, args)`` traces a model into an ``ExportedProgram`` whose
parameters, buffers and constants are graph inputs; ``ep.module()`` runs it, ``exporter.export(ep, args, path)``
writes it as ONNX, and ``Dim`` declares the input sizes it accepts."""

from trainer.export.capture import export
from trainer.export.decompositions import default_decompositions
from trainer.export.dynamic_shapes import Dim, DimHint, ShapesCollection, ValueRange, dims
from trainer.export.errors import ConstraintViolationError, GuardOnDataDependentSymNode, UserError
from trainer.export.exported_program import ExportedProgram
from trainer.export.graph_signature import (
    ConstantArgument,
    ExportGraphSignature,
    InputKind,
    InputSpec,
    OutputKind,
    OutputSpec,
    TensorArgument,
)

_NO_PICKLE = ("trainer never pickles programs, so an ExportedProgram is not saved as torch.export.{} does. Deploy "
              "it as ONNX with `exporter.export(ep, args, \"model.onnx\")` (run by serving or onnxruntime), and keep "
              "the weights with trainer.save(ep.state_dict, path)")


def save(ep: ExportedProgram, f, **kwargs) -> None:
    """Not provided: see the error it raises."""
    raise NotImplementedError(_NO_PICKLE.format("save"))


def load(f, **kwargs) -> ExportedProgram:
    """Not provided: see the error it raises."""
    raise NotImplementedError(_NO_PICKLE.format("load"))


__all__ = ["ConstantArgument", "ConstraintViolationError", "Dim", "DimHint", "ExportGraphSignature", "ExportedProgram",
           "GuardOnDataDependentSymNode", "InputKind", "InputSpec", "OutputKind", "OutputSpec", "ShapesCollection",
           "TensorArgument", "UserError", "ValueRange", "default_decompositions", "dims", "export", "load", "save"]
