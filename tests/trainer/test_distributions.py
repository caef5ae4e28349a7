"""``trainer.distributions`` against ``torch.distributions``.

Deterministic quantities (``log_prob``, ``cdf``, ``icdf``, ``entropy``, moments, KL divergences) and their gradients
in the parameters match PyTorch in float64. ``rsample`` is fed the same noise in both libraries (PyTorch's noise
source is patched to return trainer's draws), so values and reparameterisation gradients can be compared too; the
gamma and beta gradients, which PyTorch approximates, are also checked for unbiasedness by Monte Carlo. Draws are
checked against their distributions with fixed seeds and bounds from the sample size, as in ``test_sampling``.
"""

import math

import numpy as np
import pytest
import scipy.special
import torch

import trainer
from tests.trainer.test_ops_parity import _assert_same, assert_forward_and_gradients_match_torch
from tests.trainer.test_sampling import Z, assert_frequencies_fit, assert_matches_cdf, normal_cdf
from trainer.ops.incomplete_beta import regularized_beta
from trainer.ops.incomplete_gamma import regularized_gamma
from trainer.ops.reparameterized_draws import sample_beta, standard_gamma

COV = np.array([[2.0, 0.5, 0.1], [0.5, 1.0, 0.2], [0.1, 0.2, 0.7]])
BATCHED_COV = np.stack([COV, np.diag([1.0, 2.0, 0.5])])


def _d(lib):
    return lib.distributions


def _t(lib, data):
    return lib.tensor(data, dtype=lib.float64)


def _moments(d):
    return d.mean, d.variance, d.stddev, d.entropy()


# name -> (fn(lib, *params) -> outputs, parameter arrays); every parameter requires grad
PARITY = {
    "normal": (lambda lib, loc, scale, x: (
        lambda d: (d.log_prob(x), d.cdf(x), d.icdf(_t(lib, [[0.1, 0.5, 0.97]])), d.mode, *_moments(d)))(
        _d(lib).Normal(loc, scale)),
        [np.array([[0.0, 1.0, -2.0]]), np.array([[1.0], [2.5]]), np.array([0.3, -1.0, 4.0])]),
    "normal_numbers": (lambda lib, x: (lambda d: (d.log_prob(x), d.cdf(x), d.entropy()))(_d(lib).Normal(0.5, 2.0)),
                       [np.array([0.1, -3.0])]),
    "bernoulli_probs": (lambda lib, p: (lambda d: (d.log_prob(_t(lib, [[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]])),
                                                   d.logits, d.mode, *_moments(d)))(_d(lib).Bernoulli(p)),
                        [np.array([0.2, 0.5, 0.97])]),
    "bernoulli_logits": (lambda lib, logits: (lambda d: (d.log_prob(_t(lib, [1.0, 0.0, 1.0])), d.probs,
                                                         *_moments(d)))(_d(lib).Bernoulli(logits=logits)),
                         [np.array([0.3, -4.0, 12.0])]),
    "categorical_probs": (lambda lib, p: (lambda d: (d.log_prob(lib.tensor([[0, 2], [1, 1]])), d.logits, d.probs,
                                                     d.entropy()))(_d(lib).Categorical(p)),
                          [np.array([[1.0, 2.0, 0.5], [0.1, 0.3, 0.6]])]),
    "categorical_logits": (lambda lib, logits: (lambda d: (d.log_prob(lib.tensor([2, 0])), d.probs, d.logits,
                                                           d.entropy()))(_d(lib).Categorical(logits=logits)),
                           [np.array([[1.0, -2.0, 0.5], [0.1, 3.0, -0.6]])]),
    "one_hot_categorical": (lambda lib, p: (lambda d: (d.log_prob(_t(lib, [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])),
                                                       *_moments(d)))(_d(lib).OneHotCategorical(p)),
                            [np.array([[1.0, 2.0, 0.5], [0.1, 0.3, 0.6]])]),
    "uniform": (lambda lib, low, high, x: (
        lambda d: (d.log_prob(x), d.cdf(x), d.icdf(_t(lib, [0.25, 0.5])), *_moments(d)))(_d(lib).Uniform(low, high)),
        [np.array([-1.0, 0.5]), np.array([2.0, 0.75]), np.array([0.3, 0.6])]),
    "exponential": (lambda lib, rate, x: (
        lambda d: (d.log_prob(x), d.cdf(x), d.icdf(_t(lib, [0.25, 0.9])), d.mode, *_moments(d)))(
        _d(lib).Exponential(rate)), [np.array([0.5, 3.0]), np.array([2.0, 0.1])]),
    "laplace": (lambda lib, loc, scale, x: (
        lambda d: (d.log_prob(x), d.cdf(x), d.icdf(_t(lib, [0.25, 0.9])), d.mode, *_moments(d)))(
        _d(lib).Laplace(loc, scale)), [np.array([0.0, 1.0]), np.array([1.5, 0.2]), np.array([0.7, 0.5])]),
    "gamma": (lambda lib, concentration, rate, x: (
        lambda d: (d.log_prob(x), d.mode, *_moments(d)))(_d(lib).Gamma(concentration, rate)),
        [np.array([0.5, 3.0, 20.0]), np.array([1.0, 2.0, 0.3]), np.array([0.4, 1.3, 70.0])]),
    "beta": (lambda lib, a, b, x: (lambda d: (d.log_prob(x), *_moments(d)))(_d(lib).Beta(a, b)),
             [np.array([0.5, 3.0, 0.7, 12.0]), np.array([1.5, 2.0, 0.4, 3.0]), np.array([0.3, 0.5, 0.99, 0.8])]),
    "beta_mode": (lambda lib, a, b: _d(lib).Beta(a, b).mode, [np.array([3.0, 0.5, 2.0]), np.array([2.0, 4.0, 0.5])]),
    "mvn_covariance": (lambda lib, loc, cov, x: (
        lambda d: (d.log_prob(x), d.scale_tril, d.precision_matrix, d.covariance_matrix, d.mode,
                   *_moments(d)))(_d(lib).MultivariateNormal(loc, cov)),
        [np.array([0.5, 3.0, 1.0]), COV, np.array([[0.3, 1.5, 0.0], [1.0, 2.0, 3.0]])]),
    "mvn_precision": (lambda lib, loc, precision, x: (
        lambda d: (d.log_prob(x), d.scale_tril, d.covariance_matrix, d.precision_matrix, *_moments(d)))(
        _d(lib).MultivariateNormal(loc, precision_matrix=precision)),
        [np.array([0.5, 3.0, 1.0]), COV, np.array([0.3, 1.5, 0.0])]),
    "mvn_scale_tril_batched": (lambda lib, loc, tril, x: (
        lambda d: (d.log_prob(x), d.covariance_matrix, *_moments(d)))(
        _d(lib).MultivariateNormal(loc, scale_tril=tril)),
        [np.array([[0.5, 3.0, 1.0], [0.0, 0.0, 0.0]]), np.linalg.cholesky(BATCHED_COV),
         np.array([[[0.3, 1.5, 0.0]], [[1.0, 2.0, 3.0]], [[0.0, 0.0, 0.0]]])]),
    "mvn_broadcast_covariance": (lambda lib, loc, cov, x: (
        lambda d: (d.log_prob(x), d.entropy(), d.variance))(_d(lib).MultivariateNormal(loc, cov)),
        [np.array([[0.5, 3.0, 1.0], [0.0, 1.0, 2.0]]), COV, np.array([0.3, 1.5, 0.0])]),
    "independent": (lambda lib, loc, scale, x: (
        lambda d: (d.log_prob(x), d.entropy(), d.mean, d.variance))(
        _d(lib).Independent(_d(lib).Normal(loc, scale), 1)),
        [np.array([[0.0, 1.0], [2.0, 3.0]]), np.array([[1.0, 2.0], [0.5, 1.0]]), np.array([[0.3, 1.5], [1.0, 2.0]])]),
    "expand": (lambda lib, loc, scale, x: (lambda d: (d.log_prob(x), d.entropy(), d.mean))(
        _d(lib).Laplace(loc, scale).expand((4, 2))),
        [np.array([0.0, 1.0]), np.array([1.5, 0.2]), np.array([[0.7], [0.5], [0.1], [-2.0]])]),
    "expand_mvn": (lambda lib, loc, cov, x: (lambda d: (d.log_prob(x), d.entropy(), d.covariance_matrix))(
        _d(lib).MultivariateNormal(loc, cov).expand((2,))),
        [np.array([0.5, 3.0, 1.0]), COV, np.array([[0.3, 1.5, 0.0], [1.0, 2.0, 3.0]])]),
}


