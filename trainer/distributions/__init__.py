"""``trainer.distributions``: probability distributions with sampling, ``log_prob``, moments and KL divergences,
as ``torch.distributions``. Parameters and values are checked (``validate_args``) as in PyTorch."""

import trainer.distributions.fishersnedecor  # noqa: F401 - PyTorch's module path
import trainer.distributions.half_cauchy  # noqa: F401 - PyTorch's module path
import trainer.distributions.half_normal  # noqa: F401 - PyTorch's module path
import trainer.distributions.kl_count_families  # noqa: F401 - KL rules
import trainer.distributions.kl_cross_families  # noqa: F401 - KL rules
import trainer.distributions.kl_low_rank_normals  # noqa: F401 - KL rules
import trainer.distributions.studentT  # noqa: F401 - PyTorch's module path
from trainer.distributions import constraints, kl, kl_exponential_families, kl_transformed_families, transforms, utils  # noqa: F401 - KL rules
from trainer.distributions.bernoulli import Bernoulli
from trainer.distributions.beta import Beta
from trainer.distributions.binomial import Binomial
from trainer.distributions.categorical import Categorical
from trainer.distributions.cauchy import Cauchy
from trainer.distributions.chi2 import Chi2
from trainer.distributions.constraint_registry import biject_to, transform_to
from trainer.distributions.continuous_bernoulli import ContinuousBernoulli
from trainer.distributions.dirichlet import Dirichlet
from trainer.distributions.distribution import Distribution
from trainer.distributions.exp_family import ExponentialFamily
from trainer.distributions.exponential import Exponential
from trainer.distributions.fisher_snedecor import FisherSnedecor
from trainer.distributions.folded import HalfCauchy, HalfNormal
from trainer.distributions.gamma import Gamma
from trainer.distributions.generalized_pareto import GeneralizedPareto
from trainer.distributions.geometric import Geometric
from trainer.distributions.gumbel import Gumbel
from trainer.distributions.independent import Independent
from trainer.distributions.inverse_gamma import InverseGamma
from trainer.distributions.kl import kl_divergence, register_kl
from trainer.distributions.kumaraswamy import Kumaraswamy
from trainer.distributions.laplace import Laplace
from trainer.distributions.lkj_cholesky import LKJCholesky
from trainer.distributions.log_normal import LogNormal
from trainer.distributions.logistic_normal import LogisticNormal
from trainer.distributions.lowrank_multivariate_normal import LowRankMultivariateNormal
from trainer.distributions.mixture_same_family import MixtureSameFamily
from trainer.distributions.multinomial import Multinomial
from trainer.distributions.multivariate_normal import MultivariateNormal
from trainer.distributions.negative_binomial import NegativeBinomial
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
from trainer.distributions.von_mises import VonMises
from trainer.distributions.weibull import Weibull
from trainer.distributions.wishart import Wishart

__all__ = ["Bernoulli", "Beta", "Categorical", "Distribution", "Exponential", "Gamma", "Independent", "Laplace",
           "MultivariateNormal", "Normal", "OneHotCategorical", "OneHotCategoricalStraightThrough", "Uniform",
           "constraints", "kl", "kl_divergence", "register_kl", "utils"]
__all__ += ["TransformedDistribution", "biject_to", "transform_to", "transforms", *transforms.__all__]
__all__ += ["Cauchy", "Gumbel", "HalfCauchy", "HalfNormal", "Kumaraswamy", "LogNormal", "LogisticNormal", "Pareto",
            "RelaxedBernoulli", "RelaxedOneHotCategorical", "Weibull"]
__all__ += ["Chi2", "Dirichlet", "ExponentialFamily", "Geometric", "Poisson", "StudentT"]
__all__ += ["Binomial", "ContinuousBernoulli", "FisherSnedecor", "GeneralizedPareto", "InverseGamma", "LKJCholesky",
            "LowRankMultivariateNormal", "MixtureSameFamily", "Multinomial", "NegativeBinomial", "VonMises", "Wishart"]
