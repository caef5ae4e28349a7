"""The differentiable ops on sparse COO tensors, each a ``Function`` on ``SparseCOOArray`` storages.

A gradient that reaches a sparse tensor stands for the gradient of the dense matrix it represents: a sparse
storage (implied zeros elsewhere) or a dense array. As in PyTorch, the ops that read values (``to_dense``,
``values``, ``sparse.mm``) give their sparse input a gradient on its coalesced sparsity pattern, and ``coalesce``
passes gradients through unchanged (it does not change the matrix).
"""

from __future__ import annotations

import numpy as np

from trainer.autograd.op import Function
from trainer.backend import device_of, to_device, xp_of
from trainer.ops.indexing import _scatter_add
from trainer.sparse_coo_array import SparseCOOArray, is_sparse_array
from trainer.sparse_storage import SparseStorage


def gradient_at(g, indices):
    """The gradient ``g`` (sparse storage or dense array) at the sparse coordinates ``indices``."""
    return g.values_at(indices) if is_sparse_array(g) else g[tuple(indices)]


class SparseCOOTensor(Function):
    """``(indices, values) -> sparse``; the values' gradient is the dense gradient read at each index (duplicates
    each get the whole of it: the matrix is their sum)."""

    @staticmethod
    def forward(ctx, indices, values, shape, coalesced):
        ctx.indices = indices
        return SparseCOOArray(indices, values, shape, coalesced)

    @staticmethod
    def backward(ctx, g):
        return None, gradient_at(g, ctx.indices)


class SparseToDense(Function):
    @staticmethod
    def forward(ctx, s):
        ctx.storage = s
        return s.to_dense()

    @staticmethod
    def backward(ctx, g):
        pattern = ctx.storage.coalesced_storage()
        return SparseCOOArray(pattern.indices, g[tuple(pattern.indices)], g.shape, coalesced=True)


class SparseValues(Function):
    """``values()`` of a coalesced tensor: its gradient is a sparse tensor of the same pattern."""

    @staticmethod
    def forward(ctx, s):
        ctx.indices, ctx.shape = s.indices, s.shape
        return s.values

    @staticmethod
    def backward(ctx, g):
        return SparseCOOArray(ctx.indices, g, ctx.shape, coalesced=True)


class SparseCoalesce(Function):
    @staticmethod
    def forward(ctx, s):
        return s.coalesce()[0]

    @staticmethod
    def backward(ctx, g):
        return g


class SparseConvert(Function):
    """Another dtype and/or device for the values (and the indices) of a COO or compressed storage; the gradient
    goes back the same way."""

    @staticmethod
    def forward(ctx, s, dtype, device):
        ctx.source = s.dtype, device_of(s.values)
        return s.moved(dtype, device)

    @staticmethod
    def backward(ctx, g):
        dtype, device = ctx.source
        return g.moved(dtype, device) if isinstance(g, SparseStorage) else to_device(g, device).astype(dtype)


def _scaled(g, factor):
    """``g * factor`` for a dense gradient or a sparse one (COO or compressed: any storage with ``values``)."""
    return g.with_values(g.values * factor) if isinstance(g, SparseStorage) else g * factor


class SparseScale(Function):
    """``s * factor`` for a Python number ``factor``, in ``dtype``, of a COO or compressed storage: the pattern is
    kept."""

    @staticmethod
    def forward(ctx, s, factor, dtype):
        ctx.factor = np.conj(factor)
        return s.with_values((s.values * factor).astype(dtype, copy=False))

    @staticmethod
    def backward(ctx, g):
        return _scaled(g, ctx.factor)


class SparseAdd(Function):
    """``a + alpha * b`` of two sparse storages of one layout and shape: the union of their entries (see
    ``SparseCOOArray.__add__`` and ``SparseCompressedArray.__add__``)."""

    @staticmethod
    def forward(ctx, a, b, alpha):
        ctx.alpha = alpha
        return a + (b if alpha == 1 else b.with_values(b.values * alpha))

    @staticmethod
    def backward(ctx, g):
        return g, (g if ctx.alpha == 1 else _scaled(g, ctx.alpha))


class SparseTranspose(Function):
    """Swapping two sparse dimensions: two rows of the indices."""

    @staticmethod
    def forward(ctx, s, dim0, dim1):
        ctx.dims = dim0, dim1
        return _transposed(s, dim0, dim1)

    @staticmethod
    def backward(ctx, g):
        dim0, dim1 = ctx.dims
        return _transposed(g, dim0, dim1) if is_sparse_array(g) else xp_of(g).swapaxes(g, dim0, dim1)


def _transposed(s, dim0, dim1):
    order = list(range(s.sparse_dim))
    order[dim0], order[dim1] = order[dim1], order[dim0]
    shape = list(s.shape)
    shape[dim0], shape[dim1] = shape[dim1], shape[dim0]
    return SparseCOOArray(s.indices[order], s.values, shape)


class SparseDenseMM(Function):
    """``s @ d`` for a 2-D sparse ``s`` (no dense dimensions) and a dense matrix ``d``, without densifying ``s``:
    each entry scales a gathered row of ``d`` that is added into its output row."""

    @staticmethod
    def forward(ctx, s, d):
        ctx.storage, ctx.dense = s, d
        xp = xp_of(d)
        rows, cols = s.indices
        out = xp.zeros((s.shape[0], d.shape[1]), dtype=d.dtype)
        _scatter_add(xp, out, rows, s.values[:, None] * d[cols])
        return out

    @staticmethod
    def backward(ctx, g):
        s, d = ctx.storage, ctx.dense
        xp = xp_of(g)
        rows, cols = s.indices
        grad_s = grad_d = None
        if ctx.needs_input_grad[0]:  # (g @ d^H) on the pattern of s
            grad_s = s.with_values((g[rows] * xp.conj(d[cols])).sum(axis=1))
        if ctx.needs_input_grad[1]:  # s^H @ g
            grad_d = xp.zeros(d.shape, dtype=g.dtype)
            _scatter_add(xp, grad_d, cols, xp.conj(s.values)[:, None] * g[rows])
        return grad_s, grad_d


def scatter_max(xp, target, key, values) -> None:
    """``target[key] = max(target[key], values)`` with repeated keys (NumPy's ``maximum.at``)."""
    if xp is np:
        np.maximum.at(target, key, values)
    else:
        import cupyx

        cupyx.scatter_max(target, key, values)
