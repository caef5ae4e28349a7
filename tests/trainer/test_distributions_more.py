"""The families built on transforms (and ``Cauchy``) against ``torch.distributions``: ``log_prob``, ``cdf``,
``icdf``, moments and entropies with their gradients in float64; ``rsample`` fed PyTorch's noise; draws checked
against PyTorch's CDF with fixed seeds; shapes, supports, reprs and ``validate_args`` errors."""

import math

import numpy as np
import pytest
import scipy.stats
import torch

import trainer
from tests.trainer.test_ops_parity import assert_forward_and_gradients_match_torch, assert_raises_like_torch
from tests.trainer.test_sampling import assert_matches_cdf


def _d(lib):
    return lib.distributions


def _t(lib, data):
    return lib.tensor(data, dtype=lib.float64)


def _moments(d):
    return d.mean, d.mode, d.variance, d.stddev, d.entropy()


def _all(d, x, u, cdf=True):
    """log_prob at x, cdf at x and icdf at u (where the family has them), and the moments."""
    return (d.log_prob(x), *((d.cdf(x), d.icdf(u)) if cdf else ()), *_moments(d))


U = np.array([0.1, 0.5, 0.93])
# name -> (fn(lib, *params, x, u), arrays)
PARITY = {
    "cauchy": (lambda lib, loc, scale, x, u: _all(_d(lib).Cauchy(loc, scale), x, u),
               [np.array([0.0, 1.0, -2.0]), np.array([1.0, 2.5, 0.3]), np.array([0.3, -1.0, 4.0]), U]),
    "log_normal": (lambda lib, loc, scale, x, u: _all(_d(lib).LogNormal(loc, scale), x, u),
                   [np.array([0.0, 1.0, -2.0]), np.array([1.0, 0.5, 0.3]), np.array([0.3, 1.0, 4.0]), U]),
    "half_normal": (lambda lib, scale, x, u: _all(_d(lib).HalfNormal(scale), x, u),
                    [np.array([1.0, 2.5, 0.3]), np.array([0.3, 1.0, 4.0]), U]),
    "half_cauchy": (lambda lib, scale, x, u: _all(_d(lib).HalfCauchy(scale), x, u),
                    [np.array([1.0, 2.5, 0.3]), np.array([0.3, 1.0, 4.0]), U]),
    "gumbel": (lambda lib, loc, scale, x, u: _all(_d(lib).Gumbel(loc, scale), x, u),
               [np.array([0.0, 1.0, -2.0]), np.array([1.0, 2.5, 0.3]), np.array([0.3, -1.0, 4.0]), U]),
    "weibull": (lambda lib, scale, concentration, x, u: _all(_d(lib).Weibull(scale, concentration), x, u),
                [np.array([1.0, 2.5, 0.3]), np.array([0.5, 2.0, 4.0]), np.array([0.3, 1.0, 0.2]), U]),
    # alpha 0.5 and 1.5: an infinite mean or variance, whose gradients stay finite
    "pareto": (lambda lib, scale, alpha, x, u: _all(_d(lib).Pareto(scale, alpha), x, u),
               [np.array([1.0, 2.5, 0.3]), np.array([0.5, 1.5, 4.0]), np.array([1.3, 3.0, 0.4]), U]),
    "kumaraswamy": (lambda lib, a, b, x, u: _all(_d(lib).Kumaraswamy(a, b), x, u),
                    [np.array([2.0, 0.5, 3.0]), np.array([3.0, 2.0, 1.5]), np.array([0.3, 0.7, 0.2]), U]),
    "logistic_normal": (lambda lib, loc, scale, x: _d(lib).LogisticNormal(loc, scale).log_prob(x),
                        [np.array([0.0, 1.0]), np.array([1.0, 0.5]), np.array([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])]),
    "relaxed_bernoulli": (lambda lib, t, p, x: (lambda d: (d.log_prob(x), d.logits))(
        _d(lib).RelaxedBernoulli(t, probs=p)), [np.array(0.7), np.array([0.2, 0.9]), np.array([0.3, 0.95])]),
    "relaxed_bernoulli_logits": (lambda lib, t, logits, x: (lambda d: (d.log_prob(x), d.probs))(
        _d(lib).RelaxedBernoulli(t, logits=logits)), [np.array(1.5), np.array([-1.0, 2.0]), np.array([0.3, 0.95])]),
    "relaxed_one_hot": (lambda lib, t, p, x: (lambda d: (d.log_prob(x), d.logits))(
        _d(lib).RelaxedOneHotCategorical(t, probs=p)),
        [np.array(0.5), np.array([[0.2, 0.3, 0.5], [1.0, 2.0, 1.0]]), np.array([0.1, 0.3, 0.6])]),
    "relaxed_one_hot_logits": (lambda lib, t, logits, x: _d(lib).RelaxedOneHotCategorical(
        t, logits=logits).log_prob(x), [np.array(2.0), np.array([0.5, -1.0, 0.0]), np.array([0.1, 0.3, 0.6])]),
    "chi2": (lambda lib, df, x: (lambda d: (d.log_prob(x), d.df, *_moments(d)))(_d(lib).Chi2(df)),
             [np.array([0.5, 3.0, 12.0]), np.array([0.3, 2.0, 9.0])]),
    "student_t": (lambda lib, df, loc, scale, x: (lambda d: (d.log_prob(x), *_moments(d)))(
        _d(lib).StudentT(df, loc, scale)),
        [np.array([0.5, 1.5, 3.0, 30.0]), np.array([0.0, 1.0, -2.0, 0.5]), np.array([1.0, 2.5, 0.3, 1.0]),
         np.array([0.3, -1.0, 4.0, 0.7])]),
    "dirichlet": (lambda lib, a, x: (lambda d: (d.log_prob(x), *_moments(d)))(_d(lib).Dirichlet(a)),
                  [np.array([[0.5, 2.0, 3.0], [4.0, 1.5, 2.0], [1.5, 1.2, 3.0]]), np.array([0.2, 0.3, 0.5])]),
    "dirichlet_mode_below_one": (lambda lib, a: _d(lib).Dirichlet(a).mode, [np.array([[0.5, 0.9, 0.3]])]),
    "poisson": (lambda lib, rate, x: (lambda d: (d.log_prob(x), d.mean, d.mode, d.variance))(_d(lib).Poisson(rate)),
                [np.array([0.5, 3.0, 12.0]), np.array([0.0, 2.0, 9.0])]),
    "geometric_probs": (lambda lib, p, x: (lambda d: (d.log_prob(x), d.logits, *_moments(d)))(
        _d(lib).Geometric(p)), [np.array([0.2, 0.5, 0.9]), np.array([0.0, 3.0, 1.0])]),
    "geometric_logits": (lambda lib, logits, x: (lambda d: (d.log_prob(x), d.probs, *_moments(d)))(
        _d(lib).Geometric(logits=logits)), [np.array([-2.0, 0.5, 3.0]), np.array([0.0, 3.0, 1.0])]),
    "expand": (lambda lib, loc, x: (lambda d: (d.log_prob(x), d.mean, d.entropy()))(
        _d(lib).Gumbel(loc, 2.0).expand((3, 2))), [np.array([0.0, 1.0]), np.array([[0.5], [3.0], [-1.0]])]),
    "expand_weibull": (lambda lib, c, x: (lambda d: (d.log_prob(x), d.variance))(
        _d(lib).Weibull(1.5, c).expand((3, 2))), [np.array([0.5, 2.0]), np.array([[0.5], [3.0], [1.0]])]),
}


