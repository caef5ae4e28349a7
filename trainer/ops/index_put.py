"""Writing at indices: index_put (integer and boolean index tensors, accumulate), put and take on the flattened
tensor, index_copy along a dim, and masked_scatter.

``index_put`` is one op, ``AdvancedIndexPut``, whose index tensors are inputs (not attributes), so an index
computed from a model's input is part of the traced graph rather than a constant; boolean masks become
integer indices through ``nonzero``. ``masked_scatter`` finds each selected element's source position with a
running count of the mask, which needs no data-dependent shape.
"""

from __future__ import annotations

from trainer.amp import cast_policy
from trainer.autograd.higher_order import linear_backward
from trainer.autograd.op import Function
from trainer.backend import xp_of
from trainer.ops._operands import broadcast_shapes, normalize_dim, unbroadcast
from trainer.ops.indexing import Index, _scatter_add, getitem, masked_fill, nonzero
from trainer.ops.shape import reshape, unbind
from trainer.tensor import Tensor


class AdvancedIndexPut(Function):
    """``out = a.clone(); out[key] = values`` (``+=`` with ``accumulate``, repeated indices adding up), where ``key``
    takes all of ``a``'s first ``axis`` dims and then the index tensors, one per dim; ``values`` broadcast to what
    the key selects."""

    @staticmethod
    def forward(ctx, a, values, *indices, axis, accumulate):
        key = (slice(None),) * axis + indices
        ctx.meta = key, values.shape, accumulate, len(indices)
        out = a.copy()
        if accumulate:
            _scatter_add(xp_of(a), out, key, values)
        else:
            out[key] = values
        return out

    @staticmethod
    def backward(ctx, g):
        key, values_shape, accumulate, n_indices = ctx.meta
        need_a, need_values = ctx.needs_input_grad[:2]
        ga = gv = None
        if need_a:
            ga = g
            if not accumulate:  # overwritten elements do not reach the output
                ga = g.copy()
                ga[key] = 0
        if need_values:
            gv = unbroadcast(g[key], values_shape)
        return (ga, gv) + (None,) * n_indices

    @staticmethod
    def backward_graph(ctx, g):
        key, values_shape, accumulate, n_indices = ctx.meta
        need_a, need_values = ctx.needs_input_grad[:2]
        ga = gv = None
        if need_a:
            ga = g
            if not accumulate:  # this op again, writing zeros where the forward overwrote
                axis = len(key) - n_indices
                ga = AdvancedIndexPut.apply(g, g.new_zeros(()), *(Tensor._wrap(i) for i in key[axis:]), axis=axis,
                                            accumulate=False)
        if need_values:
            gv = Index.apply(g, key=key).sum_to_size(values_shape)
        return (ga, gv) + (None,) * n_indices


class MaskedScatter(Function):
    """Where ``mask`` is set, the next element of ``source`` (in row-major order); elsewhere ``a``."""

    @staticmethod
    def forward(ctx, a, mask, source):
        xp = xp_of(a)
        shape = broadcast_shapes(a.shape, mask.shape)
        mask = xp.broadcast_to(mask, shape)
        flat_mask = mask.reshape(-1)
        count = int(flat_mask.sum())
        if count > source.size:
            raise RuntimeError(f"masked_scatter: number of elements of source ({source.size}) < number of ones in "
                               f"mask ({count})")
        ctx.meta = a.shape, mask, source.shape, count
        out = xp.broadcast_to(a, shape)
        if not count:
            return out.copy()
        # each selected element's position in source: how many selected elements precede it
        positions = xp.maximum(xp.cumsum(flat_mask) - 1, 0).reshape(shape)
        return xp.where(mask, source.reshape(-1)[positions], out)

    @staticmethod
    def backward(ctx, g):
        a_shape, mask, source_shape, count = ctx.meta
        xp = xp_of(g)
        need_a, _, need_source = ctx.needs_input_grad
        ga = unbroadcast(xp.where(mask, 0, g), a_shape) if need_a else None
        gs = None
        if need_source:
            gs = xp.zeros(source_shape, g.dtype).reshape(-1)
            gs[:count] = g[mask]
            gs = gs.reshape(source_shape)
        return ga, None, gs

    @staticmethod
    def backward_graph(ctx, g):
        a_shape, mask, _, _ = ctx.meta
        need_a, _, need_source = ctx.needs_input_grad
        ga = masked_fill(g, Tensor._wrap(mask), 0.0).sum_to_size(a_shape) if need_a else None
        gs = None
        if need_source:
            zeros = xp_of(g._data).zeros(mask.shape, g._data.dtype)
            gs = linear_backward(ctx, g, lambda v: MaskedScatter.forward(MaskedScatter.__new__(MaskedScatter), zeros,
                                                                         mask, v), position=2)
        return ga, None, gs