@pytest.mark.parametrize("name", list(PARITY))
def test_values_and_gradients_match_pytorch(name):
    fn, arrays = PARITY[name]
    assert_forward_and_gradients_match_torch(fn, arrays)


# KL(p || q) for every registered pair; parameters of p, then of q
KL = {
    "normal": (lambda lib, a, b, c, d: (_d(lib).Normal(a, b), _d(lib).Normal(c, d)),
               [[0.0, 1.0], [1.0, 2.0], [1.0, 1.0], [3.0, 0.5]]),
    "bernoulli": (lambda lib, a, b: (_d(lib).Bernoulli(a), _d(lib).Bernoulli(b)), [[0.3, 0.9, 0.5], [0.2, 0.5, 0.6]]),
    "bernoulli_logits": (lambda lib, a, b: (_d(lib).Bernoulli(logits=a), _d(lib).Bernoulli(logits=b)),
                         [[0.3, -2.0], [1.0, 4.0]]),
    "categorical": (lambda lib, a, b: (_d(lib).Categorical(a), _d(lib).Categorical(logits=b)),
                    [[[0.2, 0.3, 0.5], [1.0, 1.0, 2.0]], [[0.0, 1.0, -1.0], [2.0, 0.5, 0.3]]]),
    "one_hot_categorical": (lambda lib, a, b: (_d(lib).OneHotCategorical(a), _d(lib).OneHotCategorical(b)),
                            [[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]]),
    "uniform": (lambda lib, a, b, c, d: (_d(lib).Uniform(a, b), _d(lib).Uniform(c, d)),
                [[0.0, 1.0], [1.0, 2.0], [-1.0, 0.5], [3.0, 2.5]]),
    "exponential": (lambda lib, a, b: (_d(lib).Exponential(a), _d(lib).Exponential(b)), [[0.5, 1.0], [1.0, 3.0]]),
    "laplace": (lambda lib, a, b, c, d: (_d(lib).Laplace(a, b), _d(lib).Laplace(c, d)),
                [[0.5, 1.0], [1.0, 2.0], [1.0, -1.0], [3.0, 2.0]]),
    "gamma": (lambda lib, a, b, c, d: (_d(lib).Gamma(a, b), _d(lib).Gamma(c, d)),
              [[0.5, 1.0], [1.0, 2.0], [1.0, 4.0], [3.0, 2.0]]),
    "beta": (lambda lib, a, b, c, d: (_d(lib).Beta(a, b), _d(lib).Beta(c, d)),
             [[0.5, 1.0], [1.0, 2.0], [1.0, 4.0], [3.0, 2.0]]),
    "mvn": (lambda lib, a, b, c, d: (_d(lib).MultivariateNormal(a, b), _d(lib).MultivariateNormal(c, scale_tril=d)),
            [[0.5, 1.0, 0.0], COV, [[1.0, 1.0, 2.0], [0.0, 0.0, 0.0]], np.linalg.cholesky(BATCHED_COV)]),
    "independent": (lambda lib, a, b, c, d: (_d(lib).Independent(_d(lib).Normal(a, b), 1),
                                             _d(lib).Independent(_d(lib).Normal(c, d), 1)),
                    [[[0.0, 1.0]], [[1.0, 2.0]], [[1.0, 1.0], [0.0, 2.0]], [[3.0, 0.5], [1.0, 1.0]]]),
}