@pytest.mark.parametrize("name", list(PARITY))
def test_values_and_gradients_match_pytorch(name):
    fn, arrays = PARITY[name]
    assert_forward_and_gradients_match_torch(fn, arrays)


def _noise(kind, shape, seed):
    """trainer's noise of ``kind`` after ``seed`` and the patches that make PyTorch draw it."""
    trainer.manual_seed(seed)
    if kind == "normal":
        eps = torch.tensor(trainer.randn(shape, dtype=trainer.float64).numpy())
        return [("torch.distributions.normal._standard_normal", lambda shape, dtype, device: eps.clone())]
    if kind == "uniform":
        u = torch.tensor(trainer.rand(shape, dtype=trainer.float64).numpy())
        return [("torch.rand", lambda *args, **kwargs: u.clone())]
    draws = getattr(trainer.empty(shape, dtype=trainer.float64), kind + "_")()
    values = torch.tensor(draws.numpy())
    return [(f"torch.Tensor.{kind}_", lambda self, *args, **kwargs: self.copy_(values))]


RSAMPLE = {
    "cauchy": ("cauchy", lambda lib, loc, scale: _d(lib).Cauchy(loc, scale), [[0.0, 1.0], [1.0, 0.5]]),
    "log_normal": ("normal", lambda lib, loc, scale: _d(lib).LogNormal(loc, scale), [[0.0, 1.0], [1.0, 0.5]]),
    "half_normal": ("normal", lambda lib, scale: _d(lib).HalfNormal(scale), [[1.0, 0.5]]),
    "half_cauchy": ("cauchy", lambda lib, scale: _d(lib).HalfCauchy(scale), [[1.0, 0.5]]),
    "gumbel": ("uniform", lambda lib, loc, scale: _d(lib).Gumbel(loc, scale), [[0.0, 1.0], [1.0, 0.5]]),
    "weibull": ("exponential", lambda lib, scale, c: _d(lib).Weibull(scale, c), [[1.0, 2.0], [0.5, 3.0]]),
    "pareto": ("exponential", lambda lib, scale, alpha: _d(lib).Pareto(scale, alpha), [[1.0, 2.0], [0.5, 3.0]]),
    "kumaraswamy": ("uniform", lambda lib, a, b: _d(lib).Kumaraswamy(a, b), [[1.0, 2.0], [0.5, 3.0]]),
    "logistic_normal": ("normal", lambda lib, loc, scale: _d(lib).LogisticNormal(loc, scale),
                        [[0.0, 1.0], [1.0, 0.5]]),
    "relaxed_bernoulli": ("uniform", lambda lib, t, p: _d(lib).RelaxedBernoulli(t, probs=p), [0.5, [0.2, 0.9]]),
    "relaxed_one_hot": ("uniform", lambda lib, t, logits: _d(lib).RelaxedOneHotCategorical(t, logits=logits),
                        [0.5, [0.2, -1.0, 2.0]]),
}


