"""``HalfNormal(scale)`` and ``HalfCauchy(scale)``: ``|X|`` of a centred Normal or Cauchy, as in
``torch.distributions``; both double the base density on the non-negative half line."""

from __future__ import annotations

import math

from trainer.creation import as_tensor, full, zeros_like
from trainer.distributions import constraints
from trainer.distributions.cauchy import Cauchy
from trainer.distributions.normal import Normal
from trainer.distributions.transformed_distribution import TransformedDistribution
from trainer.distributions.transforms import AbsTransform
from trainer.ops.compare import where

__all__ = ["HalfCauchy", "HalfNormal"]


class _Folded(TransformedDistribution):
    """What the folded families share; ``_base`` is the centred family that is folded."""

    arg_constraints = {"scale": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True
    _base: type
    _casts_value = False  # PyTorch's HalfCauchy (not its HalfNormal) takes the value to the scale's dtype

    def __init__(self, scale, validate_args=None):
        # the base is not validated: the scale is checked here, and values below 0 have density 0
        super().__init__(self._base(0, scale, validate_args=False), AbsTransform(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        family = next(cls for cls in type(self).__mro__ if _Folded in cls.__bases__)
        return super().expand(batch_shape, _instance=self._get_checked_instance(family, _instance))

    @property
    def scale(self):
        return self.base_dist.scale

    @property
    def mode(self):
        return zeros_like(self.scale)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        if self._casts_value:
            value = as_tensor(value, dtype=self.scale.dtype, device=self.scale.device)
        return where(value >= 0, self.base_dist.log_prob(value) + math.log(2), -math.inf)

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return 2 * self.base_dist.cdf(value) - 1

    def icdf(self, prob):
        return self.base_dist.icdf((prob + 1) / 2)

    def entropy(self):
        return self.base_dist.entropy() - math.log(2)


class HalfNormal(_Folded):
    _base = Normal

    @property
    def mean(self):
        return self.scale * math.sqrt(2 / math.pi)

    @property
    def variance(self):
        return self.scale.pow(2) * (1 - 2 / math.pi)


class HalfCauchy(_Folded):
    _base = Cauchy
    _casts_value = True

    @property
    def mean(self):
        return full(self._extended_shape(), math.inf, dtype=self.scale.dtype, device=self.scale.device)

    @property
    def variance(self):
        return self.base_dist.variance
