"""The differentiable ops on sparse compressed tensors (CSR, CSC, BSR, BSC), each a ``Function`` on
``SparseCompressedArray`` storages.

A gradient that reaches a sparse tensor stands for the gradient of the matrix it represents: a sparse storage
(implied zeros elsewhere) or a dense array. As in PyTorch, a layout conversion passes a dense gradient on unchanged
and converts a sparse one back to its input's layout; ``to_dense`` and ``values`` give their input a gradient on its
own pattern; ``mm`` and ``sum`` give it a dense one.
"""

from __future__ import annotations

from trainer.autograd.op import Function
from trainer.backend import xp_of
from trainer.layouts import sparse_coo
from trainer.ops.sparse_products import _adjoint, _sparse_times_dense
from trainer.sparse_compressed_array import (
    SparseCompressedArray,
    compressed_from_dense,
    converted,
    is_compressed_array,
)
from trainer.sparse_coo_array import is_sparse_array


def _is_sparse_gradient(g) -> bool:
    return is_compressed_array(g) or is_sparse_array(g)


def gradient_values(g, s: SparseCompressedArray):
    """The gradient ``g`` (dense, COO or compressed) at each entry of ``s``, shaped as ``s.values``."""
    pattern = s.to_coo()
    if is_compressed_array(g):
        g = g.to_coo()
    flat = g.values_at(pattern.indices) if is_sparse_array(g) else g[tuple(pattern.indices)]
    return flat.reshape(s.values.shape)


class SparseCompressedTensor(Function):
    """``(compressed_indices, plain_indices, values) -> compressed``; the values' gradient is the gradient read at
    each entry."""

    @staticmethod
    def forward(ctx, compressed_indices, plain_indices, values, shape, layout):
        ctx.storage = SparseCompressedArray(compressed_indices, plain_indices, values, shape, layout)
        return ctx.storage

    @staticmethod
    def backward(ctx, g):
        return None, None, gradient_values(g, ctx.storage)


class CompressedToDense(Function):
    @staticmethod
    def forward(ctx, s):
        ctx.storage = s
        return s.to_dense()

    @staticmethod
    def backward(ctx, g):
        return ctx.storage.with_values(gradient_values(g, ctx.storage))


class CompressedValues(Function):
    @staticmethod
    def forward(ctx, s):
        ctx.storage = s
        return s.values

    @staticmethod
    def backward(ctx, g):
        return ctx.storage.with_values(g)


class LayoutConversion(Function):
    """A dense, COO or compressed tensor in another sparse layout. The matrix is unchanged, so a dense gradient
    passes through and a sparse one is converted back to the input's layout (densified for a dense input)."""

    @staticmethod
    def forward(ctx, data, layout, blocksize):
        if is_compressed_array(data):
            ctx.source = data.layout, data.blocksize
        else:  # COO or dense
            ctx.source = (sparse_coo, (1, 1)) if is_sparse_array(data) else None
        if ctx.source is None:
            return compressed_from_dense(data, layout, blocksize)
        return converted(data, layout, blocksize)

    @staticmethod
    def backward(ctx, g):
        if not _is_sparse_gradient(g):
            return g
        if ctx.source is None:
            return g.to_dense()
        return converted(g, *ctx.source)


class CompressedTranspose(Function):
    """The transpose of a compressed matrix: the same index arrays in the other orientation's layout."""

    @staticmethod
    def forward(ctx, s):
        return s.transposed()

    @staticmethod
    def backward(ctx, g):
        return g.transposed() if is_compressed_array(g) else xp_of(g).swapaxes(g, 0, 1)


class CompressedDenseMM(Function):
    """``s @ d`` for a compressed matrix ``s`` (no dense dimensions) and a dense matrix ``d``: dense. As in
    PyTorch the gradient of ``s`` is dense (``g @ d^H``, everywhere, not only on ``s``'s pattern)."""

    @staticmethod
    def forward(ctx, s, d):
        ctx.coo, ctx.dense = s.to_coo(), d
        return _sparse_times_dense(ctx.coo, d)

    @staticmethod
    def backward(ctx, g):
        coo, d = ctx.coo, ctx.dense
        grad_s = g @ xp_of(d).conj(d).T if ctx.needs_input_grad[0] else None
        grad_d = _sparse_times_dense(_adjoint(coo), g) if ctx.needs_input_grad[1] else None
        return grad_s, grad_d


class CompressedSum(Function):
    """The sum of every element: a 0-d array, whose gradient reaches ``s`` dense, as in PyTorch."""

    @staticmethod
    def forward(ctx, s):
        ctx.shape = s.shape
        return s.values.sum()

    @staticmethod
    def backward(ctx, g):
        return xp_of(g).broadcast_to(g, ctx.shape).copy()

