"""Order statistics: ``median`` (PyTorch's lower median, with its index) through TopK, and ``mode`` through a count
of equal elements; both exact for any size of the reduced dim.

TopK puts the lower index first among equal values, as trainer's stable sort does; NaN (which that sort puts last)
is handled apart: a lane holding one has NaN as its median, at the lane's first NaN.
"""

import numpy as np
from onnx import TensorProto

from exporter.lowerings import lowering
from trainer import dtypes


def _flag(g, condition, axis):
    """Whether ``condition`` holds anywhere along ``axis`` (kept as a size-1 dim)."""
    anywhere = g.reduce("ReduceMax", g.op("Cast", condition, to=TensorProto.INT32), [axis], True)
    return g.op("Cast", anywhere, to=TensorProto.BOOL)


def _median(g, a, dim, keepdim):
    """The lower median along ``dim`` and its index: the ``(n - 1) // 2``-th smallest of ``n``."""
    n = g.dims(a, [dim])
    k = g.op("Add", g.op("Div", g.op("Sub", n, g.ints([1])), g.ints([2])), g.ints([1]))
    floating = dtypes.is_floating(g.dtype(a))
    key = a
    if floating:  # NaN has no place in TopK's order: rank it as +inf, then take the lane's first NaN instead
        nan = g.op("IsNaN", a)
        key = g.op("Where", nan, g.like(np.inf, a), a)
    _, order = g.op("TopK", key, k, axis=dim, largest=0, sorted=1, outputs=2)
    index = g.op("Slice", order, g.op("Sub", k, g.ints([1])), k, g.ints([dim]))
    if floating:
        first_nan = g.op("ArgMax", g.op("Cast", nan, to=TensorProto.INT32), axis=dim, keepdims=1)
        index = g.op("Where", _flag(g, nan, dim), first_nan, index)
    values = g.op("GatherElements", a, index, axis=dim)
    if keepdim:
        return values, index
    return tuple(g.op("Squeeze", v, g.ints([dim])) for v in (values, index))


@lowering("MedianDim")
def median_dim(g, a, dim, keepdim=False):
    return _median(g, a, dim, keepdim)


@lowering("MedianAll")
def median_all(g, a):
    flat = g.record(g.op("Reshape", a, g.ints([-1])), (int(np.prod(g.shape(a))),), g.dtype(a))
    return _median(g, flat, 0, False)[0]


def _largest(dtype):
    return np.inf if dtypes.is_floating(dtype) else np.iinfo(dtype).max


@lowering("Mode")
def mode(g, a, dim, keepdim=False):
    rank = g.rank(a)
    work = g.op("Cast", a, to=TensorProto.INT32) if g.dtype(a) == np.bool_ else a
    work_dtype = np.dtype(np.int32) if g.dtype(a) == np.bool_ else g.dtype(a)
    # each element's count of equal elements in its lane: an (n, n) comparison along dim
    equal = g.op("Equal", g.op("Unsqueeze", work, g.ints([dim + 1])), g.op("Unsqueeze", work, g.ints([dim])))
    counts = g.reduce("ReduceSum", g.op("Cast", equal, to=TensorProto.INT64), [dim + 1], False, since=13)
    floating = dtypes.is_floating(work_dtype)
    if floating:  # trainer's sorted runs count each NaN once, though NaN equals nothing
        nan = g.op("IsNaN", work)
        counts = g.op("Add", counts, g.op("Cast", nan, to=TensorProto.INT64))
    most = g.op("Equal", counts, g.reduce("ReduceMax", counts, [dim], True))
    # the smallest of the most frequent values; NaN (last in sorted order) only when a lane holds nothing else
    usable = g.op("And", most, g.op("Not", nan)) if floating else most
    largest = g.const(np.asarray(_largest(work_dtype), dtype=work_dtype))
    value = g.reduce("ReduceMin", g.op("Where", usable, work, largest), [dim], True)
    if floating:
        value = g.op("Where", _flag(g, usable, dim), value, g.const(np.asarray(np.nan, dtype=work_dtype)))
    # the last index holding it (-1 where none equals it, a NaN, as in trainer, which then reads the last element)
    n = g.op("Squeeze", g.dims(a, [dim]), g.ints([0]))
    positions = g.op("Reshape", g.op("Range", g.const(np.int64(0)), n, g.const(np.int64(1))),
                     g.ints([1] * dim + [-1] + [1] * (rank - dim - 1)))
    index = g.reduce("ReduceMax", g.op("Where", g.op("Equal", work, value), positions, g.const(np.int64(-1))),
                     [dim], True)
    values = g.op("GatherElements", a, index, axis=dim)
    if keepdim:
        return values, index
    return tuple(g.op("Squeeze", v, g.ints([dim])) for v in (values, index))
