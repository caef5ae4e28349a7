"""``embedding(..., sparse=True)``: the lookup of ``trainer.ops.embedding`` whose weight gradient is a sparse COO
tensor, one row per looked-up index (uncoalesced, the padding index left out), as PyTorch gives it."""

from __future__ import annotations

import numpy as np

from trainer.backend import xp_of
from trainer.ops.embedding import Embedding
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
