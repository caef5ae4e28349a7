"""``LKJCholesky(dim, concentration=1.0)``, as ``torch.distributions.LKJCholesky``: Cholesky factors ``L`` of
correlation matrices ``L L^T`` with density proportional to ``det(L L^T)^(concentration - 1)``; drawn by the
onion method (Lewandowski, Kurowicka and Joe 2009, section 3.2), vectorised over the rows as in PyTorch."""

from __future__ import annotations

import math

from trainer.autograd import no_grad
from trainer.creation import arange, randn
from trainer.distributions import constraints
from trainer.distributions.beta import Beta
from trainer.distributions.distribution import Distribution
from trainer.distributions.utils import broadcast_all
from trainer.ops.join import cat
from trainer.tensor import Size
from trainer.type_info import array_finfo

__all__ = ["LKJCholesky"]


class LKJCholesky(Distribution):
    arg_constraints = {"concentration": constraints.positive}
    support = constraints.corr_cholesky

    def __init__(self, dim, concentration=1.0, validate_args=None):
        if dim < 2:
            raise ValueError(f"Expected dim to be an integer greater than or equal to 2. Found dim={dim}.")
        self.dim = dim
        (self.concentration,) = broadcast_all(concentration)
        # the squared norm of row i's off-diagonal part is Beta(i / 2, concentration + (dim - 2 - i) / 2)
        marginal = self.concentration + 0.5 * (dim - 2)
        offset = arange(dim - 1, dtype=self.concentration.dtype, device=self.concentration.device)
        offset = cat([offset.new_zeros((1,)), offset])
        self._beta = Beta(offset + 0.5, marginal.unsqueeze(-1) - 0.5 * offset)
        super().__init__(self.concentration.shape, Size((dim, dim)), validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(LKJCholesky, _instance)
        batch_shape = Size(batch_shape)
        new.dim = self.dim
        new.concentration = self.concentration.expand(batch_shape)
        new._beta = self._beta.expand(batch_shape + (self.dim,))
        super(LKJCholesky, new).__init__(batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def sample(self, sample_shape=()):
        with no_grad():
            y = self._beta.sample(sample_shape).unsqueeze(-1)
            u_normal = randn(self._extended_shape(sample_shape), dtype=y.dtype, device=y.device).tril(-1)
            # each row's direction, uniform on the sphere; the first row has none (and stays 0)
            norms = u_normal.norm(dim=-1, keepdim=True)
            u_hypersphere = u_normal / norms.clamp(min=float(array_finfo(y.dtype.np).tiny))
            w = y.sqrt() * u_hypersphere
            # the diagonal completes each row to unit norm; clamped so rounding cannot make it NaN
            tiny = float(array_finfo(w.dtype.np).tiny)
            return w + (1 - w.pow(2).sum(-1)).clamp(min=tiny).sqrt().diag_embed()

    def log_prob(self, value):
        # p(L) is proportional to prod_i L_ii^(2 (concentration - 1) + dim - i), the Jacobian of L -> L L^T included
        if self._validate_args:
            self._validate_sample(value)
        diag_elems = value.diagonal(dim1=-1, dim2=-2)[..., 1:]
        order = arange(2, self.dim + 1, device=self.concentration.device)
        order = 2 * (self.concentration - 1).unsqueeze(-1) + self.dim - order
        unnormalized = (order * diag_elems.log()).sum(-1)
        # the normalising constant (Lewandowski et al. 2009, p. 1999)
        dm1 = self.dim - 1
        alpha = self.concentration + 0.5 * dm1
        denominator = alpha.lgamma() * dm1
        numerator = (alpha - 0.5).mvlgamma(dm1)
        pi_constant = 0.5 * dm1 * math.log(math.pi)
        return unnormalized - (pi_constant + numerator - denominator)
