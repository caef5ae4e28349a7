"""Indexing: ``x[key]`` as Slice/Gather/Unsqueeze, ``gather`` as GatherElements, ``index_select`` as Gather,
``masked_fill`` as Where, ``scatter``/``scatter_add``/``index_add``/``index_fill`` as ScatterElements,
``masked_select`` as Compress, ``nonzero`` as NonZero + Transpose.

Slice bounds are kept as Python wrote them (negative, omitted, read from a tensor), so the slice
means the same thing at every size of a dynamic axis.
"""

import numpy as np
from onnx import TensorProto

from exporter.errors import UnsupportedOpError
from exporter.lowerings import lowering

_INT64_MAX = np.iinfo(np.int64).max
_INT64_MIN = np.iinfo(np.int64).min


def _expanded(key, rank):
    """The key as a list with ``...`` replaced by full slices and full slices added for the trailing dims."""
    key = list(key) if isinstance(key, tuple) else [key]
    used = sum(1 for k in key if k is not None and k is not Ellipsis)
    out = []
    for k in key:
        out += [slice(None)] * (rank - used) if k is Ellipsis else [k]
    return out + [slice(None)] * (rank - sum(1 for k in out if k is not None))


def _is_array(k) -> bool:
    return hasattr(k, "dtype") and hasattr(k, "shape")


@lowering("Index")
def index(g, a, key):
    items = _expanded(key, g.rank(a))
    if sum(_is_array(k) for k in items) > 1 or any(_is_array(k) and k.dtype.kind == "b" for k in items):
        where = f" in module '{g.scope}'" if g.scope else ""
        raise UnsupportedOpError(f"trainer op Index{where}: boolean masks and several index tensors in one key "
                                 "have no ONNX lowering; index with one integer tensor (Gather) or with slices")
    starts, ends, axes, steps, gathers, unsqueezes = [], [], [], [], [], []
    axis = out_axis = 0
    for k in items:
        if k is None:
            unsqueezes.append(out_axis)
            out_axis += 1
            continue
        if isinstance(k, slice):
            if k != slice(None):
                step = 1 if k.step is None else k.step
                low, high = (_INT64_MAX, _INT64_MIN) if step < 0 else (0, _INT64_MAX)
                starts.append(low if k.start is None else k.start)
                ends.append(high if k.stop is None else k.stop)
                axes.append(axis)
                steps.append(step)
            out_axis += 1
        elif _is_array(k):
            gathers.append((axis, g.value_of_array(k)))
            out_axis += k.ndim
        else:
            gathers.append((axis, k))
        axis += 1
    out = a
    if axes:
        out = g.op("Slice", out, g.sizes(starts), g.sizes(ends), g.ints(axes), g.ints(steps))
    # from the last axis back, so that an int index (which drops its axis) leaves the earlier ones in place
    for axis, k in reversed(gathers):
        if isinstance(k, str):
            indices = k if g.dtype(k) == np.int64 else g.op("Cast", k, to=TensorProto.INT64)
        else:
            indices = g.scalar_size(k)
        out = g.op("Gather", out, indices, axis=axis)
    if unsqueezes:
        out = g.op("Unsqueeze", out, g.ints(unsqueezes))
    if out == a:
        out = g.op("Identity", a)
    return out


@lowering("Gather")
def gather(g, a, index, axis):
    return g.op("GatherElements", a, index, axis=axis)


@lowering("IndexSelect")
def index_select(g, a, index, axis):
    return g.op("Gather", a, index, axis=axis)


@lowering("MaskedFill")
def masked_fill(g, a, mask, value):
    return g.op("Where", mask, value, a)


@lowering("Scatter")
def scatter(g, a, index, src, axis):
    return g.op("ScatterElements", a, index, src, axis=axis)


@lowering("ScatterAdd")
def scatter_add(g, a, index, src, axis):
    g.require(16, "ScatterElements with reduction='add'")
    return g.op("ScatterElements", a, index, src, axis=axis, reduction="add")


def _index_along(g, index, axis, rank, shape):
    """A 1-D ``index`` laid along ``axis`` and expanded to ``shape`` (a run-time shape), as ScatterElements wants."""
    column = g.op("Reshape", index, g.ints([1] * axis + [-1] + [1] * (rank - axis - 1)))
    return g.op("Expand", column, shape)


@lowering("IndexAdd")
def index_add(g, a, index, source, axis, alpha):
    g.require(16, "ScatterElements with reduction='add'")
    if alpha != 1:
        source = g.op("Mul", source, g.like(alpha, source))
    indices = _index_along(g, index, axis, g.rank(a), g.op("Shape", source))
    return g.op("ScatterElements", a, indices, source, axis=axis, reduction="add")


@lowering("IndexFill")
def index_fill(g, a, index, value, axis):
    shape = g.op("Shape", g.op("Gather", a, index, axis=axis))  # ``a``'s shape with ``len(index)`` at ``axis``
    indices = _index_along(g, index, axis, g.rank(a), shape)
    return g.op("ScatterElements", a, indices, g.op("Expand", value, shape), axis=axis)


@lowering("MaskedSelect")
def masked_select(g, a, mask):
    values = g.op("Expand", a, g.op("Shape", mask))  # Expand broadcasts both ways: the common shape
    mask = g.op("Expand", mask, g.op("Shape", values))
    flat = g.ints([-1])
    return g.op("Compress", g.op("Reshape", values, flat), g.op("Reshape", mask, flat), axis=0)


@lowering("NonZero")
def nonzero(g, a):
    return g.op("Transpose", g.op("NonZero", a), perm=[1, 0])
