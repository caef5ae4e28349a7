"""The LDL^T factorization of symmetric (possibly indefinite) matrices: ``linalg.ldl_factor``, ``ldl_factor_ex``
and ``ldl_solve``, with LAPACK's ``sytrf`` conventions as PyTorch returns them.

``A = P L D L^T P^T`` by Bunch-Kaufman diagonal pivoting (LAPACK's unblocked ``sytf2``, lower triangle): ``D`` is
block diagonal with 1x1 and 2x2 blocks, chosen per column so that the multipliers in ``L`` stay bounded. ``LD``
holds ``L``'s multipliers below the diagonal and ``D`` on it (a 2x2 block's off-diagonal entry just below it);
the strict upper triangle is zero. ``pivots`` (int32, 1-based) are positive for a 1x1 block, row and column ``k``
having been swapped with ``pivots[k]``; both entries of a 2x2 block hold ``-p``, the second row of the block having
been swapped with ``p``. Only the lower triangle of ``A`` is read. ``info`` is the first ``i`` (1-based) with a zero
1x1 block ``D[i-1, i-1]``.

The pivot choice differs per matrix, so the batch is factored one matrix at a time, each column's elimination
vectorised. As in PyTorch none of these is differentiable: the outputs require grad when an input does, and
backward through them raises. Real dtypes only (trainer has no complex tensors), so ``hermitian`` changes nothing.
"""

# ruff: noqa: N803 - the argument names are PyTorch's (A, LD, B), so keyword calls keep working

from __future__ import annotations

import math
from collections import namedtuple

from trainer.autograd.op import Function
from trainer.backend import xp_of
from trainer.ops._operands import broadcast_shapes
from trainer.ops.decompositions import check_floating
from trainer.ops.linalg_errors import first_failure

LDLFactor = namedtuple("LDLFactor", ["LD", "pivots"])  # torch.return_types.linalg_ldl_factor
LDLFactorEx = namedtuple("LDLFactorEx", ["LD", "pivots", "info"])

_ALPHA = (1 + math.sqrt(17)) / 8  # Bunch-Kaufman's threshold, which bounds the growth of the entries


def _swap(a, first, second):
    """Exchange two equally shaped slices of ``a`` (index tuples)."""
    kept = a[first].copy()
    a[first] = a[second]
    a[second] = kept


def _choose_pivot(a, k):
    """``(kp, kstep)`` for column ``k`` of the trailing matrix, or ``None`` when the column is zero (or NaN)."""
    xp = xp_of(a)
    n = a.shape[0]
    absakk = abs(float(a[k, k]))
    colmax, imax = 0.0, k
    if k < n - 1:
        column = xp.abs(a[k + 1 :, k])
        imax = k + 1 + int(xp.argmax(column))
        colmax = float(column[imax - k - 1])
    if max(absakk, colmax) == 0 or math.isnan(absakk):
        return None
    if absakk >= _ALPHA * colmax:
        return k, 1
    # the largest off-diagonal entry in row (and column) imax of the trailing matrix
    rowmax = float(xp.abs(a[imax, k:imax]).max())
    if imax < n - 1:
        rowmax = max(rowmax, float(xp.abs(a[imax + 1 :, imax]).max()))
    if absakk >= _ALPHA * colmax * (colmax / rowmax):
        return k, 1
    if abs(float(a[imax, imax])) >= _ALPHA * rowmax:
        return imax, 1
    return imax, 2


def _interchange(a, kk, kp):
    """Swap rows and columns ``kk < kp`` of the trailing lower triangle, which is all that is stored."""
    n = a.shape[0]
    if kp < n - 1:
        _swap(a, (slice(kp + 1, n), kk), (slice(kp + 1, n), kp))
    _swap(a, (slice(kk + 1, kp), kk), (kp, slice(kk + 1, kp)))
    _swap(a, (kk, kk), (kp, kp))


