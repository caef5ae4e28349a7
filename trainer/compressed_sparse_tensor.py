"""``SparseCompressedTensor``: a ``Tensor`` whose storage is a ``SparseCompressedArray`` (layouts
``trainer.sparse_csr``, ``sparse_csc``, ``sparse_bsr``, ``sparse_bsc``), the constructors (``sparse_csr_tensor``
& co.) and the conversions of dense, COO and compressed tensors into compressed layouts.

Every tensor wrapping a compressed storage is a ``SparseCompressedTensor`` (``Tensor._wrap`` picks the class by
storage), so gradients and ``detach()`` of compressed tensors are compressed tensors too. As in PyTorch,
``is_sparse`` is False for them (it means COO) and ``is_sparse_csr`` is True for CSR only. Methods PyTorch lacks for
these layouts reach the storage and raise ``SparseLayoutError`` ("... is not supported for sparse tensors ...").
"""

from __future__ import annotations

import numpy as np

import trainer
from trainer import dtypes
from trainer._tensor_str import PRINT_OPTS, _add_suffixes, _body, _formatter, _summarized
from trainer.backend import as_device, xp_of
from trainer.layouts import sparse_bsc, sparse_bsr, sparse_coo, sparse_csc, sparse_csr, strided
from trainer.ops import sparse_compressed as ops
from trainer.ops import sparse_coo as coo_ops
from trainer.ops._operands import normalize_dim
from trainer.sparse._products import _type_name
from trainer.sparse.invariants import check_sparse_tensor_invariants
from trainer.sparse_compressed_array import (
    BLOCK_LAYOUTS,
    COMPRESSED_LAYOUTS,
    INDEX_NAMES,
    LAYOUT_NAMES,
    ROW_LAYOUTS,
    SparseCompressedArray,
    invariant_violation,
)
from trainer.sparse_storage import unsupported
from trainer.sparse_tensor import SparseStorageTensor
from trainer.tensor import _TENSOR_TYPE_OF, Tensor, _parse_to, _resolve_device


