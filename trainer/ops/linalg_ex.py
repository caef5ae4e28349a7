"""The ``*_ex`` variants of PyTorch's checked factorisations, ``cholesky_ex``, ``inv_ex`` and ``solve_ex``: they
return an ``info`` tensor (int32, one per matrix, 0 for success) instead of raising, unless ``check_errors``.

Matrices that succeed go through the differentiable ops; a matrix that fails gets what LAPACK leaves for it (the
partial Cholesky factor; inf/NaN from the zero pivot of its LU factors) and no gradient.
"""

# ruff: noqa: N803, N806 - the argument names are PyTorch's (A, B), so keyword calls keep working

from __future__ import annotations

from collections import namedtuple

from trainer.backend import xp_of
from trainer.creation import eye
from trainer.ops import decompositions as ops
from trainer.ops.decompositions import check_floating, check_square
from trainer.ops.linalg_errors import cholesky_failures, not_positive_definite_error, singular_error
from trainer.ops.lu import factor, permutation, split
from trainer.ops.triangular import substitute
from trainer.tensor import Tensor

CholeskyEx = namedtuple("CholeskyEx", ["L", "info"])
InvEx = namedtuple("InvEx", ["inverse", "info"])
SolveEx = namedtuple("SolveEx", ["result", "info"])


def _square_float(op: str, A) -> None:
    check_square(op, A._data)
    check_floating(op, A._data)


def _with_failures(apply, A, info, fallback):
    """``apply`` on ``A`` with every failed matrix swapped for the identity, then ``fallback`` (an array with the
    result's shape) where a matrix failed."""
    failed = Tensor._wrap(info._data != 0)
    if not bool(failed._data.any()):
        return apply(A)
    identity = eye(A.shape[-1], dtype=A.dtype, device=A.device)
    result = apply(A.where(~failed[..., None, None], identity))
    mask = failed.reshape(*failed.shape, *([1] * (result.ndim - failed.ndim)))
    return result.where(~mask, Tensor._wrap(fallback()))


def cholesky_ex(A, *, upper=False, check_errors=False):
    """``(L, info)``: ``info`` is the order of the first leading minor that is not positive-definite, else 0."""
    _square_float("linalg.cholesky_ex", A)
    low, info = cholesky_failures(A._data)
    info = Tensor._wrap(info)
    if check_errors and bool(info._data.any()):
        raise not_positive_definite_error("linalg.cholesky_ex", info._data, A.ndim)
    factor_ = _with_failures(lambda a: ops.Cholesky.apply(a, upper=upper), A, info,
                             lambda: low.swapaxes(-1, -2).copy() if upper else low)
    return CholeskyEx(factor_, info)


def _lu_info(A):
    return Tensor._wrap(factor(A._data)[2])


def _lu_substitution(a, b):
    """``a^-1 b`` through ``a``'s LU factors, letting a zero pivot give inf/NaN as LAPACK's ``getrs`` does."""
    lu, pivots, _ = factor(a)
    low, up = split(lu)
    p = permutation(pivots, a.shape[-1], a.dtype)
    return substitute(up, substitute(low, p.swapaxes(-1, -2) @ b, upper=False, unitriangular=True), upper=True)


def inv_ex(A, *, check_errors=False):
    """``(inverse, info)``: ``info`` is ``i`` (1-based) where the LU factorisation met a zero pivot, else 0."""
    _square_float("linalg.inv_ex", A)
    info = _lu_info(A)
    if check_errors and bool(info._data.any()):
        raise singular_error("linalg.inv_ex", A._data)
    xp = xp_of(A._data)
    identity = xp.broadcast_to(xp.eye(A.shape[-1], dtype=A._data.dtype), A.shape)
    return InvEx(_with_failures(ops.Inverse.apply, A, info, lambda: _lu_substitution(A._data, identity)), info)


def solve_ex(A, B, *, left=True, check_errors=False):
    """``(result, info)`` of ``linalg.solve``, with ``info`` as in ``inv_ex``."""
    from trainer import linalg

    _square_float("linalg.solve_ex", A)
    if not left:
        result, info = solve_ex(A.mT, B.mT, check_errors=check_errors)
        return SolveEx(result.mT, info)
    info = _lu_info(A)
    if check_errors and bool(info._data.any()):
        raise singular_error("linalg.solve", A._data)
    if not bool(info._data.any()):
        return SolveEx(linalg.solve(A, B), info)
    vector = B.ndim == 1 or (B.ndim == A.ndim - 1 and tuple(B.shape) == tuple(A.shape[:-1]))
    rhs = B.unsqueeze(-1) if vector else B
    failed = Tensor._wrap(info._data != 0)[..., None, None]
    solution = linalg.solve(A.where(~failed, eye(A.shape[-1], dtype=A.dtype, device=A.device)), rhs)
    xp = xp_of(A._data)
    a = xp.broadcast_to(A._data, (*solution.shape[:-2], *A.shape[-2:]))
    fallback = _lu_substitution(a, xp.broadcast_to(rhs._data, solution.shape))
    result = solution.where(~failed, Tensor._wrap(fallback))
    return SolveEx(result.squeeze(-1) if vector else result, info)