@pytest.mark.parametrize("name", list(KL))
def test_kl_divergence_and_its_gradients_match_pytorch(name):
    make, params = KL[name]
    assert_forward_and_gradients_match_torch(lambda lib, *p: _d(lib).kl_divergence(*make(lib, *p)),
                                             [np.asarray(p, dtype=np.float64) for p in params])


def test_kl_divergence_is_infinite_or_zero_where_supports_demand():
    for lib in (torch, trainer):
        d = _d(lib)
        bernoulli = d.kl_divergence(d.Bernoulli(_t(lib, [0.0, 1.0, 0.5, 0.5])), d.Bernoulli(_t(lib, [0.3, 0.3, 0.0,
                                                                                                     1.0])))
        categorical = d.kl_divergence(d.Categorical(_t(lib, [0.5, 0.5, 0.0])), d.Categorical(_t(lib, [0.5, 0.0, 0.5])))
        uniform = d.kl_divergence(d.Uniform(0.0, 2.0), d.Uniform(0.5, 3.0))
        assert np.asarray(bernoulli)[[2, 3]].tolist() == [math.inf, math.inf]
        assert float(categorical) == math.inf and float(uniform) == math.inf


def test_kl_divergence_without_a_rule_raises_as_pytorch():
    for lib in (torch, trainer):
        d = _d(lib)
        with pytest.raises(NotImplementedError):
            d.kl_divergence(d.Normal(0.0, 1.0), d.Categorical(_t(lib, [0.5, 0.5])))
        with pytest.raises(NotImplementedError):
            d.kl_divergence(d.Independent(d.Normal(_t(lib, [[0.0]]), 1.0), 1),
                            d.Independent(d.Normal(_t(lib, [[0.0]]), 1.0), 2))


def test_register_kl_dispatches_to_the_most_specific_rule():
    d = trainer.distributions

    class Narrow(d.Normal):
        pass

    @d.register_kl(Narrow, d.Normal)
    def _kl_narrow_normal(p, q):
        return p.loc * 0 + 42.0

    assert d.kl_divergence(Narrow(0.0, 1.0), d.Normal(0.0, 1.0)).item() == 42.0
    assert d.kl_divergence(d.Normal(0.0, 1.0), Narrow(0.0, 1.0)).item() == 0.0  # the Normal-Normal rule
    with pytest.raises(TypeError, match="Distribution subclass"):
        d.register_kl(int, d.Normal)


def test_gamma_cdf_matches_pytorch_and_is_differentiable_in_the_concentration():
    concentration, rate = np.array([0.3, 2.0, 15.0, 150.0]), np.array([1.0, 0.5, 2.0, 1.0])
    value = np.array([0.2, 3.0, 9.0, 140.0])
    assert_forward_and_gradients_match_torch(
        lambda lib, r, x: _d(lib).Gamma(_t(lib, concentration), r).cdf(x), [rate, value])
    # PyTorch has no derivative of gammainc in its first argument: compare with central differences of its values
    c = trainer.tensor(concentration, requires_grad=True)
    trainer.distributions.Gamma(c, trainer.tensor(rate)).cdf(trainer.tensor(value)).sum().backward()
    h = 1e-6 * concentration
    plus = torch.special.gammainc(torch.tensor(concentration + h), torch.tensor(rate * value)).numpy()
    minus = torch.special.gammainc(torch.tensor(concentration - h), torch.tensor(rate * value)).numpy()
    np.testing.assert_allclose(c.grad.numpy(), (plus - minus) / (2 * h), rtol=1e-5)


# ---------------------------------------------------------------- rsample with the same noise in both libraries

class _SameStandardGamma(torch.autograd.Function):
    """trainer's standard gamma draws, with PyTorch's own ``_standard_gamma`` gradient."""

    @staticmethod
    def forward(ctx, alpha, draws):
        ctx.save_for_backward(alpha, draws)
        return draws

    @staticmethod
    def backward(ctx, grad):
        alpha, draws = ctx.saved_tensors
        return grad * torch._standard_gamma_grad(alpha, draws), None


