"""``embedding(..., sparse=True)`` and ``embedding_bag(..., sparse=True)``: the lookups of ``trainer.ops.embedding``
and ``trainer.ops.embedding_bag`` whose weight gradient is a sparse COO tensor, one row per looked-up index
(uncoalesced, the padding index left out), as PyTorch gives it."""

from __future__ import annotations

import numpy as np

from trainer.backend import xp_of
from trainer.ops.embedding import Embedding
from trainer.ops.embedding_bag import EmbeddingBag
from trainer.sparse_coo_array import SparseCOOArray


class SparseEmbedding(Embedding):
    backward_graph = None  # its gradient is sparse: a create_graph pass treats it as first-order only

    @staticmethod
    def backward(ctx, g):
        (indices,) = ctx.saved_tensors
        shape, padding_idx, scale_grad_by_freq = ctx.meta
        xp = xp_of(g)
        flat = indices.reshape(-1).astype(np.int64)
        rows = g.reshape(-1, shape[1])
        if scale_grad_by_freq:
            rows = rows / xp.bincount(flat, minlength=shape[0])[flat].reshape(-1, 1).astype(g.dtype)
        if padding_idx is not None:  # the padding row is a fixed vector: it gets no entry
            kept = flat != padding_idx
            flat, rows = flat[kept], rows[kept]
        return None, SparseCOOArray(flat.reshape(1, -1), rows, shape)


class SparseEmbeddingBag(EmbeddingBag):
    """Each index's row of the weight gradient is its bag's output gradient times the index's coefficient (its
    per-sample weight, over the bag's size for a mean); an index outside every bag keeps an entry of zeros."""

    backward_graph = None

    @staticmethod
    def forward(ctx, indices, weight, *optional, padding_idx, **attrs):
        ctx.padding_idx = padding_idx
        return EmbeddingBag.forward(ctx, indices, weight, *optional, padding_idx=padding_idx, **attrs)

    @staticmethod
    def backward(ctx, g):
        flat, bag, keep, coefficient, count, _, scale_grad_by_freq = ctx.meta
        if scale_grad_by_freq:
            raise RuntimeError("embedding_backward: scale_grad_by_freq not supported with sparse gradients")
        weight = ctx.saved_tensors[0]
        xp = xp_of(g)
        grads = [None] * len(ctx.needs_input_grad)
        picked = g[bag] if g.shape[0] else xp.zeros((flat.shape[0], weight.shape[1]), dtype=g.dtype)
        if ctx.needs_input_grad[1]:
            scale = coefficient if count is None else coefficient / count[bag]
            listed = flat != ctx.padding_idx if ctx.padding_idx is not None else xp.ones(flat.shape, dtype=bool)
            rows = (picked * scale[:, None].astype(g.dtype))[listed]
            grads[1] = SparseCOOArray(flat[listed].reshape(1, -1), rows, weight.shape)
        if len(ctx.saved_tensors) > 1 and ctx.needs_input_grad[-1]:
            per_sample = ctx.saved_tensors[1]
            grads[-1] = ((picked * weight[flat]).sum(axis=1) * keep).astype(per_sample.dtype).reshape(per_sample.shape)
        return tuple(grads)