def _require_long(op, index):
    if index._data.dtype.kind not in "iu" or index._data.dtype.itemsize != 8:
        raise RuntimeError(f"{op}(): Expected a long tensor for index, but got {index.dtype.name}")


def _check_flat_range(index, numel):
    if not index.numel():
        return
    lo, hi = int(index._data.min()), int(index._data.max())
    if lo < -numel or hi >= numel:
        raise IndexError(f"out of range: tried to access index {hi if hi >= numel else lo} on a tensor of {numel} "
                         "elements.")


def _integer_indices(a, indices):
    """The index tensors with each boolean (or uint8) mask replaced by the integer indices of its set elements,
    one per dim it covers, checked against ``a``'s shape."""
    out = []
    for i, index in enumerate(indices):
        kind = index._data.dtype
        if kind.kind == "b" or kind.name == "uint8":
            if not index.ndim:
                raise IndexError(f"index_put(): a 0-dimensional mask at index {i} selects no dim of the tensor; "
                                 "index with a mask of at least one dimension")
            covered = tuple(a.shape[len(out):len(out) + index.ndim])
            if tuple(index.shape) != covered:
                raise IndexError(f"The shape of the mask {list(index.shape)} at index {i} does not match the shape "
                                 f"of the indexed tensor {list(a.shape)} at index {len(out)}")
            out.extend(unbind(nonzero(index if kind.kind == "b" else index.bool()), 1))
            continue
        if kind.kind not in "iu":
            raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
        out.append(index)
    return out


def _check_dim_range(index, size, dim, negative=True, op=""):
    """Indices must lie in [0, size), or in [-size, size) where negative ones count from the end."""
    if not index.numel():
        return
    lo, hi = int(index._data.min()), int(index._data.max())
    if lo < (-size if negative else 0) or hi >= size:
        raise IndexError(f"{op}index {hi if hi >= size else lo} is out of bounds for dimension {dim} with size "
                         f"{size}")


def _broadcasts_to(shape, target) -> bool:
    return all(s in (1, t) for s, t in zip(reversed(shape), reversed(target)))


def index_put(a, indices, values, accumulate=False):
    """``a`` with ``a[indices] = values`` (``+=`` with ``accumulate``, repeated indices adding up)."""
    if not isinstance(indices, (tuple, list)):
        raise TypeError(f"index_put(): argument 'indices' must be tuple of Tensors, not {type(indices).__name__}")
    if not indices:
        raise RuntimeError("index_put(): expected at least one index tensor")
    for i, index in enumerate(indices):
        if not isinstance(index, Tensor):
            raise TypeError(f"expected Tensor as element {i} in argument 'indices', but got {type(index).__name__}")
    if values._data.dtype != a._data.dtype:
        raise RuntimeError(f"Index put requires the source and destination dtypes match, got {a.dtype.name} for the "
                           f"destination and {values.dtype.name} for the source.")
    indices = _integer_indices(a, indices)
    if len(indices) > a.ndim:
        raise IndexError(f"too many indices for tensor of dimension {a.ndim} (got {len(indices)})")
    try:
        selected = broadcast_shapes(*(tuple(i.shape) for i in indices)) + tuple(a.shape[len(indices):])
    except RuntimeError:
        raise IndexError("shape mismatch: indexing tensors could not be broadcast together with shapes "
                         + ", ".join(str(list(i.shape)) for i in indices)) from None
    for dim, index in enumerate(indices):
        _check_dim_range(index, a.shape[dim], dim)
    if values.ndim > len(selected) or not _broadcasts_to(tuple(values.shape), selected):
        raise RuntimeError(f"shape mismatch: value tensor of shape {list(values.shape)} cannot be broadcast to "
                           f"indexing result of shape {list(selected)}")
    return AdvancedIndexPut.apply(a, values, *indices, axis=0, accumulate=bool(accumulate))


