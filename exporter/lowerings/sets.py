"""Membership and runs: ``isin`` as Equal against every test element and a count, ``unique_consecutive`` as a
mask of where each run starts (Compress keeps those elements; CumSum numbers the runs; the starts' positions
give the run lengths)."""

import numpy as np
from onnx import TensorProto

from exporter.lowerings import lowering
from trainer import dtypes

_INT64_MAX = np.iinfo(np.int64).max


@lowering("IsIn")
def isin(g, elements, test_elements, invert):
    kinds = {g.dtype(elements), g.dtype(test_elements)}
    if len(kinds) > 1:  # compare in one type: float64 if either is floating point, else int64
        common = TensorProto.DOUBLE if any(dtypes.is_floating(k) for k in kinds) else TensorProto.INT64
        elements, test_elements = (g.op("Cast", v, to=common) for v in (elements, test_elements))
    matches = g.op("Equal", g.op("Unsqueeze", elements, g.ints([-1])), g.op("Reshape", test_elements, g.ints([-1])))
    # a sum, not a max, so that an empty test set gives False
    found = g.reduce("ReduceSum", g.op("Cast", matches, to=TensorProto.INT64), [-1], False, since=13)
    found = g.op("Greater", found, g.const(np.int64(0)))
    return g.op("Not", found) if invert else found


@lowering("UniqueConsecutive")
def unique_consecutive(g, a, return_inverse, return_counts, dim):
    if dim is None:
        data, axis = g.op("Reshape", a, g.ints([-1])), 0
        rows = data
    else:  # compare whole slices along dim: one row per slice
        data, axis = a, dim
        perm = [dim, *(d for d in range(g.rank(a)) if d != dim)]
        moved = g.op("Transpose", a, perm=perm) if dim else a
        rows = g.op("Reshape", moved, g.op("Concat", g.dims(moved, [0]), g.ints([-1]), axis=0))
    length = g.dims(data, [axis])
    later = g.op("Slice", rows, g.ints([1]), g.ints([_INT64_MAX]), g.ints([0]))
    earlier = g.op("Slice", rows, g.ints([0]), g.ints([-1]), g.ints([0]))
    changed = g.op("Not", g.op("Equal", later, earlier))  # NaN != NaN: each NaN starts a run, as in PyTorch
    if dim is not None:
        changed = g.op("Cast", g.reduce("ReduceMax", g.op("Cast", changed, to=TensorProto.INT32), [1], False),
                       to=TensorProto.BOOL)
    # the first element starts a run (cut back to the length, so that no data gives no runs)
    starts = g.op("Slice", g.op("Concat", g.const(np.array([True])), changed, axis=0), g.ints([0]), length)
    outputs = [g.op("Compress", data, starts, axis=axis)]
    if return_inverse:
        inverse = g.op("Sub", g.op("CumSum", g.op("Cast", starts, to=TensorProto.INT64), g.const(np.int64(0))),
                       g.ints([1]))
        outputs.append(g.op("Reshape", inverse, g.op("Shape", a)) if dim is None else inverse)
    if return_counts:
        edges = g.op("Concat", g.op("Reshape", g.op("NonZero", starts), g.ints([-1])), length, axis=0)
        outputs.append(g.op("Sub", g.op("Slice", edges, g.ints([1]), g.ints([_INT64_MAX])),
                            g.op("Slice", edges, g.ints([0]), g.ints([-1]))))
    return outputs[0] if len(outputs) == 1 else tuple(outputs)
