"""Indexing kernels: gathers, scatters, masks and unique values. Negative indices count from the end."""

from __future__ import annotations

import numpy as np

from serving.kernels.registry import kernel
from serving.kernels.tensor import host, ints, normalize_axis


def _wrap(xp, indices, dim: int, op: str):
    """Indices as int64 with negatives counted from the end; out-of-range ones are an error."""
    idx = indices.astype(np.int64, copy=False)
    idx = xp.where(idx < 0, idx + dim, idx)
    # checked on the host only: on a GPU the check would cost a device sync per gather
    if xp is np and idx.size and (idx.min() < 0 or idx.max() >= dim):
        raise ValueError(f"{op}: indices must lie in [-{dim}, {dim - 1}] for an axis of size {dim}")
    return idx


def _element_index(xp, indices, axis: int):
    """The full advanced index addressing, per element of ``indices``, position indices[...] along ``axis``."""
    rank = indices.ndim
    grids = [xp.arange(n, dtype=np.int64).reshape((1,) * i + (n,) + (1,) * (rank - i - 1))
             for i, n in enumerate(indices.shape)]
    grids[axis] = indices
    return tuple(grids)


# ---- gathers ------------------------------------------------------------------------------------------------


@kernel("Gather")
def Gather(ctx, data, indices, *, axis=0):
    axis = normalize_axis(axis, data.ndim, "Gather")
    if ctx.xp is np:
        return _gather_host(data, indices, axis)
    return ctx.xp.take(data, _wrap(ctx.xp, indices, data.shape[axis], "Gather"), axis=axis)


def _gather_host(data, indices, axis: int):
    """Gather on NumPy, whose indexing already wraps negative indices and checks bounds: a scalar index is a
    view (the Ellipsis keeps even a 0-d result an array), so picking q, k or v out of a packed projection or
    one entry of a shape vector copies nothing and costs a microsecond, not a take with its checks."""
    dim = data.shape[axis]
    try:
        if indices.ndim == 0:
            return data[(slice(None),) * axis + (int(indices), Ellipsis)]
        return np.take(data, indices, axis=axis)
    except IndexError:
        raise ValueError(f"Gather: indices must lie in [-{dim}, {dim - 1}] for an axis of size {dim}") from None


@kernel("GatherElements", since=11)
def GatherElements(ctx, data, indices, *, axis=0):
    axis = normalize_axis(axis, data.ndim, "GatherElements")
    if indices.ndim != data.ndim:
        raise ValueError(f"GatherElements: indices have rank {indices.ndim}, expected the data's rank {data.ndim}")
    return data[_element_index(ctx.xp, _wrap(ctx.xp, indices, data.shape[axis], "GatherElements"), axis)]


def _nd_index(xp, data, indices, batch_dims: int, op: str):
    """(data reshaped to (batch, ...), the advanced index tuple, the shape of the index prefix) for *ND ops."""
    k = indices.shape[-1]
    if batch_dims + k > data.ndim:
        raise ValueError(f"{op}: index tuples of length {k} after {batch_dims} batch dims exceed the data's rank "
                         f"{data.ndim}")
    batch = int(np.prod(data.shape[:batch_dims]))
    flat = data.reshape((batch,) + data.shape[batch_dims:])
    idx = indices.astype(np.int64).reshape(batch, -1, k)
    coords = [_wrap(xp, idx[..., j], flat.shape[1 + j], op) for j in range(k)]
    index = (xp.arange(batch, dtype=np.int64).reshape(batch, 1), *coords)
    return flat, index


@kernel("GatherND", since=11)
def GatherND(ctx, data, indices, *, batch_dims=0):
    flat, index = _nd_index(ctx.xp, data, indices, batch_dims, "GatherND")
    k = indices.shape[-1]
    return flat[index].reshape(indices.shape[:-1] + data.shape[batch_dims + k:])


# ---- scatters -----------------------------------------------------------------------------------------------


def _scatter(xp, out, index, updates, reduction: str, op: str):
    """Write ``updates`` into ``out`` (already a copy) at the advanced ``index``, combining by ``reduction``."""
    updates = updates.astype(out.dtype, copy=False)
    if reduction == "none":
        out[index] = updates
        return out
    combine = {"add": xp.add, "mul": xp.multiply, "max": xp.maximum, "min": xp.minimum}.get(reduction)
    if combine is None:
        raise ValueError(f"{op}: unknown reduction {reduction!r}, expected none, add, mul, max or min")
    try:
        combine.at(out, index, updates)  # unbuffered: repeated indices each take part
    except (AttributeError, NotImplementedError, TypeError):
        if xp is np:
            raise
        # CuPy has ufunc.at for only some ufuncs (add, maximum, minimum): do the rest on the host
        target = host(out)
        getattr(np, combine.__name__).at(target, tuple(host(i) for i in index), host(updates))
        return xp.asarray(target)
    return out


