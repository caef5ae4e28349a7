"""Indexing: basic, advanced and boolean ``[]``, item assignment, gather, index_select, masked_fill."""

from __future__ import annotations

import numpy as np

from trainer.autograd import grad_mode
from trainer.autograd.op import Function
from trainer.backend import to_device, xp_of
from trainer.ops._operands import broadcast_shapes, normalize_dim, scalar_tensor, unbroadcast


def _scatter_add(xp, target, key, values) -> None:
    """``target[key] += values`` with repeated indices accumulating (NumPy's ``add.at``)."""
    if xp is np:
        np.add.at(target, key, values)
    else:
        import cupyx

        cupyx.scatter_add(target, key, values)


_BASIC_KEYS = (int, np.integer, slice, type(None), type(Ellipsis))


def _is_basic(key) -> bool:
    """Basic indexing (ints, slices, None, ...) gives a view and never repeats an element."""
    if isinstance(key, tuple):
        return all(isinstance(k, _BASIC_KEYS) for k in key)
    return isinstance(key, _BASIC_KEYS)


class Index(Function):
    @staticmethod
    def forward(ctx, a, key):
        ctx.meta = a.shape, a.dtype, key
        try:
            out = a[key]
        except IndexError as exc:
            raise IndexError(f"{exc} (indexing a tensor of shape {list(a.shape)})") from None
        if isinstance(out, np.generic):  # ints alone give NumPy's scalar copy; a trailing ``...`` a 0-d view
            out = a[(*key, Ellipsis) if isinstance(key, tuple) else (key, Ellipsis)]
        return out

    @staticmethod
    def backward(ctx, g):
        shape, dtype, key = ctx.meta
        xp = xp_of(g)
        out = xp.zeros(shape, g.dtype)
        if _is_basic(key):
            out[key] = g
        else:
            _scatter_add(xp, out, key, g)
        return out


class IndexPut(Function):
    """``a[key] = value`` recorded out of place, so that gradients reach both ``a`` and ``value``."""

    @staticmethod
    def forward(ctx, a, value, key):
        ctx.key = key
        ctx.value_shape = value.shape
        out = a.copy()
        out[key] = value
        return out

    @staticmethod
    def backward(ctx, g):
        need_a, need_value = ctx.needs_input_grad
        ga = gv = None
        if need_value:
            gv = unbroadcast(g[ctx.key], ctx.value_shape)
        if need_a:
            ga = g.copy()
            ga[ctx.key] = 0
        return ga, gv


class Gather(Function):
    @staticmethod
    def forward(ctx, a, index, axis):
        xp = xp_of(a)
        # torch.gather allows the index to be smaller than the input in the other dims
        window = tuple(slice(0, n) if d != axis else slice(None) for d, n in enumerate(index.shape))
        ctx.meta = a.shape, axis, index, window
        return xp.take_along_axis(a[window], index, axis=axis)

    @staticmethod
    def backward(ctx, g):
        shape, axis, index, window = ctx.meta
        xp = xp_of(g)
        out = xp.zeros(shape, g.dtype)
        grids = list(xp.indices(index.shape, sparse=True))
        grids[axis] = index
        _scatter_add(xp, out, tuple(grids), g)
        return out, None


class IndexSelect(Function):
    @staticmethod
    def forward(ctx, a, index, axis):
        ctx.meta = a.shape, axis, index
        return xp_of(a).take(a, index, axis=axis)

    @staticmethod
    def backward(ctx, g):
        shape, axis, index = ctx.meta
        xp = xp_of(g)
        out = xp.zeros(shape, g.dtype)
        _scatter_add(xp, out, (slice(None),) * axis + (index,), g)
        return out, None


class MaskedFill(Function):
    @staticmethod
    def forward(ctx, a, mask, value):
        ctx.mask = mask
        ctx.shape = a.shape
        return xp_of(a).where(mask, value, a).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        need_a, _, need_value = ctx.needs_input_grad
        ga = unbroadcast(g * ~ctx.mask, ctx.shape) if need_a else None
        gv = (g * ctx.mask).sum() if need_value else None
        return ga, None, gv


