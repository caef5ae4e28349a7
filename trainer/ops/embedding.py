"""Embedding lookup: rows of a weight matrix gathered by integer indices; the gradient is a scatter-add."""

from __future__ import annotations

from trainer.autograd.higher_order import linear_backward
from trainer.autograd.op import Function
from trainer.backend import xp_of
from trainer.ops.indexing import _scatter_add


class Embedding(Function):
    @staticmethod
    def forward(ctx, indices, weight, padding_idx=None, scale_grad_by_freq=False):
        ctx.save_for_backward(indices)
        ctx.meta = weight.shape, padding_idx, scale_grad_by_freq
        return weight[indices]

    @staticmethod
    def backward(ctx, g):
        (indices,) = ctx.saved_tensors
        shape, padding_idx, scale_grad_by_freq = ctx.meta
        xp = xp_of(g)
        flat = indices.reshape(-1)
        rows = g.reshape(-1, shape[1])
        if scale_grad_by_freq:
            rows = rows / xp.bincount(flat, minlength=shape[0])[flat].reshape(-1, 1).astype(g.dtype)
        gw = xp.zeros(shape, dtype=g.dtype)
        _scatter_add(xp, gw, flat, rows)
        if padding_idx is not None:
            gw[padding_idx] = 0  # the padding row is a fixed vector: it never learns
        return None, gw

    @staticmethod
    def backward_graph(ctx, g):
        (indices,) = ctx.saved_tensors
        shape, padding_idx, scale_grad_by_freq = ctx.meta
        flat = indices.reshape(-1)

        def looked_up(v):  # the rows the backward scattered into, scaled and masked the same way
            if padding_idx is not None:
                v = v.copy()
                v[padding_idx] = 0
            rows = v[flat]
            if scale_grad_by_freq:
                rows = rows / xp_of(v).bincount(flat, minlength=shape[0])[flat].reshape(-1, 1).astype(v.dtype)
            return rows.reshape(*indices.shape, shape[1])

        return None, linear_backward(ctx, g, looked_up, position=1)


def _check_padding_idx(padding_idx, num_embeddings: int):
    """``padding_idx`` as a non-negative row, with PyTorch's check that it names a row."""
    if padding_idx is None:
        return None
    if not -num_embeddings <= padding_idx < num_embeddings:
        raise AssertionError("Padding_idx must be within num_embeddings")
    return padding_idx + num_embeddings if padding_idx < 0 else padding_idx


def _renorm_(weight, indices, max_norm: float, norm_type: float) -> None:
    """Rescale, in place and outside autograd, the looked-up rows whose ``norm_type``-norm exceeds ``max_norm``."""
    xp = xp_of(weight._data)
    rows = xp.unique(indices._data.reshape(-1))
    selected = weight._data[rows]
    norms = (xp.abs(selected) ** norm_type).sum(axis=1) ** (1.0 / norm_type)
    scale = xp.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0).astype(weight._data.dtype)
    weight._data[rows] = selected * scale.reshape(-1, 1)
    weight._version_counter.value += 1


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False):
    """``weight[input]``: one ``weight`` row per integer index; ``padding_idx``'s row gets no gradient."""
    if input.dtype.is_floating_point or input.dtype.name == "bool":
        raise RuntimeError(f"Expected tensor for argument #1 'indices' to have one of the following scalar types: "
                           f"Long, Int; but got {input.dtype.name} instead (cast it with .long())")
    if weight.ndim != 2:
        raise RuntimeError(f"'weight' must be 2-D, got a weight of shape {list(weight.shape)}")
    num = weight.shape[0]
    padding_idx = _check_padding_idx(padding_idx, num)
    if input.numel():
        low, high = int(input._data.min()), int(input._data.max())
        if low < 0 or high >= num:
            bad = low if low < 0 else high
            raise IndexError(f"index out of range in self: index {bad} is not in [0, {num}) for an embedding "
                             f"weight of shape {list(weight.shape)}")
    if max_norm is not None:
        _renorm_(weight, input, max_norm, norm_type)
    if sparse:  # the weight's gradient is a sparse COO tensor
        from trainer.ops.sparse_embedding import SparseEmbedding  # it subclasses Embedding, defined above

        return SparseEmbedding.apply(input, weight, padding_idx=padding_idx, scale_grad_by_freq=scale_grad_by_freq)
    return Embedding.apply(input, weight, padding_idx=padding_idx, scale_grad_by_freq=scale_grad_by_freq)
