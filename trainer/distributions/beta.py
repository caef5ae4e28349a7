"""``Beta(concentration1, concentration0)`` on [0, 1], as ``torch.distributions.Beta``; ``rsample`` is
differentiable in both concentrations (implicit reparameterisation)."""

from __future__ import annotations

from trainer.distributions import constraints
from trainer.distributions.distribution import Distribution
from trainer.distributions.utils import broadcast_all
from trainer.ops.compare import where
from trainer.ops.elementwise import xlogy
from trainer.ops.reparameterized_draws import sample_beta
from trainer.tensor import Size

__all__ = ["Beta"]


class Beta(Distribution):
    arg_constraints = {"concentration1": constraints.positive, "concentration0": constraints.positive}
    support = constraints.unit_interval
    has_rsample = True

    def __init__(self, concentration1, concentration0, validate_args=None):
        # kept out of the instance dict, so that the repr is PyTorch's "Beta()"
        self._concentration1, self._concentration0 = broadcast_all(concentration1, concentration0)
        super().__init__(self._concentration1.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Beta, _instance)
        batch_shape = Size(batch_shape)
        new._concentration1 = self._concentration1.expand(batch_shape)
        new._concentration0 = self._concentration0.expand(batch_shape)
        super(Beta, new).__init__(batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def concentration1(self):
        return self._concentration1

    @property
    def concentration0(self):
        return self._concentration0

    @property
    def mean(self):
        return self.concentration1 / (self.concentration1 + self.concentration0)

    @property
    def mode(self):
        """``(a - 1) / (a + b - 2)`` with concentrations below 1 counted as 1 (NaN when both are 1); 1 when both
        are below 1, where PyTorch's Dirichlet picks the first category."""
        heads, tails = (self.concentration1 - 1).clamp(min=0), (self.concentration0 - 1).clamp(min=0)
        total = heads + tails
        mode = where(total == 0, float("nan"), heads / where(total == 0, 1.0, total))
        return where((self.concentration1 < 1) & (self.concentration0 < 1), 1.0, mode)

    @property
    def variance(self):
        total = self.concentration1 + self.concentration0
        return self.concentration1 * self.concentration0 / (total.pow(2) * (total + 1))

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        return sample_beta(self.concentration1.expand(shape), self.concentration0.expand(shape))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        a, b = self.concentration1, self.concentration0
        return xlogy(a - 1, value) + xlogy(b - 1, 1.0 - value) + (a + b).lgamma() - a.lgamma() - b.lgamma()

    def entropy(self):
        a, b = self.concentration1, self.concentration0
        total = a + b
        return (a.lgamma() + b.lgamma() - total.lgamma() - (2 - total) * total.digamma()
                - (a - 1) * a.digamma() - (b - 1) * b.digamma())