class SparseCompressedTensor(SparseStorageTensor):
    __slots__ = ()
    is_sparse = False
    _is_sparse_compressed = True  # what the dense products look for to hand a product over to this class

    # ------------------------------------------------------------- attributes
    @property
    def layout(self):
        return self._data.layout

    @property
    def is_sparse_csr(self) -> bool:
        return self._data.layout is sparse_csr

    def crow_indices(self) -> Tensor:
        return self._index_array("crow_indices", ROW_LAYOUTS, "row", 0)

    def col_indices(self) -> Tensor:
        return self._index_array("col_indices", ROW_LAYOUTS, "row", 1)

    def ccol_indices(self) -> Tensor:
        return self._index_array("ccol_indices", (sparse_csc, sparse_bsc), "column", 0)

    def row_indices(self) -> Tensor:
        return self._index_array("row_indices", (sparse_csc, sparse_bsc), "column", 1)

    def _index_array(self, name, layouts, orientation, which) -> Tensor:
        if self._data.layout not in layouts:
            raise RuntimeError(f"{name} expected sparse {orientation} compressed tensor layout but got "
                               f"{LAYOUT_NAMES[self._data.layout]}")
        return Tensor._wrap(self._data.plain_indices if which else self._data.compressed_indices)

    def values(self) -> Tensor:
        return ops.CompressedValues.apply(self)

    # ------------------------------------------------------------- conversions
    def to_dense(self, dtype=None, *, masked_grad=None) -> Tensor:
        if dtype is not None:
            raise RuntimeError("dtype argument is not supported by sparse_csr_to_dense")
        return ops.CompressedToDense.apply(self)

    def to_sparse(self, sparse_dim=None, *, layout=None, blocksize=None, dense_dim=None) -> Tensor:
        if layout in (None, sparse_coo):
            if sparse_dim not in (None, 2):
                raise RuntimeError(f"sparse_compressed_to_sparse: expected sparse_dim to be 2, got {sparse_dim}")
            return ops.LayoutConversion.apply(self, layout=sparse_coo, blocksize=(1, 1))
        return to_compressed(self, layout, blocksize, dense_dim)

    def to_sparse_coo(self) -> Tensor:
        return self.to_sparse()

    def to(self, *args, **kwargs) -> SparseCompressedTensor:
        """Another dtype and/or device: the values are converted, the pattern kept."""
        target_device, target_dtype = _parse_to(args, kwargs)
        dtype = self.dtype if target_dtype is None else target_dtype
        dev = self.device if target_device is None else _resolve_device(target_device)
        if dtype is self.dtype and dev == self.device and not kwargs.get("copy"):
            return self
        return coo_ops.SparseConvert.apply(self, dtype=dtype.np, device=dev)

    def clone(self, *, memory_format=None) -> SparseCompressedTensor:
        return coo_ops.SparseScale.apply(self, factor=1, dtype=self._data.dtype)

    def numpy(self, *, force: bool = False):
        raise TypeError(f"can't convert {LAYOUT_NAMES[self.layout]} layout tensor to numpy. Use Tensor.to_dense() "
                        f"first.")

    # ------------------------------------------------------------- arithmetic
    def __mul__(self, other):
        if isinstance(other, Tensor):
            if other.ndim or other.layout is not strided:
                raise unsupported("multiplying by a tensor", self.layout)
            other = other.item()
        if not isinstance(other, (bool, int, float, complex, np.number)):
            raise TypeError(f"mul: expected a number, got {type(other).__name__}")
        dtype = dtypes.result_type([(self.dtype, self.ndim)], [dtypes.scalar_dtype(other)])
        return coo_ops.SparseScale.apply(self, factor=other, dtype=dtype.np)

    __rmul__ = __mul__
    mul = __mul__

    def __neg__(self):
        return self * -1

    neg = __neg__

    def add(self, other, *, alpha=1):
        """``self + alpha * other``: compressed for a compressed ``other`` of the same layout (the union of the
        entries), dense for a dense one."""
        if not isinstance(other, Tensor):
            raise TypeError(f"add: expected a tensor, got {type(other).__name__}")
        if other.layout is strided:
            return self.to_dense().add(other, alpha=alpha)
        if other.layout is not self.layout:
            raise RuntimeError(f"add: expected both operands in layout {self.layout}, got {other.layout}")
        if other.shape != self.shape:
            raise RuntimeError(f"add: expected 'self' and 'other' to have same size, but self has size "
                               f"{list(self.shape)} while other has size {list(other.shape)}. Please note that "
                               f"this operation does not broadcast.")
        if self.layout in BLOCK_LAYOUTS and other._data.blocksize != self._data.blocksize:
            raise RuntimeError(f"add: expected the same blocksize, got {self._data.blocksize} and "
                               f"{other._data.blocksize}")
        target = dtypes.promote_types(self.dtype, other.dtype)
        return coo_ops.SparseAdd.apply(self.to(target), other.to(target), alpha=alpha)

    __add__ = add
    __radd__ = add

    # ------------------------------------------------------------- products, reductions, transposes
    def __matmul__(self, other):
        return matmul(self, other)

    def __rmatmul__(self, other):
        return matmul(other, self)

    def matmul(self, other):
        return matmul(self, other)

    mm = matmul

    def _sparse_mm(self, other, reduce=None):
        """``trainer.sparse.mm(self, other)``."""
        if reduce is not None:
            raise unsupported(f"sparse.mm with reduce={reduce!r}", self.layout)
        return matmul(self, other)

    def sum(self, dim=None, keepdim=False, dtype=None):
        """The sum of every element (a dense 0-d tensor), or, for CSR, over one dimension with ``keepdim=True``
        (a CSR matrix holding the sums of the rows or columns that have entries)."""
        s = self if dtype is None else self.to(dtype)
        if dim is None:
            return ops.CompressedSum.apply(s)
        if not keepdim:
            raise RuntimeError("reduction operations on CSR tensors with keepdim=False is unsupported")
        if self.layout is not sparse_csr:
            raise RuntimeError(f"Currently the only compressed sparse format supported for sum.dim_IntList is CSR, "
                               f"but got layout {LAYOUT_NAMES[self.layout]}")
        if not isinstance(dim, (int, np.integer)) or self.dense_dim():
            raise unsupported("sum over several dimensions or of a tensor with dense dimensions", self.layout)
        dim = normalize_dim(dim, 2)
        summed = trainer.sparse.sum(s.to_sparse(), dim)  # a coalesced 1-D COO tensor over the kept dimension
        kept = summed._data.indices[0]
        xp = xp_of(kept)
        indices = xp.stack([xp.zeros_like(kept), kept] if dim == 0 else [kept, xp.zeros_like(kept)])
        shape = (1, self.shape[1]) if dim == 0 else (self.shape[0], 1)
        matrix = coo_ops.SparseCOOTensor.apply(Tensor._wrap(indices), summed.values(), shape=shape, coalesced=True)
        return ops.LayoutConversion.apply(matrix, layout=sparse_csr, blocksize=(1, 1))

    def t(self) -> SparseCompressedTensor:
        if self.ndim != 2:
            raise RuntimeError(f"t() expects a tensor with <= 2 sparse and 0 dense dimensions, but self is 2 sparse "
                               f"and {self.dense_dim()} dense dimensions")
        return ops.CompressedTranspose.apply(self)

    def transpose(self, dim0, dim1) -> SparseCompressedTensor:
        d0, d1 = normalize_dim(dim0, self.ndim), normalize_dim(dim1, self.ndim)
        if d0 == d1:
            return self
        if max(d0, d1) >= 2:
            raise unsupported("transposing a dense dimension", self.layout)
        return ops.CompressedTranspose.apply(self)

    # ------------------------------------------------------------- printing
    def __repr__(self):
        """PyTorch's layout: the two index arrays and the values on their own lines, then the suffixes."""
        storage = self._data
        indent = len("tensor(")
        compressed_name, plain_name = INDEX_NAMES[storage.layout]
        suffixes = [] if self.device.type == "cpu" else [f"device='{self.device}'"]
        suffixes += [f"size={storage.shape}", f"nnz={storage.nnz}"]
        default = dtypes.get_default_dtype()
        if self.dtype not in (default, default.to_complex(), dtypes.int64, dtypes.bool):
            suffixes.append(f"dtype={self.dtype!r}")
        suffixes.append(f"layout={storage.layout}")
        if self._grad_fn is not None:
            suffixes.append(f"grad_fn=<{self._grad_fn.name()}>")
        elif self._requires_grad:
            suffixes.append("requires_grad=True")
        parts = [(compressed_name, storage.compressed_indices), (plain_name, storage.plain_indices),
                 ("values", storage.values)]
        body = f",\n{' ' * indent}".join(f"{name}=tensor({_inner_str(array, indent + len(name) + 8)})"
                                         for name, array in parts)
        return _add_suffixes(f"tensor({body}", suffixes, indent)