def take(a, index):
    """The elements of the flattened ``a`` at ``index``, in ``index``'s shape."""
    _require_long("take", index)
    _check_flat_range(index, a.numel())
    return getitem(reshape(a, -1), index)


def put(a, index, source, accumulate=False):
    """``a`` with the elements of its flattened form at ``index`` set to (or, with ``accumulate``, increased by)
    ``source``'s, taken in order."""
    _require_long("put_", index)
    if index.numel() != source.numel():
        raise IndexError("put_(): Expected source and index to have the same number of elements, but got "
                         f"source.numel() = {source.numel()}, index.numel() = {index.numel()}")
    if source._data.dtype != a._data.dtype:
        raise RuntimeError(f"put_(): self and source expected to have the same dtype, but got self.dtype = "
                           f"{a.dtype.name} and source.dtype = {source.dtype.name}")
    _check_flat_range(index, a.numel())
    flat = AdvancedIndexPut.apply(reshape(a, -1), reshape(source, -1), reshape(index, -1), axis=0,
                                  accumulate=bool(accumulate))
    return reshape(flat, *a.shape)


@cast_policy.promote
def index_copy(a, dim, index, source):
    """``a`` with the slices at ``index`` along ``dim`` replaced by ``source``'s slices, in order."""
    axis = normalize_dim(dim, a.ndim)
    _require_long("index_copy_", index)
    if index.ndim > 1:
        raise IndexError(f"index_copy_(): Index should have dimension 1 or 0 (got {index.ndim})")
    if source._data.dtype != a._data.dtype:
        raise RuntimeError(f"index_copy_(): self and source expected to have the same dtype, but got (self) "
                           f"{a.dtype.name} and (source) {source.dtype.name}")
    if a.ndim == 0 or source.ndim == 0:  # scalars on either side are treated as one-element vectors
        if a.ndim > 1 or source.ndim > 1:
            raise IndexError("index_copy_(): When source and destination are not scalars, their dimensionality "
                             f"must match. Source dimensionality ({source.ndim}), destination dimensionality "
                             f"({a.ndim})")
        return reshape(index_copy(reshape(a, -1), 0, index, reshape(source, -1)), *a.shape)
    if source.ndim != a.ndim:
        raise IndexError("index_copy_(): When source and destination are not scalars, their dimensionality must "
                         f"match. Source dimensionality ({source.ndim}), destination dimensionality ({a.ndim})")
    if index.numel() != source.shape[axis]:
        raise IndexError(f"index_copy_(): Number of indices ({index.numel()}) should be equal to source.size(dim) "
                         f"({source.shape[axis]})")
    for d, (n_self, n_source) in enumerate(zip(a.shape, source.shape)):
        if d != axis and n_self != n_source:
            raise RuntimeError(f"index_copy_(): Source/destination tensor must have same slice shapes. Destination "
                               f"slice shape: {n_self} at dimension {d} and source slice shape: {n_source} at "
                               f"dimension {d}.")
    _check_dim_range(index, a.shape[axis], axis, negative=False, op="index_copy_(): ")
    return AdvancedIndexPut.apply(a, source, reshape(index, -1), axis=axis, accumulate=False)


def masked_scatter(a, mask, source):
    """``a`` (broadcast with ``mask``) with the elements where ``mask`` is set taken from ``source`` in order."""
    if mask._data.dtype.kind != "b":
        raise RuntimeError(f"masked_scatter_ only supports boolean masks, but got mask with dtype {mask.dtype.name}")
    if source._data.dtype != a._data.dtype:
        raise RuntimeError(f"masked_scatter: expected self and source to have same dtypes but got {a.dtype.name} "
                           f"and {source.dtype.name}")
    return MaskedScatter.apply(a, mask, source)


def index_put_(a, indices, values, accumulate=False):
    """``torch.index_put_``: ``Tensor.index_put_`` as a function."""
    return a.index_put_(indices, values, accumulate)