@pytest.mark.parametrize("name", list(RSAMPLE))
def test_rsample_values_and_gradients_match_pytorch_given_the_same_noise(name, monkeypatch):
    kind, make, params = RSAMPLE[name]
    sample_shape = (4, 3)
    ours = make(trainer, *(_t(trainer, p) for p in params))
    base_shape = ours.base_dist._extended_shape(sample_shape) if hasattr(ours, "base_dist") else (
        ours._extended_shape(sample_shape))
    for target, replacement in _noise(kind, base_shape, seed=11):
        monkeypatch.setattr(target, replacement)
    trainer.manual_seed(11)
    assert_forward_and_gradients_match_torch(lambda lib, *p: make(lib, *p).rsample(sample_shape),
                                             [np.asarray(p, dtype=np.float64) for p in params])


N = 20000
CONTINUOUS = {
    "cauchy": lambda lib: _d(lib).Cauchy(_t(lib, 1.5), _t(lib, 0.7)),
    "log_normal": lambda lib: _d(lib).LogNormal(_t(lib, 0.5), _t(lib, 0.7)),
    "half_normal": lambda lib: _d(lib).HalfNormal(_t(lib, 2.0)),
    "half_cauchy": lambda lib: _d(lib).HalfCauchy(_t(lib, 2.0)),
    "gumbel": lambda lib: _d(lib).Gumbel(_t(lib, -1.0), _t(lib, 2.0)),
    "weibull": lambda lib: _d(lib).Weibull(_t(lib, 2.0), _t(lib, 0.7)),
    "pareto": lambda lib: _d(lib).Pareto(_t(lib, 1.0), _t(lib, 3.0)),
    "kumaraswamy": lambda lib: _d(lib).Kumaraswamy(_t(lib, 2.0), _t(lib, 5.0)),
}


@pytest.mark.parametrize("name", list(CONTINUOUS))
def test_draws_follow_the_cdf(name):
    make = CONTINUOUS[name]
    trainer.manual_seed(3)
    samples = make(trainer).sample((N,)).numpy()
    assert_matches_cdf(samples, lambda x: make(torch).cdf(torch.tensor(x)).numpy())


