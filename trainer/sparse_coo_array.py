"""``SparseCOOArray``: the storage of a sparse COO tensor, and the array routines the sparse ops share.

A sparse tensor's ``_data`` is one of these instead of a dense array: int64 ``indices`` of shape (sparse_dim, nnz),
``values`` of shape (nnz, *dense_shape), the full ``shape`` and whether the entries are known to be coalesced
(unique, in row-major order). It is deliberately not array-like: a dense op that reaches it (through a NumPy or
CuPy function, an operator or an array attribute) raises ``SparseLayoutError`` telling the user to call
``.to_dense()``, instead of computing on the wrong representation. Addition is the one exception: autograd sums
the gradients that reach a sparse tensor with ``+`` (sparse + sparse concatenates, sparse + dense is dense).

Routines are written once against ``xp`` (NumPy or CuPy), the module of the indices and values.
"""

from __future__ import annotations

import numpy as np

from trainer.backend import to_device, xp_of
from trainer.layouts import sparse_coo
from trainer.ops.indexing import _scatter_add
from trainer.sparse_storage import SparseLayoutError, SparseStorage
from trainer.sparse_storage import unsupported as storage_unsupported


def unsupported(what: str) -> SparseLayoutError:
    return storage_unsupported(what, sparse_coo)


class SparseCOOArray(SparseStorage):
    __slots__ = ("indices", "values", "shape", "coalesced")
    layout = sparse_coo

    def __init__(self, indices, values, shape, coalesced: bool = False):
        self.indices = indices
        self.values = values
        self.shape = tuple(int(s) for s in shape)
        self.coalesced = bool(coalesced)

    @property
    def sparse_dim(self) -> int:
        return int(self.indices.shape[0])

    @property
    def dense_dim(self) -> int:
        return self.values.ndim - 1

    @property
    def nnz(self) -> int:
        return int(self.indices.shape[1])

    def astype(self, dtype, copy: bool = True) -> SparseCOOArray:
        return SparseCOOArray(self.indices, self.values.astype(dtype, copy=copy), self.shape, self.coalesced)

    def copy(self) -> SparseCOOArray:
        return SparseCOOArray(self.indices.copy(), self.values.copy(), self.shape, self.coalesced)

    def moved(self, dtype, device) -> SparseCOOArray:
        """This storage with its values in ``dtype``, both arrays on ``device``."""
        return SparseCOOArray(to_device(self.indices, device), to_device(self.values, device).astype(dtype),
                              self.shape, self.coalesced)

    def with_values(self, values) -> SparseCOOArray:
        """The same sparsity pattern holding ``values``."""
        return SparseCOOArray(self.indices, values, self.shape, self.coalesced)

    # ------------------------------------------------------------- the routines
    def coalesce(self):
        """``(coalesced storage, inverse)``: duplicates summed, entries in row-major order; ``inverse[k]`` is the
        entry that entry ``k`` of this storage went to."""
        xp = self.array_module
        keys, inverse = xp.unique(linear_keys(self.indices, self.shape[:self.sparse_dim]), return_inverse=True)
        inverse = inverse.reshape(-1)
        values = xp.zeros((keys.shape[0], *self.values.shape[1:]), dtype=self.values.dtype)
        _scatter_add(xp, values, inverse, self.values)
        indices = unravel_keys(keys, self.shape[:self.sparse_dim])
        return SparseCOOArray(indices, values, self.shape, coalesced=True), inverse

    def coalesced_storage(self) -> SparseCOOArray:
        return self if self.coalesced else self.coalesce()[0]

    def to_dense(self):
        xp = self.array_module
        out = xp.zeros(self.shape, dtype=self.values.dtype)
        _scatter_add(xp, out, tuple(self.indices), self.values)
        return out

    def values_at(self, indices):
        """The values of this storage (summing duplicates) at the sparse coordinates ``indices``, zero where it
        has no entry: ``to_dense()[tuple(indices)]`` without densifying."""
        xp = self.array_module
        own = self.coalesced_storage()
        sizes = self.shape[:self.sparse_dim]
        wanted = linear_keys(indices, sizes)
        out = xp.zeros((wanted.shape[0], *own.values.shape[1:]), dtype=own.values.dtype)
        if own.nnz == 0 or wanted.shape[0] == 0:
            return out
        keys = linear_keys(own.indices, sizes)
        position = xp.minimum(xp.searchsorted(keys, wanted), keys.shape[0] - 1)
        found = keys[position] == wanted
        out[found] = own.values[position[found]]
        return out

    # ------------------------------------------------------------- sums of gradients
    def __add__(self, other):
        if isinstance(other, SparseCOOArray):
            if other.shape != self.shape:
                raise RuntimeError(f"cannot add sparse tensors of sizes {list(self.shape)} and {list(other.shape)}")
            xp = self.array_module
            total = SparseCOOArray(xp.concatenate([self.indices, other.indices], axis=1),
                                   xp.concatenate([self.values, other.values.astype(self.values.dtype)]), self.shape)
            return total.coalesce()[0] if self.coalesced and other.coalesced else total  # as PyTorch's add
        out = other.astype(np.result_type(other.dtype, self.values.dtype), copy=True)
        _scatter_add(self.array_module, out, tuple(self.indices), self.values)
        return out

    __radd__ = __add__

    def __repr__(self):
        return f"SparseCOOArray(shape={self.shape}, nnz={self.nnz}, dtype={self.dtype})"


def linear_keys(indices, sizes):
    """One int64 key per column of ``indices``: its row-major position in a grid of ``sizes``, so sorting keys
    sorts coordinates as PyTorch's ``coalesce`` does."""
    xp = xp_of(indices)
    keys = xp.zeros(indices.shape[1], dtype=np.int64)
    for row, size in zip(indices, sizes):
        keys = keys * size + row
    return keys


def unravel_keys(keys, sizes):
    """The (len(sizes), n) coordinates of row-major ``keys``."""
    xp = xp_of(keys)
    rows = []
    for size in reversed(sizes):
        rows.append(keys % size)
        keys = keys // size
    return xp.stack(rows[::-1]).astype(np.int64) if rows else xp.zeros((0, keys.shape[0]), dtype=np.int64)


def is_sparse_array(array) -> bool:
    return type(array) is SparseCOOArray
