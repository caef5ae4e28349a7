"""Reductions: ReduceSum/Mean/Prod/Max/Min, max/min along a dim with their indices, ArgMax/ArgMin, all/any,
var and std, logsumexp, norms, CumSum, count_nonzero, nansum and nanmean.

cumprod is in ``cumulative_product`` (a Scan below opset 26), median and mode in ``order_statistics``.
"""

import numpy as np
from onnx import TensorProto

from exporter.emitter import onnx_dtype
from exporter.lowerings import lowering
from trainer import dtypes


def _integer_to_int64(g, a):
    """Integer and bool sums and products accumulate in int64, as in PyTorch."""
    return g.op("Cast", a, to=TensorProto.INT64) if g.dtype(a).kind in "biu" else a


@lowering("Sum")
def reduce_sum(g, a, axes=None, keepdim=False, dtype=None):
    a = g.op("Cast", a, to=onnx_dtype(dtype.np)) if dtype is not None else _integer_to_int64(g, a)
    return g.reduce("ReduceSum", a, axes, keepdim, since=13)


@lowering("Mean")
def reduce_mean(g, a, axes=None, keepdim=False):
    return g.reduce("ReduceMean", a, axes, keepdim)


@lowering("Prod")
def reduce_prod(g, a, axis=None, keepdim=False):
    return g.reduce("ReduceProd", _integer_to_int64(g, a), None if axis is None else [axis], keepdim)


@lowering("MaxAll", "MinAll")
def reduce_extremum(g, a, axes=None, keepdim=False):
    return g.reduce("ReduceMax" if g.op_name == "MaxAll" else "ReduceMin", a, axes, keepdim)


@lowering("MaxDim", "MinDim")
def extremum_along(g, a, dim, keepdim=False):
    is_max = g.op_name == "MaxDim"
    values = g.reduce("ReduceMax" if is_max else "ReduceMin", a, [dim], keepdim)
    indices = g.op("ArgMax" if is_max else "ArgMin", a, axis=dim, keepdims=int(keepdim))
    return values, indices


@lowering("ArgMax", "ArgMin")
def arg_extremum(g, a, dim=None, keepdim=False):
    if dim is not None:
        return g.op(g.op_name, a, axis=dim, keepdims=int(keepdim))
    flat = g.op(g.op_name, g.op("Reshape", a, g.ints([-1])), axis=0, keepdims=0)
    return g.op("Reshape", flat, g.ints([1] * g.rank(a))) if keepdim else flat


@lowering("All", "Any")
def all_any(g, a, axes=None, keepdim=False):
    # no Reduce* takes bools: reduce the truth values as int32 (min for all, max for any)
    truth = g.op("Cast", g.op("Cast", a, to=TensorProto.BOOL), to=TensorProto.INT32)
    reduced = g.reduce("ReduceMin" if g.op_name == "All" else "ReduceMax", truth, axes, keepdim)
    return g.op("Cast", reduced, to=TensorProto.BOOL)


def _sum_of_squares_over_dof(g, a, axes, correction, keepdim):
    mean = g.reduce("ReduceMean", a, axes, True)
    centred = g.op("Sub", a, mean)
    squares = g.reduce("ReduceSum", g.op("Mul", centred, centred), axes, keepdim, since=13)
    reduced = range(g.rank(a)) if axes is None else axes
    count = g.op("ReduceProd", g.dims(a, reduced), keepdims=0)  # the element count, at run time
    dof = g.op("Sub", g.op("Cast", count, to=onnx_dtype(g.dtype(a))), g.like(correction, a))
    return g.op("Div", squares, g.op("Max", dof, g.like(0, a)))


@lowering("Var")
def var(g, a, axes=None, correction=1, keepdim=False):
    return _sum_of_squares_over_dof(g, a, axes, correction, keepdim)


@lowering("Std")
def std(g, a, axes=None, correction=1, keepdim=False):
    return g.op("Sqrt", _sum_of_squares_over_dof(g, a, axes, correction, keepdim))


@lowering("LogSumExp")
def log_sum_exp(g, a, axes=None, keepdim=False):
    return g.reduce("ReduceLogSumExp", a, axes, keepdim)


@lowering("Norm")
def norm(g, a, p=2.0, axes=None, keepdim=False):
    if p == 2:
        return g.reduce("ReduceL2", a, axes, keepdim)
    if p == 1:
        return g.reduce("ReduceL1", a, axes, keepdim)
    if p in (float("inf"), float("-inf")):
        return g.reduce("ReduceMax" if p > 0 else "ReduceMin", g.op("Abs", a), axes, keepdim)
    if p == 0:
        nonzero = g.op("Cast", g.op("Not", g.op("Equal", a, g.like(0, a))), to=onnx_dtype(g.dtype(a)))
        return g.reduce("ReduceSum", nonzero, axes, keepdim, since=13)
    powers = g.op("Pow", g.op("Abs", a), g.like(p, a))
    return g.op("Pow", g.reduce("ReduceSum", powers, axes, keepdim, since=13), g.like(1 / p, a))


@lowering("CumSum")
def cum_sum(g, a, dim, dtype=None):
    a = g.op("Cast", a, to=onnx_dtype(dtype.np)) if dtype is not None else _integer_to_int64(g, a)
    return g.op("CumSum", a, g.const(np.int64(dim)))


@lowering("CountNonzero")
def count_nonzero(g, a, axes=None):
    nonzero = g.op("Cast", g.op("Not", g.op("Equal", a, g.like(0, a))), to=TensorProto.INT64)
    return g.reduce("ReduceSum", nonzero, axes, False, since=13)


def _nan_as_zero(g, a):
    """``a`` with its nans as zeros (an integer ``a`` has none); ``a`` must be a traced value."""
    return g.op("Where", g.op("IsNaN", a), g.like(0, a), a) if dtypes.is_floating(g.dtype(a)) else a


@lowering("NanSum")
def nan_sum(g, a, axes=None, keepdim=False, dtype=None):
    if dtype is not None:
        summed = g.op("Cast", _nan_as_zero(g, a), to=onnx_dtype(dtype.np))
    else:
        summed = _integer_to_int64(g, a) if g.dtype(a).kind in "biu" else _nan_as_zero(g, a)
    return g.reduce("ReduceSum", summed, axes, keepdim, since=13)


@lowering("NanMean")
def nan_mean(g, a, axes=None, keepdim=False):
    total = g.reduce("ReduceSum", _nan_as_zero(g, a), axes, keepdim, since=13)
    present = g.op("Cast", g.op("Not", g.op("IsNaN", a)), to=onnx_dtype(g.dtype(a)))
    return g.op("Div", total, g.reduce("ReduceSum", present, axes, keepdim, since=13))
