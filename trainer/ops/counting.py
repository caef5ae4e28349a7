"""Counting and bucketing: unique, bincount, searchsorted, bucketize and histc.

None of these is differentiable: they run without recording, so their outputs never require grad.
Integer results are int64, as PyTorch's.
"""

from __future__ import annotations

import numpy as np

from trainer.autograd import grad_mode
from trainer.autograd.op import Function
from trainer.backend import to_device, xp_of
from trainer.ops._operands import normalize_dim
from trainer.tensor import Tensor


def _apply(fn, *inputs, **attrs):
    with grad_mode.no_grad():
        return fn.apply(*inputs, **attrs)


def _as_tensor(value, like: Tensor) -> Tensor:
    """A Python number or sequence as a tensor on ``like``'s device (``searchsorted(seq, 3)``)."""
    if isinstance(value, Tensor):
        return value
    return Tensor._wrap(to_device(np.asarray(value), like.device))


class Unique(Function):
    @staticmethod
    def forward(ctx, a, *, return_inverse, return_counts, dim):
        xp = xp_of(a)
        if dim is None:
            values, inverse, counts = xp.unique(a.reshape(-1), return_inverse=True, return_counts=True)
            inverse = inverse.reshape(a.shape)
        else:
            values, inverse, counts = xp.unique(a, return_inverse=True, return_counts=True, axis=dim)
            inverse = inverse.reshape(-1)
        outputs = (values,)
        if return_inverse:
            outputs += (inverse.astype(xp.int64, copy=False),)
        if return_counts:
            outputs += (counts.astype(xp.int64, copy=False),)
        return outputs if len(outputs) > 1 else values


def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):  # noqa: A002 - PyTorch's names
    """The distinct elements (or slices along ``dim``), always sorted: ``sorted=False`` allows any order."""
    if dim is not None:
        dim = normalize_dim(dim, input.ndim)
    return _apply(Unique, input, return_inverse=return_inverse, return_counts=return_counts, dim=dim)


class BinCount(Function):
    @staticmethod
    def forward(ctx, a, *weights, minlength):
        xp = xp_of(a)
        length = max(minlength, int(a.max()) + 1 if a.size else 0)
        if not weights:
            return xp.bincount(a, minlength=length).astype(xp.int64, copy=False)
        (w,) = weights
        # PyTorch keeps float32 weights as float32 and sums every other dtype in float64
        out_dtype = w.dtype if w.dtype in (np.float32, np.float64) else np.float64
        return xp.bincount(a, weights=w, minlength=length).astype(out_dtype, copy=False)


def bincount(input, weights=None, minlength=0):  # noqa: A002 - PyTorch's name
    if input.dtype.is_floating_point or input.dtype.name == "bool":
        raise NotImplementedError(f'"bincount_cpu" not implemented for \'{input.dtype.name}\'')
    if input.ndim != 1 or (input.numel() and int(input._data.min()) < 0):
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if minlength < 0:
        raise RuntimeError("minlength should be >= 0")
    if weights is None:
        return _apply(BinCount, input, minlength=int(minlength))
    if weights.ndim != 1 or weights.shape[0] != input.shape[0]:
        raise RuntimeError("weights should be 1-d and have the same length as input")
    return _apply(BinCount, input, weights, minlength=int(minlength))


class SearchSorted(Function):
    @staticmethod
    def forward(ctx, boundaries, values, *sorter, side, out_dtype):
        xp = xp_of(values)
        if sorter:
            boundaries = xp.take_along_axis(boundaries, sorter[0], axis=-1)
        if boundaries.ndim == 1:
            return xp.searchsorted(boundaries, values, side=side).astype(out_dtype, copy=False)
        # one search per leading index: boundaries[i] holds the sorted row that values[i] is looked up in
        rows_b = boundaries.reshape(-1, boundaries.shape[-1])
        rows_v = values.reshape(-1, values.shape[-1])
        out = xp.stack([xp.searchsorted(b, v, side=side) for b, v in zip(rows_b, rows_v)])
        return out.reshape(values.shape).astype(out_dtype, copy=False)


def _side(right: bool, side: str | None) -> str:
    if side is None:
        return "right" if right else "left"
    if side not in ("left", "right"):
        raise RuntimeError(f"torch.searchsorted(): side can only be 'left' or 'right' but got {side}")
    if right and side == "left":
        raise RuntimeError("torch.searchsorted(): side and right can't be set to opposites, got side of left "
                           "while right was True")
    return side


def _check_boundaries(boundaries: Tensor, values: Tensor) -> None:
    if boundaries.ndim == 1:
        return
    if boundaries.ndim != values.ndim or boundaries.shape[:-1] != values.shape[:-1]:
        raise RuntimeError("torch.searchsorted(): boundaries tensor should be 1 dimension or the first N-1 "
                           "dimensions of boundaries tensor and input value tensor must match, but we got "
                           f"boundaries tensor {list(boundaries.shape)} and input value tensor {list(values.shape)}")


def searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None, sorter=None):  # noqa: A002
    """Indices at which ``input`` would be inserted into ``sorted_sequence`` (along its last dim) to keep it sorted."""
    values = _as_tensor(input, sorted_sequence)
    _check_boundaries(sorted_sequence, values)
    extra = () if sorter is None else (sorter,)
    return _apply(SearchSorted, sorted_sequence, values, *extra, side=_side(right, side),
                  out_dtype=np.int32 if out_int32 else np.int64)


def bucketize(input, boundaries, *, out_int32=False, right=False):  # noqa: A002 - PyTorch's name
    """The bucket of each element: ``boundaries[i-1] < x <= boundaries[i]`` (``<=``/``<`` swap with ``right``)."""
    if boundaries.ndim != 1:
        raise RuntimeError(f"boundaries tensor must be 1 dimension, but got dim({boundaries.ndim})")
    values = _as_tensor(input, boundaries)
    return _apply(SearchSorted, boundaries, values, side="right" if right else "left",
                  out_dtype=np.int32 if out_int32 else np.int64)


class Histc(Function):
    @staticmethod
    def forward(ctx, a, *, bins, low, high):
        xp = xp_of(a)
        counts, _ = xp.histogram(a.reshape(-1), bins=bins, range=(low, high))
        return counts.astype(a.dtype, copy=False)


def _histc_range(a: Tensor, low, high) -> tuple[float, float]:
    """PyTorch's range rule: min == max means the data's range, widened by one each way if that is empty too."""
    low, high = float(low), float(high)
    if low == high and a.numel():
        low, high = float(a._data.min()), float(a._data.max())
    if low == high:
        low, high = low - 1, high + 1
    return low, high


def histc(input, bins=100, min=0, max=0):  # noqa: A002 - PyTorch's names
    """A histogram of ``bins`` equal-width bins over [min, max]; elements outside are ignored."""
    if not input.dtype.is_floating_point:
        raise NotImplementedError(f'"histogram_cpu" not implemented for \'{input.dtype.name}\'')
    if bins <= 0:
        raise RuntimeError(f"torch.histc(): bins must be > 0, but got {bins}")
    if min > max:
        raise RuntimeError("torch.histc: max must be larger than min")
    low, high = _histc_range(input, min, max)
    return _apply(Histc, input, bins=int(bins), low=low, high=high)
