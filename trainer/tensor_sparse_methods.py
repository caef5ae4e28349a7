"""The layout methods every ``Tensor`` has (``is_sparse``, ``layout``, ``to_dense``, ``to_sparse``,
``sparse_mask``); a dense tensor answers them here, ``trainer.sparse_tensor.SparseTensor`` overrides them."""

from __future__ import annotations

import trainer  # trainer.sparse_tensor is looked up at call time: it loads after this module
from trainer.layouts import strided


class SparseLayoutMethods:
    __slots__ = ()
    is_sparse = False
    layout = strided

    def to_dense(self, dtype=None, *, masked_grad=None):
        """A dense tensor is its own dense form."""
        return self if dtype is None else self.to(dtype)

    def to_sparse(self, sparse_dim=None, *, layout=None):
        return trainer.sparse_tensor.dense_to_sparse(self, sparse_dim, layout=layout)

    def to_sparse_coo(self):
        return trainer.sparse_tensor.dense_to_sparse(self)

    def sparse_mask(self, mask):
        return trainer.sparse_tensor.sparse_mask(self, mask)
