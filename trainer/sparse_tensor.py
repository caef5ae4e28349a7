"""``SparseTensor``: a ``Tensor`` whose storage is a ``SparseCOOArray`` (layout ``trainer.sparse_coo``), and
``sparse_coo_tensor``, the way to make one.

Every tensor wrapping a sparse storage is a ``SparseTensor`` (``Tensor._wrap`` picks the class by storage), so
autograd's gradients and ``detach()`` of sparse tensors are sparse tensors too. The class adds the sparse
methods and the operators PyTorch supports on sparse COO tensors; every other ``Tensor`` method reaches the
storage and raises ``SparseLayoutError`` ("... is not supported for sparse tensors; call .to_dense() first").
"""

from __future__ import annotations

import numpy as np

import trainer
from trainer import dtypes, tensor
from trainer._tensor_str import PRINT_OPTS, _body, _formatter, _summarized
from trainer.backend import as_device, device_of, to_device, xp_of
from trainer.layouts import sparse_coo
from trainer.ops import sparse_coo as ops
from trainer.ops._operands import normalize_dim
from trainer.sparse_coo_array import SparseCOOArray, unsupported
from trainer.tensor import Tensor, _parse_to, _resolve_device


class SparseStorageTensor(Tensor):
    """What a tensor over any sparse storage (COO or compressed: ``trainer.sparse_storage``) answers from it."""

    __slots__ = ()
    _own_products = True

    @property
    def device(self):
        return device_of(self._data.values)

    def _nnz(self) -> int:
        return self._data.nnz

    def sparse_dim(self) -> int:
        return self._data.sparse_dim

    def dense_dim(self) -> int:
        return self._data.dense_dim


class SparseTensor(SparseStorageTensor):
    __slots__ = ()
    is_sparse = True
    layout = sparse_coo

    # ------------------------------------------------------------- attributes
    def is_coalesced(self) -> bool:
        return self._data.coalesced

    def _indices(self) -> Tensor:
        return Tensor._wrap(self._data.indices)

    def _values(self) -> Tensor:
        """The stored values, outside autograd (as PyTorch's ``_values()``); ``values()`` is differentiable."""
        return Tensor._wrap(self._data.values)

    def indices(self) -> Tensor:
        self._require_coalesced("indices")
        return self._indices()

    def values(self) -> Tensor:
        self._require_coalesced("values")
        return ops.SparseValues.apply(self)

    def _require_coalesced(self, what: str) -> None:
        if not self._data.coalesced:
            raise RuntimeError(f"Cannot get {what} on an uncoalesced tensor, please call .coalesce() first")

    # ------------------------------------------------------------- conversions
    def coalesce(self) -> SparseTensor:
        return self if self._data.coalesced else ops.SparseCoalesce.apply(self)

    def to_dense(self, dtype=None, *, masked_grad=None) -> Tensor:
        dense = ops.SparseToDense.apply(self)
        return dense if dtype is None else dense.to(dtype)

    def to_sparse(self, sparse_dim=None, *, layout=None) -> SparseTensor:
        if layout not in (None, sparse_coo):
            raise RuntimeError(f"to_sparse: only the layout trainer.sparse_coo is supported, got {layout}")
        if sparse_dim not in (None, self._data.sparse_dim):
            raise RuntimeError(f"to_sparse: conversion from Sparse to Sparse with sparse_dim argument != "
                               f"self.sparse_dim() is not supported (got {sparse_dim}, have "
                               f"{self._data.sparse_dim})")
        return self

    to_sparse_coo = to_sparse

    def to(self, *args, **kwargs) -> SparseTensor:
        """Another dtype and/or device: the values are converted, the pattern kept."""
        target_device, target_dtype = _parse_to(args, kwargs)
        dtype = self.dtype if target_dtype is None else target_dtype
        dev = self.device if target_device is None else _resolve_device(target_device)
        if dtype is self.dtype and dev == self.device and not kwargs.get("copy"):
            return self
        return ops.SparseConvert.apply(self, dtype=dtype.np, device=dev)

    def clone(self, *, memory_format=None) -> SparseTensor:
        return ops.SparseScale.apply(self, factor=1, dtype=self._data.dtype)

    def zero_(self) -> SparseTensor:
        """PyTorch's sparse ``zero_``: every entry is dropped, leaving an empty (coalesced) tensor of the same size;
        ``zero_grad(set_to_none=False)`` zeroes sparse gradients this way."""
        self._check_inplace()
        storage = self._data
        self._data = SparseCOOArray(storage.indices[:, :0], storage.values[:0], storage.shape, coalesced=True)
        self._version_counter.value += 1
        return self

    def numpy(self, *, force: bool = False):
        raise unsupported("numpy()")

    # ------------------------------------------------------------- arithmetic and products
    def __mul__(self, other):
        return _scaled(self, other, "mul")

    __rmul__ = __mul__
    mul = __mul__

    def __truediv__(self, other):
        if isinstance(other, Tensor):
            raise unsupported("division by a tensor")
        return _scaled(self, 1 / other, "div", min_float=True)

    div = __truediv__

    def __neg__(self):
        return _scaled(self, -1, "neg")

    neg = __neg__

    def add(self, other, *, alpha=1):
        if not isinstance(other, Tensor) or not other.is_sparse:
            raise RuntimeError("add(sparse, dense) is not supported. Use add(dense, sparse) instead.")
        if other.shape != self.shape:
            raise RuntimeError(f"add: expected 'self' and 'other' to have same size, but self has size "
                               f"{list(self.shape)} while other has size {list(other.shape)}. Please note that "
                               f"this operation does not broadcast.")
        if other.sparse_dim() != self.sparse_dim():
            raise RuntimeError(f"add: expected 'self' and 'other' to have the same sparse dimensions, got "
                               f"{self.sparse_dim()} and {other.sparse_dim()}")
        target = dtypes.promote_types(self.dtype, other.dtype)
        return ops.SparseAdd.apply(self.to(target), other.to(target), alpha=alpha)

    __add__ = add

    def sub(self, other, *, alpha=1):
        return self.add(other, alpha=-alpha)

    __sub__ = sub

    def __matmul__(self, other):
        return self.matmul(other)

    def matmul(self, other):
        if isinstance(other, Tensor) and other.is_sparse:  # gradients unmasked, as PyTorch's mm gives them
            return trainer.sparse._products.sparse_sparse_mm(self, other, masked=False)
        if isinstance(other, Tensor) and other.ndim == 1:  # a matrix-vector product
            return trainer.sparse.mm(self, other.reshape(-1, 1)).reshape(-1)
        return trainer.sparse.mm(self, other)

    mm = matmul
    spmm = matmul

    def sum(self, dim=None, keepdim=False, dtype=None):
        if keepdim:
            raise unsupported("sum with keepdim=True")
        return trainer.sparse.sum(self, dim, dtype=dtype)

    def t(self) -> SparseTensor:
        if self.ndim > 2:
            raise RuntimeError(f"t() expects a tensor with <= 2 sparse and 0 dense dimensions, but self is "
                               f"{self._data.sparse_dim} sparse and {self._data.dense_dim} dense dimensions")
        return self.transpose(0, 1) if self.ndim == 2 else self

    def transpose(self, dim0, dim1) -> SparseTensor:
        d0, d1 = normalize_dim(dim0, self.ndim), normalize_dim(dim1, self.ndim)
        if max(d0, d1) >= self._data.sparse_dim:
            raise unsupported("transposing a dense dimension")
        return self if d0 == d1 else ops.SparseTranspose.apply(self, dim0=d0, dim1=d1)

    # ------------------------------------------------------------- printing
    def __repr__(self):
        indices = _inner_repr(self._data.indices, len("tensor(indices=tensor("))
        values = _inner_repr(self._data.values, len("       values=tensor("))
        parts = [f"size={self._data.shape}", f"nnz={self._data.nnz}"]
        if self.dtype is not dtypes.get_default_dtype():
            parts.append(f"dtype={self.dtype!r}")
        parts.append(f"layout={sparse_coo}")
        if self.device.type != "cpu":
            parts.append(f"device='{self.device}'")
        if self._grad_fn is not None:
            parts.append(f"grad_fn=<{self._grad_fn.name()}>")
        elif self._requires_grad:
            parts.append("requires_grad=True")
        return f"tensor(indices={indices},\n       values={values},\n       {', '.join(parts)})"


