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

from trainer.backend import xp_of
from trainer.ops.indexing import _scatter_add


class SparseLayoutError(NotImplementedError, AttributeError):
    """A dense-only operation met a sparse tensor. Also an ``AttributeError``, so ``hasattr``/``getattr`` with a
    default (which NumPy, ``copy`` and ``pickle`` use to probe for protocols) see a plain missing attribute."""


def unsupported(what: str) -> SparseLayoutError:
    return SparseLayoutError(f"{what} is not supported for sparse tensors (layout trainer.sparse_coo); call "
                             f".to_dense() first")


class SparseCOOArray:
    __slots__ = ("indices", "values", "shape", "coalesced")
    __array_priority__ = 1000  # NumPy and CuPy operators defer to ``__radd__`` (dense gradient + sparse one)

    def __init__(self, indices, values, shape, coalesced: bool = False):
        self.indices = indices
        self.values = values
        self.shape = tuple(int(s) for s in shape)
        self.coalesced = bool(coalesced)

    # ------------------------------------------------------------- what Tensor reads from any storage
    @property
    def dtype(self):
        return self.values.dtype

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:  # the dense element count, as ``numel()`` of a sparse tensor in PyTorch
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def itemsize(self) -> int:
        return self.values.itemsize

    @property
    def base(self):  # autograd copies gradients that view another array; a storage owns its arrays
        return None

    @property
    def array_module(self):
        return xp_of(self.values)

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

    # ------------------------------------------------------------- everything dense refuses
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if ufunc is np.add and method == "__call__" and len(inputs) == 2 and not kwargs:
            return inputs[0] + inputs[1] if inputs[0] is self else self + inputs[0]
        raise unsupported(f"'{ufunc.__name__}'")

    def __array_function__(self, func, types, args, kwargs):
        raise unsupported(f"'{func.__name__}'")

    def __array__(self, dtype=None, copy=None):
        raise unsupported("conversion to a dense array")

    def __getattr__(self, name):
        raise unsupported(f"'{name}'")

    def __getitem__(self, key):
        raise unsupported("indexing")

    def __setitem__(self, key, value):
        raise unsupported("writing into elements")

    def __repr__(self):
        return f"SparseCOOArray(shape={self.shape}, nnz={self.nnz}, dtype={self.dtype})"


def _refuse(name: str):
    def refused(self, *args):
        raise unsupported(f"'{name.strip('_')}'")

    refused.__name__ = name
    return refused


for _name in ("__sub__", "__rsub__", "__mul__", "__rmul__", "__truediv__", "__rtruediv__", "__floordiv__",
              "__pow__", "__mod__", "__matmul__", "__rmatmul__", "__neg__", "__abs__", "__lt__", "__le__", "__gt__",
              "__ge__", "__and__", "__or__", "__xor__", "__invert__", "__iadd__", "__isub__", "__imul__",
              "__itruediv__", "__iter__"):
    setattr(SparseCOOArray, _name, _refuse(_name))


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
