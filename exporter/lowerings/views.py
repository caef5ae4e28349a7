"""``Tensor.unfold``'s sliding windows: Gather with a window-by-offset index grid computed from the run-time
size of the unfolded dim, then Transpose to make the offset inside the window the last dim."""

import numpy as np

from exporter.lowerings import lowering


@lowering("UnfoldDim")
def unfold_dim(g, a, axis, size, step):
    rank = g.rank(a)
    count = g.op("Add", g.op("Div", g.op("Sub", g.dims(a, [axis]), g.ints([size])), g.ints([step])), g.ints([1]))
    starts = g.op("Range", g.const(np.int64(0)), g.op("Squeeze", g.op("Mul", count, g.ints([step])), g.ints([0])),
                  g.const(np.int64(step)))
    # (windows, size) positions: each window's start plus the offsets inside a window
    positions = g.op("Add", g.op("Unsqueeze", starts, g.ints([1])), g.const(np.arange(size, dtype=np.int64)[None]))
    windows = g.op("Gather", a, positions, axis=axis)
    # the offset inside the window becomes the last dim
    perm = [*range(axis + 1), *range(axis + 2, rank + 1), axis + 1]
    return g.op("Transpose", windows, perm=perm)
