"""``Bernoulli(probs=None, logits=None)``, as ``torch.distributions.Bernoulli``."""

from __future__ import annotations

from trainer.autograd import no_grad
from trainer.creation import arange
from trainer.distributions import constraints
from trainer.distributions.distribution import Distribution
from trainer.distributions.probs_logits import BinaryProbsOrLogits
from trainer.distributions.utils import broadcast_all
from trainer.ops.activation import softplus
from trainer.ops.compare import where
from trainer.ops.sampling import bernoulli
from trainer.tensor import Size

__all__ = ["Bernoulli"]


class Bernoulli(BinaryProbsOrLogits, Distribution):
    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.boolean
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args=None):
        super().__init__(self._init_probs_or_logits(probs, logits), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Bernoulli, _instance)
        batch_shape = Size(batch_shape)
        self._expand_probs_or_logits(new, batch_shape)
        super(Bernoulli, new).__init__(batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self):
        return self.probs

    @property
    def mode(self):
        """1 where ``probs > 1/2``, 0 where below, NaN at exactly 1/2."""
        return where(self.probs == 0.5, float("nan"), (self.probs >= 0.5).to(self.probs.dtype))

    @property
    def variance(self):
        return self.probs * (1 - self.probs)

    def sample(self, sample_shape=()):
        with no_grad():
            return bernoulli(self.probs.expand(self._extended_shape(sample_shape)))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        return value * logits - softplus(logits)  # minus the binary cross-entropy with logits

    def entropy(self):
        return softplus(self.logits) - self.probs * self.logits

    def enumerate_support(self, expand: bool = True):
        values = arange(2, dtype=self._param.dtype, device=self._param.device)
        values = values.reshape(-1, *(1,) * len(self._batch_shape))
        return values.expand(-1, *self._batch_shape) if expand else values