def _noise_source(name, shape, seed):
    """trainer's noise for ``name``'s rsample under ``seed`` (what rsample itself draws after the same seeding),
    and a patch that makes PyTorch draw it."""
    trainer.manual_seed(seed)
    if name in ("normal", "mvn", "independent"):
        eps = torch.tensor(trainer.randn(shape, dtype=trainer.float64).numpy())
        module = {"normal": "torch.distributions.normal", "mvn": "torch.distributions.multivariate_normal",
                  "independent": "torch.distributions.normal"}[name]
        return [(module + "._standard_normal", lambda shape, dtype, device: eps.clone())]
    if name == "uniform":
        u = torch.tensor(trainer.rand(shape, dtype=trainer.float64).numpy())
        return [("torch.rand", lambda *args, **kwargs: u.clone())]
    if name == "exponential":
        e = torch.tensor(trainer.empty(shape, dtype=trainer.float64).exponential_().numpy())
        return [("torch.Tensor.exponential_", lambda self, *args, **kwargs: self.copy_(e))]
    if name == "laplace":
        u = torch.tensor(trainer.empty(shape, dtype=trainer.float64).uniform_(np.finfo(np.float64).eps - 1, 1).numpy())
        return [("torch.Tensor.uniform_", lambda self, *args, **kwargs: self.copy_(u))]
    raise KeyError(name)


RSAMPLE = {
    "normal": (lambda lib, loc, scale: _d(lib).Normal(loc, scale), [[0.0, 1.0, -1.0], [1.0, 2.0, 0.1]]),
    "uniform": (lambda lib, low, high: _d(lib).Uniform(low, high), [[0.0, 1.0, -1.0], [1.0, 2.0, 0.1]]),
    "exponential": (lambda lib, rate: _d(lib).Exponential(rate), [[0.5, 1.0, 4.0]]),
    "laplace": (lambda lib, loc, scale: _d(lib).Laplace(loc, scale), [[0.0, 1.0, -1.0], [1.0, 2.0, 0.1]]),
    "mvn": (lambda lib, loc, cov: _d(lib).MultivariateNormal(loc, cov), [[0.5, 1.0, 0.0], COV]),
    "independent": (lambda lib, loc, scale: _d(lib).Independent(_d(lib).Normal(loc, scale), 1),
                    [[0.0, 1.0, -1.0], [1.0, 2.0, 0.1]]),
}


@pytest.mark.parametrize("name", list(RSAMPLE))
def test_rsample_values_and_gradients_match_pytorch_given_the_same_noise(name, monkeypatch):
    make, params = RSAMPLE[name]
    sample_shape = (5, 2)
    ours = make(trainer, *(_t(trainer, p) for p in params))
    for target, replacement in _noise_source(name, ours._extended_shape(sample_shape), seed=17):
        monkeypatch.setattr(target, replacement)
    trainer.manual_seed(17)
    assert_forward_and_gradients_match_torch(lambda lib, *p: make(lib, *p).rsample(sample_shape),
                                             [np.asarray(p, dtype=np.float64) for p in params])


def test_gamma_rsample_gradients_match_pytorch_given_the_same_draws(monkeypatch):
    concentration, rate = np.array([0.2, 1.0, 3.5, 40.0]), np.array([1.0, 2.0, 0.5, 3.0])
    trainer.manual_seed(5)
    draws = standard_gamma(trainer.tensor(concentration).expand(6, 4))
    monkeypatch.setattr("torch.distributions.gamma._standard_gamma",
                        lambda alpha: _SameStandardGamma.apply(alpha, torch.tensor(draws.numpy())))
    grads = []
    for lib in (torch, trainer):
        if lib is trainer:
            trainer.manual_seed(5)
        c, r = lib.tensor(concentration, requires_grad=True), lib.tensor(rate, requires_grad=True)
        sample = _d(lib).Gamma(c, r).rsample((6,))
        np.testing.assert_allclose(sample.detach().numpy(), draws.numpy() / rate, rtol=1e-14)
        (sample * _t(lib, np.linspace(0.5, 1.5, 24).reshape(6, 4))).sum().backward()  # positive: no cancellation
        grads.append((c.grad.numpy(), r.grad.numpy()))
    # PyTorch approximates the concentration gradient to about 1e-3; the rate gradient is exact in both
    np.testing.assert_allclose(grads[1][0], grads[0][0], rtol=2e-3)
    np.testing.assert_allclose(grads[1][1], grads[0][1], rtol=1e-12)


def test_beta_rsample_gradients_match_pytorch_given_the_same_draws(monkeypatch):
    a, b = np.array([0.3, 1.0, 2.5, 30.0]), np.array([0.7, 4.0, 2.5, 8.0])
    trainer.manual_seed(6)
    draws = sample_beta(trainer.tensor(a).expand(6, 4), trainer.tensor(b).expand(6, 4))
    x = torch.tensor(draws.numpy())
    monkeypatch.setattr("torch._sample_dirichlet", lambda concentration: torch.stack([x, 1 - x], -1))
    grads = []
    for lib in (torch, trainer):
        if lib is trainer:
            trainer.manual_seed(6)
        ta, tb = lib.tensor(a, requires_grad=True), lib.tensor(b, requires_grad=True)
        sample = _d(lib).Beta(ta, tb).rsample((6,))
        assert sample.detach().numpy().tolist() == draws.numpy().tolist()
        (sample * _t(lib, np.linspace(0.5, 1.5, 24).reshape(6, 4))).sum().backward()  # positive: no cancellation
        grads.append((ta.grad.numpy(), tb.grad.numpy()))
    np.testing.assert_allclose(grads[1][0], grads[0][0], rtol=2e-3)
    np.testing.assert_allclose(grads[1][1], grads[0][1], rtol=2e-3)


