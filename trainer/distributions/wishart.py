"""``Wishart(df, covariance_matrix=None, precision_matrix=None, scale_tril=None)``, as
``torch.distributions.Wishart``: the law of ``sum_i x_i x_i^T`` for ``df`` normal vectors of covariance ``S``
(fractional ``df`` allowed). Draws use the Bartlett decomposition, so ``rsample`` is differentiable; every form
of ``S`` is reduced to its lower Cholesky factor."""

from __future__ import annotations

import math
import numbers
import warnings

from trainer.autograd import no_grad
from trainer.creation import arange, eye, randn, tensor, zeros
from trainer.distributions import constraints
from trainer.distributions.chi2 import Chi2
from trainer.distributions.exp_family import ExponentialFamily
from trainer.distributions.multivariate_normal import precision_to_scale_tril
from trainer.distributions.utils import lazy_property
from trainer.linalg import cholesky, slogdet
from trainer.ops._operands import broadcast_shapes
from trainer.ops.compare import where
from trainer.ops.triangular import cholesky_solve
from trainer.sequences import tril_indices
from trainer.tensor import Size
from trainer.type_info import array_finfo

__all__ = ["Wishart"]

_LOG_2 = math.log(2)


def mvdigamma(x, p: int):
    """The multivariate digamma function: ``sum_{i<p} digamma(x - i/2)``, defined for ``x > (p - 1) / 2``."""
    if not bool((x > (p - 1) / 2).all()):
        raise AssertionError(f"Wrong domain for multivariate digamma function: expected x > {(p - 1) / 2}.")
    halves = arange(p, dtype=x.dtype, device=x.device) / 2
    return (x.unsqueeze(-1) - halves).digamma().sum(-1)


