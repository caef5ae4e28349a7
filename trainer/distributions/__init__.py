"""``trainer.distributions``: probability distributions with sampling, ``log_prob``, moments and KL divergences,
as ``torch.distributions``. Parameters and values are checked (``validate_args``) as in PyTorch."""

from trainer.distributions import constraints, kl, kl_exponential_families, kl_transformed_families, transforms, utils  # noqa: F401 - KL rules
from trainer.distributions.bernoulli import Bernoulli
from trainer.distributions.beta import Beta
from trainer.distributions.categorical import Categorical
from trainer.distributions.cauchy import Cauchy
from trainer.distributions.chi2 import Chi2
from trainer.distributions.constraint_registry import biject_to, transform_to
from trainer.distributions.dirichlet import Dirichlet
from trainer.distributions.distribution import Distribution
from trainer.distributions.exp_family import ExponentialFamily
from trainer.distributions.exponential import Exponential
from trainer.distributions.folded import HalfCauchy, HalfNormal
from trainer.distributions.gamma import Gamma
from trainer.distributions.geometric import Geometric
from trainer.distributions.gumbel import Gumbel
from trainer.distributions.independent import Independent
from trainer.distributions.kl import kl_divergence, register_kl
from trainer.distributions.kumaraswamy import Kumaraswamy
from trainer.distributions.laplace import Laplace
from trainer.distributions.log_normal import LogNormal
from trainer.distributions.logistic_normal import LogisticNormal
from trainer.distributions.multivariate_normal import MultivariateNormal
from trainer.distributions.normal import Normal
from trainer.distributions.one_hot_categorical import OneHotCategorical, OneHotCategoricalStraightThrough
from trainer.distributions.pareto import Pareto
from trainer.distributions.poisson import Poisson
from trainer.distributions.relaxed_bernoulli import RelaxedBernoulli
from trainer.distributions.relaxed_categorical import RelaxedOneHotCategorical
from trainer.distributions.student_t import StudentT
from trainer.distributions.transformed_distribution import TransformedDistribution
from trainer.distributions.transforms import *  # noqa: F403 - PyTorch's flat namespace
from trainer.distributions.uniform import Uniform
from trainer.distributions.weibull import Weibull

__all__ = ["Bernoulli", "Beta", "Categorical", "Distribution", "Exponential", "Gamma", "Independent", "Laplace",
           "MultivariateNormal", "Normal", "OneHotCategorical", "OneHotCategoricalStraightThrough", "Uniform",
           "constraints", "kl", "kl_divergence", "register_kl", "utils"]
__all__ += ["TransformedDistribution", "biject_to", "transform_to", "transforms", *transforms.__all__]
__all__ += ["Cauchy", "Gumbel", "HalfCauchy", "HalfNormal", "Kumaraswamy", "LogNormal", "LogisticNormal", "Pareto",
            "RelaxedBernoulli", "RelaxedOneHotCategorical", "Weibull"]
__all__ += ["Chi2", "Dirichlet", "ExponentialFamily", "Geometric", "Poisson", "StudentT"]
