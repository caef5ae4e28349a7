"""Writes into a copy of a tensor: ``index_put``/``put``/``index_copy`` as ScatterND, ``masked_scatter`` as a
running count of the mask (CumSum) that gathers from the source, ``scatter_reduce`` as ScatterElements with a
reduction, ``slice_scatter``/``select_scatter`` and ``diagonal_scatter``/``diag_embed`` as ScatterElements at
positions computed from the run-time sizes.
"""

import numpy as np
from onnx import TensorProto

from exporter.lowerings import lowering
from exporter.lowerings.shape import _diagonal_positions
from trainer import dtypes
from trainer.ops.scatter_reduce import reduction_identity


def _int64(g, name):
    return name if g.dtype(name) == np.int64 else g.op("Cast", name, to=TensorProto.INT64)


def _concat_sizes(g, parts):
    """One 1-D int64 shape from the non-empty parts (run-time sizes or ints)."""
    parts = [g.ints(p) if isinstance(p, (list, tuple)) else p for p in parts if not isinstance(p, (list, tuple)) or p]
    if not parts:
        return g.ints([])
    return parts[0] if len(parts) == 1 else g.op("Concat", *parts, axis=0)


def _inverse(perm):
    inverse = [0] * len(perm)
    for i, p in enumerate(perm):
        inverse[p] = i
    return inverse


@lowering("AdvancedIndexPut")
def advanced_index_put(g, a, values, *indices, axis, accumulate):
    rank, k = g.rank(a), len(indices)
    # each index as int64 in [0, size) (Mod takes the divisor's sign, so negative indices wrap as in Python),
    # all broadcast to their common shape, then stacked into ScatterND's index tuples
    sizes = [g.op("Squeeze", g.dims(a, [axis + i]), g.ints([0])) for i in range(k)]  # 0-d: keeps index shapes
    wrapped = [g.op("Mod", _int64(g, index), size, fmod=0) for index, size in zip(indices, sizes)]
    if k > 1:
        total = wrapped[0]
        for w in wrapped[1:]:
            total = g.op("Add", total, w)
        wrapped = [g.op("Expand", w, g.op("Shape", total)) for w in wrapped]
    tuples = g.op("Concat", *(g.op("Unsqueeze", w, g.ints([-1])) for w in wrapped), axis=-1)
    # what a[key] selects: a's leading dims, the indices' shape, a's trailing dims; values broadcast to it
    selected = _concat_sizes(g, [g.dims(a, range(axis)) if axis else [], g.op("Shape", wrapped[0]),
                                 g.dims(a, range(axis + k, rank)) if axis + k < rank else []])
    updates = g.op("Expand", values, selected)
    data = a
    if axis:  # ScatterND indexes leading dims: bring the indexed dims (and the updates' index dims) first
        perm = [*range(axis, axis + k), *range(axis), *range(axis + k, rank)]
        data = g.op("Transpose", a, perm=perm)
        n_index = max(g.rank(i) for i in indices)
        updates = g.op("Transpose", updates, perm=[*range(axis, axis + n_index), *range(axis),
                                                   *range(axis + n_index, rank - k + n_index)])
    if accumulate:
        g.require(16, "ScatterND with reduction='add'")
        out = g.op("ScatterND", data, tuples, updates, reduction="add")
    else:
        out = g.op("ScatterND", data, tuples, updates)
    return g.op("Transpose", out, perm=_inverse(perm)) if axis else out


@lowering("MaskedScatter")
def masked_scatter(g, a, mask, source):
    values = g.op("Expand", a, g.op("Shape", mask))  # Expand broadcasts both ways: the common shape
    shape = g.op("Shape", values)
    mask = g.op("Expand", mask, shape)
    # each selected element's position in the source: the selected elements before it
    flat = g.op("Reshape", g.op("Cast", mask, to=TensorProto.INT64), g.ints([-1]))
    before = g.op("Sub", g.op("CumSum", flat, g.const(np.int64(0))), g.ints([1]))
    taken = g.op("Gather", g.op("Reshape", source, g.ints([-1])), g.op("Max", before, g.ints([0])), axis=0)
    return g.op("Where", mask, g.op("Reshape", taken, shape), values)