def _eliminate(a, k, kstep):
    """Schur-complement update of the trailing matrix by the ``kstep`` x ``kstep`` pivot at ``k``, the columns
    below it becoming ``L``'s multipliers."""
    xp = xp_of(a)
    n = a.shape[0]
    rest = k + kstep
    if rest >= n:
        return
    if kstep == 1:
        d11 = 1 / a[k, k]
        column = a[rest:, k].copy()
        a[rest:, rest:] -= d11 * xp.outer(column, column)
        a[rest:, k] = column * d11
        return
    # the 2x2 block's inverse applied as LAPACK does, scaled by its off-diagonal entry
    d21 = a[k + 1, k]
    d11 = a[k + 1, k + 1] / d21
    d22 = a[k, k] / d21
    t = 1 / (d11 * d22 - 1)
    d21 = t / d21
    first, second = a[rest:, k].copy(), a[rest:, k + 1].copy()
    wk = d21 * (d11 * first - second)
    wkp1 = d21 * (d22 * second - first)
    a[rest:, rest:] -= xp.outer(first, wk) + xp.outer(second, wkp1)
    a[rest:, k] = wk
    a[rest:, k + 1] = wkp1


def _factor_matrix(a, pivots):
    """Factor one ``(n, n)`` matrix in place, filling ``pivots``; returns ``info``."""
    n = a.shape[0]
    info, k = 0, 0
    while k < n:
        choice = _choose_pivot(a, k)
        if choice is None:  # a zero column: D[k, k] = 0 and nothing to eliminate
            info = info or k + 1
            pivots[k] = k + 1
            k += 1
            continue
        kp, kstep = choice
        if kp != k + kstep - 1:
            _interchange(a, k + kstep - 1, kp)
            if kstep == 2:
                _swap(a, (k + 1, k), (kp, k))
        _eliminate(a, k, kstep)
        pivots[k : k + kstep] = kp + 1 if kstep == 1 else -(kp + 1)
        k += kstep
    return info


def factor(a):
    """``(LD, pivots, info)`` of a batch ``(*, n, n)`` of symmetric matrices given by their lower triangles."""
    xp = xp_of(a)
    *batch, n, _ = a.shape
    count = math.prod(batch)
    ld = xp.tril(a).reshape(count, n, n).copy()
    pivots = xp.empty((count, n), dtype=xp.int32)
    info = xp.zeros(count, dtype=xp.int32)
    for i in range(count):
        info[i] = _factor_matrix(ld[i], pivots[i])
    return xp.tril(ld).reshape(a.shape), pivots.reshape(*batch, n), info.reshape(batch)


def _solve_matrix(ld, pivots, b):
    """Overwrite ``b`` ``(n, k)`` with ``X``, ``A X = b``, from one matrix's factors (LAPACK's ``sytrs``)."""
    n = ld.shape[0]
    pivots = pivots.tolist()  # one transfer from a GPU, then plain ints
    k = 0
    while k < n:  # L D Y = P^T b, one block at a time
        if pivots[k] > 0:
            _swap(b, (k,), (pivots[k] - 1,))
            b[k + 1 :] -= ld[k + 1 :, k, None] * b[k]
            b[k] /= ld[k, k]
            k += 1
            continue
        _swap(b, (k + 1,), (-pivots[k] - 1,))
        b[k + 2 :] -= ld[k + 2 :, k, None] * b[k] + ld[k + 2 :, k + 1, None] * b[k + 1]
        off = ld[k + 1, k]
        first, second = ld[k, k] / off, ld[k + 1, k + 1] / off
        denominator = first * second - 1
        upper, lower = b[k] / off, b[k + 1] / off
        b[k] = (second * upper - lower) / denominator
        b[k + 1] = (first * lower - upper) / denominator
        k += 2
    k = n - 1
    while k >= 0:  # L^T P^T X = Y, from the last block back
        b[k] -= ld[k + 1 :, k] @ b[k + 1 :]
        if pivots[k] < 0:
            b[k - 1] -= ld[k + 1 :, k - 1] @ b[k + 1 :]
        _swap(b, (k,), (abs(pivots[k]) - 1,))
        k -= 1 if pivots[k] > 0 else 2


class LDLDecomposition(Function):
    """``(LD, pivots, info)``; PyTorch defines no derivative for it."""

    @staticmethod
    def forward(ctx, a):
        return factor(a)

    @staticmethod
    def backward(ctx, *grads):
        raise RuntimeError("derivative for aten::linalg_ldl_factor_ex is not implemented")


