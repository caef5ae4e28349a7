"""``ExponentialFamily``, as ``torch.distributions.ExponentialFamily``: densities
``p(x; theta) = exp(<t(x), theta> - F(theta) + k(x))`` given by their natural parameters ``theta``, log-normaliser
``F`` and carrier measure ``k``; the entropy and same-family KL divergences follow from the Bregman divergence of
``F``, whose gradient autograd supplies."""

from __future__ import annotations

from trainer.autograd.gradients import grad
from trainer.distributions.distribution import Distribution

__all__ = ["ExponentialFamily"]


class ExponentialFamily(Distribution):
    @property
    def _natural_params(self):
        """The natural parameters ``theta``, a tuple of tensors."""
        raise NotImplementedError

    def _log_normalizer(self, *natural_params):
        """``F(theta)``, differentiable in ``theta``."""
        raise NotImplementedError

    @property
    def _mean_carrier_measure(self):
        """``E[k(x)]``."""
        raise NotImplementedError

    def entropy(self):
        """``F(theta) - <theta, grad F(theta)> - E[k(x)]``, differentiable in the parameters."""
        result = -self._mean_carrier_measure
        natural_params = [p.detach().requires_grad_() for p in self._natural_params]
        log_normalizer = self._log_normalizer(*natural_params)
        gradients = grad(log_normalizer.sum(), natural_params, create_graph=True)
        result = result + log_normalizer
        for theta, g in zip(natural_params, gradients):
            result = result - (theta * g).reshape(*self._batch_shape, -1).sum(-1)
        return result