def test_relaxed_draws_concentrate_on_the_vertices_at_low_temperature():
    """At temperature -> 0 the relaxed draws become Bernoulli / one-hot draws with the given probabilities."""
    d = trainer.distributions
    trainer.manual_seed(5)
    bernoulli = d.RelaxedBernoulli(trainer.tensor(0.05), probs=trainer.tensor(0.3)).sample((N,)).numpy()
    assert abs((bernoulli > 0.5).mean() - 0.3) < 5 * math.sqrt(0.21 / N)
    one_hot = d.RelaxedOneHotCategorical(trainer.tensor(0.05), probs=trainer.tensor([0.2, 0.5, 0.3])).sample((N,))
    counts = np.bincount(one_hot.numpy().argmax(-1), minlength=3)
    assert scipy.stats.chisquare(counts, N * np.array([0.2, 0.5, 0.3])).pvalue > 1e-6


def test_logistic_normal_draws_are_the_stick_breaking_of_normal_draws():
    loc, scale = np.array([0.5, -1.0]), np.array([1.0, 0.3])
    trainer.manual_seed(8)
    samples = trainer.distributions.LogisticNormal(trainer.tensor(loc), trainer.tensor(scale)).sample((N,)).numpy()
    np.testing.assert_allclose(samples.sum(-1), 1.0, rtol=1e-12)
    # the first stick is sigmoid(z0 - log 2), the second share of the rest sigmoid(z1)
    assert_matches_cdf(np.log(samples[:, 0] / (1 - samples[:, 0])) + math.log(2),
                       lambda x: scipy.stats.norm.cdf(x, loc[0], scale[0]))


SHAPED = {
    "cauchy": lambda lib: _d(lib).Cauchy(_t(lib, [[0.0, 1.0]]), _t(lib, [[1.0], [2.0], [3.0]])),
    "log_normal": lambda lib: _d(lib).LogNormal(0.0, _t(lib, [1.0, 2.0])),
    "log_normal_numbers": lambda lib: _d(lib).LogNormal(0.0, 1.0),
    "half_normal": lambda lib: _d(lib).HalfNormal(_t(lib, [1.0, 2.0])),
    "half_cauchy": lambda lib: _d(lib).HalfCauchy(1.0),
    "gumbel": lambda lib: _d(lib).Gumbel(_t(lib, [0.0, 1.0]), 2.0),
    "gumbel_numbers": lambda lib: _d(lib).Gumbel(0.0, 2.0),
    "weibull": lambda lib: _d(lib).Weibull(_t(lib, [1.0, 2.0]), _t(lib, [[0.5], [3.0]])),
    "pareto": lambda lib: _d(lib).Pareto(_t(lib, [1.0, 2.0]), 3.0),
    "kumaraswamy": lambda lib: _d(lib).Kumaraswamy(_t(lib, [1.0, 2.0]), 3.0),
    "logistic_normal": lambda lib: _d(lib).LogisticNormal(_t(lib, np.zeros((2, 3))), 1.0),
    "logistic_normal_numbers": lambda lib: _d(lib).LogisticNormal(0.0, 1.0),
    "relaxed_bernoulli": lambda lib: _d(lib).RelaxedBernoulli(_t(lib, 0.5), probs=_t(lib, [0.3, 0.6])),
    "relaxed_one_hot": lambda lib: _d(lib).RelaxedOneHotCategorical(_t(lib, 0.5), _t(lib, [[0.3, 0.2, 0.5]] * 2)),
    "chi2": lambda lib: _d(lib).Chi2(_t(lib, [1.0, 2.0])),
    "student_t": lambda lib: _d(lib).StudentT(_t(lib, [1.0, 2.0]), 0.0, _t(lib, [[1.0], [3.0]])),
    "student_t_numbers": lambda lib: _d(lib).StudentT(3.0),
    "dirichlet": lambda lib: _d(lib).Dirichlet(_t(lib, [[0.3, 2.0, 0.5]] * 2)),
    "poisson": lambda lib: _d(lib).Poisson(_t(lib, [1.0, 20.0])),
    "geometric": lambda lib: _d(lib).Geometric(_t(lib, [0.3, 0.6])),
    "geometric_numbers": lambda lib: _d(lib).Geometric(logits=0.3),
}


