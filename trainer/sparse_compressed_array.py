"""``SparseCompressedArray``: the storage of a sparse compressed tensor (layouts ``sparse_csr``, ``sparse_csc``,
``sparse_bsr``, ``sparse_bsc``), and the array routines that convert between it, dense arrays and COO storages.

A compressed storage keeps ``compressed_indices`` (the start of each row, or column, in the entries: length
n + 1), ``plain_indices`` (each entry's column, or row) and ``values`` of shape (nnz, *dense_shape), or
(nnz, block_rows, block_cols, *dense_shape) for the block layouts, where each entry is a block. Row layouts (CSR,
BSR) compress rows, column layouts (CSC, BSC) compress columns. Batch dimensions are not supported.

Like ``SparseCOOArray`` it is deliberately not array-like: a dense op that reaches it raises ``SparseLayoutError``;
``+`` is the exception, as autograd sums the gradients that reach a compressed tensor with it.
Routines are written once against ``xp`` (NumPy or CuPy), the module of the indices and values.
"""

from __future__ import annotations

import numpy as np

from trainer.backend import to_device, xp_of
from trainer.layouts import sparse_bsc, sparse_bsr, sparse_coo, sparse_csc, sparse_csr
from trainer.sparse_coo_array import SparseCOOArray, is_sparse_array
from trainer.sparse_storage import SparseStorage

COMPRESSED_LAYOUTS = (sparse_csr, sparse_csc, sparse_bsr, sparse_bsc)
ROW_LAYOUTS = (sparse_csr, sparse_bsr)
BLOCK_LAYOUTS = (sparse_bsr, sparse_bsc)
# PyTorch's names of each layout's two index arrays, as its printing, messages and accessors use them
INDEX_NAMES = {sparse_csr: ("crow_indices", "col_indices"), sparse_csc: ("ccol_indices", "row_indices"),
               sparse_bsr: ("crow_indices", "col_indices"), sparse_bsc: ("ccol_indices", "row_indices")}
LAYOUT_NAMES = {sparse_coo: "Sparse", sparse_csr: "SparseCsr", sparse_csc: "SparseCsc", sparse_bsr: "SparseBsr",
                sparse_bsc: "SparseBsc"}
TRANSPOSED_LAYOUT = {sparse_csr: sparse_csc, sparse_csc: sparse_csr, sparse_bsr: sparse_bsc, sparse_bsc: sparse_bsr}