@kernel("ScatterElements", since=11)
def ScatterElements(ctx, data, indices, updates, *, axis=0, reduction="none"):
    axis = normalize_axis(axis, data.ndim, "ScatterElements")
    if indices.shape != updates.shape:
        raise ValueError(f"ScatterElements: indices {indices.shape} and updates {updates.shape} must have one shape")
    index = _element_index(ctx.xp, _wrap(ctx.xp, indices, data.shape[axis], "ScatterElements"), axis)
    return _scatter(ctx.xp, data.copy(), index, updates, reduction, "ScatterElements")


@kernel("Scatter", since=9)
def Scatter(ctx, data, indices, updates, *, axis=0):
    return ScatterElements(ctx, data, indices, updates, axis=axis)


@kernel("ScatterND", since=11)
def ScatterND(ctx, data, indices, updates, *, reduction="none"):
    flat, index = _nd_index(ctx.xp, data, indices, 0, "ScatterND")
    k = indices.shape[-1]
    expected = indices.shape[:-1] + data.shape[k:]
    if updates.shape != expected:
        raise ValueError(f"ScatterND: updates have shape {updates.shape}, expected {expected}")
    out = _scatter(ctx.xp, flat.copy(), index, updates.reshape((1, -1) + data.shape[k:]), reduction, "ScatterND")
    return out.reshape(data.shape)


@kernel("TensorScatter", since=24)
def TensorScatter(ctx, past_cache, update, write_indices=None, *, axis=-2, mode="linear"):
    xp = ctx.xp
    axis = normalize_axis(axis, past_cache.ndim, "TensorScatter")
    if axis == 0:
        raise ValueError("TensorScatter: axis must not be 0, the batch dimension")
    batch, capacity, steps = past_cache.shape[0], past_cache.shape[axis], update.shape[axis]
    if mode not in ("linear", "circular"):
        raise ValueError(f"TensorScatter: unknown mode {mode!r}, expected linear or circular")
    start = xp.zeros((batch, 1), dtype=np.int64) if write_indices is None else \
        write_indices.astype(np.int64).reshape(batch, 1)
    position = start + xp.arange(steps, dtype=np.int64).reshape(1, steps)  # (batch, steps) cache slots
    if mode == "circular":
        position %= capacity
    elif steps and bool((position >= capacity).any()):
        raise ValueError(f"TensorScatter: writing {steps} steps from {ints(start)} overruns the cache of "
                         f"{capacity} (use mode='circular' to wrap)")
    out = past_cache.copy()
    # with the sequence axis moved next to the batch axis, one (batch, step) index pair addresses a whole slab
    view = xp.moveaxis(out, axis, 1)
    view[xp.arange(batch).reshape(batch, 1), position] = xp.moveaxis(update, axis, 1)
    return out


# ---- masks --------------------------------------------------------------------------------------------------


@kernel("Compress", since=9)
def Compress(ctx, input, condition, *, axis=None):
    xp = ctx.xp
    if axis is None:
        input, axis = input.reshape(-1), 0
    axis = normalize_axis(axis, input.ndim, "Compress")
    keep = xp.nonzero(condition.reshape(-1).astype(bool))[0]
    if keep.size and int(keep[-1]) >= input.shape[axis]:
        raise ValueError(f"Compress: condition selects index {int(keep[-1])} past the axis size {input.shape[axis]}")
    return xp.take(input, keep, axis=axis)


@kernel("NonZero", since=9)
def NonZero(ctx, x):
    xp = ctx.xp
    if x.ndim == 0:
        return xp.zeros((0, int(bool(x))), dtype=np.int64)
    return xp.stack(xp.nonzero(x)).astype(np.int64).reshape(x.ndim, -1)


@kernel("Unique", since=11)
def Unique(ctx, x, *, axis=None, sorted=1):  # noqa: A002 - the ONNx attribute's name
    xp = ctx.xp
    if axis is not None:
        axis = normalize_axis(axis, x.ndim, "Unique")
    values, first, inverse, counts = xp.unique(x, return_index=True, return_inverse=True, return_counts=True,
                                               axis=axis)
    inverse = inverse.reshape(-1)
    if not sorted:
        # reorder by first occurrence; rank[i] is where sorted unique value i lands in that order
        order = xp.argsort(first, kind="stable")
        rank = xp.empty_like(order)
        rank[order] = xp.arange(order.size, dtype=order.dtype)
        first, counts, inverse = first[order], counts[order], rank[inverse]
        values = xp.take(x.reshape(-1) if axis is None else x, first, axis=0 if axis is None else axis)
    return values, first.astype(np.int64), inverse.astype(np.int64), counts.astype(np.int64)
