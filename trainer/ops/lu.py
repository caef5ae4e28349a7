"""The LU decomposition with partial pivoting, ``A = P L U``: ``linalg.lu``, ``lu_factor``, ``lu_factor_ex``,
``lu_unpack`` and ``lu_solve``, with pivots as LAPACK gives them (int32, 1-based, row ``i`` swapped with row
``pivots[i]`` in turn).

NumPy has no LU, so the factorisation is right-looking Gaussian elimination, one column per step and vectorised
over the batch, as LAPACK's ``getf2``: the pivot is the first entry of largest magnitude, and a zero pivot is
recorded in ``info`` and skipped rather than divided by.
"""

# ruff: noqa: N803, N806 - the argument names are PyTorch's (A, B, LU), so keyword calls keep working

from __future__ import annotations

import math
from collections import namedtuple

from trainer.autograd.higher_order import graph_tensors
from trainer.autograd.op import Function
from trainer.backend import xp_of
from trainer.ops.decompositions import check_floating
from trainer.ops.join import cat
from trainer.ops.linalg_errors import first_failure
from trainer.ops.padding import pad
from trainer.ops.triangular import TriangularSolve, solve_triangular, substitute
from trainer.tensor import Tensor

PLU = namedtuple("PLU", ["P", "L", "U"])  # torch.return_types.linalg_lu and lu_unpack
LUFactor = namedtuple("LUFactor", ["LU", "pivots"])
LUFactorEx = namedtuple("LUFactorEx", ["LU", "pivots", "info"])


def _mT(a):
    return a.swapaxes(-1, -2)


def factor(a):
    """``(LU, pivots, info)`` of ``a`` ``(*, m, n)``: ``L``'s strict lower triangle and ``U`` packed in one matrix."""
    xp = xp_of(a)
    *batch, m, n = a.shape
    k = min(m, n)
    count = math.prod(batch)
    lu = a.reshape(count, m, n).copy()
    pivots = xp.empty((count, k), dtype=xp.int32)
    info = xp.zeros(count, dtype=xp.int32)
    every = xp.arange(count)
    for j in range(k):
        p = j + xp.argmax(xp.abs(lu[:, j:, j]), axis=1)
        pivots[:, j] = p + 1
        row = lu[every, j].copy()
        lu[:, j] = lu[every, p]
        lu[every, p] = row
        pivot = lu[:, j, j]
        zero = pivot == 0
        info = xp.where((info == 0) & zero, j + 1, info).astype(xp.int32)
        lu[:, j + 1 :, j] /= xp.where(zero, 1, pivot)[:, None]
        lu[:, j + 1 :, j + 1 :] -= lu[:, j + 1 :, j : j + 1] * lu[:, j : j + 1, j + 1 :]
    return lu.reshape(a.shape), pivots.reshape(*batch, k), info.reshape(batch)


def permutation(pivots, m: int, dtype):
    """The matrix ``P`` ``(*, m, m)`` of ``A = P L U`` from LAPACK's pivots ``(*, k)``."""
    xp = xp_of(pivots)
    batch = pivots.shape[:-1]
    flat = pivots.reshape(-1, pivots.shape[-1]).astype(xp.int64) - 1
    order = xp.broadcast_to(xp.arange(m), (flat.shape[0], m)).copy()
    every = xp.arange(flat.shape[0])
    for j in range(flat.shape[1]):
        swapped = order[every, flat[:, j]].copy()
        order[every, flat[:, j]] = order[:, j]
        order[:, j] = swapped
    # row i of P^T A is row order[i] of A, so P[order[i], i] = 1
    p = xp.zeros((flat.shape[0], m, m), dtype=dtype)
    p[every[:, None], order, xp.arange(m)[None, :]] = 1
    return p.reshape(*batch, m, m)


def split(lu):
    xp = xp_of(lu)
    m, n = lu.shape[-2:]
    k = min(m, n)
    low = xp.tril(lu[..., :, :k], -1) + xp.eye(m, k, dtype=lu.dtype)
    return low, xp.triu(lu[..., :k, :])


def _right(a, b, upper):
    """``X`` with ``X A = B`` for triangular ``A``."""
    return _mT(substitute(_mT(a), _mT(b), not upper))