def test_straight_through_rsample_carries_the_gradient_of_the_probabilities(monkeypatch):
    probs = np.array([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])
    trainer.manual_seed(9)
    indices = trainer.distributions.Categorical(trainer.tensor(probs)).sample((4,))
    monkeypatch.setattr("torch.multinomial", lambda *args, **kwargs: torch.tensor(indices.numpy()).reshape(4, 2).T)
    trainer.manual_seed(9)
    assert_forward_and_gradients_match_torch(
        lambda lib, p: _d(lib).OneHotCategoricalStraightThrough(p).rsample((4,)), [probs])


@pytest.mark.parametrize("family, params", [("gamma", (0.4,)), ("gamma", (5.0,)), ("beta", (0.4, 2.0)),
                                            ("beta", (5.0, 0.6))])
def test_implicit_reparameterisation_gradients_are_unbiased(family, params):
    """The mean over draws of dx/dtheta estimates dE[x]/dtheta: 1 for Gamma(a, 1), whose mean is a, and
    (b, -a) / (a + b)^2 for Beta(a, b), whose mean is a / (a + b)."""
    n = 20000
    p = [trainer.full((n,), v, dtype=trainer.float64, requires_grad=True) for v in params]
    trainer.manual_seed(13)
    d = trainer.distributions.Gamma(p[0], 1.0) if family == "gamma" else trainer.distributions.Beta(*p)
    d.rsample().sum().backward()  # each draw's gradient lands on its own copy of the parameters
    if family == "gamma":
        expected = [1.0]
    else:
        a, b = params
        expected = [b / (a + b) ** 2, -a / (a + b) ** 2]
    for t, mean_gradient in zip(p, expected):
        per_draw = t.grad.numpy()
        assert abs(per_draw.mean() - mean_gradient) < Z * per_draw.std() / math.sqrt(n), per_draw.mean()


# ---------------------------------------------------------------- the special functions behind Gamma and Beta

def test_regularized_gamma_matches_the_references_and_its_derivatives_are_exact():
    rng = np.random.default_rng(0)
    a = np.exp(rng.uniform(np.log(0.01), np.log(2000.0), 400))
    x = np.maximum(rng.gamma(a), 1e-300)
    result = regularized_gamma(np, a, x)
    # PyTorch's gammainc is good to about 2e-9 here, SciPy's to about 1e-15
    np.testing.assert_allclose(result.p, torch.special.gammainc(torch.tensor(a), torch.tensor(x)).numpy(),
                               rtol=5e-9, atol=1e-300)
    np.testing.assert_allclose(result.p, scipy.special.gammainc(a, x), rtol=1e-11, atol=1e-300)
    h = 1e-5 * a
    fd = (torch.special.gammainc(torch.tensor(a + h), torch.tensor(x)) -
          torch.special.gammainc(torch.tensor(a - h), torch.tensor(x))).numpy() / (2 * h)
    np.testing.assert_allclose(result.dp_da, fd, rtol=1e-4, atol=1e-9)
    log_density = (a - 1) * np.log(x) - x - torch.lgamma(torch.tensor(a)).numpy()
    np.testing.assert_allclose(result.dp_dx, np.exp(log_density), rtol=1e-9)
    # PyTorch approximates the reparameterisation gradient to about 1e-3
    np.testing.assert_allclose(result.dx_da, torch._standard_gamma_grad(torch.tensor(a), torch.tensor(x)).numpy(),
                               rtol=1e-3)
    np.testing.assert_allclose(result.dx_da, -result.dp_da / result.dp_dx, rtol=1e-8)


def test_regularized_gamma_at_the_edges_of_its_domain():
    a = np.array([0.0, 2.0, 2.0, -1.0, 2.0, np.nan])
    x = np.array([1.0, 0.0, np.inf, 1.0, -1.0, 1.0])
    np.testing.assert_array_equal(regularized_gamma(np, a, x).p,
                                  torch.special.gammainc(torch.tensor(a), torch.tensor(x)).numpy())