def _array_key(key, a):
    """Replace tensors inside an index by their arrays (on ``a``'s device), validating their types."""
    from trainer.tensor import Tensor

    def convert(k):
        if isinstance(k, Tensor):
            if k._data.dtype.kind not in "iub":
                raise IndexError(f"tensors used as indices must be long, int, byte or bool tensors, got {k.dtype.name}")
            return to_device(k._data, a.device)
        if isinstance(k, list):
            return xp_of(a._data).asarray(k)
        return k

    return tuple(convert(k) for k in key) if isinstance(key, tuple) else convert(key)


def getitem(a, key):
    key = _array_key(key, a)
    out = Index.apply(a, key=key)
    if _is_basic(key):  # a view: in-place changes through it are changes to ``a``
        out._version_counter = a._version_counter
    return out


def setitem(a, key, value) -> None:
    from trainer.tensor import Tensor

    key = _array_key(key, a)
    if not isinstance(value, Tensor):
        value = scalar_tensor(value, a, a.dtype) if np.isscalar(value) else Tensor._wrap(
            xp_of(a._data).asarray(value, dtype=a._data.dtype))
    if value._data.dtype != a._data.dtype:
        value = value.to(a.dtype)
    recording = grad_mode._state.enabled and (a._requires_grad or value._requires_grad)
    if recording:
        a._assign(IndexPut.apply(a, value, key=key))
    else:
        try:
            a._data[key] = value._data
        except (ValueError, IndexError) as exc:
            raise type(exc)(f"{exc} (assigning into a tensor of shape {list(a.shape)})") from None
        a._version_counter.value += 1


def _index_tensor(index, name):
    if index._data.dtype.kind not in "iu":
        raise RuntimeError(f"{name}(): Expected dtype int64 for index, got {index.dtype.name}")
    return index


def _check_index_range(op, index, size, axis) -> None:
    """Indices must lie in [0, size): unlike NumPy, PyTorch's gather and index_select do not wrap negatives."""
    if not index.numel():
        return
    lo, hi = int(index._data.min()), int(index._data.max())
    if lo < 0 or hi >= size:
        raise IndexError(f"{op}(): index {hi if hi >= size else lo} is out of bounds for dimension {axis} "
                         f"with size {size}")


def gather(a, dim, index):
    axis = normalize_dim(dim, a.ndim)
    _index_tensor(index, "gather")
    if index.ndim != a.ndim:
        raise RuntimeError(f"Index tensor must have the same number of dimensions as input tensor: index shape "
                           f"{list(index.shape)}, input shape {list(a.shape)}")
    for d, (n_index, n_input) in enumerate(zip(index.shape, a.shape)):
        if d != axis and n_index > n_input:
            raise RuntimeError(f"Size does not match at dimension {d} expected index {list(index.shape)} to be smaller "
                               f"than self {list(a.shape)} apart from dimension {axis}")
    _check_index_range("gather", index, a.shape[axis], axis)
    return Gather.apply(a, index, axis=axis)


def index_select(a, dim, index):
    axis = normalize_dim(dim, a.ndim)
    _index_tensor(index, "index_select")
    if index.ndim > 1:
        raise IndexError(f"index_select(): Index is supposed to be a vector, got shape {list(index.shape)}")
    _check_index_range("index_select", index, a.shape[axis], axis)
    return IndexSelect.apply(a, index, axis=axis)


def masked_fill(a, mask, value):
    from trainer.tensor import Tensor

    if mask._data.dtype.kind != "b":
        raise RuntimeError(f"masked_fill only supports boolean masks, but got mask with dtype {mask.dtype.name}")
    if mask._data.shape != a._data.shape and broadcast_shapes(a._data.shape, mask._data.shape) != a._data.shape:
        raise RuntimeError(f"masked_fill: the mask of shape {list(mask.shape)} must broadcast to the input's "
                           f"shape {list(a.shape)}")
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise RuntimeError(f"masked_fill only supports a 0-dimensional value tensor, but got tensor with "
                               f"{value.ndim} dimension(s).")
        value = value.to(a.dtype)
    else:
        value = scalar_tensor(value, a, a.dtype)
    return MaskedFill.apply(a, mask, value)
