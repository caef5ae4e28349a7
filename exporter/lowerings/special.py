"""Scans and special functions that ONNX can express: LogCumSumExp.

lgamma, digamma, polygamma, erfinv, the Bessel functions, ndtri, log_ndtr, erfcx, entr, cummax/cummin, mode and
nanmedian's index have no ONNX operator and are left without a lowering: export reports them clearly.
"""

import numpy as np

from exporter.lowerings import lowering


@lowering("LogCumSumExp")
def log_cum_sum_exp(g, a, dim):
    # ONNX has no running max, so each prefix is shifted by its own max found over a pairwise (i, j <= i) view:
    # exact at any range (one shift for the whole dim would underflow a prefix ~80 below the dim's max in float32),
    # for memory quadratic in the scanned length
    rank = g.rank(a)
    positions = g.op("Range", g.const(np.int64(0)), g.op("Squeeze", g.dims(a, [dim]), g.ints([0])),
                     g.const(np.int64(1)))
    row = g.op("Unsqueeze", positions, g.ints([1]))
    # (i, j) lands on axes (dim, dim + 1) of the pairwise view; the axes after them broadcast
    included = g.op("LessOrEqual", positions, row)
    included = g.op("Unsqueeze", included, g.ints(range(2, 2 + rank - dim - 1))) if rank - dim - 1 else included
    pairs = g.op("Where", included, g.op("Unsqueeze", a, g.ints([dim])), g.like(-np.inf, a))
    peak = g.reduce("ReduceMax", pairs, [dim + 1], True)
    # an all -inf prefix has no finite shift (inf - inf); its sum is 0 and its result -inf either way
    shift = g.op("Where", g.op("Not", g.op("IsInf", peak)), peak, g.like(0.0, a))
    summed = g.reduce("ReduceSum", g.op("Exp", g.op("Sub", pairs, shift)), [dim + 1], False, since=13)
    return g.op("Add", g.op("Log", summed), g.op("Squeeze", shift, g.ints([dim + 1])))