class LUDecomposition(Function):
    """``A = P L U``: outputs ``L``, ``U`` (differentiable), ``pivots`` and ``info``."""

    @staticmethod
    def forward(ctx, a):
        lu, pivots, info = factor(a)
        low, up = split(lu)
        ctx.save_for_backward(low, up, pivots)
        return low, up, pivots, info

    @staticmethod
    def backward(ctx, g_l, g_u, _g_pivots=None, _g_info=None):
        # PyTorch's linalg_lu_backward (real case): with the square blocks L1, U1 of the thin factors,
        # gA = P L^-T [tril(L^T gL, -1) + triu(gU U^T)] U^-T, and the wide / tall extensions of it.
        low, up, pivots = ctx.saved_tensors
        xp = xp_of(low)
        m, n = low.shape[-2], up.shape[-1]
        k = min(m, n)
        if m == n:
            inner = xp.tril(_mT(low) @ g_l, -1) + xp.triu(g_u @ _mT(up))
            grad = substitute(_mT(low), _right(_mT(up), inner, upper=False), upper=True, unitriangular=True)
        elif m < n:
            inner = xp.tril(_mT(low) @ g_l - xp.triu(g_u) @ _mT(up), -1)
            inner = _right(_mT(up[..., :k]), inner, upper=False)
            inner = xp.concatenate([inner + xp.triu(g_u[..., :k]), g_u[..., k:]], axis=-1)
            grad = substitute(_mT(low), inner, upper=True, unitriangular=True)
        else:
            inner = xp.triu(g_u @ _mT(up) - _mT(low) @ xp.tril(g_l, -1))
            inner = substitute(_mT(low[..., :k, :]), inner, upper=True, unitriangular=True)
            inner = xp.concatenate([inner + xp.tril(g_l[..., :k, :], -1), g_l[..., k:, :]], axis=-2)
            grad = _right(_mT(up), inner, upper=False)
        return permutation(pivots, m, low.dtype) @ grad

    @staticmethod
    def backward_graph(ctx, g_l, g_u, _g_pivots=None, _g_info=None):
        # the same formulas as backward, on tensors; the pivots are constants
        low, up, pivots = graph_tensors(ctx)
        m, n = low.shape[-2], up.shape[-1]
        k = min(m, n)
        if m == n:
            inner = (low.mT @ g_l).tril(-1) + (g_u @ up.mT).triu()
            grad = _unit_upper_solve(low.mT, _right_solve(up.mT, inner, upper=False))
        elif m < n:
            inner = (low.mT @ g_l - g_u.triu() @ up.mT).tril(-1)
            inner = _right_solve(up[..., :k].mT, inner, upper=False)
            inner = cat([inner + g_u[..., :k].triu(), g_u[..., k:]], -1)
            grad = _unit_upper_solve(low.mT, inner)
        else:
            inner = (g_u @ up.mT - low.mT @ g_l.tril(-1)).triu()
            inner = _unit_upper_solve(low[..., :k, :].mT, inner)
            inner = cat([inner + g_l[..., :k, :].tril(-1), g_l[..., k:, :]], -2)
            grad = _right_solve(up.mT, inner, upper=False)
        return Tensor._wrap(permutation(pivots._data, m, low._data.dtype)) @ grad


def _unit_upper_solve(a, b):
    """``X`` with ``A X = B`` for unit upper triangular ``A``, recorded."""
    return TriangularSolve.apply(a, b, upper=True, unitriangular=True)


def _right_solve(a, b, upper: bool):
    """``X`` with ``X A = B`` for triangular ``A``, recorded."""
    return TriangularSolve.apply(a.mT, b.mT, upper=not upper).mT


def _check_input(op: str, A) -> None:
    if A.ndim < 2:
        raise RuntimeError(f"{op}: Expected tensor with 2 or more dimensions. Got size: {list(A.shape)} instead")
    check_floating(op, A._data)


def _check_pivot(op: str, pivot: bool) -> None:
    if not pivot:
        raise RuntimeError(f"{op}: LU without pivoting is not implemented on the CPU")


def _pack(low, up):
    """``L``'s strict lower triangle and ``U`` in one ``(m, n)`` matrix, as LAPACK stores them."""
    m, n = low.shape[-2], up.shape[-1]
    if m < n:
        return pad(low.tril(-1), (0, n - m)) + up
    return low.tril(-1) + (pad(up, (0, 0, 0, m - n)) if m > n else up)


def lu_factor_ex(A, *, pivot=True, check_errors=False):
    """``(LU, pivots, info)``: ``info`` is ``i`` (1-based) where ``U[i-1, i-1]`` is zero, else 0."""
    _check_input("torch.linalg.lu_factor_ex", A)
    _check_pivot("linalg.lu_factor", pivot)
    low, up, pivots, info = LUDecomposition.apply(A)
    if check_errors:
        _raise_on_zero_pivot("torch.linalg.lu_factor_ex", info, A.ndim)
    return LUFactorEx(_pack(low, up), pivots, info)


