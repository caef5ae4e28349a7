"""``Geometric(probs=None, logits=None)``, as ``torch.distributions.Geometric``: the number of failures before the
first success of Bernoulli(``probs``) trials."""

from __future__ import annotations

from trainer.autograd import no_grad
from trainer.creation import empty, zeros_like
from trainer.distributions import constraints
from trainer.distributions.distribution import Distribution
from trainer.distributions.probs_logits import BinaryProbsOrLogits
from trainer.distributions.utils import broadcast_all
from trainer.ops.activation import softplus
from trainer.ops.compare import where
from trainer.tensor import Size
from trainer.type_info import array_finfo

__all__ = ["Geometric"]


class Geometric(BinaryProbsOrLogits, Distribution):
    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.nonnegative_integer

    def __init__(self, probs=None, logits=None, validate_args=None):
        super().__init__(self._init_probs_or_logits(probs, logits), validate_args=validate_args)
        if self._validate_args and probs is not None and not bool((self.probs > 0).all()):
            # a success probability of 0 never ends the trials
            value = self.probs
            raise ValueError(f"Expected parameter probs ({type(value).__name__} of shape {tuple(value.shape)}) of "
                             f"distribution {self!r} to be positive but found invalid values:\n"
                             f"{value.detach()[~(value > 0)]}")

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Geometric, _instance)
        batch_shape = Size(batch_shape)
        self._expand_probs_or_logits(new, batch_shape)
        super(Geometric, new).__init__(batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self):
        return 1.0 / self.probs - 1.0

    @property
    def mode(self):
        return zeros_like(self.probs)

    @property
    def variance(self):
        return (1.0 / self.probs - 1.0) / self.probs

    def sample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        tiny = float(array_finfo(self.probs.dtype.np).tiny)
        with no_grad():
            u = empty(shape, dtype=self.probs.dtype, device=self.probs.device).uniform_(tiny, 1)
            return (u.log() / (-self.probs).log1p()).floor()

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        value, probs = broadcast_all(value, self.probs)
        # 0 * log(0) counts as 0 where every trial succeeds
        probs = where((probs == 1) & (value == 0), 0.0, probs)
        return value * (-probs).log1p() + self.probs.log()

    def entropy(self):
        # the binary cross-entropy of the probabilities with themselves, from the logits, per success
        return (softplus(self.logits) - self.logits * self.probs) / self.probs
