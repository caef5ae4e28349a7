"""The layout methods every ``Tensor`` has (``is_sparse``, ``layout``, ``to_dense``, ``to_sparse``,
``sparse_mask``); a dense tensor answers them here, ``trainer.sparse_tensor.SparseTensor`` overrides them."""

from __future__ import annotations

import trainer  # trainer.sparse_tensor is looked up at call time: it loads after this module
from trainer.layouts import strided


class SparseLayoutMethods:
    __slots__ = ()
    is_sparse = False
    is_sparse_csr = False
    _own_products = False  # True for the layouts whose matmul is their own (sparse, nested): see ops.linalg.matmul
    layout = strided

    def to_dense(self, dtype=None, *, masked_grad=None):
        """A dense tensor is its own dense form."""
        return self if dtype is None else self.to(dtype)

    def to_sparse(self, sparse_dim=None, *, layout=None):
        return trainer.sparse_tensor.dense_to_sparse(self, sparse_dim, layout=layout)

    def to_sparse_coo(self):
        return trainer.sparse_tensor.dense_to_sparse(self)

    def to_sparse_csr(self, dense_dim=None):
        return trainer.compressed_sparse_tensor.to_compressed(self, trainer.sparse_csr, None, dense_dim)

    def to_sparse_csc(self, dense_dim=None):
        return trainer.compressed_sparse_tensor.to_compressed(self, trainer.sparse_csc, None, dense_dim)

    def to_sparse_bsr(self, blocksize, dense_dim=None):
        return trainer.compressed_sparse_tensor.to_compressed(self, trainer.sparse_bsr, blocksize, dense_dim)

    def to_sparse_bsc(self, blocksize, dense_dim=None):
        return trainer.compressed_sparse_tensor.to_compressed(self, trainer.sparse_bsc, blocksize, dense_dim)

    def sparse_mask(self, mask):
        return trainer.sparse_tensor.sparse_mask(self, mask)