def test_regularized_beta_matches_closed_forms_and_pytorch_gradients():
    rng = np.random.default_rng(1)
    a = np.exp(rng.uniform(np.log(0.05), np.log(300.0), 400))
    b = np.exp(rng.uniform(np.log(0.05), np.log(300.0), 400))
    x = np.clip(rng.beta(a, b), np.finfo(np.float64).tiny, 1 - np.finfo(np.float64).eps)
    result = regularized_beta(np, a, b, x)
    # PyTorch's Beta gradient is dirichlet_grad(x, a, a + b) (1 - x) for a and -dirichlet_grad(1 - x, b, a + b) x for b
    tx, ta, tb = torch.tensor(x), torch.tensor(a), torch.tensor(b)
    np.testing.assert_allclose(result.dx_da, (torch._dirichlet_grad(tx, ta, ta + tb) * (1 - tx)).numpy(), rtol=2e-3)
    np.testing.assert_allclose(result.dx_db, (-torch._dirichlet_grad(1 - tx, tb, ta + tb) * tx).numpy(), rtol=2e-3)
    # integer parameters: I_x(a, b) = P(Binomial(a + b - 1, x) >= a)
    ia, ib = np.array([1, 2, 5, 3]), np.array([1, 7, 2, 3])
    ix = np.array([0.3, 0.05, 0.9, 0.5])
    closed = [sum(math.comb(p + q - 1, j) * v**j * (1 - v) ** (p + q - 1 - j) for j in range(p, p + q))
              for p, q, v in zip(ia, ib, ix)]
    np.testing.assert_allclose(regularized_beta(np, ia * 1.0, ib * 1.0, ix).value, closed, rtol=1e-12)
    # and dx/da, dx/db are minus the parameter derivatives of I over the density
    h = 1e-6
    value = regularized_beta(np, a, b, x).value
    density = np.exp((a - 1) * np.log(x) + (b - 1) * np.log1p(-x) - torch.lgamma(ta).numpy()
                     - torch.lgamma(tb).numpy() + torch.lgamma(ta + tb).numpy())
    for derivative, step_a, step_b in ((result.dx_da, h * a, 0.0), (result.dx_db, 0.0, h * b)):
        fd = (regularized_beta(np, a + step_a, b + step_b, x).value
              - regularized_beta(np, a - step_a, b - step_b, x).value) / (2 * (step_a + step_b))
        interior = (value > 1e-6) & (value < 1 - 1e-6)
        np.testing.assert_allclose(derivative[interior], -fd[interior] / density[interior], rtol=1e-4)


# ---------------------------------------------------------------- draws follow their distributions

N = 40000


def _draws(d, seed=3):
    trainer.manual_seed(seed)
    return d.sample((N,)).numpy()


def _torch_cdf(make):
    return lambda x: make(torch).cdf(torch.tensor(x)).numpy()


CONTINUOUS = {
    "normal": lambda lib: _d(lib).Normal(_t(lib, 1.5), _t(lib, 0.7)),
    "uniform": lambda lib: _d(lib).Uniform(_t(lib, -2.0), _t(lib, 5.0)),
    "exponential": lambda lib: _d(lib).Exponential(_t(lib, 0.3)),
    "laplace": lambda lib: _d(lib).Laplace(_t(lib, -1.0), _t(lib, 2.0)),
    "gamma_small": lambda lib: _d(lib).Gamma(_t(lib, 0.3), _t(lib, 2.0)),
    "gamma_large": lambda lib: _d(lib).Gamma(_t(lib, 25.0), _t(lib, 0.5)),
}


@pytest.mark.parametrize("name", list(CONTINUOUS))
def test_continuous_draws_follow_the_cdf(name):
    make = CONTINUOUS[name]
    samples = _draws(make(trainer))
    assert_matches_cdf(samples, _torch_cdf(make))
    rsamples = make(trainer).rsample((N,)).numpy()
    assert_matches_cdf(rsamples, _torch_cdf(make))


@pytest.mark.parametrize("a, b", [(2, 5), (1, 1), (4, 3)])
def test_beta_draws_follow_the_cdf(a, b):
    samples = _draws(trainer.distributions.Beta(float(a), float(b)))
    assert_matches_cdf(samples, lambda x: [sum(math.comb(a + b - 1, j) * v**j * (1 - v) ** (a + b - 1 - j)
                                               for j in range(a, a + b)) for v in x])


def test_beta_draws_with_small_concentrations_have_the_right_moments():
    d = trainer.distributions.Beta(0.2, 0.5)
    samples = _draws(d)
    assert ((samples > 0) & (samples < 1)).all()
    assert abs(samples.mean() - d.mean.item()) < Z * math.sqrt(d.variance.item() / N)


def test_multivariate_normal_draws_have_the_right_covariance():
    loc = np.array([1.0, -2.0, 0.5])
    d = trainer.distributions.MultivariateNormal(trainer.tensor(loc), trainer.tensor(COV))
    samples = _draws(d)
    assert samples.shape == (N, 3)
    whitened = np.linalg.solve(np.linalg.cholesky(COV), (samples - loc).T).T
    for k in range(3):
        assert_matches_cdf(whitened[:, k], normal_cdf)
    # entries of a sample covariance have variance (s_ii s_jj + s_ij^2) / N
    spread = np.sqrt((np.outer(np.diag(COV), np.diag(COV)) + COV**2) / N)
    assert (np.abs(np.cov(samples.T) - COV) < Z * spread).all()


@pytest.mark.parametrize("make", [
    lambda: trainer.distributions.Categorical(trainer.tensor([0.1, 0.0, 0.6, 0.3])),
    lambda: trainer.distributions.Categorical(logits=trainer.tensor([0.1, 0.0, 0.6, 0.3]).log()),
    lambda: trainer.distributions.OneHotCategorical(trainer.tensor([0.1, 0.0, 0.6, 0.3])),
], ids=["categorical_probs", "categorical_logits", "one_hot"])
def test_categorical_draws_in_proportion(make):
    samples = _draws(make())
    counts = samples.sum(0) if samples.ndim == 2 else np.bincount(samples, minlength=4)
    assert_frequencies_fit(counts, [0.1, 0.0, 0.6, 0.3])


def test_bernoulli_draws_in_proportion():
    samples = _draws(trainer.distributions.Bernoulli(logits=trainer.tensor([-2.0, 0.0, 3.0])))
    p = 1 / (1 + np.exp(-np.array([-2.0, 0.0, 3.0])))
    assert np.abs(samples.mean(0) - p).max() < Z * np.sqrt(p * (1 - p) / N).max()


# ---------------------------------------------------------------- shapes, dtypes and support

