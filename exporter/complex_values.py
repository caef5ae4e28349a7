"""Complex values in an exported graph: ONNX's operators have no complex tensor type, so every complex value of the
traced model travels through the graph as a real tensor with a trailing dimension of 2 (real, imaginary), the
layout of ONNX's ``DFT`` and ``STFT``. The tracer keeps recording such a value's complex shape and dtype; only the
ONNX tensor carries the extra dimension.

The graph's inputs and outputs stay real: a complex input or output is refused with the way around it
(``torch.view_as_real`` outside the model, ``torch.view_as_complex`` inside it).
"""

from __future__ import annotations

import numpy as np

from exporter.errors import ExportError


def is_complex_array(array) -> bool:
    return np.dtype(array.dtype).kind == "c"


def involves_complex(event) -> bool:
    """Whether a traced op reads or makes a complex tensor: then it lowers through the complex table."""
    return any(is_complex_array(t._data) for t in (*event.inputs, *event.outputs))


def as_real_pairs(array: np.ndarray) -> np.ndarray:
    """A complex array as its (real, imaginary) pairs along a new last dimension; a real array unchanged."""
    if not is_complex_array(array):
        return array
    return np.stack([array.real, array.imag], axis=-1)


def refuse_complex_input(tensor, name: str) -> None:
    if is_complex_array(tensor._data):
        raise ExportError(f"input {name!r} is a complex tensor ({tensor.dtype.name}, shape {list(tensor.shape)}); an "
                          "exported graph's inputs must be real: pass torch.view_as_real(x) (a trailing dim of 2: "
                          "real, imaginary) and call torch.view_as_complex on it inside forward")


def refuse_complex_output(tensor, name: str) -> None:
    if is_complex_array(tensor._data):
        raise ExportError(f"output {name!r} is a complex tensor ({tensor.dtype.name}, shape {list(tensor.shape)}); "
                          "ONNX graphs carry no complex values: return torch.view_as_real(z) (a trailing dim of 2: "
                          "real, imaginary), or z.abs() / z.real / z.imag / z.angle()")
