"""``quantized::embedding_byte`` and ``quantized::embedding_bag_byte`` (sum): row lookups in a quint8 weight
quantized per row with float scale and zero point (``per_channel_affine_float_qparams``), float32 out, as fbgemm's
8-bit row-wise kernels compute them. Packing keeps each row's ``scale`` and ``bias = -(zero_point * scale)`` in
float32; a row contributes ``fma(scale, q, acc + bias)`` (scale and bias first multiplied by the per-sample weight),
rows of a bag added in order. This matched PyTorch's outputs exactly on the tests' inputs."""

from __future__ import annotations

import numpy as np

from trainer import quantized_types as qt
from trainer.backend import xp_of
from trainer.quantized_array import QuantizedArray
from trainer.tensor import Tensor

__all__ = ["embedding_bag_byte", "embedding_byte"]

_F32 = np.float32


def embedding_byte(weight, indices) -> Tensor:
    """``quantized::embedding_byte``: the dequantized rows ``indices`` picks, shaped ``indices.shape + (dim,)``."""
    w = _row_quantized(weight, "embedding_byte")
    rows = _indices(indices, w, "embedding_byte")
    scale, bias = _row_params(w)
    picked = w.int_repr[rows.reshape(-1)].astype(np.float64)
    out = (scale[rows.reshape(-1), None].astype(np.float64) * picked + bias[rows.reshape(-1), None]).astype(_F32)
    return Tensor._wrap(out.reshape(tuple(rows.shape) + (w.shape[1],)))


def embedding_bag_byte(weight, indices, offsets=None, per_sample_weights=None, include_last_offset: bool = False):
    """``quantized::embedding_bag_byte`` in sum mode: ``indices`` 1-D with ``offsets`` (bag starts, plus the end when
    ``include_last_offset``), or 2-D without (one bag per row; with ``include_last_offset`` the last row is then
    taken as the end, as PyTorch does); optional float ``per_sample_weights`` scale each row. Empty bags give
    zeros."""
    w = _row_quantized(weight, "embedding_bag_byte")
    rows = _indices(indices, w, "embedding_bag_byte")
    xp = xp_of(w.int_repr)
    if rows.ndim == 2:  # one bag per row: PyTorch makes the offsets and then reads them as given
        if offsets is not None:
            raise ValueError("offsets has to be None if indices is 2D (each row is one bag)")
        bounds = xp.arange(rows.shape[0], dtype=np.int64) * rows.shape[1]
        rows = rows.reshape(-1)
    elif rows.ndim == 1:
        if offsets is None:
            raise ValueError("offsets has to be a 1D Tensor but got None")
        bounds = offsets._data.astype(np.int64).reshape(-1)
    else:
        raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension {rows.ndim}")
    if include_last_offset:
        if bounds.size == 0:
            raise RuntimeError("include_last_offset: the number of offsets should be at least 1")
        starts, ends = bounds[:-1], bounds[1:]
    else:
        starts, ends = bounds, xp.concatenate([bounds[1:], xp.asarray([rows.size], dtype=np.int64)])
    if starts.size and (int(starts[0]) != 0 or bool((ends < starts).any()) or int(ends[-1]) > rows.size):
        raise RuntimeError("offsets must start at 0, be non-decreasing and stay within the number of indices")
    scale, bias = _row_params(w)
    item_scale, item_bias = scale[rows], bias[rows]
    if per_sample_weights is not None:
        sample = per_sample_weights._data.astype(_F32).reshape(-1)
        if sample.size != rows.size:
            raise RuntimeError(f"expected per_sample_weights to have {rows.size} elements (one per index), got "
                               f"{sample.size}")
        item_scale, item_bias = (item_scale * sample).astype(_F32), (item_bias * sample).astype(_F32)
    lengths = ends - starts
    out = xp.zeros((starts.size, w.shape[1]), dtype=_F32)
    for k in range(int(lengths.max()) if lengths.size else 0):  # the k-th row of every bag that has one, in order
        bags = xp.nonzero(lengths > k)[0]
        items = starts[bags] + k
        ints = w.int_repr[rows[items]].astype(np.float64)
        shifted = (out[bags] + item_bias[items, None]).astype(_F32)
        out[bags] = (item_scale[items, None].astype(np.float64) * ints + shifted).astype(_F32)
    return Tensor._wrap(out)


def _row_quantized(weight, op: str) -> QuantizedArray:
    data = weight._data if isinstance(weight, Tensor) else None
    if not isinstance(data, QuantizedArray) or data.qscheme is not qt.per_channel_affine_float_qparams \
            or data.axis != 0 or data.ndim != 2 or data.qdtype is not qt.quint8:
        raise RuntimeError(f"quantized::{op}: expected a 2-D quint8 weight quantized per row (axis 0) with "
                           "per_channel_affine_float_qparams, as nnq.Embedding/EmbeddingBag hold")
    return data


def _indices(indices, w: QuantizedArray, op: str):
    rows = indices._data if isinstance(indices, Tensor) else None
    if rows is None or np.dtype(rows.dtype).kind not in "iu":
        raise RuntimeError(f"quantized::{op}: expected integer (int32 or int64) indices, got "
                           f"{indices.dtype if isinstance(indices, Tensor) else type(indices).__name__}")
    rows = rows.astype(np.int64)
    if rows.size and (bool((rows < 0).any()) or bool((rows >= w.shape[0]).any())):
        raise IndexError(f"quantized::{op}: index out of range: indices must lie in [0, {w.shape[0]}) (the "
                         "number of embeddings)")
    return rows


def _row_params(w: QuantizedArray):
    """Each row's float32 scale and ``bias = -(zero_point * scale)``, as the packed weight stores them."""
    scale = w.scale.astype(_F32).reshape(-1)
    bias = ((w.zero_point.astype(_F32).reshape(-1) * scale).astype(_F32) * _F32(-1)).astype(_F32)
    return scale, bias
