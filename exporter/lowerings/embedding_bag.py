"""EmbeddingBag: Gather of the weight's rows, then a reduction per bag.

Fixed-size bags (2-D indices) reduce the gathered ``(B, L, D)`` rows over ``L``. Bags given by offsets (1-D
indices) become a ``(B, n)`` membership matrix, built at run time from the offsets and the number of indices:
sums and means are its product with the ``(n, D)`` rows, maxima a reduction of the rows masked by it. Indices
equal to ``padding_idx`` are members of no bag.
"""

import numpy as np
from onnx import TensorProto

from exporter.emitter import onnx_dtype
from exporter.lowerings import lowering

_INT64_MAX = np.iinfo(np.int64).max


@lowering("EmbeddingBag")
def embedding_bag(g, indices, weight, *optional, mode, padding_idx, include_last_offset, scale_grad_by_freq,
                  weighted):
    per_sample = optional[-1] if weighted else None
    rows = g.op("Gather", weight, indices, axis=0)
    kept = None if padding_idx is None else g.op("Not", g.op("Equal", indices, g.like(padding_idx, indices)))
    if g.rank(indices) == 2:
        return _fixed_size_bags(g, weight, rows, kept, per_sample, mode)
    return _offset_bags(g, weight, indices, optional[0], rows, kept, per_sample, mode, include_last_offset)


def _as(g, value, weight):
    """``value`` (a mask) in the weight's dtype."""
    return g.op("Cast", value, to=onnx_dtype(g.dtype(weight)))


def _fixed_size_bags(g, weight, rows, kept, per_sample, mode):
    """``rows`` ``(B, L, D)``; ``kept`` and ``per_sample`` are ``(B, L)``."""
    if mode == "max":
        if kept is None:
            return g.reduce("ReduceMax", rows, [1], False)
        masked = g.op("Where", g.op("Unsqueeze", kept, g.ints([2])), rows, g.like(-np.inf, weight))
        return _zero_where_empty(g, weight, g.reduce("ReduceMax", masked, [1], False), _as(g, kept, weight))
    if kept is None and per_sample is None:
        return g.reduce("ReduceSum" if mode == "sum" else "ReduceMean", rows, [1], False, since=13)
    coefficient = per_sample if kept is None else _as(g, kept, weight)
    if kept is not None and per_sample is not None:
        coefficient = g.op("Mul", coefficient, per_sample)
    total = g.reduce("ReduceSum", g.op("Mul", rows, g.op("Unsqueeze", coefficient, g.ints([2]))), [1], False,
                     since=13)
    if mode == "sum":
        return total
    count = g.reduce("ReduceSum", _as(g, kept, weight), [1], True, since=13)
    return g.op("Div", total, g.op("Max", count, g.like(1.0, weight)))


def _offset_bags(g, weight, indices, offsets, rows, kept, per_sample, mode, include_last_offset):
    """``rows`` ``(n, D)``; bag ``b`` holds the indices at positions ``starts[b] <= i < ends[b]``."""
    offsets = g.op("Cast", offsets, to=TensorProto.INT64)
    count = g.dims(indices, [0])
    positions = g.op("Range", g.const(np.int64(0)), g.op("Squeeze", count, g.ints([0])), g.const(np.int64(1)))
    following = g.op("Slice", offsets, g.ints([1]), g.ints([_INT64_MAX]), g.ints([0]))
    if include_last_offset:
        starts, ends = g.op("Slice", offsets, g.ints([0]), g.ints([-1]), g.ints([0])), following
    else:
        starts, ends = offsets, g.op("Concat", following, count, axis=0)
    at = g.op("Unsqueeze", positions, g.ints([0]))
    member = g.op("And", g.op("LessOrEqual", g.op("Unsqueeze", starts, g.ints([1])), at),
                  g.op("Less", at, g.op("Unsqueeze", ends, g.ints([1]))))
    if kept is not None:
        member = g.op("And", member, g.op("Unsqueeze", kept, g.ints([0])))
    membership = _as(g, member, weight)  # (B, n)
    if mode == "max":
        masked = g.op("Where", g.op("Unsqueeze", member, g.ints([2])), g.op("Unsqueeze", rows, g.ints([0])),
                      g.like(-np.inf, weight))
        return _zero_where_empty(g, weight, g.reduce("ReduceMax", masked, [1], False), membership)
    if per_sample is not None:
        membership = g.op("Mul", membership, g.op("Unsqueeze", per_sample, g.ints([0])))
    total = g.op("MatMul", membership, rows)
    if mode == "sum":
        return total
    sizes = g.reduce("ReduceSum", membership, [1], True, since=13)
    return g.op("Div", total, g.op("Max", sizes, g.like(1.0, weight)))


def _zero_where_empty(g, weight, maxima, membership):
    """PyTorch's maximum of an empty bag is zero, not ``-inf``; ``membership`` is 1 for each member, over axis 1."""
    has_members = g.op("Greater", g.reduce("ReduceMax", membership, [1], True), g.like(0.0, weight))
    return g.op("Where", has_members, maxima, g.like(0.0, weight))