class Wishart(ExponentialFamily):
    support = constraints.positive_definite
    has_rsample = True
    _mean_carrier_measure = 0

    @property
    def arg_constraints(self):
        return {"covariance_matrix": constraints.positive_definite, "precision_matrix": constraints.positive_definite,
                "scale_tril": constraints.lower_cholesky, "df": constraints.greater_than(self.event_shape[-1] - 1)}

    def __init__(self, df, covariance_matrix=None, precision_matrix=None, scale_tril=None, validate_args=None):
        given = [(name, m) for name, m in (("covariance_matrix", covariance_matrix),
                                           ("precision_matrix", precision_matrix), ("scale_tril", scale_tril))
                 if m is not None]
        if len(given) != 1:  # PyTorch's type for this refusal
            raise AssertionError("Exactly one of covariance_matrix or precision_matrix or scale_tril may be specified.")
        name, param = given[0]
        if param.dim() < 2:
            raise ValueError("scale_tril must be at least two-dimensional, with optional leading batch dimensions")
        if isinstance(df, numbers.Number):
            batch_shape = Size(param.shape[:-2])
            self.df = tensor(df, dtype=param.dtype, device=param.device)
        else:
            batch_shape = Size(broadcast_shapes(tuple(param.shape[:-2]), tuple(df.shape)))
            self.df = df.expand(batch_shape)
        event_shape = param.shape[-2:]
        if bool((self.df <= event_shape[-1] - 1).any()):
            raise ValueError(f"Value of df={df} expected to be greater than ndim - 1 = {event_shape[-1] - 1}.")
        setattr(self, name, param.expand(*batch_shape, -1, -1))
        if bool((self.df < event_shape[-1]).any()):
            warnings.warn("Low df values detected. Singular samples are highly likely to occur for "
                          "ndim - 1 < df < ndim.", stacklevel=2)
        super().__init__(batch_shape, event_shape, validate_args=validate_args)
        self._batch_dims = [-(x + 1) for x in range(len(self._batch_shape))]
        if name == "scale_tril":
            self._unbroadcasted_scale_tril = param
        elif name == "covariance_matrix":
            self._unbroadcasted_scale_tril = cholesky(param)
        else:
            self._unbroadcasted_scale_tril = precision_to_scale_tril(param)
        self._dist_chi2 = self._bartlett_chi2()

    def _bartlett_chi2(self):
        """The squared diagonal of the Bartlett factor: Chi2(df - i) for row i."""
        rows = arange(self._event_shape[-1], dtype=self._unbroadcasted_scale_tril.dtype,
                      device=self._unbroadcasted_scale_tril.device)
        return Chi2(df=self.df.unsqueeze(-1) - rows.expand(*self._batch_shape, -1))

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Wishart, _instance)
        batch_shape = Size(batch_shape)
        cov_shape = batch_shape + self.event_shape
        new._unbroadcasted_scale_tril = self._unbroadcasted_scale_tril.expand(cov_shape)
        new.df = self.df.expand(batch_shape)
        new._batch_dims = [-(x + 1) for x in range(len(batch_shape))]
        for name in ("covariance_matrix", "scale_tril", "precision_matrix"):
            if name in self.__dict__:
                setattr(new, name, self.__dict__[name].expand(cov_shape))
        super(Wishart, new).__init__(batch_shape, self.event_shape, validate_args=False)
        new._dist_chi2 = new._bartlett_chi2()
        new._validate_args = self._validate_args
        return new

    @lazy_property
    def scale_tril(self):
        return self._unbroadcasted_scale_tril.expand(self._batch_shape + self._event_shape)

    @lazy_property
    def covariance_matrix(self):
        factor = self._unbroadcasted_scale_tril
        return (factor @ factor.mT).expand(self._batch_shape + self._event_shape)

    @lazy_property
    def precision_matrix(self):
        factor = self._unbroadcasted_scale_tril
        identity = eye(self._event_shape[-1], dtype=factor.dtype, device=factor.device)
        return cholesky_solve(identity, factor).expand(self._batch_shape + self._event_shape)

    def _per_matrix(self, value):
        """A batch-shaped value reshaped to broadcast against the matrices."""
        return value.reshape(*self._batch_shape, 1, 1)

    @property
    def mean(self):
        return self._per_matrix(self.df) * self.covariance_matrix

    @property
    def mode(self):
        factor = self.df - self.covariance_matrix.shape[-1] - 1
        factor = where(factor <= 0, float("nan"), factor)  # no mode for df <= p + 1
        return self._per_matrix(factor) * self.covariance_matrix

    @property
    def variance(self):
        v = self.covariance_matrix
        diag_v = v.diagonal(dim1=-2, dim2=-1)
        return self._per_matrix(self.df) * (v.pow(2) + diag_v.unsqueeze(-1) * diag_v.unsqueeze(-2))

    def _bartlett_sampling(self, sample_shape=()):
        """``L A A^T L^T`` with ``A`` lower triangular: sqrt(chi2) on the diagonal, standard normals below it."""
        p = self._event_shape[-1]
        chi = self._dist_chi2.rsample(sample_shape).sqrt()
        chi = chi.clamp(min=float(array_finfo(chi.dtype.np).eps))
        with no_grad():
            i, j = tril_indices(p, p, offset=-1)
            below = zeros(chi.shape + (p,), dtype=chi.dtype, device=chi.device)
            below[..., i, j] = randn(Size(sample_shape) + self._batch_shape + (p * (p - 1) // 2,),
                                     dtype=chi.dtype, device=chi.device)
        chol = self._unbroadcasted_scale_tril @ (chi.diag_embed() + below)
        return chol @ chol.mT

    def rsample(self, sample_shape=(), max_try_correction=None):
        """A Bartlett draw; draws (of a whole batch) that come out singular are redrawn up to
        ``max_try_correction`` (10) times, and may stay singular (their ``log_prob`` is then -inf)."""
        max_try_correction = 10 if max_try_correction is None else max_try_correction
        sample_shape = Size(sample_shape)
        sample = self._bartlett_sampling(sample_shape)
        is_singular = ~self.support.check(sample)
        if self._batch_shape:
            is_singular = is_singular.amax(self._batch_dims)
        if bool(is_singular.any()):
            warnings.warn("Singular sample detected.", stacklevel=2)
            for _ in range(max_try_correction):
                redrawn = self._bartlett_sampling(sample_shape)
                sample = where(is_singular.reshape(*is_singular.shape, *(1,) * (sample.dim() - is_singular.dim())),
                               redrawn, sample)
                is_singular = ~self.support.check(sample)
                if self._batch_shape:
                    is_singular = is_singular.amax(self._batch_dims)
                if not bool(is_singular.any()):
                    break
        return sample

    def _log_scale_normalizer(self):
        """``p log 2 / 2 + log|L|``."""
        p = self._event_shape[-1]
        return p * _LOG_2 / 2 + self._unbroadcasted_scale_tril.diagonal(dim1=-2, dim2=-1).log().sum(-1)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        nu, p = self.df, self._event_shape[-1]
        trace_term = cholesky_solve(value, self._unbroadcasted_scale_tril).diagonal(dim1=-2, dim2=-1).sum(-1)
        return (-nu * self._log_scale_normalizer() - (nu / 2).mvlgamma(p)
                + (nu - p - 1) / 2 * slogdet(value).logabsdet - trace_term / 2)

    def entropy(self):
        nu, p = self.df, self._event_shape[-1]
        return ((p + 1) * self._log_scale_normalizer() + (nu / 2).mvlgamma(p)
                - (nu - p - 1) / 2 * mvdigamma(nu / 2, p) + nu * p / 2)

    @property
    def _natural_params(self):
        return -self.precision_matrix / 2, (self.df - self._event_shape[-1] - 1) / 2

    def _log_normalizer(self, x, y):
        p = self._event_shape[-1]
        return (y + (p + 1) / 2) * (-slogdet(-2 * x).logabsdet + _LOG_2 * p) + (y + (p + 1) / 2).mvlgamma(p)