SHAPED = {
    "normal": lambda lib: _d(lib).Normal(_t(lib, [[0.0, 1.0]]), _t(lib, [[1.0], [2.0], [3.0]])),
    "normal_numbers": lambda lib: _d(lib).Normal(0.0, 1.0),
    "bernoulli": lambda lib: _d(lib).Bernoulli(_t(lib, [0.3, 0.6])),
    "categorical": lambda lib: _d(lib).Categorical(_t(lib, [[0.3, 0.7], [0.5, 0.5], [0.1, 0.9]])),
    "one_hot": lambda lib: _d(lib).OneHotCategorical(_t(lib, [[0.3, 0.2, 0.5]])),
    "uniform": lambda lib: _d(lib).Uniform(_t(lib, [0.0, 1.0]), 3.0),
    "exponential": lambda lib: _d(lib).Exponential(_t(lib, [0.5])),
    "laplace": lambda lib: _d(lib).Laplace(0.0, _t(lib, [1.0, 2.0, 3.0])),
    "gamma": lambda lib: _d(lib).Gamma(_t(lib, [0.5, 2.0]), 1.0),
    "beta": lambda lib: _d(lib).Beta(_t(lib, [0.5, 2.0]), _t(lib, [[1.0], [3.0]])),
    "beta_numbers": lambda lib: _d(lib).Beta(2.0, 3.0),
    "mvn": lambda lib: _d(lib).MultivariateNormal(_t(lib, [[0.0, 1.0, 2.0]] * 2), _t(lib, COV)),
    "independent": lambda lib: _d(lib).Independent(_d(lib).Normal(_t(lib, np.zeros((2, 3, 4))), 1.0), 2),
}


@pytest.mark.parametrize("name", list(SHAPED))
@pytest.mark.parametrize("sample_shape", [(), (4,), (2, 3)])
def test_sample_shapes_and_dtypes_match_pytorch(name, sample_shape):
    ours, theirs = SHAPED[name](trainer), SHAPED[name](torch)
    assert tuple(ours.batch_shape) == tuple(theirs.batch_shape)
    assert tuple(ours.event_shape) == tuple(theirs.event_shape)
    assert ours.has_rsample == theirs.has_rsample
    draws = [(ours.sample(sample_shape), theirs.sample(sample_shape))]
    if theirs.has_rsample:
        draws.append((ours.rsample(sample_shape), theirs.rsample(sample_shape)))
    for o, t in draws:
        assert tuple(o.shape) == tuple(t.shape)
        assert o.dtype.name == str(t.dtype).removeprefix("torch.")
        assert not o.requires_grad
        assert bool(ours.support.check(o).all())
    assert repr(ours) == repr(theirs).replace("torch.", "trainer.")
    assert repr(ours.support) == repr(theirs.support).replace("torch.", "trainer.")


@pytest.mark.parametrize("name", ["bernoulli", "categorical", "one_hot"])
@pytest.mark.parametrize("expand", [True, False])
def test_enumerate_support_matches_pytorch(name, expand):
    ours, theirs = SHAPED[name](trainer), SHAPED[name](torch)
    _assert_same(ours.enumerate_support(expand), theirs.enumerate_support(expand), "support")


def test_rsample_is_refused_where_pytorch_has_none():
    for lib in (torch, trainer):
        d = _d(lib).Categorical(_t(lib, [0.5, 0.5]))
        assert not d.has_rsample
        with pytest.raises(NotImplementedError):
            d.rsample()


def test_the_package_is_reachable_as_in_pytorch():
    import trainer as torch_like

    d = torch_like.distributions.Normal(torch_like.zeros(2), 1.0)
    assert isinstance(d, torch_like.distributions.Distribution)
    assert torch_like.distributions.kl.kl_divergence is torch_like.distributions.kl_divergence


# ---------------------------------------------------------------- validate_args

