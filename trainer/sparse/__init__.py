"""``trainer.sparse``: PyTorch's ``torch.sparse`` functions on sparse COO tensors (``mm``, ``addmm``, ``sum``,
``softmax``, ``log_softmax``), written with the sparse ops of ``trainer.ops.sparse_coo`` and differentiable dense
ops on the values, so their gradients follow from those."""

from __future__ import annotations

import numpy as np

from trainer.backend import xp_of
from trainer.layouts import sparse_coo  # noqa: F401 - re-exported beside the functions, as in torch.sparse
from trainer.ops import sparse_coo as ops
from trainer.ops._operands import normalize_dim
from trainer.ops.activation import log_softmax as dense_log_softmax
from trainer.ops.activation import softmax as dense_softmax
from trainer.ops.linalg import _scaled_sum
from trainer.sparse import _products
from trainer.sparse.invariants import check_sparse_tensor_invariants
from trainer.sparse_coo_array import linear_keys, unsupported
from trainer.sparse_tensor import requires_sparse
from trainer.tensor import Tensor

__all__ = ["mm", "addmm", "sum", "softmax", "log_softmax", "check_sparse_tensor_invariants"]


def mm(mat1, mat2, reduce=None) -> Tensor:
    """``mat1 @ mat2`` for a sparse 2-D ``mat1`` and a dense matrix ``mat2``; ``mat1``'s gradient is sparse, on
    its coalesced pattern. With ``mat2`` sparse too the product is sparse; ``dense @ sparse`` is dense."""
    if isinstance(mat1, Tensor) and not mat1.is_sparse and isinstance(mat2, Tensor) and mat2.is_sparse:
        return _products.dense_sparse_mm(mat1, mat2)
    if getattr(mat1, "_is_sparse_compressed", False):  # CSR & co.: trainer.compressed_sparse_tensor's product
        return mat1._sparse_mm(mat2, reduce)
    requires_sparse(mat1, "sparse.mm")
    if reduce is not None:
        raise unsupported(f"sparse.mm with reduce={reduce!r}")
    if not isinstance(mat2, Tensor):
        raise TypeError(f"sparse.mm: expected mat2 to be a Tensor, got {type(mat2).__name__}")
    if mat2.is_sparse:
        return _products.sparse_sparse_mm(mat1, mat2, masked=True)
    if mat1.ndim != 2 or mat1.dense_dim() != 0 or mat2.ndim != 2:
        raise RuntimeError(f"sparse.mm: expected a 2-D sparse matrix (2 sparse, 0 dense dimensions) and a 2-D "
                           f"dense matrix, got sizes {list(mat1.shape)} and {list(mat2.shape)}")
    if mat2.shape[0] != mat1.shape[1]:
        raise RuntimeError(f"addmm: Argument #3 (dense): Expected dim 0 size {mat1.shape[1]}, got "
                           f"{mat2.shape[0]}")
    if mat1.dtype is not mat2.dtype:
        raise RuntimeError(f"expected mat1 and mat2 to have the same dtype, but got: {mat1.dtype.name} != "
                           f"{mat2.dtype.name}")
    if mat1.device != mat2.device:
        raise RuntimeError(f"Expected all tensors to be on the same device, but found at least two devices, "
                           f"{mat1.device} and {mat2.device}!")
    return ops.SparseDenseMM.apply(mat1.coalesce(), mat2)


def addmm(mat, mat1, mat2, *, beta=1.0, alpha=1.0) -> Tensor:
    """``beta * mat + alpha * (mat1 @ mat2)`` for a sparse ``mat1`` and dense ``mat`` and ``mat2``."""
    if any(isinstance(t, Tensor) and t.is_sparse for t in (mat, mat2)):
        layouts = ", ".join(f"'{name}' with layout {'Sparse' if t.is_sparse else 'Strided'}"
                            for name, t in (("mat", mat), ("mat1", mat1), ("mat2", mat2)))
        raise RuntimeError(f"addmm_sparse_dense: expected a strided 'mat', a sparse 'mat1' and a strided 'mat2', "
                           f"got {layouts}")
    return _scaled_sum(mat, mm(mat1, mat2), beta, alpha)


