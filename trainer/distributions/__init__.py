"""``trainer.distributions``: probability distributions with sampling, ``log_prob``, moments and KL divergences,
as ``torch.distributions``. Parameters and values are checked (``validate_args``) as in PyTorch."""

from trainer.distributions import constraints, kl, utils
from trainer.distributions.bernoulli import Bernoulli
from trainer.distributions.beta import Beta
from trainer.distributions.categorical import Categorical
from trainer.distributions.distribution import Distribution
from trainer.distributions.exponential import Exponential
from trainer.distributions.gamma import Gamma
from trainer.distributions.independent import Independent
from trainer.distributions.kl import kl_divergence, register_kl
from trainer.distributions.laplace import Laplace
from trainer.distributions.multivariate_normal import MultivariateNormal
from trainer.distributions.normal import Normal
from trainer.distributions.one_hot_categorical import OneHotCategorical, OneHotCategoricalStraightThrough
from trainer.distributions.uniform import Uniform

__all__ = ["Bernoulli", "Beta", "Categorical", "Distribution", "Exponential", "Gamma", "Independent", "Laplace",
           "MultivariateNormal", "Normal", "OneHotCategorical", "OneHotCategoricalStraightThrough", "Uniform",
           "constraints", "kl", "kl_divergence", "register_kl", "utils"]
