"""``svd_lowrank`` and ``pca_lowrank``: PyTorch's randomized low-rank SVD and PCA (Halko, Martinsson and Tropp,
2009, Algorithm 4.4 with subspace iterations), composed from differentiable trainer ops (``matmul``,
``linalg.qr``, ``linalg.svd``), so gradients flow to the input.

The random test matrix is drawn from trainer's generator: results agree with PyTorch's where they are unique
(the leading singular values and vectors, up to sign, of a matrix whose rank does not exceed ``q``), not draw for
draw.
"""

from __future__ import annotations

from trainer import dtypes, linalg
from trainer.creation import randn
from trainer.tensor import Tensor


def _floating_dtype(A: Tensor):  # noqa: N803 - the matrix's name in the paper and in PyTorch
    """The dtype the random test matrix is drawn in: ``A``'s own if inexact, float32 for integer input."""
    return A.dtype if dtypes.is_inexact(A._data.dtype) else dtypes.float32


def get_approximate_basis(A: Tensor, q: int, niter: int | None = 2, M: Tensor | None = None) -> Tensor:  # noqa: N803
    """An ``(m, q)`` matrix ``Q`` with orthonormal columns such that ``Q Q^H (A - M)`` approximates ``A - M``."""
    niter = 2 if niter is None else niter
    R = randn(A.shape[-1], q, dtype=_floating_dtype(A), device=A.device)  # noqa: N806
    X = A @ R if M is None else A @ R - M @ R  # noqa: N806
    Q = linalg.qr(X).Q  # noqa: N806
    for _ in range(niter):
        X = A.mH @ Q if M is None else A.mH @ Q - M.mH @ Q  # noqa: N806
        Q = linalg.qr(X).Q  # noqa: N806
        X = A @ Q if M is None else A @ Q - M @ Q  # noqa: N806
        Q = linalg.qr(X).Q  # noqa: N806
    return Q


def svd_lowrank(A: Tensor, q: int | None = 6, niter: int | None = 2, M: Tensor | None = None):  # noqa: N803
    """``(U, S, V)`` with ``A - M ~ U diag(S) V^H`` for the ``q`` leading singular triplets (``M`` defaults to
    zero and broadcasts to ``A``'s shape)."""
    q = 6 if q is None else q
    m, n = A.shape[-2:]
    if M is not None:
        M = M.broadcast_to(A.shape)  # noqa: N806
    if m < n:  # work on the tall orientation, whose basis has q <= n columns
        A = A.mH  # noqa: N806
        M = None if M is None else M.mH  # noqa: N806
    Q = get_approximate_basis(A, q, niter=niter, M=M)  # noqa: N806
    B = Q.mH @ A if M is None else Q.mH @ A - Q.mH @ M  # noqa: N806
    U, S, Vh = linalg.svd(B, full_matrices=False)  # noqa: N806
    U, V = Q @ U, Vh.mH  # noqa: N806
    return (V, S, U) if m < n else (U, S, V)


def pca_lowrank(A: Tensor, q: int | None = None, center: bool = True, niter: int = 2):  # noqa: N803
    """``(U, S, V)``, the ``q`` leading principal directions of the rows of ``A`` (centred on their mean unless
    ``center=False``): ``V``'s columns are the directions and ``S**2 / (m - 1)`` their variances."""
    m, n = A.shape[-2:]
    if q is None:
        q = min(6, m, n)
    elif not 0 <= q <= min(m, n):
        raise ValueError(f"q(={q}) must be non-negative integer and not greater than min(m, n)={min(m, n)}")
    if not niter >= 0:
        raise ValueError(f"niter(={niter}) must be non-negative integer")
    if not center:
        return svd_lowrank(A, q, niter=niter)
    return svd_lowrank(A - A.mean(dim=(-2,), keepdim=True), q, niter=niter)