def _raise_on_zero_pivot(op: str, info, ndim: int) -> None:
    failure = first_failure(info._data, ndim)
    if failure is not None:
        prefix, code = failure
        raise RuntimeError(f"{op}: {prefix}U[{code},{code}] is zero and using it on lu_solve would result in a "
                           "division by zero. If you still want to perform the factorization, consider calling "
                           "linalg.lu(A, pivot) or linalg.lu_factor_ex(A, pivot)")


def lu_factor(A, *, pivot=True):
    """``(LU, pivots)``; a matrix with a zero pivot raises, as the factors could not be used to solve."""
    _check_input("torch.linalg.lu_factor", A)
    _check_pivot("linalg.lu_factor", pivot)
    low, up, pivots, info = LUDecomposition.apply(A)
    _raise_on_zero_pivot("torch.linalg.lu_factor", info, A.ndim)
    return LUFactor(_pack(low, up), pivots)


def lu(A, *, pivot=True):
    """``(P, L, U)`` with ``A = P L U``, ``L`` unit lower triangular ``(m, k)`` and ``U`` upper ``(k, n)``."""
    _check_input("linalg.lu", A)
    _check_pivot("linalg.lu", pivot)
    low, up, pivots, _ = LUDecomposition.apply(A)
    return PLU(Tensor._wrap(permutation(pivots._data, A.shape[-2], A._data.dtype)), low, up)


def _check_pivots(op: str, LU, pivots) -> None:
    if pivots.dtype.name != "int32":
        raise RuntimeError(f"{op}: Expected pivots to be of type int32, but got {pivots.dtype}")
    if tuple(pivots.shape) != (*LU.shape[:-2], min(LU.shape[-2:])):
        raise RuntimeError(f"{op}: Expected pivots of shape {[*LU.shape[:-2], min(LU.shape[-2:])]} for LU of shape "
                           f"{list(LU.shape)}, but got {list(pivots.shape)}")


def lu_unpack(LU_data, LU_pivots, unpack_data=True, unpack_pivots=True):
    """``(P, L, U)`` from ``lu_factor``'s packed factors; a part not asked for is an empty tensor."""
    _check_input("lu_unpack", LU_data)
    _check_pivots("lu_unpack", LU_data, LU_pivots)
    m, n = LU_data.shape[-2:]
    k = min(m, n)
    empty = LU_data.new_empty(0)
    if unpack_data:
        eye = Tensor._wrap(xp_of(LU_data._data).eye(m, k, dtype=LU_data._data.dtype))
        low, up = LU_data[..., :, :k].tril(-1) + eye, LU_data[..., :k, :].triu()
    else:
        low = up = empty
    p = Tensor._wrap(permutation(LU_pivots._data, m, LU_data._data.dtype)) if unpack_pivots else empty
    return PLU(p, low, up)


def lu_solve(LU, pivots, B, *, left=True, adjoint=False):
    """``X`` with ``A X = B`` (``A^T X = B`` with ``adjoint``; ``X A = B`` with ``left=False``) from ``A``'s
    ``lu_factor``."""
    _check_input("linalg.lu_solve", LU)
    _check_pivots("linalg.lu_solve", LU, pivots)
    if LU.shape[-1] != LU.shape[-2]:
        raise RuntimeError(f"linalg.lu_solve: A must be batches of square matrices, but they are {LU.shape[-2]} by "
                           f"{LU.shape[-1]} matrices")
    if B.ndim < 2:
        raise RuntimeError(f"linalg.lu_solve: The input tensor B must have at least 2 dimensions, got {B.ndim}")
    if (B.shape[-2] if left else B.shape[-1]) != LU.shape[-1]:
        raise RuntimeError(f"linalg.lu_solve: Incompatible shapes of A and B for the equation "
                           f"{'AX = B' if left else 'XA = B'} ({LU.shape[-2]}x{LU.shape[-1]} and "
                           f"{B.shape[-2]}x{B.shape[-1]})")
    if not left:  # X A = B is A^T X^T = B^T
        return lu_solve(LU, pivots, B.mT, adjoint=not adjoint).mT
    p = Tensor._wrap(permutation(pivots._data, LU.shape[-1], LU._data.dtype))
    if adjoint:  # A^T = U^T L^T P^T
        y = solve_triangular(LU.mT, B, upper=False)
        return p @ solve_triangular(LU.mT, y, upper=True, unitriangular=True)
    y = solve_triangular(LU, p.mT @ B, upper=False, unitriangular=True)
    return solve_triangular(LU, y, upper=True)


def legacy_lu_solve(b, LU_data, LU_pivots):
    """``torch.lu_solve(b, LU_data, LU_pivots)``, the argument order before ``linalg.lu_solve``."""
    return lu_solve(LU_data, LU_pivots, b)
