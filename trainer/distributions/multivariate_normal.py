"""``MultivariateNormal(loc, covariance_matrix=None, precision_matrix=None, scale_tril=None)``, as
``torch.distributions.MultivariateNormal``: every form is reduced to the lower Cholesky factor ``L`` of the
covariance, kept unbroadcast."""

from __future__ import annotations

import math

from trainer.creation import randn
from trainer.distributions import constraints
from trainer.distributions.distribution import Distribution
from trainer.distributions.utils import lazy_property
from trainer.linalg import cholesky, inv, solve
from trainer.ops._operands import broadcast_shapes
from trainer.ops.linalg import matmul
from trainer.tensor import Size

__all__ = ["MultivariateNormal"]


def batch_mahalanobis(scale_tril, x):
    """``|L^-1 x|^2`` over the last dim of ``x``, for ``x`` broadcast against the batch of ``L``s; each distinct
    ``L`` is solved once against all the vectors that share it. Only the lower triangle of ``L`` is read (nor
    differentiated), as by a triangular solve."""
    n = x.shape[-1]
    shape = tuple(broadcast_shapes(tuple(x.shape[:-1]), tuple(scale_tril.shape[:-2])))
    inner = shape[len(shape) - (scale_tril.dim() - 2):]  # the batch dims the L's span
    vectors = x.expand(*shape, n).reshape(-1, *inner, n)
    solved = solve(scale_tril.tril().expand(*inner, n, n), vectors.movedim(0, -1))  # (*inner, n, vectors)
    return solved.pow(2).sum(-2).movedim(-1, 0).reshape(shape)


def precision_to_scale_tril(precision):
    """The lower Cholesky factor of ``precision^-1``, from the Cholesky factor of the flipped precision, without
    inverting the precision itself (PyTorch's method)."""
    flipped_factor = cholesky(precision.flip(-2, -1))
    inverse_of_l = flipped_factor.flip(-2, -1).mT
    return inv(inverse_of_l.tril()).tril()


class MultivariateNormal(Distribution):
    arg_constraints = {"loc": constraints.real_vector, "covariance_matrix": constraints.positive_definite,
                       "precision_matrix": constraints.positive_definite, "scale_tril": constraints.lower_cholesky}
    support = constraints.real_vector
    has_rsample = True

    def __init__(self, loc, covariance_matrix=None, precision_matrix=None, scale_tril=None, validate_args=None):
        if loc.dim() < 1:
            raise ValueError("loc must be at least one-dimensional.")
        given = [(name, m) for name, m in (("covariance_matrix", covariance_matrix),
                                           ("precision_matrix", precision_matrix), ("scale_tril", scale_tril))
                 if m is not None]
        if len(given) != 1:
            raise ValueError("Exactly one of covariance_matrix or precision_matrix or scale_tril may be specified.")
        name, matrix = given[0]
        if matrix.dim() < 2:
            label = "scale_tril matrix" if name == "scale_tril" else name
            raise ValueError(f"{label} must be at least two-dimensional, with optional leading batch dimensions")
        batch_shape = Size(broadcast_shapes(tuple(matrix.shape[:-2]), tuple(loc.shape[:-1])))
        setattr(self, name, matrix.expand(*batch_shape, -1, -1))
        self.loc = loc.expand(*batch_shape, -1)
        super().__init__(batch_shape, self.loc.shape[-1:], validate_args=validate_args)
        if name == "scale_tril":
            self._unbroadcasted_scale_tril = matrix
        elif name == "covariance_matrix":
            self._unbroadcasted_scale_tril = cholesky(matrix)
        else:
            self._unbroadcasted_scale_tril = precision_to_scale_tril(matrix)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(MultivariateNormal, _instance)
        batch_shape = Size(batch_shape)
        matrix_shape = (*batch_shape, *self.event_shape, *self.event_shape)
        new.loc = self.loc.expand(*batch_shape, *self.event_shape)
        new._unbroadcasted_scale_tril = self._unbroadcasted_scale_tril
        for name in ("covariance_matrix", "scale_tril", "precision_matrix"):
            if name in self.__dict__:
                setattr(new, name, self.__dict__[name].expand(matrix_shape))
        super(MultivariateNormal, new).__init__(batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def _matrix_shape(self):
        return (*self._batch_shape, *self._event_shape, *self._event_shape)

    @lazy_property
    def scale_tril(self):
        return self._unbroadcasted_scale_tril.expand(self._matrix_shape())

    @lazy_property
    def covariance_matrix(self):
        factor = self._unbroadcasted_scale_tril
        return matmul(factor, factor.mT).expand(self._matrix_shape())

    @lazy_property
    def precision_matrix(self):
        inverse = inv(self._unbroadcasted_scale_tril.tril())  # (L L^T)^-1 = L^-T L^-1
        return matmul(inverse.mT, inverse).expand(self._matrix_shape())

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        return self._unbroadcasted_scale_tril.pow(2).sum(-1).expand(*self._batch_shape, *self._event_shape)

    def rsample(self, sample_shape=()):
        eps = randn(self._extended_shape(sample_shape), dtype=self.loc.dtype, device=self.loc.device)
        return self.loc + matmul(self._unbroadcasted_scale_tril, eps.unsqueeze(-1)).squeeze(-1)

    def _half_log_det(self):
        return self._unbroadcasted_scale_tril.diagonal(dim1=-2, dim2=-1).log().sum(-1)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        m = batch_mahalanobis(self._unbroadcasted_scale_tril, value - self.loc)
        return -0.5 * (self._event_shape[0] * math.log(2 * math.pi) + m) - self._half_log_det()

    def entropy(self):
        h = 0.5 * self._event_shape[0] * (1.0 + math.log(2 * math.pi)) + self._half_log_det()
        return h if len(self._batch_shape) == 0 else h.expand(self._batch_shape)