INVALID = {
    "normal_scale": lambda lib: _d(lib).Normal(0.0, _t(lib, [1.0, 0.0])),
    "normal_nan_loc": lambda lib: _d(lib).Normal(math.nan, 1.0),
    "bernoulli_probs": lambda lib: _d(lib).Bernoulli(_t(lib, [0.5, 1.5])),
    "bernoulli_both": lambda lib: _d(lib).Bernoulli(0.5, logits=0.0),
    "categorical_negative": lambda lib: _d(lib).Categorical(_t(lib, [-1.0, 2.0])),
    "categorical_0d": lambda lib: _d(lib).Categorical(_t(lib, 1.0)),
    "categorical_nan_logits": lambda lib: _d(lib).Categorical(logits=_t(lib, [math.nan, 0.0])),
    "one_hot_negative": lambda lib: _d(lib).OneHotCategorical(_t(lib, [-1.0, 2.0])),
    "uniform_order": lambda lib: _d(lib).Uniform(_t(lib, [0.0, 2.0]), _t(lib, [1.0, 2.0])),
    "exponential_rate": lambda lib: _d(lib).Exponential(_t(lib, [0.0])),
    "laplace_scale": lambda lib: _d(lib).Laplace(0.0, -1.0),
    "gamma_concentration": lambda lib: _d(lib).Gamma(_t(lib, [0.0, 1.0]), 1.0),
    "gamma_rate": lambda lib: _d(lib).Gamma(1.0, -2.0),
    "beta_concentration": lambda lib: _d(lib).Beta(1.0, _t(lib, [-1.0])),
    "mvn_not_positive_definite": lambda lib: _d(lib).MultivariateNormal(_t(lib, [0.0, 0.0]),
                                                                        _t(lib, [[1.0, 2.0], [2.0, 1.0]])),
    "mvn_not_symmetric": lambda lib: _d(lib).MultivariateNormal(_t(lib, [0.0, 0.0]), _t(lib, [[1.0, 0.5], [0.0, 1.0]])),
    "mvn_scale_tril_diagonal": lambda lib: _d(lib).MultivariateNormal(_t(lib, [0.0, 0.0]),
                                                                      scale_tril=_t(lib, [[1.0, 0.0], [0.3, -1.0]])),
    "mvn_scale_tril_upper": lambda lib: _d(lib).MultivariateNormal(_t(lib, [0.0, 0.0]),
                                                                   scale_tril=_t(lib, [[1.0, 0.2], [0.0, 1.0]])),
    "mvn_two_matrices": lambda lib: _d(lib).MultivariateNormal(_t(lib, [0.0]), _t(lib, [[1.0]]),
                                                               scale_tril=_t(lib, [[1.0]])),
    "mvn_0d_loc": lambda lib: _d(lib).MultivariateNormal(_t(lib, 0.0), _t(lib, [[1.0]])),
    "mvn_1d_matrix": lambda lib: _d(lib).MultivariateNormal(_t(lib, [0.0]), _t(lib, [1.0])),
    "independent_too_many_dims": lambda lib: _d(lib).Independent(_d(lib).Normal(_t(lib, [0.0]), 1.0), 2),
    "broadcast_all_string": lambda lib: _d(lib).Normal("0", 1.0),
}


@pytest.mark.parametrize("name", list(INVALID))
def test_invalid_parameters_raise_value_error_as_in_pytorch(name):
    for lib in (torch, trainer):
        with pytest.raises(ValueError):
            INVALID[name](lib)


def test_the_message_names_the_parameter_the_constraint_and_the_values():
    with pytest.raises(ValueError) as ours:
        trainer.distributions.Normal(0.0, -1.0)
    with pytest.raises(ValueError) as theirs:
        torch.distributions.Normal(0.0, -1.0)
    assert str(ours.value) == str(theirs.value)


OUTSIDE = {
    "normal_nan": lambda lib: _d(lib).Normal(0.0, 1.0).log_prob(_t(lib, math.nan)),
    "exponential_negative": lambda lib: _d(lib).Exponential(1.0).log_prob(_t(lib, [-1.0])),
    "exponential_cdf": lambda lib: _d(lib).Exponential(1.0).cdf(_t(lib, [-1.0])),
    "uniform_outside": lambda lib: _d(lib).Uniform(0.0, 1.0).log_prob(_t(lib, [1.5])),
    "bernoulli_half": lambda lib: _d(lib).Bernoulli(0.3).log_prob(_t(lib, [0.5])),
    "categorical_range": lambda lib: _d(lib).Categorical(_t(lib, [0.5, 0.5])).log_prob(lib.tensor([2])),
    "categorical_fraction": lambda lib: _d(lib).Categorical(_t(lib, [0.5, 0.5])).log_prob(_t(lib, [0.5])),
    "one_hot_not_one_hot": lambda lib: _d(lib).OneHotCategorical(_t(lib, [0.5, 0.5])).log_prob(_t(lib, [1.0, 1.0])),
    "beta_above_one": lambda lib: _d(lib).Beta(1.0, 2.0).log_prob(_t(lib, [1.5])),
    "gamma_negative": lambda lib: _d(lib).Gamma(1.0, 2.0).log_prob(_t(lib, [-0.5])),
    "laplace_nan": lambda lib: _d(lib).Laplace(0.0, 1.0).cdf(_t(lib, [math.nan])),
    "not_a_tensor": lambda lib: _d(lib).Normal(0.0, 1.0).log_prob(0.5),
    "not_broadcastable": lambda lib: _d(lib).Normal(_t(lib, [0.0, 1.0]), 1.0).log_prob(_t(lib, [0.0, 1.0, 2.0])),
    "event_shape": lambda lib: _d(lib).MultivariateNormal(_t(lib, [0.0, 1.0]), _t(lib, np.eye(2))).log_prob(
        _t(lib, [0.0, 1.0, 2.0])),
    "independent_support": lambda lib: _d(lib).Independent(_d(lib).Exponential(_t(lib, [1.0, 1.0])), 1).log_prob(
        _t(lib, [1.0, -1.0])),
}


@pytest.mark.parametrize("name", list(OUTSIDE))
def test_values_outside_the_support_raise_value_error_as_in_pytorch(name):
    for lib in (torch, trainer):
        with pytest.raises(ValueError):
            OUTSIDE[name](lib)


def test_validation_can_be_switched_off():
    d = trainer.distributions
    assert d.Normal(0.0, -1.0, validate_args=False).scale.item() == -1.0
    assert math.isinf(d.Exponential(1.0, validate_args=False).log_prob(trainer.tensor(-1.0)).item()) is False
    d.Distribution.set_default_validate_args(False)
    try:
        d.Uniform(1.0, 0.0)
        assert d.Bernoulli(0.5).log_prob(trainer.tensor(0.5)).shape == ()
    finally:
        d.Distribution.set_default_validate_args(True)
    with pytest.raises(ValueError):
        d.Uniform(1.0, 0.0)
