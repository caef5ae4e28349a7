"""``TrainingMode`` and ``OperatorExportTypes``: ``torch.onnx.export``'s ``training`` and ``operator_export_type``.

``EVAL`` exports the model in eval mode (Dropout off, BatchNorm on its running statistics), ``PRESERVE`` in the mode
it is in, ``TRAINING`` in training mode: Dropout becomes ONNX ``Dropout`` with ``training_mode`` true (a fresh mask
per run) and BatchNorm normalizes with the batch's statistics (the running estimates are not updated by the graph).
PyTorch's own enum members are accepted too, by name.
"""

from __future__ import annotations

import enum

import numpy as np

from exporter.errors import ExportError, UnsupportedOpError


class TrainingMode(enum.IntEnum):
    EVAL = 0
    PRESERVE = 1
    TRAINING = 2


class OperatorExportTypes(enum.IntEnum):
    """Only standard ONNX is written: PyTorch's ATen fallbacks have no meaning outside PyTorch."""

    ONNX = 0


def training_mode(value) -> TrainingMode:
    name = getattr(value, "name", None)  # PyTorch's members are pybind11 enums, not enum.Enum
    if isinstance(name, str) and name in TrainingMode.__members__:
        return TrainingMode[name]
    raise ExportError(f"training={value!r}: expected exporter.TrainingMode.EVAL, PRESERVE or TRAINING")


def traces_in_training(mode: TrainingMode, model) -> bool:
    return mode is TrainingMode.TRAINING or (mode is TrainingMode.PRESERVE and model.training)


def check_operator_export_type(value) -> None:
    if getattr(value, "name", None) != "ONNX":
        raise ExportError(f"operator_export_type={value!r}: the exporter writes standard ONNX only; pass "
                          "exporter.OperatorExportTypes.ONNX (the default)")


def dropout_in_training(g, a, p, generator=None, mask_shape=None):
    """Dropout as ONNX ``Dropout`` with ``training_mode`` true: a new mask at every run, as trainer draws one."""
    if mask_shape is not None:
        raise UnsupportedOpError(f"channel dropout (dropout1d/2d/3d, in module '{g.scope or '<root>'}') in training "
                                 "mode has no ONNX lowering: ONNX Dropout draws one mask element per input element. "
                                 "Export with training=TrainingMode.EVAL")
    ratio = g.const(np.asarray(p, dtype=g.dtype(a)))
    return g.op("Dropout", a, ratio, g.const(np.asarray(True)))


TRAINING_LOWERINGS = {"Dropout": dropout_in_training}