class SparseCompressedArray(SparseStorage):
    __slots__ = ("compressed_indices", "plain_indices", "values", "shape", "layout")

    def __init__(self, compressed_indices, plain_indices, values, shape, layout):
        self.compressed_indices = compressed_indices
        self.plain_indices = plain_indices
        self.values = values
        self.shape = tuple(int(s) for s in shape)
        self.layout = layout

    # ------------------------------------------------------------- the layout's geometry
    @property
    def row_major(self) -> bool:
        return self.layout in ROW_LAYOUTS

    @property
    def blocksize(self) -> tuple:
        return tuple(self.values.shape[1:3]) if self.layout in BLOCK_LAYOUTS else (1, 1)

    @property
    def sparse_dim(self) -> int:
        return 2

    @property
    def dense_dim(self) -> int:
        return self.values.ndim - 1 - (2 if self.layout in BLOCK_LAYOUTS else 0)

    @property
    def nnz(self) -> int:
        return int(self.plain_indices.shape[0])

    def astype(self, dtype, copy: bool = True) -> SparseCompressedArray:
        return self.with_values(self.values.astype(dtype, copy=copy))

    def copy(self) -> SparseCompressedArray:
        return SparseCompressedArray(self.compressed_indices.copy(), self.plain_indices.copy(), self.values.copy(),
                                     self.shape, self.layout)

    def moved(self, dtype, device) -> SparseCompressedArray:
        """This storage with its values in ``dtype``, all three arrays on ``device``."""
        return SparseCompressedArray(to_device(self.compressed_indices, device), to_device(self.plain_indices, device),
                                     to_device(self.values, device).astype(dtype), self.shape, self.layout)

    def with_values(self, values) -> SparseCompressedArray:
        """The same sparsity pattern holding ``values``."""
        return SparseCompressedArray(self.compressed_indices, self.plain_indices, values, self.shape, self.layout)

    def transposed(self) -> SparseCompressedArray:
        """The transpose, in the other orientation's layout with the same index arrays (CSR <-> CSC, BSR <-> BSC):
        a row-compressed matrix read by columns is its transpose compressed by rows."""
        values = self.values.swapaxes(1, 2) if self.layout in BLOCK_LAYOUTS else self.values
        return SparseCompressedArray(self.compressed_indices, self.plain_indices, values,
                                     (self.shape[1], self.shape[0], *self.shape[2:]), TRANSPOSED_LAYOUT[self.layout])

    # ------------------------------------------------------------- the routines
    def block_coordinates(self):
        """``(block row, block column)`` of each entry (of each element for CSR/CSC), in storage order."""
        xp = self.array_module
        offsets = self.compressed_indices.astype(np.int64)
        # entry k is in the row whose offsets bracket it (CuPy's repeat takes no array of counts)
        major = xp.searchsorted(offsets[1:], xp.arange(self.nnz, dtype=np.int64), side="right").astype(np.int64)
        plain = self.plain_indices.astype(np.int64)
        return (major, plain) if self.row_major else (plain, major)

    def to_coo(self) -> SparseCOOArray:
        """The same matrix as a COO storage, entries in storage order (each block's elements row by row), as
        PyTorch's ``to_sparse()`` gives them: coalesced for CSR only."""
        xp = self.array_module
        block_rows, block_cols = self.block_coordinates()
        r, c = self.blocksize
        inner_rows, inner_cols = xp.meshgrid(xp.arange(r, dtype=np.int64), xp.arange(c, dtype=np.int64),
                                             indexing="ij")
        rows = (block_rows[:, None, None] * r + inner_rows).reshape(-1)
        cols = (block_cols[:, None, None] * c + inner_cols).reshape(-1)
        dense_shape = self.values.shape[3:] if self.layout in BLOCK_LAYOUTS else self.values.shape[1:]
        values = self.values.reshape(rows.shape[0], *dense_shape)
        return SparseCOOArray(xp.stack([rows, cols]), values, self.shape, coalesced=self.layout is sparse_csr)

    def to_dense(self):
        return self.to_coo().to_dense()

    # ------------------------------------------------------------- sums of gradients
    def __add__(self, other):
        if isinstance(other, SparseCompressedArray):
            if other.shape != self.shape:
                raise RuntimeError(f"cannot add sparse tensors of sizes {list(self.shape)} and {list(other.shape)}")
            both = self.to_coo() + other.to_coo().astype(self.dtype, copy=False)
            return compressed_from_coo(both, self.layout, self.blocksize)
        if is_sparse_array(other):
            return compressed_from_coo(self.to_coo() + other, self.layout, self.blocksize)
        return self.to_coo() + other

    __radd__ = __add__

    def __repr__(self):
        return f"SparseCompressedArray(layout={self.layout}, shape={self.shape}, nnz={self.nnz}, dtype={self.dtype})"


def is_compressed_array(array) -> bool:
    return type(array) is SparseCompressedArray


# ----------------------------------------------------------------- building compressed storages
def _compressed(block_rows, block_cols, values, shape, layout, blocksize) -> SparseCompressedArray:
    """The storage holding ``values[k]`` at block ``(block_rows[k], block_cols[k])``: entries are put in the
    layout's order (row-major for row layouts) and the major coordinates compressed into offsets."""
    xp = xp_of(values)
    n_rows, n_cols = shape[0] // blocksize[0], shape[1] // blocksize[1]
    major, plain, n_major, n_plain = ((block_rows, block_cols, n_rows, n_cols) if layout in ROW_LAYOUTS
                                      else (block_cols, block_rows, n_cols, n_rows))
    order = xp.argsort(major * n_plain + plain, kind="stable")
    offsets = xp.concatenate([xp.zeros(1, dtype=np.int64),
                              xp.cumsum(xp.bincount(major, minlength=n_major)).astype(np.int64)])
    return SparseCompressedArray(offsets, plain[order].astype(np.int64), values[order], shape, layout)


