"""The QR-based pieces of ``parametrizations.orthogonal`` (``geqrf`` and the projections onto orthogonal matrices
that its ``right_inverse`` uses), which run without gradients as in PyTorch. Its maps themselves are
``linalg.matrix_exp`` and ``linalg.householder_product``."""

from __future__ import annotations

from trainer import linalg
from trainer.autograd import no_grad
from trainer.creation import eye
from trainer.ops.householder_qr import geqrf
from trainer.tensor import Tensor
from trainer.type_info import array_finfo

__all__ = ["geqrf", "is_orthogonal", "make_orthogonal"]


@no_grad()
def make_orthogonal(a: Tensor) -> Tensor:
    """The ``Q`` of ``a = QR`` with ``diag(R) > 0``: the orthogonal matrix nearest in that sense, unique for a
    full-rank ``a``."""
    q, r = linalg.qr(a)
    return q * r.diagonal(dim1=-2, dim2=-1).sign().unsqueeze(-2)


def is_orthogonal(q: Tensor) -> bool:
    """Whether the columns of ``q`` are orthonormal, to a tolerance that grows with their length."""
    n, k = q.shape[-2], q.shape[-1]
    ident = eye(k, dtype=q.dtype, device=q.device)
    eps = 10.0 * n * float(array_finfo(q._data.dtype).eps)
    return bool((q.mT @ q).allclose(ident.expand(*q.shape[:-2], k, k), atol=eps))
