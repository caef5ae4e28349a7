"""Triangular solves: ``linalg.solve_triangular``, the legacy ``triangular_solve``, and the Cholesky-based
``cholesky_solve`` and ``cholesky_inverse`` built on them.

The forward pass is substitution, row by row and vectorised over the batch and the right-hand sides, as LAPACK's
``trtrs`` does: it reads only the named triangle, never pivots, and lets a zero on the diagonal give inf/NaN
instead of failing (SciPy, which has ``solve_triangular``, is not a dependency and does not batch).
"""

# ruff: noqa: N803, N806 - the argument names are PyTorch's (A, B), so keyword calls keep working

from __future__ import annotations

import contextlib
from collections import namedtuple

from trainer.autograd.higher_order import graph_tensors
from trainer.autograd.op import Function
from trainer.backend import xp_of
from trainer.creation import eye
from trainer.ops._operands import broadcast_shapes
from trainer.ops.decompositions import check_floating, check_floating_or_complex, check_square
from trainer.ops.holomorphic import holomorphic
from trainer.tensor import Tensor

TriangularSolveResult = namedtuple("TriangularSolveResult", ["solution", "cloned_coefficient"])


def _mT(a):
    return a.swapaxes(-1, -2)


def substitute(a, b, upper: bool, unitriangular: bool = False):
    """``X`` with ``A X = B`` for triangular ``A`` ``(*, n, n)`` and ``B`` ``(*, n, k)`` of the same batch."""
    xp = xp_of(a)
    n = a.shape[-1]
    x = xp.zeros(b.shape, dtype=xp.result_type(a, b))
    with _quiet(xp):
        for i in reversed(range(n)) if upper else range(n):
            known = slice(i + 1, n) if upper else slice(0, i)
            row = b[..., i, :] - (a[..., i : i + 1, known] @ x[..., known, :])[..., 0, :]
            x[..., i, :] = row if unitriangular else row / a[..., i, i, None]
    return x


def _quiet(xp):
    """NumPy's warnings off for the inf/NaN a zero on the diagonal is meant to give, as in PyTorch; CuPy does not
    warn."""
    return xp.errstate(divide="ignore", invalid="ignore") if hasattr(xp, "errstate") else contextlib.nullcontext()


def triangle_mask(xp, n: int, upper: bool, unitriangular: bool):
    """Where the entries a triangular solve reads lie: the triangle, without the diagonal when it is unit."""
    offset = (1 if upper else -1) if unitriangular else 0
    ones = xp.ones((n, n), dtype=bool)
    return xp.triu(ones, offset) if upper else xp.tril(ones, offset)


@holomorphic
class TriangularSolve(Function):
    """``A X = B`` for ``X`` with ``A`` triangular; ``A`` and ``B`` share their batch dims."""

    @staticmethod
    def forward(ctx, a, b, upper=False, unitriangular=False):
        x = substitute(a, b, upper, unitriangular)
        ctx.save_for_backward(a, x)
        ctx.upper, ctx.unitriangular = upper, unitriangular
        return x

    @staticmethod
    def backward(ctx, g):
        # gB = A^-T g (A^T is triangular the other way up); gA = -gB X^T, on the entries forward read.
        a, x = ctx.saved_tensors
        g_b = substitute(_mT(a), g, not ctx.upper, ctx.unitriangular)
        mask = triangle_mask(xp_of(a), a.shape[-1], ctx.upper, ctx.unitriangular)
        return -(g_b @ _mT(x)) * mask, g_b

    @staticmethod
    def backward_graph(ctx, g):
        a, x = graph_tensors(ctx)
        g_b = TriangularSolve.apply(a.mT, g, upper=not ctx.upper, unitriangular=ctx.unitriangular)
        mask = Tensor._wrap(triangle_mask(xp_of(a._data), a.shape[-1], ctx.upper, ctx.unitriangular))
        return -(g_b @ x.mT) * mask, g_b


def _check_operands(op: str, A, B) -> None:
    if A.ndim < 2 or B.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor {'A' if A.ndim < 2 else 'B'} must have at least 2 dimensions.")
    check_square(op, A._data)
    check_floating_or_complex(op, A._data)
    if A._data.dtype != B._data.dtype:
        raise RuntimeError(f"{op}: Expected A and B to have the same dtype, but found A of type {A.dtype} and B of "
                           f"type {B.dtype} instead")


def _solve_left(A, B, upper: bool, unitriangular: bool):
    batch = tuple(broadcast_shapes(tuple(A.shape[:-2]), tuple(B.shape[:-2])))
    A = A.expand(*batch, *A.shape[-2:])
    B = B.expand(*batch, *B.shape[-2:])
    return TriangularSolve.apply(A, B, upper=upper, unitriangular=unitriangular)


def solve_triangular(A, B, *, upper, left=True, unitriangular=False):
    """``X`` with ``A X = B`` (``X A = B`` with ``left=False``) for triangular ``A``; only the ``upper`` (or lower)
    triangle of ``A`` is read, and its diagonal is taken as ones with ``unitriangular``."""
    _check_operands("linalg.solve_triangular", A, B)
    if (B.shape[-2] if left else B.shape[-1]) != A.shape[-1]:
        raise RuntimeError(f"linalg.solve_triangular: Incompatible shapes of A and B for the equation "
                           f"{'AX = B' if left else 'XA = B'} ({A.shape[-2]}x{A.shape[-1]} and "
                           f"{B.shape[-2]}x{B.shape[-1]})")
    if left:
        return _solve_left(A, B, upper, unitriangular)
    return _solve_left(A.mT, B.mT, not upper, unitriangular).mT


def triangular_solve(b, A, upper=True, transpose=False, unitriangular=False):
    """The legacy ``torch.triangular_solve``: ``(X, A.clone())`` with ``op(A) X = b``, ``op`` the transpose when
    ``transpose``."""
    if b.ndim < 2 or A.ndim < 2:
        raise RuntimeError(f"triangular_solve: The input tensor {'b' if b.ndim < 2 else 'A'} must have at least 2 "
                           "dimensions.")
    coefficient = A.mT if transpose else A
    solution = solve_triangular(coefficient, b, upper=upper != transpose, unitriangular=unitriangular)
    return TriangularSolveResult(solution, A.clone())


def cholesky_solve(B, L, upper=False):
    """``X`` with ``A X = B`` where ``A = L L^H`` (``U^H U`` with ``upper``), given the Cholesky factor."""
    _check_operands("cholesky_solve", L, B)
    first = solve_triangular(L.mH if upper else L, B, upper=False)
    return solve_triangular(L if upper else L.mH, first, upper=True)


def cholesky_inverse(L, upper=False):
    """``(L L^T)^-1`` (``(U^T U)^-1`` with ``upper``) from the Cholesky factor."""
    if L.ndim < 2:
        raise RuntimeError(f"cholesky_inverse: The input tensor A must have at least 2 dimensions, got {L.ndim}")
    check_square("cholesky_inverse", L._data)
    check_floating("cholesky_inverse", L._data)
    identity = eye(L.shape[-1], dtype=L.dtype, device=L.device).expand(*L.shape)
    return cholesky_solve(identity, L, upper)
