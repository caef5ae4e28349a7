"""Reshape, Flatten, Transpose, Squeeze, Unsqueeze, Expand, Tile; Trilu, Flip and Roll (as Slices), Diagonal and
Diag (as Gather/ScatterElements at positions computed from the run-time sizes), Unbind (Split + Squeeze).

Targets are written so that they hold for any size of a dynamic axis: ``-1`` stays ``-1``, a size
read from a tensor is recomputed (``g.sizes``), and Expand keeps an input's own dims as ``1``.
"""

import numpy as np

from exporter.lowerings import lowering
from exporter.symbolic import SymInt

_INT64_MAX = np.iinfo(np.int64).max
_INT64_MIN = np.iinfo(np.int64).min


@lowering("Reshape")
def reshape(g, a, shape):
    if 0 in shape:  # a literal empty dim, not ONNX's "copy this dim"
        g.require(14, "Reshape with allowzero")
        return g.op("Reshape", a, g.sizes(shape), allowzero=1)
    return g.op("Reshape", a, g.sizes(shape))


@lowering("Flatten")
def flatten(g, a, start_dim, end_dim):
    rank = g.rank(a)
    if rank == 0:
        return g.op("Reshape", a, g.ints([1]))
    if start_dim == 1 and end_dim == rank - 1:
        return g.op("Flatten", a, axis=1)
    # leading dims copied (0), the flattened run inferred (-1), trailing dims read at run time
    head = g.ints([0] * start_dim + [-1])
    if end_dim == rank - 1:
        return g.op("Reshape", a, head)
    return g.op("Reshape", a, g.op("Concat", head, g.dims(a, range(end_dim + 1, rank)), axis=0))


@lowering("Transpose")
def transpose(g, a, perm):
    return g.op("Transpose", a, perm=list(perm))


@lowering("Squeeze")
def squeeze(g, a, axes):
    return g.op("Squeeze", a, g.ints(axes))


@lowering("Unsqueeze")
def unsqueeze(g, a, axis):
    return g.op("Unsqueeze", a, g.ints([axis]))


@lowering("Expand")
def expand(g, a, shape):
    own = g.shape(a)
    lead = len(shape) - len(own)
    # where the target equals the input's own size, 1 lets Expand keep whatever that size is at run time
    target = [1 if i >= lead and not isinstance(s, SymInt) and s == own[i - lead] else s for i, s in enumerate(shape)]
    return g.op("Expand", a, g.sizes(target))


@lowering("Tile")
def tile(g, a, repeats):
    extra = len(repeats) - g.rank(a)
    if extra > 0:
        a = g.op("Unsqueeze", a, g.ints(range(extra)))
    return g.op("Tile", a, g.sizes(repeats))


@lowering("Trilu")
def trilu(g, a, diagonal, upper):
    g.require(14, "Trilu")
    return g.op("Trilu", a, g.const(np.int64(diagonal)), upper=int(upper))


@lowering("Flip")
def flip(g, a, dims):
    n = len(dims)
    return g.op("Slice", a, g.ints([_INT64_MAX] * n), g.ints([_INT64_MIN] * n), g.ints(dims), g.ints([-1] * n))


@lowering("Roll")
def roll(g, a, shifts, dims):
    out = a
    for shift, axis in zip(shifts, dims):
        # the last (shift mod size) elements move to the front; the size is read at run time
        size = g.dims(out, [axis])
        cut = g.op("Sub", size, g.op("Mod", g.ints([shift]), size))
        tail = g.op("Slice", out, cut, g.ints([_INT64_MAX]), g.ints([axis]))
        head = g.op("Slice", out, g.ints([0]), cut, g.ints([axis]))
        out = g.op("Concat", tail, head, axis=axis)
    return out


def _diagonal_positions(g, rows, cols, offset, length=None):
    """Flat positions (row * cols + col) of the ``offset``-th diagonal of a ``rows x cols`` matrix, as a Range over
    run-time sizes (1-element int64 tensors); ``length`` defaults to the diagonal's full length."""
    if length is None:
        longest = g.op("Min", g.op("Add", rows, g.ints([min(offset, 0)])), g.op("Sub", cols, g.ints([max(offset, 0)])))
        length = g.op("Max", longest, g.ints([0]))
    step = g.op("Add", cols, g.ints([1]))
    start = g.op("Add", g.op("Mul", cols, g.ints([max(-offset, 0)])), g.ints([max(offset, 0)]))
    stop = g.op("Add", start, g.op("Mul", length, step))
    return g.op("Range", *(g.op("Squeeze", v, g.ints([0])) for v in (start, stop, step)))


@lowering("Diagonal")
def diagonal(g, a, offset, dim1, dim2):
    rank = g.rank(a)
    lead = rank - 2
    moved = g.op("Transpose", a, perm=[d for d in range(rank) if d not in (dim1, dim2)] + [dim1, dim2])
    positions = _diagonal_positions(g, g.dims(moved, [lead]), g.dims(moved, [lead + 1]), offset)
    flat_shape = g.op("Concat", g.dims(moved, range(lead)), g.ints([-1]), axis=0) if lead else g.ints([-1])
    flat = g.op("Reshape", moved, flat_shape)
    return g.op("Gather", flat, positions, axis=lead)


@lowering("Diag")
def diag(g, v, diagonal):
    length = g.dims(v, [0])
    n = g.op("Add", length, g.ints([abs(diagonal)]))
    positions = _diagonal_positions(g, n, n, diagonal, length)
    zeros = g.op("Expand", g.like(0, v), g.op("Mul", n, n))
    return g.op("Reshape", g.op("ScatterElements", zeros, positions, v, axis=0), g.op("Concat", n, n, axis=0))


@lowering("Unbind")
def unbind(g, a, axis):
    count = g.shape(a)[axis]
    parts = g.op("Split", a, g.ints([1] * count), axis=axis, outputs=count)
    parts = parts if isinstance(parts, tuple) else (parts,)
    return tuple(g.op("Squeeze", p, g.ints([axis])) for p in parts)