@pytest.mark.parametrize("name", list(SHAPED))
def test_shapes_dtypes_supports_and_reprs_match_pytorch(name):
    ours, theirs = SHAPED[name](trainer), SHAPED[name](torch)
    assert tuple(ours.batch_shape) == tuple(theirs.batch_shape)
    assert tuple(ours.event_shape) == tuple(theirs.event_shape)
    assert ours.has_rsample == theirs.has_rsample
    for sample_shape in [(), (4,), (2, 3)]:
        o, t = ours.sample(sample_shape), theirs.sample(sample_shape)
        assert tuple(o.shape) == tuple(t.shape)
        assert o.dtype.name == str(t.dtype).removeprefix("torch.") and not o.requires_grad
        assert bool(ours.support.check(o).all())
    assert repr(ours) == repr(theirs).replace("torch.", "trainer.")
    assert repr(ours.support) == repr(theirs.support).replace("torch.", "trainer.")
    bigger = (5, *ours.batch_shape)
    assert tuple(ours.expand(bigger).batch_shape) == tuple(theirs.expand(bigger).batch_shape)
    assert type(ours.expand(bigger)) is type(ours)


INVALID = {
    "cauchy_scale": lambda lib: _d(lib).Cauchy(0.0, _t(lib, [1.0, 0.0])),
    "log_normal_scale": lambda lib: _d(lib).LogNormal(0.0, -1.0),
    "half_normal_scale": lambda lib: _d(lib).HalfNormal(_t(lib, [-1.0])),
    "half_cauchy_scale": lambda lib: _d(lib).HalfCauchy(0.0),
    "gumbel_scale": lambda lib: _d(lib).Gumbel(0.0, _t(lib, [-2.0])),
    "weibull_concentration": lambda lib: _d(lib).Weibull(1.0, _t(lib, [0.0])),
    "pareto_alpha": lambda lib: _d(lib).Pareto(1.0, _t(lib, [-1.0])),
    "kumaraswamy": lambda lib: _d(lib).Kumaraswamy(_t(lib, [-1.0]), 1.0),
    "logistic_normal_nan": lambda lib: _d(lib).LogisticNormal(_t(lib, [math.nan]), 1.0),
    "relaxed_bernoulli_probs": lambda lib: _d(lib).RelaxedBernoulli(_t(lib, 1.0), probs=_t(lib, [1.5])),
    "relaxed_bernoulli_both": lambda lib: _d(lib).RelaxedBernoulli(_t(lib, 1.0), probs=0.5, logits=0.0),
    "relaxed_one_hot_negative": lambda lib: _d(lib).RelaxedOneHotCategorical(_t(lib, 1.0), _t(lib, [-1.0, 2.0])),
    "chi2_df": lambda lib: _d(lib).Chi2(_t(lib, [0.0])),
    "student_t_df": lambda lib: _d(lib).StudentT(_t(lib, [-1.0])),
    "student_t_scale": lambda lib: _d(lib).StudentT(1.0, 0.0, _t(lib, [0.0])),
    "dirichlet_negative": lambda lib: _d(lib).Dirichlet(_t(lib, [1.0, -1.0])),
    "poisson_negative": lambda lib: _d(lib).Poisson(_t(lib, [-1.0])),
    "geometric_above_one": lambda lib: _d(lib).Geometric(_t(lib, [1.5])),
    "geometric_both": lambda lib: _d(lib).Geometric(0.5, logits=0.0),
}


@pytest.mark.parametrize("name", list(INVALID))
def test_invalid_parameters_raise_value_error_as_in_pytorch(name):
    assert_raises_like_torch(INVALID[name], ValueError, "Expected parameter|must be specified")


def test_the_message_names_the_parameter_the_constraint_and_the_values():
    messages = []
    for lib in (torch, trainer):
        with pytest.raises(ValueError) as error:
            _d(lib).Weibull(1.0, -2.0)
        messages.append(str(error.value).replace("torch.", "trainer."))
    assert messages[0] == messages[1]


