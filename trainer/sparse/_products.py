"""The argument checks and dispatch of the products with a sparse operand that ``trainer.ops.sparse_products``
computes: ``sparse @ sparse``, ``dense @ sparse`` and elementwise ``*``, with PyTorch's messages."""

from __future__ import annotations

from trainer import dtypes
from trainer.ops import sparse_products as ops
from trainer.ops._dtype_errors import scalar_type_name
from trainer.sparse_coo_array import unsupported
from trainer.tensor import Tensor


def _type_name(dtype) -> str:
    try:
        return scalar_type_name(dtype)
    except KeyError:  # the types PyTorch's message tables name the same way as trainer
        return {"complex64": "ComplexFloat", "complex128": "ComplexDouble", "bfloat16": "BFloat16"}[dtype.name]


def _same_device(a: Tensor, b: Tensor) -> None:
    if a.device != b.device:
        raise RuntimeError(f"Expected all tensors to be on the same device, but found at least two devices, "
                           f"{a.device} and {b.device}!")


def sparse_sparse_mm(a: Tensor, b: Tensor, masked: bool) -> Tensor:
    """``a @ b`` of two 2-D sparse matrices (no dense dimensions): a coalesced sparse matrix. ``masked`` gradients
    are ``torch.sparse.mm``'s, on each operand's own pattern (see ``SparseSparseMM``)."""
    if a.dense_dim() or b.dense_dim():
        raise RuntimeError(f"sparse_sparse_matmul_{a.device.type}: scalar values expected, got "
                           f"{max(a.dense_dim(), b.dense_dim())}D values")
    if a.ndim != 2 or b.ndim != 2:
        raise RuntimeError(f"sparse_sparse_matmul: expected 2-D sparse matrices, got sizes {list(a.shape)} and "
                           f"{list(b.shape)}")
    if a.shape[1] != b.shape[0]:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({a.shape[0]}x{a.shape[1]} and "
                           f"{b.shape[0]}x{b.shape[1]})")
    if a.dtype is not b.dtype:
        raise RuntimeError(f"mat1 dtype {_type_name(a.dtype)} does not match mat2 dtype {_type_name(b.dtype)}")
    if not (a.dtype.is_floating_point or a.dtype.is_complex):
        raise NotImplementedError(f'"sparse_matmul" not implemented for \'{_type_name(a.dtype)}\': a floating '
                                  f"point or complex dtype was expected")
    _same_device(a, b)
    return ops.SparseSparseMM.apply(a, b, masked=masked)


def dense_sparse_mm(d: Tensor, s: Tensor) -> Tensor:
    """``d @ s`` for a dense ``d`` of one or more dimensions (a vector, a matrix, a batch of rows) and a 2-D sparse
    matrix ``s``: dense, as in PyTorch."""
    if s.ndim != 2 or s.dense_dim():
        raise RuntimeError(f"dense @ sparse: expected a 2-D sparse matrix (2 sparse, 0 dense dimensions), got size "
                           f"{list(s.shape)} with {s.dense_dim()} dense dimensions")
    if d.ndim == 0:
        raise RuntimeError("both arguments to matmul need to be at least 1D, but they are 0D and 2D")
    if d.shape[-1] != s.shape[0]:
        raise RuntimeError(f"addmm: Argument #3 (dense): Expected dim 0 size {s.shape[0]}, got {d.shape[-1]}")
    if d.dtype is not s.dtype:
        raise RuntimeError(f"expected scalar type {_type_name(s.dtype)} but found {_type_name(d.dtype)}")
    _same_device(d, s)
    out = ops.DenseSparseMM.apply(d.reshape(-1, d.shape[-1]), s.coalesce())
    return out.reshape(*d.shape[:-1], s.shape[1])


def mul(a: Tensor, b: Tensor) -> Tensor:
    """``a * b`` elementwise, ``a`` sparse and ``b`` a sparse or dense tensor (a 0-d one or a number is handled by
    ``SparseTensor``'s scaling): sparse, on the pattern PyTorch gives."""
    _same_device(a, b)
    target = dtypes.promote_types(a.dtype, b.dtype)
    a, b = a.to(target), b.to(target)
    if b.is_sparse:
        if a.shape != b.shape or a.sparse_dim() != b.sparse_dim():
            raise RuntimeError("mul(sparse, sparse): expects sparse inputs with equal dimensionality, number of "
                               f"sparse dimensions, and shape of sparse dimensions, got sizes {list(a.shape)} and "
                               f"{list(b.shape)} with {a.sparse_dim()} and {b.sparse_dim()} sparse dimensions")
        return ops.SparseSparseMul.apply(a, b)
    if b.ndim > a.ndim or any(n != 1 and n != m for n, m in zip(b.shape[::-1], a.shape[::-1])):
        raise unsupported(f"multiplying a sparse tensor of size {list(a.shape)} by a dense one of size "
                          f"{list(b.shape)} that does not broadcast to it")
    return ops.SparseDenseMul.apply(a, b)
