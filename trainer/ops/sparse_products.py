"""Products with sparse COO operands that give what PyTorch gives: ``sparse @ sparse`` (a coalesced sparse matrix),
``dense @ sparse`` (a dense matrix) and the elementwise ``sparse * sparse`` and ``sparse * dense`` (sparse).

Nothing is densified: a matrix product pairs every entry ``a[i, k]`` with the entries of row ``k`` of ``b`` found
through ``b``'s row offsets (``b`` coalesced is sorted by row), and an elementwise product looks one operand's
values up at the other's coordinates. Routines are written once against ``xp`` (NumPy or CuPy).
"""

from __future__ import annotations

from trainer.autograd.op import Function
from trainer.backend import xp_of
from trainer.ops._operands import unbroadcast
from trainer.ops.indexing import _scatter_add
from trainer.sparse_coo_array import SparseCOOArray, is_sparse_array, linear_keys


# ----------------------------------------------------------------- storage routines
def sparse_matmul(a: SparseCOOArray, b: SparseCOOArray) -> SparseCOOArray:
    """``a @ b`` of two 2-D storages, coalesced; sums that cancel stay as explicit zeros, as in PyTorch."""
    a, b = a.coalesced_storage(), b.coalesced_storage()
    xp = a.array_module
    a_rows, a_cols = a.indices
    b_rows, b_cols = b.indices
    row_length = xp.bincount(b_rows, minlength=b.shape[0])
    row_start = xp.cumsum(row_length) - row_length
    pairs_of_entry = row_length[a_cols]  # how many entries of b each entry of a meets
    pairs_end = xp.cumsum(pairs_of_entry)
    n_pairs = int(pairs_end[-1]) if a.nnz else 0
    pair = xp.arange(n_pairs)
    a_pick = xp.searchsorted(pairs_end, pair, side="right")  # the entry of a each pair starts from
    b_pick = row_start[a_cols[a_pick]] + pair - (pairs_end - pairs_of_entry)[a_pick]
    products = SparseCOOArray(xp.stack([a_rows[a_pick], b_cols[b_pick]]), a.values[a_pick] * b.values[b_pick],
                              (a.shape[0], b.shape[1]))
    return products.coalesce()[0]


def sparse_mul(a: SparseCOOArray, b: SparseCOOArray) -> SparseCOOArray:
    """``a * b`` elementwise, as PyTorch's intersection kernel gives it: with both coalesced, the entries present in
    both; otherwise the entries of the uncoalesced one (the second when both are) times the other's values there."""
    if a.coalesced and b.coalesced:
        xp = a.array_module
        sizes = a.shape[:a.sparse_dim]
        keys_a, keys_b = linear_keys(a.indices, sizes), linear_keys(b.indices, sizes)
        if b.nnz == 0:
            return SparseCOOArray(a.indices[:, :0], a.values[:0] * b.values[:0], a.shape, coalesced=True)
        position = xp.minimum(xp.searchsorted(keys_b, keys_a), b.nnz - 1)
        found = keys_b[position] == keys_a
        return SparseCOOArray(a.indices[:, found], a.values[found] * b.values[position[found]], a.shape,
                              coalesced=True)
    probe, source = (a, b) if b.coalesced else (b, a)
    return probe.with_values(probe.values * source.values_at(probe.indices))


def dense_mul(s: SparseCOOArray, d) -> SparseCOOArray:
    """``s * d`` for a dense ``d`` that broadcasts to ``s``'s shape: ``s``'s entries times ``d`` at them."""
    d = xp_of(d).broadcast_to(d, s.shape)
    return s.with_values(s.values * d[tuple(s.indices)])


def _adjoint(s: SparseCOOArray) -> SparseCOOArray:
    return SparseCOOArray(s.indices[::-1], xp_of(s.values).conj(s.values), s.shape[::-1])


def _conj(s: SparseCOOArray) -> SparseCOOArray:
    return s.with_values(xp_of(s.values).conj(s.values))


def _sparse_times_dense(s: SparseCOOArray, d):
    """``s @ d`` for a 2-D storage ``s`` and a dense matrix ``d``: each entry adds a scaled row of ``d``."""
    xp = xp_of(d)
    rows, cols = s.indices
    out = xp.zeros((s.shape[0], d.shape[1]), dtype=d.dtype)
    _scatter_add(xp, out, rows, s.values[:, None] * d[cols])
    return out