def compressed_from_dense(array, layout, blocksize=(1, 1)) -> SparseCompressedArray:
    """The entries (the blocks, for block layouts) of a dense matrix that are not all zero, as PyTorch's
    ``to_sparse_csr`` & co. keep them; dimensions after the first two stay dense inside each entry."""
    xp = xp_of(array)
    r, c = blocksize
    shape = array.shape
    blocks = array.reshape(shape[0] // r, r, shape[1] // c, c, *shape[2:]).swapaxes(1, 2)  # (nR, nC, r, c, ...)
    occupied = (blocks != 0).reshape(*blocks.shape[:2], -1).any(axis=2)
    block_rows, block_cols = (i.astype(np.int64) for i in xp.nonzero(occupied))
    values = blocks[block_rows, block_cols]
    if layout not in BLOCK_LAYOUTS:
        values = values.reshape(values.shape[0], *shape[2:])
    return _compressed(block_rows, block_cols, values, shape, layout, blocksize)


def compressed_from_coo(coo: SparseCOOArray, layout, blocksize=(1, 1)) -> SparseCompressedArray:
    """A COO storage of two sparse dimensions in a compressed layout; duplicates are summed and, for block layouts,
    each block holding an entry is stored whole (zeros where the COO storage has no entry)."""
    coo = coo.coalesced_storage()
    xp = coo.array_module
    rows, cols = coo.indices
    if layout not in BLOCK_LAYOUTS:
        return _compressed(rows, cols, coo.values, coo.shape, layout, (1, 1))
    r, c = blocksize
    n_cols = coo.shape[1] // c
    keys, block = xp.unique((rows // r) * n_cols + cols // c, return_inverse=True)
    values = xp.zeros((keys.shape[0], r, c, *coo.values.shape[1:]), dtype=coo.values.dtype)
    values[block.reshape(-1), rows % r, cols % c] = coo.values  # coalesced: each element is written once
    return _compressed(keys // n_cols, keys % n_cols, values, coo.shape, layout, blocksize)


def converted(data, layout, blocksize=(1, 1)):
    """``data`` (a compressed or COO storage) in ``layout`` (a compressed layout or ``sparse_coo``), as PyTorch's
    conversions give it; the caller checked that the conversion is one PyTorch has."""
    if is_compressed_array(data):
        if layout is sparse_coo:
            return data.to_coo()
        if data.layout is layout:
            return data
        if (data.layout in BLOCK_LAYOUTS) == (layout in BLOCK_LAYOUTS):  # CSR <-> CSC, BSR <-> BSC: entries kept
            return _compressed(*data.block_coordinates(), data.values, data.shape, layout, data.blocksize)
        data = data.to_coo()
    return data.coalesced_storage() if layout is sparse_coo else compressed_from_coo(data, layout, blocksize)


# ----------------------------------------------------------------- invariants
def invariant_violation(s: SparseCompressedArray) -> str | None:
    """The message of the first of PyTorch's compressed-index invariants that ``s`` breaks, or None. PyTorch
    checks the offsets' ends and the plain indices' range first, then row by row (column by column) that the row's
    length is possible and its plain indices strictly increase; the first row that fails decides the message."""
    xp = s.array_module
    compressed_name, plain_name = INDEX_NAMES[s.layout]
    n_plain_name, n_major_name = ("ncols", "nrows") if s.row_major else ("nrows", "ncols")
    offsets, plain = s.compressed_indices.astype(np.int64), s.plain_indices.astype(np.int64)
    r, c = s.blocksize
    n_plain = s.shape[1] // c if s.row_major else s.shape[0] // r
    if int(offsets[0]) != 0:
        return f"`{compressed_name}[..., 0] == 0` is not satisfied."
    if int(offsets[-1]) != s.nnz:
        return f"`{compressed_name}[..., -1] == nnz` is not satisfied."
    if s.nnz and not bool(((plain >= 0) & (plain < n_plain)).all()):
        return f"`0 <= {plain_name} < {n_plain_name}` is not satisfied."
    counts = xp.diff(offsets)
    bad_count = xp.nonzero((counts < 0) | (counts > n_plain))[0]
    valid_rows = int(bad_count[0]) if bad_count.shape[0] else counts.shape[0]  # the rows before the first bad one
    end = min(int(offsets[valid_rows]), s.nnz)
    # within a row each step to the next entry must be > 0; a step into the next row is free
    major = xp.searchsorted(offsets[1:valid_rows + 1], xp.arange(end), side="right")
    if bool(((xp.diff(plain[:end]) <= 0) & (major[1:] == major[:-1])).any()):
        return (f"`{plain_name}[..., {compressed_name}[..., i - 1]:{compressed_name}[..., i]] for all i = 1, ..., "
                f"{n_major_name} are sorted and distinct along the last dimension values` is not satisfied.")
    if bad_count.shape[0]:
        return (f"`0 <= {compressed_name}[..., 1:] - {compressed_name}[..., :-1] <= {n_plain_name}` is not "
                f"satisfied.")
    return None
