"""The KL(p || q) rules PyTorch registers between ``LowRankMultivariateNormal`` and itself or
``MultivariateNormal``: every trace goes through the low-rank factors and the capacitance matrix, never an
``n x n`` inverse. Importing this module registers them with ``kl_divergence``."""

from __future__ import annotations

from trainer.distributions.kl import register_kl
from trainer.distributions.lowrank_multivariate_normal import (
    LowRankMultivariateNormal,
    batch_lowrank_logdet,
    batch_lowrank_mahalanobis,
)
from trainer.distributions.multivariate_normal import MultivariateNormal, batch_mahalanobis
from trainer.linalg import solve_triangular
from trainer.ops._operands import broadcast_shapes

__all__: list[str] = []


def batch_trace_xxt(matrices):
    """``trace(X X^T)`` (the squared Frobenius norm) of each matrix of the batch."""
    return matrices.pow(2).sum((-2, -1))


def _check_event_shapes(p, q, what: str) -> None:
    if p.event_shape != q.event_shape:
        raise ValueError(f"KL-divergence between two {what} with different event shapes cannot be computed: "
                         f"{p.event_shape} vs {q.event_shape}")


def _logdet(d):
    return batch_lowrank_logdet(d._unbroadcasted_cov_factor, d._unbroadcasted_cov_diag, d._capacitance_tril)


def _woodbury_factor(q):
    """``A = C^-1/2 W^T D^-1`` of q, so that ``Sigma_q^-1 = D^-1 - A^T A``."""
    wt_dinv = q._unbroadcasted_cov_factor.mT / q._unbroadcasted_cov_diag.unsqueeze(-2)
    return solve_triangular(q._capacitance_tril, wt_dinv, upper=False)


def _lowrank_mahalanobis(q, diff):
    return batch_lowrank_mahalanobis(q._unbroadcasted_cov_factor, q._unbroadcasted_cov_diag, diff,
                                     q._capacitance_tril)


@register_kl(LowRankMultivariateNormal, LowRankMultivariateNormal)
def _kl_lowrank_lowrank(p, q):
    _check_event_shapes(p, q, "Low Rank Multivariate Normals")
    term1 = _logdet(q) - _logdet(p)
    term3 = _lowrank_mahalanobis(q, q.loc - p.loc)
    # trace(Sigma_q^-1 Sigma_p) = trace((D_q^-1 - A^T A) (D_p + W_p W_p^T))
    a = _woodbury_factor(q)
    p_diag, q_diag = p._unbroadcasted_cov_diag, q._unbroadcasted_cov_diag
    term21 = (p_diag / q_diag).sum(-1)
    term22 = batch_trace_xxt(p._unbroadcasted_cov_factor * q_diag.rsqrt().unsqueeze(-1))
    term23 = batch_trace_xxt(a * p_diag.sqrt().unsqueeze(-2))
    term24 = batch_trace_xxt(a @ p._unbroadcasted_cov_factor)
    return 0.5 * (term1 + term21 + term22 - term23 - term24 + term3 - p.event_shape[0])


@register_kl(MultivariateNormal, LowRankMultivariateNormal)
def _kl_multivariatenormal_lowrank(p, q):
    _check_event_shapes(p, q, "(Low Rank) Multivariate Normals")
    p_tril = p._unbroadcasted_scale_tril
    term1 = _logdet(q) - 2 * p_tril.diagonal(dim1=-2, dim2=-1).log().sum(-1)
    term3 = _lowrank_mahalanobis(q, q.loc - p.loc)
    # trace(Sigma_q^-1 L_p L_p^T) = trace((D_q^-1 - A^T A) L_p L_p^T)
    a = _woodbury_factor(q)
    term21 = batch_trace_xxt(p_tril * q._unbroadcasted_cov_diag.rsqrt().unsqueeze(-1))
    term22 = batch_trace_xxt(a @ p_tril)
    return 0.5 * (term1 + term21 - term22 + term3 - p.event_shape[0])


@register_kl(LowRankMultivariateNormal, MultivariateNormal)
def _kl_lowrank_multivariatenormal(p, q):
    _check_event_shapes(p, q, "(Low Rank) Multivariate Normals")
    q_tril = q._unbroadcasted_scale_tril
    term1 = 2 * q_tril.diagonal(dim1=-2, dim2=-1).log().sum(-1) - _logdet(p)
    term3 = batch_mahalanobis(q_tril, q.loc - p.loc)
    # trace(Sigma_q^-1 (W_p W_p^T + D_p)) = |L_q^-1 W_p|^2 + |L_q^-1 D_p^1/2|^2
    batch = tuple(broadcast_shapes(tuple(q_tril.shape[:-2]), tuple(p._unbroadcasted_cov_factor.shape[:-2])))
    n = p.event_shape[0]
    q_tril = q_tril.expand(*batch, n, n)
    p_factor = p._unbroadcasted_cov_factor.expand(*batch, n, p.cov_factor.shape[-1])
    p_sqrt_diag = p._unbroadcasted_cov_diag.sqrt().diag_embed().expand(*batch, n, n)
    term21 = batch_trace_xxt(solve_triangular(q_tril, p_factor, upper=False))
    term22 = batch_trace_xxt(solve_triangular(q_tril, p_sqrt_diag, upper=False))
    return 0.5 * (term1 + term21 + term22 + term3 - n)