tensor._TENSOR_TYPE_OF[SparseCOOArray] = SparseTensor


def _inner_repr(array, indent: int) -> str:
    array = array if xp_of(array) is np else array.get()
    if array.size == 0:
        return f"tensor([], size={tuple(array.shape)})"
    summarize = array.size > PRINT_OPTS.threshold
    return f"tensor({_body(array, indent, summarize, _formatter(_summarized(array) if summarize else array))})"


def _scaled(s: SparseTensor, factor, op: str, min_float: bool = False):
    if isinstance(factor, Tensor):
        if op == "mul" and (factor.ndim or factor.is_sparse):  # elementwise, with a sparse or dense tensor
            return trainer.sparse._products.mul(s, factor)
        if factor.ndim or factor.is_sparse:
            raise unsupported(f"{op} of a sparse tensor by a tensor")
        factor = factor.item()
    if not isinstance(factor, (bool, int, float, complex, np.number)):
        raise TypeError(f"{op}: expected a number, got {type(factor).__name__}")
    dtype = dtypes.result_type([(s.dtype, s.ndim)], [dtypes.scalar_dtype(factor)])
    if min_float and not (dtype.is_floating_point or dtype.is_complex):
        dtype = dtypes.get_default_dtype()
    return ops.SparseScale.apply(s, factor=factor, dtype=dtype.np)


