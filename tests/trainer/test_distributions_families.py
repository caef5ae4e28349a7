"""Binomial, NegativeBinomial, Multinomial, MixtureSameFamily, ContinuousBernoulli, FisherSnedecor, InverseGamma,
VonMises, LowRankMultivariateNormal, GeneralizedPareto, Wishart and LKJCholesky against ``torch.distributions``:
values and gradients in float64, ``rsample`` fed PyTorch's noise, draws checked against known laws with fixed
seeds, shapes, supports, ``expand`` and ``validate_args`` errors, and the KL rules registered for them (with the
cross-family ones, infinite where PyTorch says so)."""

import math

import numpy as np
import pytest
import scipy.stats
import torch

import trainer
from tests.trainer.test_ops_parity import assert_forward_and_gradients_match_torch, assert_raises_like_torch
from tests.trainer.test_sampling import assert_matches_cdf
from trainer.distributions.relaxed_bernoulli import LogitRelaxedBernoulli


def _d(lib):
    return lib.distributions


def _t(lib, data):
    return lib.tensor(data, dtype=lib.float64)


def _moments(d, mode=True):
    return d.mean, *((d.mode,) if mode else ()), d.variance, d.stddev


COV = np.array([[2.0, 0.5, 0.1], [0.5, 1.0, 0.2], [0.1, 0.2, 1.5]])
FACTOR = np.array([[1.0, 0.5], [0.0, 1.0], [-1.0, 0.3]])
CORR_TRIL = np.linalg.cholesky(np.array([[1.0, 0.3, -0.2], [0.3, 1.0, 0.4], [-0.2, 0.4, 1.0]]))

# name -> (fn(lib, *tensors), arrays)
PARITY = {
    "binomial_probs": (lambda lib, n, p, x: (lambda d: (d.log_prob(x), d.logits, *_moments(d)))(
        _d(lib).Binomial(n, p)), [np.array([3.0, 5.0, 4.0]), np.array([0.2, 0.5, 0.9]), np.array([1.0, 3.0, 0.0])]),
    "binomial_logits": (lambda lib, logits, x: (lambda d: (d.log_prob(x), d.probs, d.entropy(), *_moments(d)))(
        _d(lib).Binomial(6, logits=logits)), [np.array([-30.0, 0.5, 2.0]), np.array([1.0, 6.0, 0.0])]),
    "binomial_expand": (lambda lib, p, x: (lambda d: (d.log_prob(x), d.entropy()))(
        _d(lib).Binomial(4, p).expand((3, 2))), [np.array([0.3, 0.6]), np.array([[1.0], [4.0], [0.0]])]),
    "negative_binomial": (lambda lib, n, p, x: (lambda d: (d.log_prob(x), d.logits, *_moments(d)))(
        _d(lib).NegativeBinomial(n, p)),
        [np.array([3.0, 5.5, 0.5]), np.array([0.2, 0.5, 0.9]), np.array([1.0, 3.0, 0.0])]),
    "negative_binomial_logits": (lambda lib, n, logits, x: _d(lib).NegativeBinomial(n, logits=logits).log_prob(x),
                                 [np.array([2.0, 1.5]), np.array([-1.0, 3.0]), np.array([4.0, 0.0])]),
    "multinomial": (lambda lib, p, x: (lambda d: (d.log_prob(x), d.logits, d.mean, d.variance))(
        _d(lib).Multinomial(4, p)),
        [np.array([[0.2, 0.3, 0.5], [0.1, 0.0, 0.9]]), np.array([[1.0, 3.0, 0.0], [2.0, 0.0, 2.0]])]),
    "multinomial_logits": (lambda lib, logits, x: _d(lib).Multinomial(3, logits=logits).log_prob(x),
                           [np.array([0.5, -1.0, 2.0]), np.array([1.0, 0.0, 2.0])]),
    "continuous_bernoulli": (lambda lib, p, x, u: (lambda d: (d.log_prob(x), d.cdf(x), d.icdf(u), d.entropy(),
                                                              d.logits, *_moments(d, mode=False)))(
        _d(lib).ContinuousBernoulli(p)),
        [np.array([0.2, 0.5, 0.9, 0.4995]), np.array([0.3, 0.5, 0.7, 0.1]), np.array([0.1, 0.5, 0.93, 0.4])]),
    "continuous_bernoulli_logits": (lambda lib, logits, x: (lambda d: (d.log_prob(x), d.probs, d.entropy()))(
        _d(lib).ContinuousBernoulli(logits=logits)), [np.array([-2.0, 0.001, 3.0]), np.array([0.3, 0.5, 0.7])]),
    "fisher_snedecor": (lambda lib, df1, df2, x: (lambda d: (d.log_prob(x), *_moments(d)))(
        _d(lib).FisherSnedecor(df1, df2)),
        [np.array([1.0, 3.0, 5.0, 8.0]), np.array([1.5, 3.0, 6.0, 9.0]), np.array([0.5, 3.0, 2.0, 1.0])]),
    "inverse_gamma": (lambda lib, a, b, x: (lambda d: (d.log_prob(x), d.entropy(), *_moments(d)))(
        _d(lib).InverseGamma(a, b)),
        [np.array([0.5, 1.5, 3.0, 5.0]), np.array([1.0, 3.0, 6.0, 0.5]), np.array([0.5, 3.0, 2.0, 1.0])]),
    "von_mises": (lambda lib, loc, k, x: (lambda d: (d.log_prob(x), *_moments(d)))(_d(lib).VonMises(loc, k)),
                  [np.array([0.0, 1.0, -2.0, 0.5]), np.array([0.5, 2.0, 5.0, 20.0]), np.array([0.3, 2.0, -1.0, 7.0])]),
    "generalized_pareto_icdf_moments": (lambda lib, loc, scale, c, u: (lambda d: (d.icdf(u), d.entropy(),
                                                                                  *_moments(d)))(
        _d(lib).GeneralizedPareto(loc, scale, c)),
        [np.array([0.0, 1.0, 0.0, -1.0]), np.array([1.0, 2.0, 3.0, 0.5]), np.array([0.0, 0.3, -0.2, 0.7]),
         np.array([0.1, 0.5, 0.93, 0.4])]),
    "mixture_same_family": (lambda lib, w, loc, scale, x: (lambda d: (d.log_prob(x), d.cdf(x), d.mean, d.variance))(
        _d(lib).MixtureSameFamily(_d(lib).Categorical(w), _d(lib).Normal(loc, scale))),
        [np.array([[0.3, 0.7], [0.5, 0.5]]), np.array([[0.0, 1.0], [2.0, -1.0]]), np.array([[1.0, 2.0], [0.5, 1.5]]),
         np.array([[0.3], [-1.0], [2.0]])]),
    "mixture_of_multivariate": (lambda lib, logits, loc, x: (lambda d: (d.log_prob(x), d.mean, d.variance))(
        _d(lib).MixtureSameFamily(_d(lib).Categorical(logits=logits),
                                  _d(lib).Independent(_d(lib).Normal(loc, 1.5), 1))),
        [np.array([0.3, -0.7, 1.0]), np.array([[0.0, 1.0], [2.0, -1.0], [0.5, 0.5]]), np.array([[0.3, 1.0]])]),
    "low_rank_normal": (lambda lib, loc, w, diag, x: (lambda d: (
        d.log_prob(x), d.entropy(), d.variance, d.scale_tril, d.covariance_matrix, d.precision_matrix))(
        _d(lib).LowRankMultivariateNormal(loc, w, diag)),
        [np.array([0.0, 1.0, 2.0]), FACTOR, np.array([1.0, 2.0, 0.5]), np.array([[0.3, -0.2, 1.0], [1.0, 1.0, 1.0]])]),
    "low_rank_normal_batched": (lambda lib, loc, w, diag, x: (lambda d: (d.log_prob(x), d.entropy()))(
        _d(lib).LowRankMultivariateNormal(loc, w, diag)),
        [np.array([[0.0, 1.0, 2.0], [1.0, 0.0, 0.0]]), np.stack([FACTOR, 2 * FACTOR]), np.array([1.0, 2.0, 0.5]),
         np.array([0.3, -0.2, 1.0])]),
    "wishart_covariance": (lambda lib, df, cov, x: (lambda d: (d.log_prob(x), d.entropy(), *_moments(d),
                                                               d.precision_matrix, d.scale_tril))(
        _d(lib).Wishart(df, covariance_matrix=cov)), [np.array([4.5, 6.0]), COV, 2 * COV + np.eye(3)]),
    "wishart_precision": (lambda lib, df, precision, x: (lambda d: (d.log_prob(x), d.entropy(), d.mean))(
        _d(lib).Wishart(df, precision_matrix=precision)), [np.array(5.0), COV, 2 * COV + np.eye(3)]),
    # only the lower triangle of scale_tril is read (PyTorch's cholesky_solve also sends gradient to the upper one)
    "wishart_scale_tril": (lambda lib, df, tril, x: _d(lib).Wishart(df, scale_tril=tril.tril()).log_prob(x),
                           [np.array(3.5), np.linalg.cholesky(COV), 2 * COV + np.eye(3)]),
    "lkj_cholesky": (lambda lib, c, x: _d(lib).LKJCholesky(3, c).log_prob(x),
                     [np.array([0.5, 1.0, 3.0]), CORR_TRIL]),
}


