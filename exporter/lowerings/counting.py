"""Counting and bucketing: ``searchsorted``/``bucketize`` as a count of the boundaries below each value (exact for
any number of boundaries), ``unique`` as ONNX's Unique.

histc and bincount are refused (see ``exporter.lowerings.no_onnx_operator``): their output length comes from the
data's values.
"""

import numpy as np
from onnx import TensorProto

from exporter.emitter import onnx_dtype
from exporter.lowerings import lowering
from trainer import dtypes


def _in_one_type(g, a, b):
    """``a`` and ``b`` compared in one type: as they are if they share one, else float64 if either is floating
    point, else int64."""
    kinds = {g.dtype(a), g.dtype(b)}
    if len(kinds) == 1:
        return a, b, dtypes.is_floating(g.dtype(a))
    floating = any(dtypes.is_floating(k) for k in kinds)
    common = TensorProto.DOUBLE if floating else TensorProto.INT64
    return g.op("Cast", a, to=common), g.op("Cast", b, to=common), floating


@lowering("SearchSorted")
def search_sorted(g, boundaries, values, *sorter, side, out_dtype):
    if sorter:
        boundaries = g.record(g.op("GatherElements", boundaries, sorter[0], axis=-1), g.shape(boundaries),
                              g.dtype(boundaries))
    rows = g.rank(boundaries) > 1
    boundaries, values, floating = _in_one_type(g, boundaries, values)
    # each value against every boundary of its row: (..., K, 1) against (M,) or (..., 1, M)
    b = g.op("Unsqueeze", boundaries, g.ints([-2])) if rows else boundaries
    v = g.op("Unsqueeze", values, g.ints([-1]))
    before = g.op("Less" if side == "left" else "LessOrEqual", b, v)
    if floating:  # NaN sorts last, as in trainer's (NumPy's) order: after every number, and equal to NaN
        v_nan = g.op("IsNaN", v)
        if side == "left":
            v_nan = g.op("And", v_nan, g.op("Not", g.op("IsNaN", b)))
        before = g.op("Or", before, v_nan)
    count = g.reduce("ReduceSum", g.op("Cast", before, to=TensorProto.INT64), [-1], False, since=13)
    return count if np.dtype(out_dtype) == np.int64 else g.op("Cast", count, to=onnx_dtype(out_dtype))


# the element types ONNX Runtime's Unique takes; other types go through one that holds them exactly
_UNIQUE_TYPES = {np.dtype(t) for t in (np.float32, np.float64, np.int64, np.int8)}


@lowering("Unique")
def unique(g, a, *, return_inverse, return_counts, dim):
    dtype = g.dtype(a)
    x = a
    if dtype not in _UNIQUE_TYPES:
        x = g.op("Cast", a, to=TensorProto.FLOAT if dtypes.is_floating(dtype) else TensorProto.INT64)
    values, _, inverse, counts = g.op("Unique", x, axis=dim, sorted=1, outputs=4)
    if dtype not in _UNIQUE_TYPES:
        values = g.op("Cast", values, to=onnx_dtype(dtype))
    outputs = [values]
    if return_inverse:  # Unique's inverse is 1-D; trainer's has the input's shape when dim is None
        outputs.append(g.op("Reshape", inverse, g.op("Shape", a)) if dim is None else inverse)
    if return_counts:
        outputs.append(counts)
    return outputs[0] if len(outputs) == 1 else tuple(outputs)