# ----------------------------------------------------------------- construction
def sparse_coo_tensor(indices, values, size=None, *, dtype=None, device=None, requires_grad=False,
                      check_invariants=None, is_coalesced=None) -> SparseTensor:
    """``torch.sparse_coo_tensor``: a sparse tensor with ``values[k]`` at ``indices[:, k]`` (duplicates add up).
    ``size`` defaults to the smallest that holds every index; ``values`` may have dense trailing dimensions."""
    indices = indices if isinstance(indices, Tensor) else trainer.tensor(indices)
    values = values if isinstance(values, Tensor) else trainer.tensor(values)
    if indices.dtype is not dtypes.int64:  # PyTorch converts indices of any type
        indices = indices.to(dtypes.int64)
    if indices.ndim != 2:
        raise RuntimeError(f"indices must be sparse_dim x nnz, but got: {list(indices.shape)}")
    sparse_dim, nnz = indices.shape
    if values.ndim == 0 or values.shape[0] != nnz:
        raise RuntimeError(f"indices and values must have same nnz, but got nnz from indices: {nnz}, nnz from "
                           f"values: {values.shape[0] if values.ndim else 0}")
    if dtype is not None:
        values = values.to(dtypes.as_dtype(dtype))
    if device is not None:
        dev = as_device(device)
        indices, values = indices.to(dev), values.to(dev)
    if values.device != indices.device:
        indices = indices.to(values.device)
    index_array = indices._data
    bounds = index_array.max(axis=1) + 1 if nnz else np.zeros(sparse_dim, dtype=np.int64)
    if nnz and int(index_array.min()) < 0:
        dim = int(np.argmax(to_device(index_array.min(axis=1), as_device("cpu")) < 0))
        raise RuntimeError(f"found negative index {int(index_array[dim].min())} for dim {dim}")
    if size is None:
        size = [int(b) for b in bounds] + list(values.shape[1:])
    size = tuple(int(s) for s in (size[0] if len(size) == 1 and isinstance(size[0], (tuple, list)) else size))
    dense_dim = values.ndim - 1
    if len(size) != sparse_dim + dense_dim:
        raise RuntimeError(f"'len(size) == sparse_dim + dense_dim' is not satisfied: len(size) = {len(size)}, "
                           f"sparse_dim = {sparse_dim}, dense_dim = {dense_dim}")
    for d in range(sparse_dim):
        if nnz and int(bounds[d]) > size[d]:
            raise RuntimeError(f"size is inconsistent with indices: for dim {d}, size is {size[d]} but found "
                               f"index {int(bounds[d]) - 1}")
    if tuple(values.shape[1:]) != size[sparse_dim:]:
        raise RuntimeError(f"values has incorrect size, expected {list((nnz, *size[sparse_dim:]))}, got "
                           f"{list(values.shape)}")
    out = ops.SparseCOOTensor.apply(indices, values, shape=size, coalesced=bool(is_coalesced) or nnz <= 1)
    if requires_grad:
        out.requires_grad_(True)
    return out


def dense_to_sparse(t: Tensor, sparse_dim=None, *, layout=None) -> SparseTensor:
    """``t.to_sparse(sparse_dim)``: the entries (or, with dense dimensions, the slices) of ``t`` that are not all
    zero, coalesced; differentiable with respect to ``t``."""
    if layout not in (None, sparse_coo):
        raise RuntimeError(f"to_sparse: only the layout trainer.sparse_coo is supported, got {layout}")
    sparse_dim = t.ndim if sparse_dim is None else sparse_dim
    if not 0 < sparse_dim <= t.ndim:
        raise RuntimeError(f"sparse_dim must be in [1, {t.ndim}] for a tensor of {t.ndim} dimensions, got "
                           f"{sparse_dim}")
    xp = xp_of(t._data)
    occupied = t._data != 0
    if sparse_dim < t.ndim:
        occupied = occupied.any(axis=tuple(range(sparse_dim, t.ndim)))
    index_array = xp.stack(xp.nonzero(occupied)).astype(np.int64).reshape(sparse_dim, -1)
    values = t[tuple(Tensor._wrap(row) for row in index_array)]
    return ops.SparseCOOTensor.apply(Tensor._wrap(index_array), values, shape=tuple(t.shape), coalesced=True)


def sparse_mask(t: Tensor, mask) -> SparseTensor:
    """``t.sparse_mask(mask)``: ``t``'s values at each entry of the sparse ``mask`` (its pattern, duplicates too)."""
    if not (isinstance(mask, Tensor) and mask.is_sparse):
        raise RuntimeError("sparse_mask expects mask to be a sparse COO tensor")
    if tuple(mask.shape) != tuple(t.shape):
        raise RuntimeError(f"sparse_mask(): operands have incompatible sizes; self has size {list(t.shape)} but "
                           f"mask has size {list(mask.shape)}")
    pattern = mask._data
    values = t[tuple(Tensor._wrap(row) for row in pattern.indices)]
    return ops.SparseCOOTensor.apply(Tensor._wrap(pattern.indices), values, shape=tuple(t.shape),
                                     coalesced=pattern.coalesced)


def requires_sparse(t, op: str) -> SparseTensor:
    if not (isinstance(t, Tensor) and t.is_sparse):
        raise RuntimeError(f"{op}: expected a sparse COO tensor (layout trainer.sparse_coo), got "
                           f"{'a dense tensor' if isinstance(t, Tensor) else type(t).__name__}")
    return t