@pytest.mark.parametrize("name", list(PARITY))
def test_values_and_gradients_match_pytorch(name):
    fn, arrays = PARITY[name]
    assert_forward_and_gradients_match_torch(fn, arrays)


def test_multinomial_entropy_is_the_sum_over_all_count_vectors():
    # PyTorch computes lgamma(total_count + 1) in float32; trainer stays in the parameters' dtype
    p = np.array([[0.2, 0.3, 0.5], [0.1, 0.0, 0.9]])
    ours = trainer.distributions.Multinomial(4, trainer.tensor(p)).entropy().numpy()
    expected = [scipy.stats.multinomial(4, row).entropy() for row in p]
    np.testing.assert_allclose(ours, expected, rtol=1e-12)
    theirs = torch.distributions.Multinomial(4, torch.tensor(p)).entropy().numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)


def test_generalized_pareto_density_and_cdf_match_scipy_and_pytorch_gradients():
    """PyTorch's ``log_prob`` and ``cdf`` refuse float64 here (they compare with a float32 zero), so the values are
    checked against SciPy and the gradients against PyTorch in float32."""
    loc, scale, c = np.array([0.0, 1.0, 0.0]), np.array([1.0, 2.0, 3.0]), np.array([0.0, 0.3, -0.2])
    x = np.array([0.5, 3.0, 2.0])
    d = trainer.distributions.GeneralizedPareto(trainer.tensor(loc), trainer.tensor(scale), trainer.tensor(c))
    law = scipy.stats.genpareto(c, loc, scale)
    np.testing.assert_allclose(d.log_prob(trainer.tensor(x)).numpy(), law.logpdf(x), rtol=1e-12)
    np.testing.assert_allclose(d.cdf(trainer.tensor(x)).numpy(), law.cdf(x), rtol=1e-12)
    grads = []
    for lib, dtype in ((torch, torch.float32), (trainer, trainer.float64)):
        params = [lib.tensor(a, dtype=dtype, requires_grad=True) for a in (loc, scale, c)]
        dist = _d(lib).GeneralizedPareto(*params)
        (dist.log_prob(lib.tensor(x, dtype=dtype)) + dist.cdf(lib.tensor(x, dtype=dtype))).sum().backward()
        grads.append([p.grad.numpy() for p in params])
    for ours, theirs in zip(grads[1], grads[0]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def _noise(kind, shape, seed):
    """trainer's noise after ``seed``, as a tensor PyTorch can be made to draw."""
    trainer.manual_seed(seed)
    draw = trainer.rand if kind == "uniform" else trainer.randn
    return torch.tensor(draw(shape, dtype=trainer.float64).numpy())


def test_rsample_of_icdf_families_matches_pytorch_given_the_same_uniforms(monkeypatch):
    sample_shape = (4, 3)
    makes = {
        "continuous_bernoulli": (lambda lib, p: _d(lib).ContinuousBernoulli(p), [[0.2, 0.4999, 0.9]]),
        "generalized_pareto": (lambda lib, loc, scale, c: _d(lib).GeneralizedPareto(loc, scale, c),
                               [[0.0, 1.0, -1.0], [1.0, 2.0, 0.5], [0.0, 0.3, -0.2]]),
    }
    for make, params in makes.values():
        u = _noise("uniform", sample_shape + (3,), seed=11)
        monkeypatch.setattr("torch.rand", lambda *args, _u=u, **kwargs: _u.clone())
        trainer.manual_seed(11)
        assert_forward_and_gradients_match_torch(lambda lib, *p, _m=make: _m(lib, *p).rsample(sample_shape),
                                                 [np.asarray(p, dtype=np.float64) for p in params])


def test_low_rank_normal_rsample_matches_pytorch_given_the_same_normals(monkeypatch):
    sample_shape = (5,)
    trainer.manual_seed(4)
    eps = [torch.tensor(trainer.randn(shape, dtype=trainer.float64).numpy()) for shape in [(5, 2), (5, 3)]]
    queue = []
    monkeypatch.setattr("torch.distributions.lowrank_multivariate_normal._standard_normal",
                        lambda shape, dtype, device: queue.pop(0).clone())

    def draw(lib, loc, w, diag):
        if lib is torch:
            queue[:] = eps
        else:
            trainer.manual_seed(4)
        return _d(lib).LowRankMultivariateNormal(loc, w, diag).rsample(sample_shape)

    assert_forward_and_gradients_match_torch(draw, [np.array([0.0, 1.0, 2.0]), FACTOR, np.array([1.0, 2.0, 0.5])])


def test_wishart_rsample_matches_pytorch_given_the_same_bartlett_noise(monkeypatch):
    """The chi-squared diagonal and the normals below it fed to both. Compared with PyTorch's Bartlett step itself:
    its rsample redraws every non-singular draw (it tests for non-singular draws where it means singular ones), and
    backpropagating through that redraw fails in PyTorch."""
    sample_shape, df = (4,), 5.0
    trainer.manual_seed(9)
    chi2 = torch.tensor(trainer.distributions.Chi2(_t(trainer, [5.0, 4.0, 3.0])).sample(sample_shape).numpy())
    normals = torch.tensor(trainer.randn((4, 3), dtype=trainer.float64).numpy())
    monkeypatch.setattr(torch.distributions.Chi2, "rsample", lambda self, shape=(): chi2.clone())
    monkeypatch.setattr("torch.randn", lambda *args, **kwargs: normals.clone())
    monkeypatch.setattr(trainer.distributions.Chi2, "rsample",
                        lambda self, shape=(): trainer.tensor(chi2.numpy()))
    monkeypatch.setattr("trainer.distributions.wishart.randn", lambda *args, **kwargs: trainer.tensor(normals.numpy()))

    def draw(lib, tril):
        d = _d(lib).Wishart(df, scale_tril=tril.tril())
        return d._bartlett_sampling(sample_shape) if lib is torch else d.rsample(sample_shape)

    assert_forward_and_gradients_match_torch(draw, [np.linalg.cholesky(COV)])


N = 20000


@pytest.mark.parametrize("make, cdf", [
    (lambda: trainer.distributions.ContinuousBernoulli(trainer.tensor(0.2)),
     lambda x: torch.distributions.ContinuousBernoulli(torch.tensor(0.2)).cdf(torch.tensor(x)).numpy()),
    (lambda: trainer.distributions.FisherSnedecor(3.0, 7.0), scipy.stats.f(3.0, 7.0).cdf),
    (lambda: trainer.distributions.InverseGamma(2.5, 1.5), scipy.stats.invgamma(2.5, scale=1.5).cdf),
    (lambda: trainer.distributions.GeneralizedPareto(1.0, 2.0, 0.3), scipy.stats.genpareto(0.3, 1.0, 2.0).cdf),
    (lambda: trainer.distributions.GeneralizedPareto(0.0, 1.0, -0.4), scipy.stats.genpareto(-0.4).cdf),
    (lambda: trainer.distributions.VonMises(trainer.tensor(1.0), trainer.tensor(2.0)),
     scipy.stats.vonmises(2.0, loc=1.0).cdf),
    (lambda: trainer.distributions.VonMises(trainer.tensor(-3.0), trainer.tensor(1e-6)),
     scipy.stats.uniform(-math.pi, 2 * math.pi).cdf),
    (lambda: trainer.distributions.MixtureSameFamily(trainer.distributions.Categorical(trainer.tensor([0.3, 0.7])),
                                                     trainer.distributions.Normal(trainer.tensor([-2.0, 1.0]), 0.5)),
     lambda x: 0.3 * scipy.stats.norm(-2.0, 0.5).cdf(x) + 0.7 * scipy.stats.norm(1.0, 0.5).cdf(x)),
], ids=["continuous_bernoulli", "fisher_snedecor", "inverse_gamma", "generalized_pareto", "generalized_pareto_bounded",
        "von_mises", "von_mises_flat", "mixture"])
def test_draws_follow_the_cdf(make, cdf):
    trainer.manual_seed(3)
    assert_matches_cdf(make().sample((N,)).numpy(), cdf)


def test_count_draws_in_proportion():
    trainer.manual_seed(2)
    d = trainer.distributions
    cases = [(d.Binomial(7, trainer.tensor(0.3)), scipy.stats.binom(7, 0.3).pmf),
             (d.NegativeBinomial(trainer.tensor(2.5), trainer.tensor(0.4)), scipy.stats.nbinom(2.5, 0.6).pmf)]
    for dist, pmf in cases:
        draws = dist.sample((N,)).numpy()
        top = 7
        counts = np.bincount(np.minimum(draws.astype(int), top), minlength=top + 1)
        probs = np.append(pmf(np.arange(top)), 1 - pmf(np.arange(top)).sum())
        assert scipy.stats.chisquare(counts, N * probs).pvalue > 1e-6, counts
    multinomial = d.Multinomial(5, trainer.tensor([0.2, 0.3, 0.5])).sample((N,)).numpy()
    assert (multinomial.sum(-1) == 5).all()
    counts = np.bincount(multinomial[:, 0].astype(int), minlength=6)
    assert scipy.stats.chisquare(counts, N * scipy.stats.binom(5, 0.2).pmf(np.arange(6))).pvalue > 1e-6


def test_wishart_and_lkj_draws_follow_their_marginals():
    trainer.manual_seed(6)
    # W[0, 0] / S[0, 0] ~ Chi2(df)
    wishart = trainer.distributions.Wishart(4.5, covariance_matrix=trainer.tensor(COV)).sample((4000,)).numpy()
    assert_matches_cdf(wishart[:, 0, 0] / COV[0, 0], scipy.stats.chi2(4.5).cdf)
    np.testing.assert_allclose(np.linalg.eigvalsh(wishart).min() > 0, True)
    # an LKJ(eta) correlation in dimension d: (r + 1) / 2 ~ Beta(eta - 1 + d / 2, eta - 1 + d / 2); PyTorch's onion
    # draws have that law in the first column only, so the other entries are compared with PyTorch's draws
    draws = []
    for lib in (trainer, torch):
        lib.manual_seed(6)
        tril = _d(lib).LKJCholesky(4, _t(lib, 2.0)).sample((4000,)).numpy()
        draws.append(tril @ np.swapaxes(tril, -1, -2))
    np.testing.assert_allclose(np.diagonal(draws[0], axis1=-2, axis2=-1), 1.0, rtol=1e-12)
    assert_matches_cdf((draws[0][:, 1, 0] + 1) / 2, scipy.stats.beta(3.0, 3.0).cdf)
    assert scipy.stats.ks_2samp(draws[0][:, 2, 1], draws[1][:, 2, 1]).pvalue > 1e-6


SHAPED = {
    "binomial": lambda lib: _d(lib).Binomial(_t(lib, [3.0, 5.0]), _t(lib, [[0.3], [0.6]])),
    "binomial_numbers": lambda lib: _d(lib).Binomial(4, logits=0.3),
    "negative_binomial": lambda lib: _d(lib).NegativeBinomial(_t(lib, [3.0, 5.0]), logits=_t(lib, [0.3, -1.0])),
    "multinomial": lambda lib: _d(lib).Multinomial(3, _t(lib, [[0.2, 0.3, 0.5]] * 2)),
    "continuous_bernoulli": lambda lib: _d(lib).ContinuousBernoulli(_t(lib, [0.3, 0.6])),
    "continuous_bernoulli_numbers": lambda lib: _d(lib).ContinuousBernoulli(logits=0.3),
    "fisher_snedecor": lambda lib: _d(lib).FisherSnedecor(_t(lib, [3.0, 5.0]), 4.0),
    "inverse_gamma": lambda lib: _d(lib).InverseGamma(_t(lib, [3.0, 5.0]), _t(lib, [[1.0], [2.0]])),
    "von_mises": lambda lib: _d(lib).VonMises(_t(lib, [0.0, 1.0]), _t(lib, [2.0, 0.5])),
    "generalized_pareto": lambda lib: _d(lib).GeneralizedPareto(_t(lib, [0.0, 1.0]), 2.0, _t(lib, [0.5, -0.5])),
    "mixture": lambda lib: _d(lib).MixtureSameFamily(_d(lib).Categorical(_t(lib, [[0.3, 0.7]] * 3)),
                                                     _d(lib).Normal(_t(lib, [[0.0, 1.0]] * 3), 1.0)),
    "low_rank_normal": lambda lib: _d(lib).LowRankMultivariateNormal(_t(lib, [[0.0, 1.0, 2.0]] * 2), _t(lib, FACTOR),
                                                                      _t(lib, [1.0, 2.0, 0.5])),
    "wishart": lambda lib: _d(lib).Wishart(_t(lib, [4.0, 6.0]), covariance_matrix=_t(lib, COV)),
    "lkj_cholesky": lambda lib: _d(lib).LKJCholesky(3, _t(lib, [0.5, 2.0])),
}


@pytest.mark.parametrize("name", list(SHAPED))
def test_shapes_supports_and_expand_match_pytorch(name):
    ours, theirs = SHAPED[name](trainer), SHAPED[name](torch)
    assert tuple(ours.batch_shape) == tuple(theirs.batch_shape)
    assert tuple(ours.event_shape) == tuple(theirs.event_shape)
    assert ours.has_rsample == theirs.has_rsample
    assert ours.has_enumerate_support == theirs.has_enumerate_support
    for sample_shape in [(), (4,), (2, 3)]:
        o, t = ours.sample(sample_shape), theirs.sample(sample_shape)
        assert tuple(o.shape) == tuple(t.shape)
        assert o.dtype.name == str(t.dtype).removeprefix("torch.") and not o.requires_grad
        assert bool(ours.support.check(o).all())
    bigger = (5, *ours.batch_shape)
    expanded = ours.expand(bigger)
    assert type(expanded) is type(ours)
    assert tuple(expanded.batch_shape) == tuple(theirs.expand(bigger).batch_shape)
    assert tuple(expanded.sample((2,)).shape) == tuple(theirs.expand(bigger).sample((2,)).shape)
    if name != "mixture":  # MixtureSameFamily prints its parts' reprs, which hold tensors
        assert repr(ours) == repr(theirs).replace("torch.", "trainer.")


def test_binomial_enumerate_support_and_its_refusal_match_pytorch():
    for lib in (torch, trainer):
        values = _d(lib).Binomial(3, _t(lib, [0.2, 0.7])).enumerate_support()
        assert values.numpy().tolist() == [[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [3.0, 3.0]]
    assert_raises_like_torch(lambda lib: _d(lib).Binomial(_t(lib, [3.0, 4.0]), 0.5).entropy(), NotImplementedError,
                             "Inhomogeneous total count")


INVALID = {
    "binomial_fraction": (lambda lib: _d(lib).Binomial(_t(lib, [2.5]), 0.5), "Expected parameter total_count"),
    "binomial_probs": (lambda lib: _d(lib).Binomial(3, _t(lib, [1.5])), "Expected parameter probs"),
    "binomial_both": (lambda lib: _d(lib).Binomial(3, 0.5, 0.0), "must be specified"),
    "negative_binomial_one": (lambda lib: _d(lib).NegativeBinomial(3.0, _t(lib, [1.0])), "Expected parameter probs"),
    "negative_binomial_count": (lambda lib: _d(lib).NegativeBinomial(_t(lib, [-1.0]), 0.5), "total_count"),
    "multinomial_negative": (lambda lib: _d(lib).Multinomial(3, _t(lib, [-0.5, 1.5])), "Expected parameter probs"),
    "multinomial_scalar": (lambda lib: _d(lib).Multinomial(3, _t(lib, 0.5)), "at least one-dimensional"),
    "continuous_bernoulli": (lambda lib: _d(lib).ContinuousBernoulli(_t(lib, [1.5]), validate_args=True),
                             "The parameter probs has invalid values"),
    # PyTorch's own Gamma parts refuse first
    "fisher_snedecor": (lambda lib: _d(lib).FisherSnedecor(_t(lib, [0.0]), 1.0), "Expected parameter concentration"),
    "inverse_gamma": (lambda lib: _d(lib).InverseGamma(1.0, _t(lib, [-1.0])), "Expected parameter rate"),
    "von_mises": (lambda lib: _d(lib).VonMises(0.0, _t(lib, [0.0])), "Expected parameter concentration"),
    "generalized_pareto": (lambda lib: _d(lib).GeneralizedPareto(0.0, _t(lib, [-1.0]), 0.0), "parameter scale"),
    "low_rank_normal_diag": (lambda lib: _d(lib).LowRankMultivariateNormal(
        _t(lib, [0.0, 0.0, 0.0]), _t(lib, FACTOR), _t(lib, [1.0, -1.0, 1.0])), "Expected parameter cov_diag"),
    "low_rank_normal_shape": (lambda lib: _d(lib).LowRankMultivariateNormal(
        _t(lib, [0.0, 0.0]), _t(lib, FACTOR), _t(lib, [1.0, 1.0])), "cov_factor must be a batch of matrices"),
    "wishart_df": (lambda lib: _d(lib).Wishart(_t(lib, 1.5), covariance_matrix=_t(lib, COV)), "expected to be greater"),
    "wishart_not_pd": (lambda lib: _d(lib).Wishart(4.0, covariance_matrix=_t(lib, -COV), validate_args=True),
                       "Expected parameter covariance_matrix"),
    "lkj_dim": (lambda lib: _d(lib).LKJCholesky(1, 1.0), "greater than or equal to 2"),
    "lkj_concentration": (lambda lib: _d(lib).LKJCholesky(3, _t(lib, [0.0])), "Expected parameter concentration"),
    "mixture_not_categorical": (lambda lib: _d(lib).MixtureSameFamily(_d(lib).Normal(0.0, 1.0),
                                                                      _d(lib).Normal(_t(lib, [0.0]), 1.0)),
                                "Mixture distribution needs to be an"),
    "mixture_sizes": (lambda lib: _d(lib).MixtureSameFamily(_d(lib).Categorical(_t(lib, [0.3, 0.7])),
                                                            _d(lib).Normal(_t(lib, [0.0, 1.0, 2.0]), 1.0)),
                      "does not equal"),
}


@pytest.mark.parametrize("name", list(INVALID))
def test_invalid_parameters_raise_value_error_as_in_pytorch(name):
    call, message = INVALID[name]
    assert_raises_like_torch(call, ValueError, message)


def test_refusals_of_other_types_match_pytorch():
    assert_raises_like_torch(lambda lib: _d(lib).Multinomial(_t(lib, 3.0), _t(lib, [0.5, 0.5])), NotImplementedError,
                             "inhomogeneous total_count")
    assert_raises_like_torch(lambda lib: _d(lib).Wishart(4.0), AssertionError, "Exactly one of")


OUTSIDE = {
    "binomial_above_count": lambda lib: _d(lib).Binomial(3, 0.5).log_prob(_t(lib, [4.0])),
    "negative_binomial_fraction": lambda lib: _d(lib).NegativeBinomial(3.0, 0.5).log_prob(_t(lib, [0.5])),
    "multinomial_wrong_total": lambda lib: _d(lib).Multinomial(3, _t(lib, [0.5, 0.5])).log_prob(_t(lib, [3.0, 1.0])),
    "continuous_bernoulli_above_one": lambda lib: _d(lib).ContinuousBernoulli(0.3).log_prob(_t(lib, [1.5])),
    "fisher_snedecor_negative": lambda lib: _d(lib).FisherSnedecor(2.0, 3.0).log_prob(_t(lib, [-1.0])),
    "inverse_gamma_zero": lambda lib: _d(lib).InverseGamma(2.0, 3.0).log_prob(_t(lib, [0.0])),
    "von_mises_nan": lambda lib: _d(lib).VonMises(0.0, 1.0).log_prob(_t(lib, [math.nan])),
    "generalized_pareto_below_loc": lambda lib: _d(lib).GeneralizedPareto(
        _t(lib, 1.0), _t(lib, 1.0), _t(lib, 0.5)).log_prob(_t(lib, [0.5])),
    "mixture_negative": lambda lib: _d(lib).MixtureSameFamily(
        _d(lib).Categorical(_t(lib, [0.3, 0.7])), _d(lib).Exponential(_t(lib, [1.0, 2.0]))).log_prob(_t(lib, [-1.0])),
    "wishart_not_pd": lambda lib: _d(lib).Wishart(4.0, covariance_matrix=_t(lib, COV)).log_prob(_t(lib, -COV)),
    "lkj_not_correlation": lambda lib: _d(lib).LKJCholesky(3, 1.0).log_prob(_t(lib, 2 * CORR_TRIL)),
}


@pytest.mark.parametrize("name", list(OUTSIDE))
def test_values_outside_the_support_raise_value_error_as_in_pytorch(name):
    assert_raises_like_torch(OUTSIDE[name], ValueError, "within the support")


# KL(p || q): fn(lib, *params) -> (p, q), and the parameters
KL = {
    "binomial": (lambda lib, a, b: (_d(lib).Binomial(5, a), _d(lib).Binomial(5, b)), [[0.2, 0.5], [0.7, 0.4]]),
    "binomial_more_trials": (lambda lib, n, a, b: (_d(lib).Binomial(n, a), _d(lib).Binomial(3, b)),
                             [[3.0, 5.0], [0.2, 0.5], [0.7, 0.4]]),
    "continuous_bernoulli": (lambda lib, a, b: (_d(lib).ContinuousBernoulli(a), _d(lib).ContinuousBernoulli(b)),
                             [[0.2, 0.5, 0.8], [0.7, 0.4, 0.5]]),
    "low_rank_low_rank": (lambda lib, m1, w1, d1, m2, w2, d2: (_d(lib).LowRankMultivariateNormal(m1, w1, d1),
                                                               _d(lib).LowRankMultivariateNormal(m2, w2, d2)),
                          [[0.0, 1.0, 2.0], FACTOR, [1.0, 2.0, 0.5], [1.0, 0.0, 0.0], FACTOR[:, :1] * 2,
                           [0.5, 1.0, 1.5]]),
    "normal_low_rank": (lambda lib, m1, cov, m2, w2, d2: (_d(lib).MultivariateNormal(m1, cov),
                                                          _d(lib).LowRankMultivariateNormal(m2, w2, d2)),
                        [[0.0, 1.0, 2.0], COV, [1.0, 0.0, 0.0], FACTOR, [0.5, 1.0, 1.5]]),
    "low_rank_normal": (lambda lib, m1, w1, d1, m2, cov: (_d(lib).LowRankMultivariateNormal(m1, w1, d1),
                                                          _d(lib).MultivariateNormal(m2, cov)),
                        [[[0.0, 1.0, 2.0], [1.0, 1.0, 1.0]], FACTOR, [1.0, 2.0, 0.5], [1.0, 0.0, 0.0], COV]),
    "wishart": (lambda lib, df1, c1, df2, c2: (_d(lib).Wishart(df1, covariance_matrix=c1),
                                               _d(lib).Wishart(df2, covariance_matrix=c2)),
                [4.5, COV, 6.0, np.eye(3) + 0.5]),
    "bernoulli_poisson": (lambda lib, p, r: (_d(lib).Bernoulli(p), _d(lib).Poisson(r)), [[0.2, 0.7], [1.5, 0.5]]),
    "beta_continuous_bernoulli": (lambda lib, a, b, p: (_d(lib).Beta(a, b), _d(lib).ContinuousBernoulli(p)),
                                  [[0.5, 2.0], [1.5, 3.0], [0.3, 0.8]]),
    "beta_exponential": (lambda lib, a, b, r: (_d(lib).Beta(a, b), _d(lib).Exponential(r)),
                         [[0.5, 2.0], [1.5, 3.0], [0.3, 2.0]]),
    "beta_gamma": (lambda lib, a, b, c, r: (_d(lib).Beta(a, b), _d(lib).Gamma(c, r)),
                   [[0.5, 2.0], [1.5, 3.0], [0.3, 2.0], [1.0, 0.5]]),
    "beta_normal": (lambda lib, a, b, m, s: (_d(lib).Beta(a, b), _d(lib).Normal(m, s)),
                    [[0.5, 2.0], [1.5, 3.0], [0.3, 2.0], [1.0, 0.5]]),
    "beta_uniform": (lambda lib, a, b, lo, hi: (_d(lib).Beta(a, b), _d(lib).Uniform(lo, hi)),
                     [[0.5, 2.0, 1.0], [1.5, 3.0, 1.0], [-0.5, 0.2, 0.0], [1.0, 2.0, 0.9]]),
    "continuous_bernoulli_exponential": (lambda lib, p, r: (_d(lib).ContinuousBernoulli(p), _d(lib).Exponential(r)),
                                         [[0.2, 0.7], [1.5, 0.5]]),
    "continuous_bernoulli_normal": (lambda lib, p, m, s: (_d(lib).ContinuousBernoulli(p), _d(lib).Normal(m, s)),
                                    [[0.2, 0.7], [1.5, 0.5], [1.0, 2.0]]),
    "continuous_bernoulli_uniform": (lambda lib, p, lo, hi: (_d(lib).ContinuousBernoulli(p), _d(lib).Uniform(lo, hi)),
                                     [[0.2, 0.7, 0.5], [-0.5, 0.0, -1.0], [1.5, 2.0, 0.5]]),
    "exponential_gamma": (lambda lib, r, c, q: (_d(lib).Exponential(r), _d(lib).Gamma(c, q)),
                          [[0.5, 2.0], [1.5, 3.0], [0.3, 2.0]]),
    "exponential_normal": (lambda lib, r, m, s: (_d(lib).Exponential(r), _d(lib).Normal(m, s)),
                           [[0.5, 2.0], [1.5, -3.0], [0.3, 2.0]]),
    "gamma_exponential": (lambda lib, c, r, q: (_d(lib).Gamma(c, r), _d(lib).Exponential(q)),
                          [[0.5, 2.0], [1.5, 3.0], [0.3, 2.0]]),
    "gamma_gumbel": (lambda lib, c, r, m, s: (_d(lib).Gamma(c, r), _d(lib).Gumbel(m, s)),
                     [[0.5, 2.0], [1.5, 3.0], [0.3, -2.0], [1.0, 0.5]]),
    "gamma_normal": (lambda lib, c, r, m, s: (_d(lib).Gamma(c, r), _d(lib).Normal(m, s)),
                     [[0.5, 2.0], [1.5, 3.0], [0.3, -2.0], [1.0, 0.5]]),
    "laplace_normal": (lambda lib, a, b, m, s: (_d(lib).Laplace(a, b), _d(lib).Normal(m, s)),
                       [[0.5, -2.0], [1.5, 3.0], [0.3, 2.0], [1.0, 0.5]]),
    "normal_laplace": (lambda lib, m, s, a, b: (_d(lib).Normal(m, s), _d(lib).Laplace(a, b)),
                       [[0.5, -2.0], [1.5, 3.0], [0.3, 2.0], [1.0, 0.5]]),
    "pareto_exponential": (lambda lib, s, a, r: (_d(lib).Pareto(s, a), _d(lib).Exponential(r)),
                           [[1.0, 2.0, 1.0], [0.5, 1.5, 3.0], [0.3, 2.0, 1.0]]),
    "pareto_gamma": (lambda lib, s, a, c, r: (_d(lib).Pareto(s, a), _d(lib).Gamma(c, r)),
                     [[1.0, 2.0, 1.0], [0.5, 1.5, 3.0], [0.3, 2.0, 1.0], [1.0, 0.5, 2.0]]),
    "pareto_normal": (lambda lib, s, a, m, sd: (_d(lib).Pareto(s, a), _d(lib).Normal(m, sd)),
                      [[1.0, 2.0, 1.0], [1.5, 2.5, 3.0], [0.3, 2.0, 1.0], [1.0, 0.5, 2.0]]),
    "uniform_beta": (lambda lib, lo, hi, a, b: (_d(lib).Uniform(lo, hi), _d(lib).Beta(a, b)),
                     [[0.05, 0.2, -0.5], [0.95, 0.7, 0.5], [0.5, 2.0, 1.0], [1.5, 3.0, 1.0]]),
    "uniform_continuous_bernoulli": (lambda lib, lo, hi, p: (_d(lib).Uniform(lo, hi), _d(lib).ContinuousBernoulli(p)),
                                     [[0.1, 0.2, 0.0], [0.9, 0.7, 0.5], [0.3, 0.8, 0.4]]),
    "uniform_exponential": (lambda lib, lo, hi, r: (_d(lib).Uniform(lo, hi), _d(lib).Exponential(r)),
                            [[0.0, 0.2, -0.5], [1.0, 0.7, 0.5], [0.5, 2.0, 1.0]]),
    "uniform_gamma": (lambda lib, lo, hi, c, r: (_d(lib).Uniform(lo, hi), _d(lib).Gamma(c, r)),
                      [[0.05, 0.2, -0.5], [1.0, 0.7, 0.5], [0.5, 2.0, 1.0], [1.5, 3.0, 1.0]]),
    "uniform_normal": (lambda lib, lo, hi, m, s: (_d(lib).Uniform(lo, hi), _d(lib).Normal(m, s)),
                       [[0.0, 0.2, -0.5], [1.0, 0.7, 0.5], [0.5, 2.0, 1.0], [1.5, 3.0, 1.0]]),
    "uniform_pareto": (lambda lib, lo, hi, s, a: (_d(lib).Uniform(lo, hi), _d(lib).Pareto(s, a)),
                       [[1.0, 2.0, 0.5], [2.0, 3.0, 1.5], [0.5, 1.0, 1.0], [1.5, 3.0, 1.0]]),
}


@pytest.mark.parametrize("name", list(KL))
def test_kl_divergence_and_its_gradients_match_pytorch(name):
    make, params = KL[name]
    assert_forward_and_gradients_match_torch(lambda lib, *p: _d(lib).kl_divergence(*make(lib, *p)),
                                             [np.asarray(p, dtype=np.float64) for p in params])


# pairs whose KL PyTorch defines as infinite: q gives no density where p has some
INFINITE = [
    ("Beta", (1.0, 2.0), "Pareto", (1.0, 2.0)), ("ContinuousBernoulli", (0.3,), "Pareto", (1.0, 2.0)),
    ("Exponential", (1.0,), "Beta", (1.0, 2.0)), ("Exponential", (1.0,), "ContinuousBernoulli", (0.3,)),
    ("Exponential", (1.0,), "Pareto", (1.0, 2.0)), ("Exponential", (1.0,), "Uniform", (0.0, 5.0)),
    ("Gamma", (1.0, 2.0), "Beta", (1.0, 2.0)), ("Gamma", (1.0, 2.0), "ContinuousBernoulli", (0.3,)),
    ("Gamma", (1.0, 2.0), "Pareto", (1.0, 2.0)), ("Gamma", (1.0, 2.0), "Uniform", (0.0, 5.0)),
    ("Gumbel", (0.0, 1.0), "Beta", (1.0, 2.0)), ("Gumbel", (0.0, 1.0), "ContinuousBernoulli", (0.3,)),
    ("Gumbel", (0.0, 1.0), "Exponential", (1.0,)), ("Gumbel", (0.0, 1.0), "Gamma", (1.0, 2.0)),
    ("Gumbel", (0.0, 1.0), "Pareto", (1.0, 2.0)), ("Gumbel", (0.0, 1.0), "Uniform", (0.0, 5.0)),
    ("Laplace", (0.0, 1.0), "Beta", (1.0, 2.0)), ("Laplace", (0.0, 1.0), "ContinuousBernoulli", (0.3,)),
    ("Laplace", (0.0, 1.0), "Exponential", (1.0,)), ("Laplace", (0.0, 1.0), "Gamma", (1.0, 2.0)),
    ("Laplace", (0.0, 1.0), "Pareto", (1.0, 2.0)), ("Laplace", (0.0, 1.0), "Uniform", (0.0, 5.0)),
    ("Normal", (0.0, 1.0), "Beta", (1.0, 2.0)), ("Normal", (0.0, 1.0), "ContinuousBernoulli", (0.3,)),
    ("Normal", (0.0, 1.0), "Exponential", (1.0,)), ("Normal", (0.0, 1.0), "Gamma", (1.0, 2.0)),
    ("Normal", (0.0, 1.0), "Pareto", (1.0, 2.0)), ("Normal", (0.0, 1.0), "Uniform", (0.0, 5.0)),
    ("Pareto", (1.0, 2.0), "Beta", (1.0, 2.0)), ("Pareto", (1.0, 2.0), "ContinuousBernoulli", (0.3,)),
    ("Pareto", (1.0, 2.0), "Uniform", (0.0, 5.0)), ("Poisson", (1.0,), "Bernoulli", (0.3,)),
    ("Poisson", (1.0,), "Binomial", (3, 0.3)),
]


@pytest.mark.parametrize("p_name, p_args, q_name, q_args", INFINITE,
                         ids=[f"{p}-{q}" for p, _, q, _ in INFINITE])
def test_kl_is_infinite_where_pytorch_says_so(p_name, p_args, q_name, q_args):
    for lib in (torch, trainer):
        tensors = [_t(lib, [a, a]) if isinstance(a, float) else a for a in p_args]
        p = getattr(_d(lib), p_name)(*tensors)
        q = getattr(_d(lib), q_name)(*(_t(lib, [a, a]) if isinstance(a, float) else a for a in q_args))
        kl = _d(lib).kl_divergence(p, q)
        assert tuple(kl.shape) == (2,) and np.isinf(kl.numpy()).all(), (lib.__name__, kl)


def test_kl_between_binomials_with_fewer_trials_in_p_is_refused_as_in_pytorch():
    assert_raises_like_torch(lambda lib: _d(lib).kl_divergence(_d(lib).Binomial(2, 0.5), _d(lib).Binomial(3, 0.5)),
                             NotImplementedError, "q.total_count > p.total_count")


def test_lkj_log_prob_integrates_to_one_in_two_dimensions():
    """In 2-d the factor is [[1, 0], [r, sqrt(1 - r^2)]]: the density over r must integrate to 1."""
    r = np.linspace(-1 + 1e-9, 1 - 1e-9, 20001)
    tril = np.zeros((r.size, 2, 2))
    tril[:, 0, 0], tril[:, 1, 0], tril[:, 1, 1] = 1.0, r, np.sqrt(1 - r**2)
    log_p = trainer.distributions.LKJCholesky(2, 2.5).log_prob(trainer.tensor(tril)).numpy()
    # the density of the factor is over its free entry L[1, 0] = r
    assert abs(np.trapezoid(np.exp(log_p), r) - 1) < 1e-6


def test_probs_and_logits_families_share_one_implementation():
    """The de-duplicated parameter handling: the one given is kept, the other derived lazily (with gradients),
    and expand keeps only the given one."""
    d = trainer.distributions
    logits = trainer.tensor([0.3, -1.2], dtype=trainer.float64, requires_grad=True)
    for make in (lambda: d.Bernoulli(logits=logits), lambda: d.Geometric(logits=logits),
                 lambda: d.Binomial(3, logits=logits), lambda: d.NegativeBinomial(2.0, logits=logits),
                 lambda: LogitRelaxedBernoulli(trainer.tensor(0.5), logits=logits)):
        dist = make()
        assert "probs" not in dist.__dict__ and dist.param_shape == (2,)
        expanded = dist.expand((3, 2))
        assert "probs" not in expanded.__dict__ and tuple(expanded.logits.shape) == (3, 2)
        np.testing.assert_allclose(dist.probs.detach().numpy(), 1 / (1 + np.exp(-logits.detach().numpy())))
        assert dist.probs.requires_grad
    for make in (lambda: d.Categorical(logits=logits), lambda: d.Multinomial(2, logits=logits),
                 lambda: d.RelaxedOneHotCategorical(trainer.tensor(0.5), logits=logits).base_dist):
        dist = make()
        np.testing.assert_allclose(dist.probs.detach().numpy().sum(-1), 1.0)
        assert tuple(dist.expand((4,)).probs.shape) == (4, 2)


def test_mixture_draws_broadcast_a_shared_mixture_over_the_component_batch():
    """PyTorch's gather fails here; trainer expands the mixture's draw to the batch first."""
    d = trainer.distributions
    mixture = d.MixtureSameFamily(d.Categorical(_t(trainer, [0.0, 1.0])),
                                  d.Normal(_t(trainer, [[0.0, 100.0], [0.0, -100.0], [0.0, 5.0]]), 1e-3))
    draws = mixture.sample((4,)).numpy()
    assert draws.shape == (4, 3)
    np.testing.assert_allclose(draws, np.broadcast_to([100.0, -100.0, 5.0], (4, 3)), atol=0.01)


def test_wishart_redraws_singular_draws():
    """With df just above p - 1 many Bartlett draws are singular: rsample warns and redraws them (PyTorch's
    inverted test redraws the non-singular ones instead), leaving fewer singular draws than a single pass."""
    d = trainer.distributions
    with pytest.warns(UserWarning, match="Low df"):
        wishart = d.Wishart(_t(trainer, 2.0001), covariance_matrix=1e-3 * trainer.eye(3, dtype=trainer.float64))

    def singular_count(**kwargs):
        trainer.manual_seed(1)
        with pytest.warns(UserWarning, match="Singular sample detected"):
            draws = wishart.rsample((500,), **kwargs)
        return int((~wishart.support.check(draws)).sum())

    once, corrected = singular_count(max_try_correction=0), singular_count()
    assert corrected < once, (corrected, once)
