"""pdist as the full distance matrix of the rows, then its strictly upper triangle in row-major order (Compress
with a mask built from the run-time row count, so any number of rows works)."""

import math

import numpy as np

from exporter.emitter import onnx_dtype
from exporter.lowerings import lowering


def _norm(g, diff, p, dtype_of):
    """The ``p``-norm of ``diff`` ``(N, N, M)`` over its last axis (constants in ``dtype_of``'s dtype)."""
    if p == 2:
        return g.reduce("ReduceL2", diff, [2], False)
    if p == 1:
        return g.reduce("ReduceL1", diff, [2], False)
    if math.isinf(p):
        return g.reduce("ReduceMax", g.op("Abs", diff), [2], False)
    if p == 0:
        nonzero = g.op("Cast", g.op("Not", g.op("Equal", diff, g.like(0, dtype_of))), to=onnx_dtype(g.dtype(dtype_of)))
        return g.reduce("ReduceSum", nonzero, [2], False, since=13)
    powered = g.op("Pow", g.op("Abs", diff), g.like(p, dtype_of))
    return g.op("Pow", g.reduce("ReduceSum", powered, [2], False, since=13), g.like(1 / p, dtype_of))


@lowering("Pdist")
def pdist(g, x, *, p):
    diff = g.op("Sub", g.op("Unsqueeze", x, g.ints([1])), g.op("Unsqueeze", x, g.ints([0])))
    rows = g.op("Range", g.const(np.int64(0)), g.op("Squeeze", g.dims(x, [0]), g.ints([0])), g.const(np.int64(1)))
    upper = g.op("Less", g.op("Unsqueeze", rows, g.ints([1])), g.op("Unsqueeze", rows, g.ints([0])))
    flat = g.ints([-1])
    return g.op("Compress", g.op("Reshape", _norm(g, diff, p, x), flat), g.op("Reshape", upper, flat), axis=0)