_TENSOR_TYPE_OF[SparseCompressedArray] = SparseCompressedTensor


def _inner_str(array, indent: int) -> str:
    """An index or values array printed as PyTorch prints it inside a sparse tensor (no suffixes but the size of
    an empty one)."""
    array = array if xp_of(array) is np else array.get()
    if dtypes.from_numpy(array.dtype) is dtypes.bfloat16:  # NumPy cannot format bfloat16; float32 holds it exactly
        array = array.astype(np.float32)
    if array.size == 0:
        return f"[], size={tuple(array.shape)}"
    summarize = array.size > PRINT_OPTS.threshold
    return _body(array, indent, summarize, _formatter(_summarized(array) if summarize else array))


# ----------------------------------------------------------------- products
def matmul(a, b) -> Tensor:
    """``a @ b`` with a compressed operand: compressed @ dense (a matrix or a vector) and dense @ compressed, both
    dense, as in PyTorch; the dense side may be a batch of rows for dense @ compressed."""
    if not (isinstance(a, Tensor) and isinstance(b, Tensor)):
        raise TypeError(f"matmul: expected tensors, got {type(a).__name__} and {type(b).__name__}")
    if a.layout is not strided and b.layout is not strided:
        raise unsupported(f"a product of a {a.layout} and a {b.layout} tensor", a.layout)
    s = a if a.layout is not strided else b
    if s.layout not in COMPRESSED_LAYOUTS:
        raise unsupported(f"a product of a {a.layout} and a {b.layout} tensor", s.layout)
    if s.ndim != 2:
        raise RuntimeError(f"matmul: expected a 2-D compressed matrix (no dense dimensions), got size "
                           f"{list(s.shape)}")
    d = b if s is a else a
    if d.ndim == 0:
        raise RuntimeError("both arguments to matmul need to be at least 1D, but they are 0D and 2D")
    if a.dtype is not b.dtype:
        raise RuntimeError(f"expected mat1 and mat2 to have the same dtype, but got: {_type_name(a.dtype)} != "
                           f"{_type_name(b.dtype)}")
    if a.device != b.device:
        raise RuntimeError(f"Expected all tensors to be on the same device, but found at least two devices, "
                           f"{a.device} and {b.device}!")
    if s is a:
        rows = d.shape[0]
        if rows != s.shape[1] or d.ndim > 2:
            raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({s.shape[0]}x{s.shape[1]} and "
                               f"{'x'.join(str(n) for n in d.shape)})")
        if d.ndim == 1:
            return ops.CompressedDenseMM.apply(s, d.reshape(-1, 1)).reshape(-1)
        return ops.CompressedDenseMM.apply(s, d)
    if d.shape[-1] != s.shape[0]:  # d @ s = (s^T @ d^T)^T, with s^T in the other orientation's layout
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({d.numel() // d.shape[-1]}x{d.shape[-1]} "
                           f"and {s.shape[0]}x{s.shape[1]})")
    rows = d.reshape(-1, d.shape[-1])
    out = ops.CompressedDenseMM.apply(ops.CompressedTranspose.apply(s), rows.t()).t()
    return out.reshape(*d.shape[:-1], s.shape[1])


# ----------------------------------------------------------------- conversions
def to_compressed(t: Tensor, layout, blocksize=None, dense_dim=None) -> Tensor:
    """``t.to_sparse_csr()`` & co. for a dense, COO or compressed ``t``, with PyTorch's checks."""
    name = f"to_sparse_{str(layout).split('_')[-1]}"
    blocksize = _blocksize(blocksize, layout, name)
    if t.layout in COMPRESSED_LAYOUTS:
        if t.layout in BLOCK_LAYOUTS and layout not in BLOCK_LAYOUTS:
            raise RuntimeError(f"sparse_compressed_to_{name[3:]}: expected SparseCsr or SparseCsc layout but got "
                               f"{LAYOUT_NAMES[t.layout]}")
        if t.layout in BLOCK_LAYOUTS and t._data.blocksize != blocksize:
            raise RuntimeError(f"{name}: conversion from {LAYOUT_NAMES[t.layout]} to {LAYOUT_NAMES[layout]} with "
                               f"blocksize changed from {list(t._data.blocksize)} to {list(blocksize)} is not "
                               f"supported")
        if t.layout is layout:
            return t
    elif t.layout is sparse_coo:
        if t.sparse_dim() != 2:
            raise RuntimeError(f"{name}: expected a COO tensor of 2 sparse dimensions, got {t.sparse_dim()}")
    else:
        if t.ndim < 2:
            raise RuntimeError(f"{name}: expected a tensor of at least 2 dimensions, got {t.ndim}")
        if dense_dim is not None and not 0 <= dense_dim <= t.ndim - 2:
            raise RuntimeError(f"dense_to_{name[3:]}: dense_dim argument must be in [0,{t.ndim - 2}] range, but "
                               f"{dense_dim} is given")
        if (0 if dense_dim is None else dense_dim) != t.ndim - 2:
            raise RuntimeError(f"{name}: batch dimensions are not supported: pass dense_dim={t.ndim - 2} to keep "
                               f"the trailing dimensions of this {t.ndim}-D tensor dense")
    if layout in BLOCK_LAYOUTS and (t.shape[0] % blocksize[0] or t.shape[1] % blocksize[1]):
        source = "dense" if t.layout is strided else LAYOUT_NAMES[t.layout].lower()
        raise RuntimeError(f"{source}_to_{name[3:]}: tensor sparse size ({t.shape[0]},{t.shape[1]}) must be "
                           f"divisible by given blocksize ({blocksize[0]},{blocksize[1]})")
    return ops.LayoutConversion.apply(t, layout=layout, blocksize=blocksize)


def _blocksize(blocksize, layout, name: str) -> tuple:
    if layout not in COMPRESSED_LAYOUTS:
        raise RuntimeError(f"to_sparse: expected a compressed layout (trainer.sparse_csr, sparse_csc, sparse_bsr or "
                           f"sparse_bsc), got {layout}")
    if layout not in BLOCK_LAYOUTS:
        return (1, 1)
    if blocksize is None:
        raise RuntimeError(f"{name}: conversion to {LAYOUT_NAMES[layout]} without blocksize argument given is not "
                           f"supported")
    blocksize = (int(blocksize), int(blocksize)) if isinstance(blocksize, (int, np.integer)) else tuple(blocksize)
    if len(blocksize) != 2 or min(blocksize) <= 0:
        raise RuntimeError(f"{name}: blocksize must be a pair of positive integers, got {blocksize}")
    return tuple(int(b) for b in blocksize)


# ----------------------------------------------------------------- construction
def sparse_compressed_tensor(compressed_indices, plain_indices, values, size=None, *, dtype=None, layout=None,
                             device=None, pin_memory=False, requires_grad=False,
                             check_invariants=None) -> SparseCompressedTensor:
    """``torch.sparse_compressed_tensor``: a CSR, CSC, BSR or BSC tensor from its index arrays and values. The
    shapes are always checked; the index invariants (sorted, in range, consistent offsets) when
    ``check_invariants`` is true, or when it is None and ``trainer.sparse.check_sparse_tensor_invariants`` is on."""
    if layout not in COMPRESSED_LAYOUTS:
        got = "none" if layout is None else "Strided" if layout is strided else LAYOUT_NAMES.get(layout, layout)
        raise RuntimeError(f"sparse_compressed_tensor expected sparse compressed tensor layout but got {got}")
    compressed_name, plain_name = INDEX_NAMES[layout]
    compressed = _as_tensor(compressed_indices)
    plain = _as_tensor(plain_indices)
    values = values if isinstance(values, Tensor) else trainer.tensor(values)
    if compressed.dtype is not plain.dtype:
        raise RuntimeError(f"{compressed_name} and {plain_name} must have the same dtype, bot got "
                           f"{_type_name(compressed.dtype)} and {_type_name(plain.dtype)}, respectively")
    if compressed.dtype not in (dtypes.int32, dtypes.int64):
        raise RuntimeError(f"{compressed_name} and {plain_name} must be int32 or int64 tensors, but got "
                           f"{compressed.dtype.name}")
    if compressed.ndim != plain.ndim:
        raise RuntimeError(f"{compressed_name} and {plain_name} dimensionalities must be equal but got "
                           f"{compressed.ndim} and {plain.ndim}, respectively")
    if compressed.ndim != 1:
        raise RuntimeError(f"sparse_compressed_tensor: batch dimensions are not supported: {compressed_name} and "
                           f"{plain_name} must be 1-D, got {compressed.ndim}-D")
    block = layout in BLOCK_LAYOUTS
    if values.ndim < (3 if block else 1):
        raise RuntimeError(f"values must be a tensor of at least {3 if block else 1} dimensions for layout {layout}, "
                           f"got {values.ndim}")
    if dtype is not None:
        values = values.to(dtypes.as_dtype(dtype))
    if device is not None:
        values = values.to(as_device(device))
    compressed, plain = compressed.to(values.device), plain.to(values.device)
    nnz = values.shape[0]
    if plain.shape[0] != nnz:
        raise RuntimeError(f"{plain_name}.shape[-1] must be equal to nnz (={nnz}) as defined by values.shape[0], but "
                           f"got {plain.shape[0]}")
    blocksize = tuple(values.shape[1:3]) if block else (1, 1)
    dense_shape = tuple(values.shape[3:] if block else values.shape[1:])
    row_major = layout in ROW_LAYOUTS
    if size is None:
        n_major = compressed.shape[0] - 1
        n_plain = int(plain._data.max()) + 1 if nnz else 0
        base = (n_major, n_plain) if row_major else (n_plain, n_major)
        size = (base[0] * blocksize[0], base[1] * blocksize[1], *dense_shape)
    size = tuple(int(n) for n in size)
    if len(size) != 2 + len(dense_shape):
        raise RuntimeError(f"tensor dimensionality must be sum of batch, base, and dense dimensionalities (=0 + 2 + "
                           f"{len(dense_shape)}) but got {len(size)}")
    for d in range(2):
        if size[d] % blocksize[d]:
            raise RuntimeError(f"tensor shape[{d}] (={size[d]}) must be divisible with blocksize[{d}] "
                               f"(={blocksize[d]}) as defined by values shape")
    if size[2:] != dense_shape:
        raise RuntimeError(f"values has incorrect size: its dense dimensions {list(dense_shape)} must match size[2:] "
                           f"= {list(size[2:])}")
    n_major = size[0] // blocksize[0] if row_major else size[1] // blocksize[1]
    if compressed.shape[0] != n_major + 1:
        what = ("rows" if row_major else "columns") if not block else ("row blocks" if row_major else "column blocks")
        raise RuntimeError(f"{compressed_name}.shape[-1] must be equal to the number of {what} + 1 (={n_major + 1}), "
                           f"but got {compressed.shape[0]}")
    check = check_sparse_tensor_invariants.is_enabled() if check_invariants is None else check_invariants
    if check:
        storage = SparseCompressedArray(compressed._data, plain._data, values._data, size, layout)
        violation = invariant_violation(storage)
        if violation is not None:
            raise RuntimeError(violation)
    out = ops.SparseCompressedTensor.apply(compressed, plain, values, shape=size, layout=layout)
    if requires_grad:
        out.requires_grad_(True)
    return out


def _as_tensor(indices) -> Tensor:
    return indices if isinstance(indices, Tensor) else trainer.tensor(indices)


def _constructor(layout):
    def construct(compressed_indices, plain_indices, values, size=None, *, dtype=None, device=None,
                  pin_memory=False, requires_grad=False, check_invariants=None):
        return sparse_compressed_tensor(compressed_indices, plain_indices, values, size, dtype=dtype, layout=layout,
                                        device=device, requires_grad=requires_grad,
                                        check_invariants=check_invariants)

    compressed_name, plain_name = INDEX_NAMES[layout]
    construct.__name__ = construct.__qualname__ = f"{layout.name}_tensor"
    construct.__doc__ = (f"``torch.{layout.name}_tensor({compressed_name}, {plain_name}, values, size=None, ...)``: "
                         f"``sparse_compressed_tensor`` with ``layout=trainer.{layout.name}``.")
    return construct


sparse_csr_tensor = _constructor(sparse_csr)
sparse_csc_tensor = _constructor(sparse_csc)
sparse_bsr_tensor = _constructor(sparse_bsr)
sparse_bsc_tensor = _constructor(sparse_bsc)