OUTSIDE = {
    "log_normal_negative": lambda lib: _d(lib).LogNormal(0.0, 1.0).log_prob(_t(lib, [-1.0])),
    "half_normal_negative": lambda lib: _d(lib).HalfNormal(1.0).log_prob(_t(lib, [-1.0])),
    "half_cauchy_cdf": lambda lib: _d(lib).HalfCauchy(1.0).cdf(_t(lib, [-1.0])),
    "pareto_below_scale": lambda lib: _d(lib).Pareto(2.0, 1.0).log_prob(_t(lib, [1.0])),
    "kumaraswamy_above_one": lambda lib: _d(lib).Kumaraswamy(2.0, 1.0).log_prob(_t(lib, [1.5])),
    "weibull_zero": lambda lib: _d(lib).Weibull(2.0, 1.0).log_prob(_t(lib, [0.0])),
    "logistic_normal_not_simplex": lambda lib: _d(lib).LogisticNormal(0.0, 1.0).log_prob(_t(lib, [0.5, 0.6])),
    "relaxed_one_hot_not_simplex": lambda lib: _d(lib).RelaxedOneHotCategorical(
        _t(lib, 1.0), _t(lib, [0.5, 0.5])).log_prob(_t(lib, [0.5, 0.6])),
    "cauchy_nan": lambda lib: _d(lib).Cauchy(0.0, 1.0).log_prob(_t(lib, math.nan)),
    "poisson_fraction": lambda lib: _d(lib).Poisson(1.0).log_prob(_t(lib, [0.5])),
    "geometric_negative": lambda lib: _d(lib).Geometric(0.5).log_prob(_t(lib, [-1.0])),
    "dirichlet_not_simplex": lambda lib: _d(lib).Dirichlet(_t(lib, [1.0, 2.0])).log_prob(_t(lib, [0.5, 0.6])),
    "student_t_nan": lambda lib: _d(lib).StudentT(2.0).log_prob(_t(lib, [math.nan])),
}


@pytest.mark.parametrize("name", list(OUTSIDE))
def test_values_outside_the_support_raise_value_error_as_in_pytorch(name):
    assert_raises_like_torch(OUTSIDE[name], ValueError, "within the support")


def test_half_normal_density_is_zero_below_zero_without_validation():
    for lib in (torch, trainer):
        value = _d(lib).HalfNormal(1.0, validate_args=False).log_prob(_t(lib, [-1.0, 1.0]))
        assert value[0].item() == -math.inf and math.isfinite(value[1].item())


# KL(p || q) for the rules registered for these families; parameters of p, then of q
KL = {
    "cauchy": (lambda lib, a, b, c, d: (_d(lib).Cauchy(a, b), _d(lib).Cauchy(c, d)),
               [[0.0, 1.0], [1.0, 2.0], [1.0, 1.0], [3.0, 0.5]]),
    "gumbel": (lambda lib, a, b, c, d: (_d(lib).Gumbel(a, b), _d(lib).Gumbel(c, d)),
               [[0.0, 1.0], [1.0, 2.0], [1.0, 1.0], [3.0, 0.5]]),
    "half_normal": (lambda lib, a, b: (_d(lib).HalfNormal(a), _d(lib).HalfNormal(b)), [[1.0, 2.0], [3.0, 0.5]]),
    "pareto": (lambda lib, a, b, c, d: (_d(lib).Pareto(a, b), _d(lib).Pareto(c, d)),
               [[1.0, 2.0, 0.5], [1.0, 2.0, 3.0], [0.5, 1.0, 1.0], [3.0, 0.5, 2.0]]),
    "log_normal": (lambda lib, a, b, c, d: (_d(lib).LogNormal(a, b), _d(lib).LogNormal(c, d)),
                   [[0.0, 1.0], [1.0, 2.0], [1.0, 1.0], [3.0, 0.5]]),
    "logistic_normal": (lambda lib, a, b, c, d: (_d(lib).LogisticNormal(a, b), _d(lib).LogisticNormal(c, d)),
                        [[0.0, 1.0], [1.0, 2.0], [1.0, 1.0], [3.0, 0.5]]),
    "exponential_gumbel": (lambda lib, a, c, d: (_d(lib).Exponential(a), _d(lib).Gumbel(c, d)),
                           [[0.5, 2.0], [1.0, -1.0], [3.0, 0.5]]),
    "gumbel_normal": (lambda lib, a, b, c, d: (_d(lib).Gumbel(a, b), _d(lib).Normal(c, d)),
                      [[0.0, 1.0], [1.0, 2.0], [1.0, 1.0], [3.0, 0.5]]),
    "normal_gumbel": (lambda lib, a, b, c, d: (_d(lib).Normal(a, b), _d(lib).Gumbel(c, d)),
                      [[0.0, 1.0], [1.0, 2.0], [1.0, 1.0], [3.0, 0.5]]),
    "dirichlet": (lambda lib, a, b: (_d(lib).Dirichlet(a), _d(lib).Dirichlet(b)),
                  [[[0.5, 2.0, 3.0], [4.0, 1.5, 2.0]], [1.5, 1.0, 3.0]]),
    "poisson": (lambda lib, a, b: (_d(lib).Poisson(a), _d(lib).Poisson(b)), [[0.5, 3.0], [2.0, 1.0]]),
    "geometric": (lambda lib, a, b: (_d(lib).Geometric(a), _d(lib).Geometric(b)), [[0.2, 0.5], [0.7, 0.4]]),
    "chi2": (lambda lib, a, b: (_d(lib).Chi2(a), _d(lib).Chi2(b)), [[0.5, 3.0], [2.0, 1.0]]),
    "uniform_gumbel": (lambda lib, a, b, c, d: (_d(lib).Uniform(a, b), _d(lib).Gumbel(c, d)),
                       [[0.0, 1.0], [1.0, 2.0], [1.0, 1.0], [3.0, 0.5]]),
}


