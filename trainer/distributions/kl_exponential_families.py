"""The KL(p || q) rules PyTorch registers for ``Dirichlet``, ``Poisson`` and ``Geometric``, and the Bregman
divergence of the log-normaliser that serves any two members of the same ``ExponentialFamily`` without a closed
form of their own. Importing this module registers them with ``kl_divergence``."""

from __future__ import annotations

from trainer.autograd.gradients import grad
from trainer.distributions.dirichlet import Dirichlet
from trainer.distributions.exp_family import ExponentialFamily
from trainer.distributions.geometric import Geometric
from trainer.distributions.kl import register_kl
from trainer.distributions.poisson import Poisson
from trainer.distributions.utils import sum_rightmost


@register_kl(ExponentialFamily, ExponentialFamily)
def _kl_expfamily_expfamily(p, q):
    if type(p) is not type(q):
        raise NotImplementedError("The cross KL-divergence between different exponential families cannot be "
                                  "computed using Bregman divergences")
    p_params = [theta.detach().requires_grad_() for theta in p._natural_params]
    q_params = q._natural_params
    log_normalizer = p._log_normalizer(*p_params)
    gradients = grad(log_normalizer.sum(), p_params, create_graph=True)
    result = q._log_normalizer(*q_params) - log_normalizer
    for p_theta, q_theta, g in zip(p_params, q_params, gradients):
        result = result - sum_rightmost((q_theta - p_theta) * g, len(q.event_shape))
    return result


@register_kl(Dirichlet, Dirichlet)
def _kl_dirichlet_dirichlet(p, q):
    p_total, q_total = p.concentration.sum(-1), q.concentration.sum(-1)
    t1 = p_total.lgamma() - q_total.lgamma()
    t2 = (p.concentration.lgamma() - q.concentration.lgamma()).sum(-1)
    t4 = p.concentration.digamma() - p_total.digamma().unsqueeze(-1)
    return t1 - t2 + ((p.concentration - q.concentration) * t4).sum(-1)


@register_kl(Poisson, Poisson)
def _kl_poisson_poisson(p, q):
    return p.rate * (p.rate.log() - q.rate.log()) - (p.rate - q.rate)


@register_kl(Geometric, Geometric)
def _kl_geometric_geometric(p, q):
    return -p.entropy() - (-q.probs).log1p() / p.probs - q.logits