class LDLSolve(Function):
    """``X`` with ``A X = B`` from ``A``'s ``LD`` and ``pivots`` (batches already broadcast); not differentiable."""

    @staticmethod
    def forward(ctx, ld, pivots, b):
        n, k = b.shape[-2:]
        count = math.prod(b.shape[:-2])
        x = b.reshape(count, n, k).copy()
        flat_ld, flat_pivots = ld.reshape(count, n, n), pivots.reshape(count, n)
        for i in range(count):
            _solve_matrix(flat_ld[i], flat_pivots[i], x[i])
        return x.reshape(b.shape)

    @staticmethod
    def backward(ctx, *grads):
        raise RuntimeError("derivative for aten::linalg_ldl_solve is not implemented")


def _check_square(op: str, A) -> None:
    if A.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor {'A' if 'factor' in op else 'LD'} must have at least 2 "
                           f"dimensions.")
    if A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"{op}: A must be batches of square matrices, but they are {A.shape[-2]} by "
                           f"{A.shape[-1]} matrices")


def ldl_factor_ex(A, *, hermitian=False, check_errors=False):
    """``(LD, pivots, info)``: ``info`` is ``i`` (1-based) where ``D[i-1, i-1]`` is zero, else 0."""
    del hermitian  # the same factorization for real matrices
    op = "torch.linalg.ldl_factor_ex"
    _check_square(op, A)
    check_floating(op, A._data)
    ld, pivots, info = LDLDecomposition.apply(A)
    if check_errors:
        _raise_on_zero_pivot(op, info, A.ndim)
    return LDLFactorEx(ld, pivots, info)


def _raise_on_zero_pivot(op: str, info, ndim: int) -> None:
    failure = first_failure(info._data, ndim)
    if failure is not None:
        prefix, code = failure
        raise RuntimeError(f"{op}: {prefix}The factorization could not be completed because D[{code},{code}] is "
                           "zero: the matrix is singular and ldl_solve with these factors would divide by zero. To "
                           "get the factors anyway, call torch.linalg.ldl_factor_ex(A) and read its info")


def ldl_factor(A, *, hermitian=False):
    """``(LD, pivots)``; a matrix whose ``D`` has a zero 1x1 block raises, as its factors could not be used to
    solve."""
    del hermitian
    op = "torch.linalg.ldl_factor"
    _check_square("torch.linalg.ldl_factor_ex", A)
    check_floating("torch.linalg.ldl_factor_ex", A._data)
    ld, pivots, info = LDLDecomposition.apply(A)
    _raise_on_zero_pivot(op, info, A.ndim)
    return LDLFactor(ld, pivots)


def ldl_solve(LD, pivots, B, *, hermitian=False):
    """``X`` with ``A X = B`` from ``A``'s ``ldl_factor``; batch dims of ``LD`` and ``B`` broadcast."""
    del hermitian
    op = "torch.linalg.ldl_solve"
    _check_square(op, LD)
    if B.ndim < 2:
        raise IndexError(f"Dimension out of range (expected to be in range of [-1, 0], but got -2): {op} expects B "
                         f"with at least 2 dimensions (a batch of matrices), got {B.ndim}")
    if tuple(pivots.shape) != tuple(LD.shape[:-1]):
        raise RuntimeError(f"{op}: Expected LD.shape[:-1] and pivots.shape to be the same, but got pivots with "
                           f"shape {list(pivots.shape)} instead")
    if pivots._data.dtype.kind not in "iu":
        raise RuntimeError(f"{op}: Expected pivots to be integers, but got {pivots.dtype}")
    check_floating(op, LD._data)
    if B.dtype != LD.dtype:
        raise RuntimeError(f"Expected b and A to have the same dtype, but found b of type {B.dtype} and A of type "
                           f"{LD.dtype} instead.")
    if B.shape[-2] != LD.shape[-1]:
        raise RuntimeError(f"Incompatible matrix sizes for {op}: each A matrix is {LD.shape[-2]} by "
                           f"{LD.shape[-1]} but each b matrix is {B.shape[-2]} by {B.shape[-1]}")
    batch = tuple(broadcast_shapes(tuple(LD.shape[:-2]), tuple(B.shape[:-2])))
    n = LD.shape[-1]
    return LDLSolve.apply(LD.expand(*batch, n, n), pivots.expand(*batch, n), B.expand(*batch, *B.shape[-2:]))
