"""``Dirichlet(concentration)`` on the simplex, as ``torch.distributions.Dirichlet``; ``rsample`` is differentiable
in the concentration by implicit reparameterisation through each coordinate's Beta marginal, the gradient
PyTorch's ``_dirichlet_grad`` approximates, here exact."""

from __future__ import annotations

import math

import numpy as np

from trainer.autograd.op import Function
from trainer.backend import cuda_context, xp_of
from trainer.creation import _generator
from trainer.distributions import constraints
from trainer.distributions.exp_family import ExponentialFamily
from trainer.ops.compare import where
from trainer.ops.elementwise import xlogy
from trainer.ops.incomplete_beta import regularized_beta
from trainer.ops.reparameterized_draws import reject_bfloat16_sampler
from trainer.tensor import Size
from trainer.type_info import array_finfo

__all__ = ["Dirichlet"]


class DirichletDraw(Function):
    """Draws from Dirichlet(alpha) along the last dim of ``alpha``, as normalised standard gamma draws."""

    @staticmethod
    def forward(ctx, alpha, rng):
        xp = xp_of(alpha)
        info = array_finfo(alpha.dtype)
        a = alpha.astype(np.float64)
        gammas = rng.standard_gamma(a)
        x = gammas / gammas.sum(-1, keepdims=True)
        x = xp.clip(x, info.tiny, 1 - info.eps)
        ctx.save_for_backward(a, x)
        return x.astype(alpha.dtype)

    @staticmethod
    def backward(ctx, g):
        a, x = ctx.saved_tensors
        xp = xp_of(g)
        # x_i ~ Beta(a_i, total - a_i) moves with a_i (the others fixed) at fixed I_x, and the other coordinates
        # shrink in proportion, dx_j/da_i = -x_j / (1 - x_i) dx_i/da_i, so that the sum stays 1
        dx_da = regularized_beta(xp, a, a.sum(-1, keepdims=True) - a, x).dx_da
        g64 = g.astype(np.float64)
        return (dx_da / (1 - x) * (g64 - (x * g64).sum(-1, keepdims=True))).astype(g.dtype, copy=False)


def sample_dirichlet(concentration, *, generator=None):
    """Dirichlet draws over the last dim of ``concentration``, differentiable in it."""
    reject_bfloat16_sampler("dirichlet", concentration)
    with cuda_context(concentration.device):
        return DirichletDraw.apply(concentration, rng=_generator(generator, concentration.device).rng)


class Dirichlet(ExponentialFamily):
    arg_constraints = {"concentration": constraints.independent(constraints.positive, 1)}
    support = constraints.simplex
    has_rsample = True

    def __init__(self, concentration, validate_args=None):
        if concentration.dim() < 1:
            raise ValueError("`concentration` parameter must be at least one-dimensional.")
        self.concentration = concentration
        super().__init__(concentration.shape[:-1], concentration.shape[-1:], validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Dirichlet, _instance)
        batch_shape = Size(batch_shape)
        new.concentration = self.concentration.expand(batch_shape + self.event_shape)
        super(Dirichlet, new).__init__(batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def rsample(self, sample_shape=()):
        return sample_dirichlet(self.concentration.expand(self._extended_shape(sample_shape)))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return (xlogy(self.concentration - 1.0, value).sum(-1) + self.concentration.sum(-1).lgamma()
                - self.concentration.lgamma().sum(-1))

    @property
    def mean(self):
        return self.concentration / self.concentration.sum(-1, True)

    @property
    def mode(self):
        """``(a - 1)^+`` normalised; the first largest concentration's vertex where all are below 1, as PyTorch."""
        excess = (self.concentration - 1).clamp(min=0.0)
        total = excess.sum(-1, True)
        # 0 / 0 is NaN, but computed away from the division so that no NaN reaches the gradients
        mode = where(total == 0, math.nan, excess / where(total == 0, 1.0, total))
        below_one = (self.concentration < 1).all(-1, keepdim=True)
        vertex = self.concentration.new_zeros(self.concentration.shape)
        vertex.scatter_(-1, mode.detach().argmax(-1, keepdim=True), 1.0)
        return where(below_one, vertex, mode)

    @property
    def variance(self):
        total = self.concentration.sum(-1, True)
        return self.concentration * (total - self.concentration) / (total.pow(2) * (total + 1))

    def entropy(self):
        k = self.concentration.shape[-1]
        a0 = self.concentration.sum(-1)
        return (self.concentration.lgamma().sum(-1) - a0.lgamma() - (k - a0) * a0.digamma()
                - ((self.concentration - 1.0) * self.concentration.digamma()).sum(-1))

    @property
    def _natural_params(self):
        return (self.concentration,)

    def _log_normalizer(self, x):
        return x.lgamma().sum(-1) - x.sum(-1).lgamma()