def sum(input, dim=None, dtype=None) -> Tensor:  # noqa: A001 - torch.sparse.sum's name
    """The sum over ``dim`` (all dimensions by default): sparse while some sparse dimension is left, dense (a
    0-d tensor for all dimensions) once every sparse dimension is summed."""
    s = requires_sparse(input, "sparse.sum")
    if dtype is not None:
        s = s.to(dtype)
    s = s.coalesce()
    values = s.values()
    if dim is None:
        return values.sum()
    dims = sorted({normalize_dim(d, s.ndim) for d in (dim if isinstance(dim, (tuple, list)) else (dim,))})
    sparse_dim = s.sparse_dim()
    dense_axes = [d - sparse_dim + 1 for d in dims if d >= sparse_dim]
    if dense_axes:
        values = values.sum(dim=dense_axes)
    kept = [d for d in range(sparse_dim) if d not in dims]
    if not kept:
        return values.sum(0)
    shape = tuple(n for d, n in enumerate(s.shape) if d not in dims)
    indices = Tensor._wrap(s._data.indices[kept])
    return ops.SparseCOOTensor.apply(indices, values, shape=shape, coalesced=False).coalesce()


def softmax(input, dim: int, *, dtype=None) -> Tensor:
    """Softmax over ``dim`` of the specified entries only (unspecified ones count as -inf, so they stay
    unspecified); the result has ``input``'s coalesced pattern."""
    return _softmax(input, dim, dtype, log=False)


def log_softmax(input, dim: int, *, dtype=None) -> Tensor:
    return _softmax(input, dim, dtype, log=True)


def _softmax(input, dim, dtype, log: bool) -> Tensor:
    name = "sparse.log_softmax" if log else "sparse.softmax"
    s = requires_sparse(input, name)
    if dtype is not None:
        s = s.to(dtype)
    if not (s.dtype.is_floating_point or s.dtype.is_complex):
        raise RuntimeError(f"{name}: expected a floating point tensor, got {s.dtype.name}")
    s = s.coalesce()
    dim = normalize_dim(dim, s.ndim)
    sparse_dim = s.sparse_dim()
    values = s.values()
    if dim >= sparse_dim:  # along a dense dimension: an ordinary softmax inside each entry
        out = (dense_log_softmax if log else dense_softmax)(values, dim - sparse_dim + 1)
    else:
        out = _softmax_across_entries(s, values, dim, log)
    return ops.SparseCOOTensor.apply(Tensor._wrap(s._data.indices), out, shape=tuple(s.shape), coalesced=True)


def _softmax_across_entries(s, values, dim: int, log: bool) -> Tensor:
    """Entries that agree on every sparse index but ``dim`` form one group; each group is normalised."""
    storage = s._data
    xp = xp_of(storage.values)
    others = [d for d in range(storage.sparse_dim) if d != dim]
    keys = linear_keys(storage.indices[others], [storage.shape[d] for d in others])
    _, group = xp.unique(keys, return_inverse=True)
    group = group.reshape(-1)
    count = int(group.max()) + 1 if group.size else 0
    # each group's maximum, outside autograd: a constant shift that keeps exp() finite and cancels out
    shift = xp.full((count, *storage.values.shape[1:]), -np.inf, dtype=storage.values.dtype)
    ops.scatter_max(xp, shift, group, storage.values)
    group_tensor = Tensor._wrap(group.astype(np.int64))
    shifted = values - Tensor._wrap(shift[group])
    exps = shifted.exp()
    sums = Tensor._wrap(xp.zeros(shift.shape, dtype=shift.dtype)).index_add(0, group_tensor, exps)
    return shifted - sums.log()[group_tensor] if log else exps / sums[group_tensor]
