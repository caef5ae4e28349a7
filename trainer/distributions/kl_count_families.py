"""The KL(p || q) rules PyTorch registers for ``Binomial`` and ``ContinuousBernoulli`` (same family) and between
the count families (``Bernoulli``, ``Binomial``, ``Poisson``). Importing this module registers them with
``kl_divergence``."""

from __future__ import annotations

from trainer.creation import full_like
from trainer.distributions.bernoulli import Bernoulli
from trainer.distributions.binomial import Binomial
from trainer.distributions.continuous_bernoulli import ContinuousBernoulli
from trainer.distributions.kl import register_kl
from trainer.distributions.poisson import Poisson
from trainer.ops.compare import where

__all__: list[str] = []

_INF = float("inf")


def infinite_like(tensor):
    """An infinite KL for each entry of ``tensor``'s batch: q gives probability 0 where p does not."""
    return full_like(tensor, _INF)


@register_kl(Binomial, Binomial)
def _kl_binomial_binomial(p, q):
    if bool((p.total_count < q.total_count).any()):
        raise NotImplementedError("KL between Binomials where q.total_count > p.total_count is not implemented")
    kl = p.total_count * (p.probs * (p.logits - q.logits) + (-p.probs).log1p() - (-q.probs).log1p())
    # more trials in p than in q: p reaches counts q cannot
    return where(p.total_count > q.total_count, _INF, kl)


@register_kl(ContinuousBernoulli, ContinuousBernoulli)
def _kl_continuous_bernoulli_continuous_bernoulli(p, q):
    t1 = p.mean * (p.logits - q.logits)
    t2 = p._cont_bern_log_norm() + (-p.probs).log1p()
    t3 = -q._cont_bern_log_norm() - (-q.probs).log1p()
    return t1 + t2 + t3


@register_kl(Bernoulli, Poisson)
def _kl_bernoulli_poisson(p, q):
    return -p.entropy() - (p.probs * q.rate.log() - q.rate)


@register_kl(Poisson, Bernoulli)
@register_kl(Poisson, Binomial)
def _kl_poisson_infinity(p, q):
    return infinite_like(p.rate)