@pytest.mark.parametrize("name", list(KL))
def test_kl_divergence_and_its_gradients_match_pytorch(name):
    make, params = KL[name]
    assert_forward_and_gradients_match_torch(lambda lib, *p: _d(lib).kl_divergence(*make(lib, *p)),
                                             [np.asarray(p, dtype=np.float64) for p in params])


def test_kl_between_transformed_distributions_needs_equal_transforms():
    for lib in (torch, trainer):
        d = _d(lib)
        with pytest.raises(NotImplementedError):
            d.kl_divergence(d.LogNormal(0.0, 1.0), d.TransformedDistribution(d.Normal(0.0, 1.0), d.SigmoidTransform()))


def test_dirichlet_and_geometric_refusals_match_pytorch():
    assert_raises_like_torch(lambda lib: _d(lib).Dirichlet(_t(lib, 1.0)), ValueError, "at least one-dimensional")
    assert_raises_like_torch(lambda lib: _d(lib).Geometric(_t(lib, [0.5, 0.0])), ValueError,
                             "Expected parameter probs .* to be positive")


def test_dirichlet_rsample_gradients_match_pytorch_given_the_same_draws(monkeypatch):
    a = np.array([[0.3, 1.0, 2.5], [30.0, 8.0, 0.7]])
    trainer.manual_seed(6)
    draws = trainer.distributions.Dirichlet(trainer.tensor(a)).sample((5,))
    monkeypatch.setattr("torch._sample_dirichlet", lambda concentration: torch.tensor(draws.numpy()))
    weights = np.linspace(0.5, 1.5, 30).reshape(5, 2, 3)
    grads = []
    for lib in (torch, trainer):
        if lib is trainer:
            trainer.manual_seed(6)
        ta = lib.tensor(a, requires_grad=True)
        sample = _d(lib).Dirichlet(ta).rsample((5,))
        assert sample.detach().numpy().tolist() == draws.numpy().tolist()
        (sample * _t(lib, weights)).sum().backward()
        grads.append(ta.grad.numpy())
    # PyTorch approximates the Beta-marginal derivative to about 1e-3
    np.testing.assert_allclose(grads[1], grads[0], rtol=5e-3, atol=1e-6)


def test_dirichlet_rsample_gradients_are_unbiased():
    """The mean over draws of d(w . x)/da estimates d(w . E[x])/da, with E[x] = a / sum(a)."""
    n, a, w = 20000, np.array([0.4, 2.0, 5.0]), np.array([1.0, -2.0, 0.5])
    concentration = trainer.tensor(np.tile(a, (n, 1)), requires_grad=True)
    trainer.manual_seed(13)
    (trainer.distributions.Dirichlet(concentration).rsample() * trainer.tensor(w)).sum().backward()
    per_draw = concentration.grad.numpy()
    total = a.sum()
    expected = w / total - (w @ a) / total**2
    assert (np.abs(per_draw.mean(0) - expected) < 5 * per_draw.std(0) / math.sqrt(n)).all(), per_draw.mean(0)