def _dense_times_sparse(d, s: SparseCOOArray):
    """``d @ s`` for a dense matrix ``d`` and a 2-D storage ``s``, as ``(s^T @ d^T)^T``."""
    transposed = SparseCOOArray(s.indices[::-1], s.values, s.shape[::-1])
    return xp_of(d).ascontiguousarray(_sparse_times_dense(transposed, d.T).T)


# ----------------------------------------------------------------- differentiable ops
class SparseSparseMM(Function):
    """``a @ b`` of two 2-D sparse matrices. Gradients are ``g @ b^H`` and ``a^H @ g`` (sparse for a sparse ``g``,
    dense for a dense one), as PyTorch's ``mm`` gives them; ``masked`` reads them at each operand's own coalesced
    entries instead, as ``torch.sparse.mm`` (``SparseSparseMatmulBackward``) does."""

    @staticmethod
    def forward(ctx, a, b, masked):
        ctx.operands, ctx.masked = (a.coalesced_storage(), b.coalesced_storage()), masked
        return sparse_matmul(*ctx.operands)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.operands
        sparse = is_sparse_array(g)
        grad_a = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_a = sparse_matmul(g, _adjoint(b)) if sparse else _dense_times_sparse(g, _adjoint(b))
            grad_a = _on_pattern(grad_a, a) if ctx.masked else grad_a
        if ctx.needs_input_grad[1]:
            grad_b = sparse_matmul(_adjoint(a), g) if sparse else _sparse_times_dense(_adjoint(a), g)
            grad_b = _on_pattern(grad_b, b) if ctx.masked else grad_b
        return grad_a, grad_b


def _on_pattern(grad, s: SparseCOOArray) -> SparseCOOArray:
    """``grad`` (sparse or dense) read at the entries of the coalesced ``s``."""
    return s.with_values(grad.values_at(s.indices) if is_sparse_array(grad) else grad[tuple(s.indices)])


class DenseSparseMM(Function):
    """``d @ s`` for a dense matrix ``d`` and a 2-D sparse ``s``: dense, and, as in PyTorch, so is ``s``'s
    gradient (``d^H @ g``, everywhere, not only on ``s``'s pattern)."""

    @staticmethod
    def forward(ctx, d, s):
        ctx.dense, ctx.storage = d, s
        return _dense_times_sparse(d, s)

    @staticmethod
    def backward(ctx, g):
        d, s = ctx.dense, ctx.storage
        grad_d = _dense_times_sparse(g, _adjoint(s)) if ctx.needs_input_grad[0] else None
        grad_s = d.conj().T @ g if ctx.needs_input_grad[1] else None
        return grad_d, grad_s


class SparseSparseMul(Function):
    """``a * b`` elementwise of two sparse tensors of one shape (see ``sparse_mul``); each gradient is the same
    product of ``g`` with the other operand's conjugate, as PyTorch computes it."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.operands = a, b
        return sparse_mul(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.operands
        grad_a = _times(g, _conj(b)) if ctx.needs_input_grad[0] else None
        grad_b = _times(g, _conj(a)) if ctx.needs_input_grad[1] else None
        return grad_a, grad_b


class SparseDenseMul(Function):
    """``s * d`` for a sparse ``s`` and a dense ``d`` broadcasting to its shape: sparse, on ``s``'s pattern. ``d``'s
    gradient is given dense (PyTorch gives it sparse), so that it flows on through the dense ops that made ``d``."""

    @staticmethod
    def forward(ctx, s, d):
        ctx.storage, ctx.dense = s, d
        return dense_mul(s, d)

    @staticmethod
    def backward(ctx, g):
        s, d = ctx.storage, ctx.dense
        xp = xp_of(d)
        grad_s = grad_d = None
        if ctx.needs_input_grad[0]:
            grad_s = dense_mul(g, xp.conj(d)) if is_sparse_array(g) else g * xp.conj(d)
        if ctx.needs_input_grad[1]:
            grad = _times(g, _conj(s))
            grad = grad.to_dense() if is_sparse_array(grad) else grad
            grad_d = unbroadcast(grad, tuple(d.shape))
        return grad_s, grad_d


def _times(g, s: SparseCOOArray) -> SparseCOOArray:
    """``g * s`` for a gradient ``g``, sparse or dense."""
    return sparse_mul(g, s) if is_sparse_array(g) else dense_mul(s, g)
