"""``linalg.lstsq``: least-squares solutions of ``A X = B`` with PyTorch's CPU outputs per LAPACK driver.

The solution is composed of differentiable ops: through ``A``'s QR factors when every matrix has full rank (the
unique least-squares solution for tall ``A``, the minimum-norm one for wide ``A``), through the pseudo-inverse
cut at ``rcond`` otherwise (the minimum-norm solution that ``gelsy``, ``gelsd`` and ``gelss`` give).
"""

# ruff: noqa: N803, N806 - the argument names are PyTorch's (A, B), so keyword calls keep working

from __future__ import annotations

from collections import namedtuple

from trainer.ops._operands import broadcast_shapes
from trainer.ops.decompositions import check_floating_or_complex
from trainer.ops.triangular import solve_triangular
from trainer.type_info import array_finfo

Lstsq = namedtuple("Lstsq", ["solution", "residuals", "rank", "singular_values"])  # torch.return_types.linalg_lstsq

_DRIVERS = ("gels", "gelsy", "gelsd", "gelss")


def _full_rank_solution(A, B):
    from trainer import linalg

    if A.shape[-2] >= A.shape[-1]:
        q, r = linalg.qr(A)
        return solve_triangular(r, q.mH @ B, upper=True)
    q, r = linalg.qr(A.mH)
    return q @ solve_triangular(r.mH, B, upper=False)


def lstsq(A, B, rcond=None, *, driver=None):
    """``(solution, residuals, rank, singular_values)``. ``rank`` comes with ``gelsy`` (the default), ``gelsd`` and
    ``gelss``, ``singular_values`` with the last two; ``residuals``, the squared error of each column, come for tall
    full-rank ``A`` with every driver but ``gelsy``. Parts a driver does not give are empty tensors."""
    from trainer import linalg

    driver = "gelsy" if driver is None else driver
    if driver not in _DRIVERS:
        raise RuntimeError("torch.linalg.lstsq: parameter `driver` should be one of (gels, gelsy, gelsd, gelss)")
    if A.ndim < 2:
        raise RuntimeError(f"torch.linalg.lstsq: input must have at least 2 dimensions. Got {A.ndim} dimensions")
    check_floating_or_complex("torch.linalg.lstsq", A._data)
    if A._data.dtype != B._data.dtype:
        raise RuntimeError(f"torch.linalg.lstsq: Expected input and other to have the same dtype, but got "
                           f"input's dtype {A.dtype} and other's dtype {B.dtype}")
    vector = B.ndim == A.ndim - 1
    rhs = B.unsqueeze(-1) if vector else B
    m, n = A.shape[-2:]
    if rhs.shape[-2] != m:
        raise RuntimeError(f"torch.linalg.lstsq: input.size(-2) should match other.size(-2). Got {m} and "
                           f"{rhs.shape[-2]}")
    batch = tuple(broadcast_shapes(tuple(A.shape[:-2]), tuple(rhs.shape[:-2])))
    A, rhs = A.expand(*batch, m, n), rhs.expand(*batch, m, rhs.shape[-1])
    if rcond is None:
        rcond = float(array_finfo(A._data.dtype).eps) * max(m, n)
    empty = A.new_empty(0)
    singular_values = linalg.svdvals(A.detach())
    kept = singular_values > singular_values.amax(-1, keepdim=True) * rcond if min(m, n) else singular_values > 0
    rank = kept.sum(-1)
    full_rank = driver == "gels" or bool((rank == min(m, n)).all())
    if full_rank:
        solution = _full_rank_solution(A, rhs)
    else:
        solution = linalg.pinv(A, rtol=rcond) @ rhs
    if m > n and full_rank and driver != "gelsy":
        error = A @ solution - rhs
        residuals = (error * error.conj()).real.sum(-2)  # |error|^2: real for complex A too
    else:  # empty, but part of the graph as PyTorch's is
        residuals = solution.reshape(-1)[:0]
    if vector:
        solution = solution.squeeze(-1)
    return Lstsq(solution, residuals, rank if driver != "gels" else rank.new_empty(0),
                 singular_values if driver in ("gelsd", "gelss") else empty)
