"""``Binomial(total_count=1, probs=None, logits=None)``, as ``torch.distributions.Binomial``: successes in
``total_count`` independent trials of success probability ``probs``."""

from __future__ import annotations

from trainer.autograd import no_grad
from trainer.creation import arange
from trainer.distributions import constraints
from trainer.distributions.distribution import Distribution
from trainer.distributions.probs_logits import BinaryProbsOrLogits
from trainer.ops.sampling import binomial
from trainer.tensor import Size

__all__ = ["Binomial"]


def clamp_by_zero(x):
    """``x.clamp(min=0)`` whose gradient at 0 is 1/2, as PyTorch's."""
    return (x.clamp(min=0) + x - x.clamp(max=0)) / 2


def homogeneous_total_count(total_count, what: str) -> int:
    """The one total count of the batch; PyTorch refuses a batch of different counts for ``what``."""
    count = int(total_count.max())
    if not bool(total_count.min() == count):
        raise NotImplementedError(f"Inhomogeneous total count not supported by `{what}`.")
    return count


class Binomial(BinaryProbsOrLogits, Distribution):
    arg_constraints = {"total_count": constraints.nonnegative_integer, "probs": constraints.unit_interval,
                       "logits": constraints.real}
    has_enumerate_support = True

    def __init__(self, total_count=1, probs=None, logits=None, validate_args=None):
        batch_shape = self._init_counted_probs_or_logits(total_count, probs, logits)
        super().__init__(batch_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Binomial, _instance)
        batch_shape = Size(batch_shape)
        self._expand_probs_or_logits(new, batch_shape)
        super(Binomial, new).__init__(batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @constraints.dependent_property(is_discrete=True, event_dim=0)
    def support(self):
        return constraints.integer_interval(0, self.total_count)

    @property
    def mean(self):
        return self.total_count * self.probs

    @property
    def mode(self):
        return ((self.total_count + 1) * self.probs).floor().clamp(max=self.total_count)

    @property
    def variance(self):
        return self.total_count * self.probs * (1 - self.probs)

    def sample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        with no_grad():
            # drawn flat: trainer.binomial fails on 0-d inputs (NumPy returns a Python int for them)
            counts = binomial(self.total_count.expand(shape).reshape(-1), self.probs.expand(shape).reshape(-1))
            return counts.reshape(shape)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        n, logits = self.total_count, self.logits
        log_factorials = (value + 1).lgamma() + (n - value + 1).lgamma() - (n + 1).lgamma()
        # n log(1 + e^logit) written so that it neither overflows nor loses precision for large |logit|
        log_normalizer = n * clamp_by_zero(logits) + n * (-logits.abs()).exp().log1p()
        return value * logits - log_factorials - log_normalizer

    def entropy(self):
        homogeneous_total_count(self.total_count, "entropy")
        log_prob = self.log_prob(self.enumerate_support(False))
        return -(log_prob.exp() * log_prob).sum(0)

    def enumerate_support(self, expand: bool = True):
        count = homogeneous_total_count(self.total_count, "enumerate_support")
        values = arange(1 + count, dtype=self._param.dtype, device=self._param.device)
        values = values.reshape(-1, *(1,) * len(self._batch_shape))
        return values.expand(-1, *self._batch_shape) if expand else values
