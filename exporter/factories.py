"""Tensors that factories make inside ``forward`` from the traced inputs' sizes, as ONNX nodes.

``zeros(x.size(0), H)``, ``x.new_full((B, T), v)``, ``zeros_like(x)``, ``arange(T)``, ``eye(n)``: a factory is not
an op, so without this the tracer would store the tensor made at the traced size as a constant, wrong at any other
size of a dynamic axis. The tracer sees each factory through trainer's factory hook; when a size (or ``arange``
bound, or fill value) is a ``SymInt`` or the tensor it is made like is a traced value, the tensor is rebuilt
here from the graph's own sizes, in the factory's dtype:

- filled tensors (``zeros``, ``ones``, ``empty``, ``full`` and their ``_like`` and ``new_`` forms) as an Expand
  of the fill value to a Concat of the size pieces (``Shape`` of the ``like`` tensor for the ``_like`` forms);
  ``empty`` is filled with zeros, one of the values its unset memory may hold;
- ``arange`` as a Range, counted in int64 when every bound is an int and in float64 otherwise, as trainer
  (NumPy) counts it, then cast to the factory's dtype;
- ``eye`` as Equal of a Range of rows and a Range of columns, cast to the factory's dtype.

Random factories are refused when their sizes follow the inputs: the graph would hold one draw of the traced size.
"""

from __future__ import annotations

import numpy as np
from onnx import TensorProto

from exporter.complex_values import as_real_pairs
from exporter.emitter import onnx_dtype
from exporter.errors import ExportError, UnsupportedOpError
from exporter.symbolic import SymInt

RANDOM_FACTORIES = frozenset({"rand", "randn", "randint", "randperm", "rand_like", "randn_like"})
_FILL_VALUES = {"zeros": 0, "ones": 1, "empty": 0}


def lowered(g, event, values: dict[str, str]) -> str:
    """The value of the tensor ``event.result`` made by factory ``event.name``; ``values`` names the value of each
    tensor argument (the ``like`` tensor ``t``)."""
    name, arguments = event.name, event.arguments
    dtype = np.dtype(event.result._data.dtype)
    where = f"in module '{g.scope}'" if g.scope else "in the top-level module's forward"
    if name in RANDOM_FACTORIES:
        raise ExportError(f"trainer.{name} ({where}) draws random numbers with a size (or bound) read from the "
                          "traced inputs: the exported graph would hold the one draw made while tracing, at the "
                          "traced size, and ONNX's Random* operators cannot reproduce trainer's generator. Pass the "
                          "random tensor to the model as an input, or draw it outside forward.")
    if name == "arange":
        return _arange(g, arguments, dtype, where)
    if name == "eye":
        return _eye(g, arguments, dtype, where)
    base = name.removesuffix("_like")
    if base == name:
        shape = g.sizes(_size_items(arguments["size"]))
    else:
        like = arguments["t"]
        shape = g.dims(values["t"], range(like.ndim))  # not Shape: a complex value carries an extra axis of pairs
    fill = arguments["fill_value"] if base == "full" else _FILL_VALUES[base]
    return _filled(g, shape, fill, dtype, where)


def _size_items(size) -> tuple:
    """The sizes as ``zeros(2, 3)``, ``zeros((2, 3))``, ``zeros([2, 3])`` and ``full(3, v)`` give them, without
    turning a ``SymInt`` into a plain int."""
    if isinstance(size, (tuple, list)) and len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    return tuple(size) if isinstance(size, (tuple, list)) else (size,)


def _filled(g, shape: str, fill, dtype: np.dtype, where: str) -> str:
    """``fill`` (a number or a ``SymInt``) broadcast to ``shape``, in ``dtype``."""
    if dtype.kind == "c":
        if isinstance(fill, SymInt):
            raise UnsupportedOpError(f"a complex tensor filled from a traced value ({where}) has no ONNX form here: "
                                     "fill a real tensor and make it complex with torch.complex(real, imag)")
        pairs = g.const(as_real_pairs(np.asarray(fill, dtype)))  # complex values travel as (real, imag) pairs
        return g.op("Expand", pairs, g.op("Concat", shape, g.ints([2]), axis=0))
    if isinstance(fill, SymInt):
        scalar = _cast(g, g.scalar_size(fill), np.int64, dtype)
    else:
        scalar = g.const(np.asarray(fill, dtype))
    return g.op("Expand", scalar, shape)


def _arange(g, arguments: dict, dtype: np.dtype, where: str) -> str:
    _refuse_complex("arange", dtype, where)
    start, end, step = arguments["start"], arguments["end"], arguments["step"]
    if end is None:
        start, end = 0, start
    bounds = (start, end, step)
    if all(isinstance(v, (int, np.integer)) for v in bounds):
        counted = g.op("Range", *(g.scalar_size(v) for v in bounds))
        return _cast(g, counted, np.int64, dtype)
    counted = g.op("Range", *(_as_double(g, v) for v in bounds))
    return _cast(g, counted, np.float64, dtype)


def _eye(g, arguments: dict, dtype: np.dtype, where: str) -> str:
    _refuse_complex("eye", dtype, where)
    n, m = arguments["n"], arguments["m"]
    rows = g.op("Unsqueeze", _positions(g, n), g.ints([1]))
    diagonal = g.op("Equal", rows, _positions(g, n if m is None else m))
    return _cast(g, diagonal, np.bool_, dtype)


def _positions(g, count) -> str:
    """0, 1, ..., count - 1 as int64."""
    return g.op("Range", g.const(np.int64(0)), g.scalar_size(count), g.const(np.int64(1)))


def _as_double(g, value) -> str:
    if isinstance(value, SymInt):
        return g.op("Cast", g.scalar_size(value), to=TensorProto.DOUBLE)
    return g.const(np.float64(value))


def _cast(g, name: str, source, target: np.dtype) -> str:
    if np.dtype(source) == target:
        return name
    return g.op("Cast", name, to=onnx_dtype(target))


def _refuse_complex(factory: str, dtype: np.dtype, where: str) -> None:
    if dtype.kind == "c":
        raise UnsupportedOpError(f"trainer.{factory} of a complex dtype ({where}) with a size read from the traced "
                                 f"inputs has no ONNX form here: make it real and combine it with torch.complex")