def test_count_draws_in_proportion():
    trainer.manual_seed(2)
    poisson = trainer.distributions.Poisson(trainer.tensor(3.5)).sample((N,)).numpy()
    geometric = trainer.distributions.Geometric(trainer.tensor(0.3)).sample((N,)).numpy()
    geometric_pmf = scipy.stats.geom(0.3, loc=-1).pmf  # failures before the first success
    for draws, pmf in ((poisson, scipy.stats.poisson(3.5).pmf), (geometric, geometric_pmf)):
        top = 12
        counts = np.bincount(np.minimum(draws.astype(int), top), minlength=top + 1)
        probs = np.append(pmf(np.arange(top)), 1 - pmf(np.arange(top)).sum())
        assert scipy.stats.chisquare(counts, N * probs).pvalue > 1e-6


@pytest.mark.parametrize("make, cdf", [
    (lambda: trainer.distributions.StudentT(3.0, 1.0, 2.0), scipy.stats.t(3.0, 1.0, 2.0).cdf),
    (lambda: trainer.distributions.Chi2(5.0), scipy.stats.chi2(5.0).cdf),
    (lambda: trainer.distributions.Dirichlet(trainer.tensor([2.0, 0.5, 3.0])), scipy.stats.beta(2.0, 3.5).cdf),
], ids=["student_t", "chi2", "dirichlet_marginal"])
def test_continuous_draws_of_the_gamma_based_families_follow_the_cdf(make, cdf):
    trainer.manual_seed(7)
    draws = make().rsample((N,)).numpy()
    assert_matches_cdf(draws[..., 0] if draws.ndim == 2 else draws, cdf)


def _bregman_families(lib):
    """An Exponential written only through its natural parameter (-rate) and log-normaliser, and a Dirichlet whose
    entropy comes from the ExponentialFamily base."""

    class NaturalExponential(lib.distributions.ExponentialFamily):
        arg_constraints = {"rate": lib.distributions.constraints.positive}

        def __init__(self, rate):
            self.rate = rate
            super().__init__(rate.shape)

        @property
        def _natural_params(self):
            return (-self.rate,)

        def _log_normalizer(self, x):
            return -(-x).log()

        @property
        def _mean_carrier_measure(self):
            return 0

    class BregmanDirichlet(lib.distributions.Dirichlet):
        entropy = lib.distributions.ExponentialFamily.entropy

        @property
        def _mean_carrier_measure(self):
            a = self.concentration
            return -(a.digamma() - a.sum(-1, keepdim=True).digamma()).sum(-1)

    return NaturalExponential, BregmanDirichlet


def test_exponential_family_entropy_and_kl_come_from_the_log_normalizer():
    def fn(lib, rate, other):
        natural_exponential, _ = _bregman_families(lib)
        p, q = natural_exponential(rate), natural_exponential(other)
        return p.entropy(), lib.distributions.kl_divergence(p, q)

    assert_forward_and_gradients_match_torch(fn, [np.array([0.5, 2.0]), np.array([1.5, 0.3])])
    natural_exponential, bregman_dirichlet = _bregman_families(trainer)
    rate, other = trainer.tensor([0.5, 2.0], dtype=trainer.float64), trainer.tensor([1.5, 0.3], dtype=trainer.float64)
    d = trainer.distributions

    def values(t):
        return t.detach().numpy()

    np.testing.assert_allclose(values(natural_exponential(rate).entropy()), values(d.Exponential(rate).entropy()))
    np.testing.assert_allclose(values(d.kl_divergence(natural_exponential(rate), natural_exponential(other))),
                               values(d.kl_divergence(d.Exponential(rate), d.Exponential(other))), rtol=1e-12)
    # values only: differentiating this entropy again would need lgamma's second derivative, which trainer lacks
    a = trainer.tensor([[0.5, 2.0, 3.0], [4.0, 1.5, 2.0]], dtype=trainer.float64)
    ours = values(bregman_dirichlet(a).entropy())
    np.testing.assert_allclose(ours, values(d.Dirichlet(a).entropy()), rtol=1e-12)
    np.testing.assert_allclose(ours, values(_bregman_families(torch)[1](torch.tensor(a.numpy())).entropy()), rtol=1e-12)
    with pytest.raises(NotImplementedError, match="different exponential families"):
        d.kl_divergence(natural_exponential(rate), d.Poisson(rate))