_REDUCTIONS = {"sum": ("add", 16), "mean": ("add", 16), "prod": ("mul", 16), "amax": ("max", 18), "amin": ("min", 18)}


@lowering("ScatterReduce")
def scatter_reduce(g, a, index, src, axis, reduce, include_self):
    reduction, since = _REDUCTIONS[reduce]
    g.require(since, f"ScatterElements with reduction='{reduction}'")
    index = _int64(g, index)
    index_shape = g.op("Shape", index)
    base = a
    if not include_self:  # the written positions start from the reduction's identity instead of a's value
        start = g.const(np.asarray(reduction_identity(reduce, g.dtype(a)), dtype=g.dtype(a)))
        base = g.op("ScatterElements", a, index, g.op("Expand", start, index_shape), axis=axis)
    out = g.op("ScatterElements", base, index, src, axis=axis, reduction=reduction)
    if reduce != "mean":
        return out
    counts = g.op("Expand", g.like(int(include_self), a), g.op("Shape", a))
    counts = g.op("ScatterElements", counts, index, g.op("Expand", g.like(1, a), index_shape), axis=axis,
                  reduction="add")
    counts = g.op("Max", counts, g.like(1, a))
    if dtypes.is_inexact(g.dtype(a)):
        return g.op("Div", out, counts)
    # integer means round down, as in PyTorch: subtract the remainder (Mod takes the divisor's sign) first
    return g.op("Div", g.op("Sub", out, g.op("Mod", out, counts, fmod=0)), counts)


@lowering("SliceScatter")
def slice_scatter(g, a, src, axis, start, stop, step):
    rank = g.rank(a)
    first = g.ints([start]) if start >= 0 else g.op("Add", g.dims(a, [axis]), g.ints([start]))
    count = g.dims(src, [axis])
    limit = g.op("Add", first, g.op("Mul", count, g.ints([step])))
    scalar = [g.op("Squeeze", v, g.ints([0])) for v in (first, limit)]
    positions = g.op("Range", *scalar, g.const(np.int64(step)))
    column = g.op("Reshape", positions, g.ints([1] * axis + [-1] + [1] * (rank - axis - 1)))
    return g.op("ScatterElements", a, g.op("Expand", column, g.op("Shape", src)), src, axis=axis)


def _write_diagonal(g, data, rank, src, offset, dim1, dim2):
    """``data`` (of rank ``rank``) with its ``offset``-th diagonal over ``dim1``/``dim2`` replaced by ``src``."""
    lead = rank - 2
    perm = [d for d in range(rank) if d not in (dim1, dim2)] + [dim1, dim2]
    moved = g.op("Transpose", data, perm=perm) if perm != list(range(rank)) else data
    positions = _diagonal_positions(g, g.dims(moved, [lead]), g.dims(moved, [lead + 1]), offset)
    flat = g.op("Reshape", moved, _concat_sizes(g, [g.dims(moved, range(lead)) if lead else [], [-1]]))
    written = g.op("ScatterElements", flat, g.op("Expand", positions, g.op("Shape", src)), src, axis=lead)
    written = g.op("Reshape", written, g.op("Shape", moved))
    return g.op("Transpose", written, perm=_inverse(perm)) if perm != list(range(rank)) else written


@lowering("DiagonalScatter")
def diagonal_scatter(g, a, src, offset, dim1, dim2):
    return _write_diagonal(g, a, g.rank(a), src, offset, dim1, dim2)


@lowering("DiagEmbed")
def diag_embed(g, v, offset, dim1, dim2):
    rank = g.rank(v) + 1
    n = g.op("Add", g.dims(v, [rank - 2]), g.ints([abs(offset)]))
    zeros = g.op("Expand", g.like(0, v), _concat_sizes(g, [g.dims(v, range(rank - 2)) if rank > 2 else [], n, n]))
    # the matrices are built in the last two dims, then moved to dim1 and dim2 as the op's forward does
    matrices = _write_diagonal(g, zeros, rank, v, offset, rank - 2, rank - 1)
    batch = iter(range(rank - 2))
    perm = [rank - 2 if d == dim1 else rank - 1 if d == dim2 else next(batch) for d in range(rank)]
    return g.op("Transpose", matrices, perm=perm) if perm != list(range(rank)) else matrices
