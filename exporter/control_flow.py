"""``trainer.cond`` and ``trainer.while_loop`` while a model is traced for export.

The exporter traces one run: a data-dependent branch or loop would be written as the one path this input took,
and the file would answer every other input wrongly. Until they are lowered to ONNX ``If``/``Loop``, such calls
are refused. A ``cond`` whose predicate is a Python value (a size, a flag) picks the same branch for every input,
as in PyTorch's export, and is traced through.
"""

from __future__ import annotations

import contextlib

import trainer
from exporter.errors import UnsupportedOpError
from trainer import control_flow
from trainer.tensor import Tensor

_INSTEAD = ("compute both branches and pick with trainer.where, or export each branch as its own model")


def _refusing_cond(original):
    def cond(pred, true_fn, false_fn, operands=()):
        if isinstance(pred, Tensor):
            raise UnsupportedOpError(
                "trainer.cond with a tensor predicate cannot be exported: tracing would keep only the branch this "
                f"input takes (ONNX If is not lowered yet); {_INSTEAD}")
        return original(pred, true_fn, false_fn, operands)

    return cond


def _refused_while_loop(cond_fn, body_fn, carried_inputs):
    raise UnsupportedOpError(
        "trainer.while_loop cannot be exported: tracing would unroll the iterations this input takes (ONNX Loop is "
        "not lowered yet); use a loop over a fixed count in forward, which traces as unrolled steps")


@contextlib.contextmanager
def refused():
    """Inside the block, ``cond`` on a tensor predicate and ``while_loop`` raise ``UnsupportedOpError``."""
    originals = {"cond": control_flow.cond, "while_loop": control_flow.while_loop}
    replacements = {"cond": _refusing_cond(originals["cond"]), "while_loop": _refused_while_loop}
    for module in (trainer, control_flow):
        for name, replacement in replacements.items():
            setattr(module, name, replacement)
    try:
        yield
    finally:
        for module in (trainer, control_flow):
            for name, original in originals.items():
                setattr(module, name, original)
