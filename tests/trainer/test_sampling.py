"""Random sampling: ``multinomial``, ``bernoulli``, ``normal``, ``poisson``, ``binomial``, ``randint_like``,
``Tensor.cauchy_``, generator states and ``fork_rng``.

Streams are not PyTorch's, so draws are checked for reproducibility under a seed or a ``Generator``, for shapes and
dtypes against PyTorch, and for their distribution with fixed seeds and bounds derived from the sample size (a
chi-square, Kolmogorov-Smirnov or mean test that a correct sampler passes with probability about 1 - 1e-6), so the
tests are deterministic and still fail for a wrong sampler. Errors and gradients are compared with PyTorch's.
"""

import math

import numpy as np
import pytest
import torch

import trainer
from trainer.cli import checkpoint

Z = 5.0  # standard deviations a mean may stray: about a 1e-6 chance for a correct sampler


def chi_square_bound(df: int) -> float:
    """The chi-square quantile for ``df`` degrees of freedom at about 1 - 1e-6 (Wilson-Hilferty)."""
    return df * (1 - 2 / (9 * df) + 4.75 * math.sqrt(2 / (9 * df))) ** 3


def assert_frequencies_fit(counts, probs):
    """Pearson's chi-square test of observed ``counts`` against category probabilities ``probs``."""
    counts, probs = np.asarray(counts, dtype=np.float64), np.asarray(probs, dtype=np.float64)
    assert counts[probs == 0].sum() == 0, "a category of probability 0 was drawn"
    expected = counts.sum() * probs[probs > 0]
    statistic = ((counts[probs > 0] - expected) ** 2 / expected).sum()
    assert statistic < chi_square_bound(len(expected) - 1), (statistic, counts, expected)


def assert_matches_cdf(samples, cdf):
    """The Kolmogorov-Smirnov distance between the samples and ``cdf`` is below its 1e-6 critical value."""
    x = np.sort(np.asarray(samples, dtype=np.float64).ravel())
    n = len(x)
    f = np.asarray(cdf(x), dtype=np.float64)
    distance = max((np.arange(1, n + 1) / n - f).max(), (f - np.arange(n) / n).max())
    assert distance < math.sqrt(math.log(2e6) / 2) / math.sqrt(n), distance


def assert_mean_fits(samples, mean, variance, axis=None):
    samples = np.asarray(samples, dtype=np.float64)
    n = samples.size if axis is None else samples.shape[axis]
    np.testing.assert_array_less(np.abs(samples.mean(axis=axis) - mean), Z * np.sqrt(np.asarray(variance) / n) + 1e-12)


def normal_cdf(x):
    return 0.5 * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))


# ---------------------------------------------------------------- reproducibility

DRAWS = {
    "multinomial": lambda g: trainer.multinomial(trainer.tensor([[1.0, 2.0, 3.0], [4.0, 0.0, 1.0]]), 2, generator=g),
    "multinomial_replacement": lambda g: trainer.tensor([0.2, 0.8]).multinomial(6, True, generator=g),
    "bernoulli": lambda g: trainer.bernoulli(trainer.full((8,), 0.5), generator=g),
    "bernoulli_p": lambda g: trainer.zeros(8).bernoulli(0.3, generator=g),
    "normal_tensors": lambda g: trainer.normal(trainer.zeros(5), trainer.ones(5), generator=g),
    "normal_numbers": lambda g: trainer.normal(2.0, 3.0, size=(2, 3), generator=g),
    "poisson": lambda g: trainer.poisson(trainer.full((6,), 4.0), generator=g),
    "binomial": lambda g: trainer.binomial(trainer.full((6,), 10.0), trainer.full((6,), 0.4), generator=g),
    "randint_like": lambda g: trainer.randint_like(trainer.zeros(2, 4), 3, 50, generator=g),
    "cauchy_": lambda g: trainer.empty(6).cauchy_(generator=g),
}


@pytest.mark.parametrize("name", list(DRAWS))
def test_a_generator_seed_fixes_the_draws(name):
    draw = DRAWS[name]
    first = draw(trainer.Generator().manual_seed(11))
    trainer.rand(10)  # the global stream does not move an explicit generator
    assert draw(trainer.Generator().manual_seed(11)).tolist() == first.tolist()
    others = [draw(trainer.Generator().manual_seed(seed)).tolist() for seed in (12, 13, 14)]
    assert any(o != first.tolist() for o in others)


@pytest.mark.parametrize("name", list(DRAWS))
def test_manual_seed_fixes_the_default_stream(name):
    draw = DRAWS[name]
    trainer.manual_seed(5)
    first = draw(None)
    trainer.manual_seed(5)
    assert draw(None).tolist() == first.tolist()


@pytest.mark.parametrize("name", list(DRAWS))
def test_a_saved_state_replays_the_draws(name):
    draw = DRAWS[name]
    gen = trainer.Generator().manual_seed(3)
    draw(gen)
    state = gen.get_state()
    after = [draw(gen).tolist() for _ in range(3)]
    gen.manual_seed(99)
    gen.set_state(state)
    assert [draw(gen).tolist() for _ in range(3)] == after
    trainer.manual_seed(8)
    draw(None)
    saved = trainer.get_rng_state()
    expected = draw(None).tolist()
    trainer.set_rng_state(saved)
    assert draw(None).tolist() == expected


def test_a_generator_on_another_device_is_refused():
    class Elsewhere(trainer.Generator):
        device = trainer.device("cuda", 0)

    gen = object.__new__(Elsewhere)
    with pytest.raises(RuntimeError, match="Expected a 'cpu' generator"):
        trainer.bernoulli(trainer.full((2,), 0.5), generator=gen)


# ---------------------------------------------------------------- generator state

def test_state_is_a_uint8_tensor_that_round_trips_exactly():
    gen = trainer.Generator().manual_seed(2**40 + 7)
    trainer.randn(3, generator=gen)  # moves the stream; a normal draw may leave half a word buffered
    state = gen.get_state()
    assert state.dtype == trainer.uint8 and state.ndim == 1 and state.device == trainer.device("cpu")
    expected = trainer.rand(5, generator=gen).tolist()
    other = trainer.Generator().set_state(state.clone())
    assert other.initial_seed() == 2**40 + 7
    assert trainer.rand(5, generator=other).tolist() == expected
    assert other.get_state().tolist() != state.tolist()  # drawing moved it on
    assert trainer.Generator().set_state(state.reshape(2, -1)).get_state().tolist() == state.tolist()


def test_state_survives_save_and_load(tmp_path):
    gen = trainer.Generator().manual_seed(1)
    state = gen.get_state()
    expected = trainer.randn(4, generator=gen).tolist()
    trainer.save({"rng": state}, tmp_path / "state.safetensors")
    loaded = trainer.load(tmp_path / "state.safetensors")["rng"]
    assert trainer.randn(4, generator=trainer.Generator().set_state(loaded)).tolist() == expected


def test_checkpoint_keeps_every_stream_as_plain_data():
    loader = trainer.Generator().manual_seed(4)
    trainer.manual_seed(6)
    states = checkpoint.rng_states(loader, trainer.device("cpu"))
    assert set(states) == {"cpu", "loader"} and all(isinstance(s, str) for s in states.values())
    expected = (trainer.rand(3).tolist(), trainer.rand(3, generator=loader).tolist())
    trainer.manual_seed(0)
    loader.manual_seed(0)
    checkpoint.set_rng_states(states, loader, trainer.device("cpu"))
    assert (trainer.rand(3).tolist(), trainer.rand(3, generator=loader).tolist()) == expected


@pytest.mark.parametrize("make_state, error", [
    (lambda lib: [1, 2, 3], TypeError),
    (lambda lib: lib.zeros(3), TypeError),
    (lambda lib: lib.zeros(3, dtype=lib.uint8), RuntimeError),
    (lambda lib: lib.get_rng_state()[:-1], RuntimeError),
])
def test_bad_states_raise_as_in_pytorch(make_state, error):
    for lib in (torch, trainer):
        with pytest.raises(error):
            lib.Generator().set_state(make_state(lib))
        with pytest.raises(error):
            lib.set_rng_state(make_state(lib))


@pytest.mark.parametrize("seed", [0, 1, -1, -(2**63), 2**64 - 1, 2**40])
def test_seeds_are_stored_as_pytorch_stores_them(seed):
    assert trainer.Generator().manual_seed(seed).initial_seed() == torch.Generator().manual_seed(seed).initial_seed()
    assert trainer.manual_seed(seed).initial_seed() == torch.manual_seed(seed).initial_seed() == trainer.initial_seed()


@pytest.mark.parametrize("seed", [True, 1.5, "3"])
def test_global_seeding_converts_what_a_generator_refuses(seed):
    assert trainer.manual_seed(seed).initial_seed() == torch.manual_seed(seed).initial_seed()
    for lib in (torch, trainer):
        with pytest.raises(RuntimeError, match="manual_seed expected a long"):
            lib.Generator().manual_seed(seed)


@pytest.mark.parametrize("seed", [2**64, -(2**63) - 1])
def test_seeds_outside_64_bits_are_refused(seed):
    for lib in (torch, trainer):
        with pytest.raises(ValueError):
            lib.Generator().manual_seed(seed)


def test_fork_rng_restores_the_default_streams_and_seed():
    trainer.manual_seed(21)
    trainer.rand(2)
    expected = trainer.rand(4).tolist()
    trainer.manual_seed(21)
    trainer.rand(2)
    with trainer.random.fork_rng():
        trainer.manual_seed(1000)
        trainer.randn(50)
    assert trainer.initial_seed() == 21
    assert trainer.rand(4).tolist() == expected
    with trainer.random.fork_rng(enabled=False):
        trainer.rand(1)
    assert trainer.rand(4).tolist() != expected


def test_fork_rng_restores_after_an_exception():
    state = trainer.get_rng_state()
    with pytest.raises(KeyError), trainer.random.fork_rng(devices=[]):
        trainer.rand(5)
        raise KeyError("inside")
    assert trainer.get_rng_state().tolist() == state.tolist()


# ---------------------------------------------------------------- shapes and dtypes against PyTorch

SHAPES = {
    "multinomial_1d": lambda lib: lib.multinomial(lib.tensor([1.0, 2.0, 0.0, 4.0]), 3),
    "multinomial_2d_replacement": lambda lib: lib.multinomial(lib.ones(3, 5, dtype=lib.float64), 7, True),
    "multinomial_no_rows": lambda lib: lib.multinomial(lib.ones(0, 3), 2),
    "multinomial_method": lambda lib: lib.ones(2, 3, dtype=lib.float16).multinomial(3),
    "bernoulli_float64": lambda lib: lib.bernoulli(lib.full((2, 3), 0.5, dtype=lib.float64)),
    "bernoulli_float16": lambda lib: lib.bernoulli(lib.full((4,), 0.5, dtype=lib.float16)),
    "bernoulli_p_int": lambda lib: lib.bernoulli(lib.zeros(2, 2, dtype=lib.int64), 0.5),
    "bernoulli_method": lambda lib: lib.full((3,), 0.2).bernoulli(),
    "normal_tensor_tensor": lambda lib: lib.normal(lib.zeros(2, 1, dtype=lib.float64), lib.ones(3)),
    "normal_tensor_number": lambda lib: lib.normal(lib.zeros(4, dtype=lib.float16), 2.0),
    "normal_number_tensor": lambda lib: lib.normal(1.0, lib.ones(2, 2, dtype=lib.float64)),
    "normal_mean_only": lambda lib: lib.normal(lib.zeros(3)),
    "normal_0d_mean": lambda lib: lib.normal(lib.zeros(()), lib.ones(5)),
    "normal_int_std": lambda lib: lib.normal(lib.zeros(2), lib.ones(2, dtype=lib.int64)),
    "normal_numbers_size": lambda lib: lib.normal(0.0, 1.0, size=(2, 3)),
    "normal_numbers_dtype": lambda lib: lib.normal(0.0, 1.0, (4,), dtype=lib.float64),
    "poisson": lambda lib: lib.poisson(lib.full((2, 3), 2.0, dtype=lib.float64)),
    "binomial": lambda lib: lib.binomial(lib.full((3, 4), 5.0), lib.full((3, 4), 0.5)),
    "randint_like": lambda lib: lib.randint_like(lib.zeros(2, 3), 10),
    "randint_like_dtype": lambda lib: lib.randint_like(lib.zeros(2, 3), -4, 10, dtype=lib.int32),
    "randint_like_uint8": lambda lib: lib.randint_like(lib.zeros(5, dtype=lib.uint8), 256),
    "randint_like_bool": lambda lib: lib.randint_like(lib.zeros(5, dtype=lib.bool), 2),
    "cauchy_": lambda lib: lib.zeros(3, 2, dtype=lib.float64).cauchy_(1.0, 2.0),
}


@pytest.mark.parametrize("name", list(SHAPES))
def test_shapes_and_dtypes_match_pytorch(name):
    ours, theirs = SHAPES[name](trainer), SHAPES[name](torch)
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert ours.dtype.name == str(theirs.dtype).removeprefix("torch.")
    assert ours.requires_grad == theirs.requires_grad


def test_normal_with_numbers_can_require_grad():
    out = trainer.normal(0.0, 1.0, size=(3,), requires_grad=True)
    assert out.requires_grad and out.is_leaf


# ---------------------------------------------------------------- the distributions drawn

def test_multinomial_with_replacement_draws_in_proportion():
    weights = np.array([[1.0, 0.0, 3.0, 6.0, 0.5], [0.0, 2.0, 2.0, 0.0, 1e-3]])
    draws = trainer.multinomial(trainer.tensor(weights), 60000, True, generator=trainer.Generator().manual_seed(0))
    assert draws.shape == (2, 60000) and draws.dtype == trainer.int64
    for row, w in zip(draws.numpy(), weights):
        assert_frequencies_fit(np.bincount(row, minlength=5), w / w.sum())


def test_multinomial_without_replacement_draws_distinct_categories_in_proportion():
    weights = np.array([1.0, 2.0, 3.0, 4.0])
    rows = np.tile(weights, (40000, 1))
    draws = trainer.multinomial(trainer.tensor(rows), 2, generator=trainer.Generator().manual_seed(1)).numpy()
    assert (draws[:, 0] != draws[:, 1]).all()
    p = weights / weights.sum()
    assert_frequencies_fit(np.bincount(draws[:, 0], minlength=4), p)
    # the second draw is the first from the categories left: P(j second) = sum_i p_i p_j / (1 - p_i)
    second = np.array([sum(p[i] * p[j] / (1 - p[i]) for i in range(4) if i != j) for j in range(4)])
    assert_frequencies_fit(np.bincount(draws[:, 1], minlength=4), second)


def test_multinomial_without_replacement_takes_zero_weights_last():
    draws = trainer.multinomial(trainer.tensor([[0.0, 5.0, 0.0, 1.0]] * 200), 4).numpy()
    assert (np.sort(draws[:, :2], axis=1) == [1, 3]).all()
    assert (np.sort(draws[:, 2:], axis=1) == [0, 2]).all()


def test_bernoulli_draws_ones_with_the_given_probabilities():
    probs = np.array([0.0, 0.05, 0.5, 0.93, 1.0])
    draws = trainer.bernoulli(trainer.tensor(np.tile(probs, (50000, 1))), generator=trainer.Generator().manual_seed(2))
    assert set(np.unique(draws.numpy())) <= {0.0, 1.0}
    assert_mean_fits(draws.numpy(), probs, probs * (1 - probs), axis=0)
    fixed = trainer.zeros(50000, dtype=trainer.int64).bernoulli(0.3, generator=trainer.Generator().manual_seed(2))
    assert_mean_fits(fixed.numpy(), 0.3, 0.21)


def test_normal_with_tensor_mean_and_std():
    mean, std = np.array([-3.0, 0.0, 10.0]), np.array([0.5, 1.0, 4.0])
    n = 40000
    draws = trainer.normal(trainer.tensor(np.tile(mean, (n, 1))), trainer.tensor(np.tile(std, (n, 1))),
                           generator=trainer.Generator().manual_seed(3)).numpy()
    assert_mean_fits(draws, mean, std**2, axis=0)
    for k in range(3):
        assert_matches_cdf((draws[:, k] - mean[k]) / std[k], normal_cdf)
    zero_std = trainer.normal(trainer.full((4,), 7.0), 0.0)
    assert zero_std.tolist() == [7.0] * 4


def test_normal_with_numbers_and_a_size():
    draws = trainer.normal(-2.0, 0.5, size=(200, 200), generator=trainer.Generator().manual_seed(4))
    assert draws.dtype == trainer.float32
    assert_matches_cdf((draws.numpy() + 2.0) / 0.5, normal_cdf)


@pytest.mark.parametrize("rate", [0.0, 0.3, 4.0, 60.0])
def test_poisson_counts_follow_the_pmf(rate):
    draws = trainer.poisson(trainer.full((50000,), rate, dtype=trainer.float64),
                            generator=trainer.Generator().manual_seed(5)).numpy()
    assert (draws == np.round(draws)).all() and (draws >= 0).all()
    if rate == 0:
        assert (draws == 0).all()
        return
    top = int(rate + 6 * math.sqrt(rate) + 3)
    pmf = np.array([math.exp(k * math.log(rate) - rate - math.lgamma(k + 1)) for k in range(top)])
    probs = np.append(pmf, 1 - pmf.sum())
    assert_frequencies_fit(np.bincount(np.minimum(draws.astype(int), top), minlength=top + 1), probs)


def test_poisson_rates_beyond_the_integer_range_and_infinity():
    draws = trainer.poisson(trainer.tensor([1e20, math.inf, 1e300], dtype=trainer.float64)).numpy()
    assert draws[1] == math.inf
    np.testing.assert_allclose(draws[[0, 2]], [1e20, 1e300], rtol=1e-8)


def test_binomial_counts_follow_the_pmf():
    count, prob = 12.0, 0.3
    draws = trainer.binomial(trainer.full((50000,), count), trainer.full((50000,), prob),
                             generator=trainer.Generator().manual_seed(6)).numpy()
    pmf = [math.comb(12, k) * prob**k * (1 - prob) ** (12 - k) for k in range(13)]
    assert_frequencies_fit(np.bincount(draws.astype(int), minlength=13), pmf)


def test_binomial_at_the_ends_of_the_probability_range():
    out = trainer.binomial(trainer.tensor([7.0, 7.0, 7.0, 7.0, math.nan, 3.0]),
                           trainer.tensor([0.0, 1.0, -0.5, 1.5, 0.5, math.nan])).numpy()
    np.testing.assert_array_equal(out, [0.0, 7.0, 0.0, 7.0, math.nan, math.nan])


def test_poisson_and_binomial_of_0d_parameters_are_0d_tensors():
    for draw in (trainer.poisson(trainer.tensor(3.0)), trainer.poisson(trainer.tensor(300.0)),
                 trainer.binomial(trainer.tensor(10.0), trainer.tensor(0.3))):
        assert draw.shape == () and draw.dtype == trainer.float32 and float(draw) == int(draw) >= 0


def test_randint_like_covers_its_range_evenly():
    draws = trainer.randint_like(trainer.zeros(60000, dtype=trainer.int16), -3, 7,
                                 generator=trainer.Generator().manual_seed(7))
    assert draws.dtype == trainer.int16
    values = draws.numpy().astype(int)
    assert values.min() == -3 and values.max() == 6
    assert_frequencies_fit(np.bincount(values + 3, minlength=10), np.full(10, 0.1))


def test_cauchy_fill_follows_the_cauchy_cdf():
    draws = trainer.empty(40000, dtype=trainer.float64).cauchy_(1.5, 0.25, generator=trainer.Generator().manual_seed(8))
    assert_matches_cdf(draws.numpy(), lambda x: 0.5 + np.arctan((x - 1.5) / 0.25) / math.pi)


# ---------------------------------------------------------------- gradients, as PyTorch defines them

@pytest.mark.parametrize("draw", [
    lambda lib, m, s: lib.normal(m, s),
    lambda lib, m, s: lib.normal(m, 2.0) + s,
    lambda lib, m, s: lib.normal(0.5, s) + m,
    lambda lib, m, s: lib.bernoulli(m.sigmoid()) + s,
    lambda lib, m, s: lib.poisson(s) + m,
])
def test_draws_give_their_parameters_zero_gradients(draw):
    grads = []
    for lib in (torch, trainer):
        m = lib.tensor([0.1, -0.3, 2.0], dtype=lib.float64, requires_grad=True)
        s = lib.tensor([1.0, 0.5, 3.0], dtype=lib.float64, requires_grad=True)
        out = draw(lib, m, s)
        assert out.requires_grad
        out.sum().backward()
        grads.append([None if t.grad is None else np.asarray(t.grad.detach()) for t in (m, s)])
    for ours, theirs in zip(grads[1], grads[0]):
        assert (ours is None) == (theirs is None)
        if theirs is not None:
            assert ours.tolist() == theirs.tolist()


def test_zero_gradients_stay_zero_under_create_graph():
    grads = []
    for lib in (torch, trainer):
        m = lib.tensor([0.5, 1.0], dtype=lib.float64, requires_grad=True)
        (g,) = lib.autograd.grad((lib.normal(m, 1.0) + m * m).sum(), m, create_graph=True)
        g.sum().backward()
        grads.append((g.detach().numpy().tolist(), m.grad.numpy().tolist()))
    assert grads[1] == grads[0]


@pytest.mark.parametrize("draw", [
    lambda lib, t: lib.binomial(t, lib.full((3,), 0.5, dtype=lib.float64)),
    lambda lib, t: lib.bernoulli(t, 0.5),
])
def test_draws_without_a_derivative_refuse_backward(draw):
    for lib in (torch, trainer):
        t = lib.full((3,), 4.0, dtype=lib.float64, requires_grad=True)
        out = draw(lib, t)
        assert out.requires_grad
        with pytest.raises(RuntimeError, match="derivative for aten::"):
            out.sum().backward()


# ---------------------------------------------------------------- errors, as PyTorch raises them

ERRORS = {
    "multinomial_negative": (lambda lib: lib.multinomial(lib.tensor([1.0, -1.0]), 1), RuntimeError,
                             "probability tensor contains"),
    "multinomial_inf": (lambda lib: lib.multinomial(lib.tensor([1.0, math.inf]), 1), RuntimeError,
                        "probability tensor contains"),
    "multinomial_nan": (lambda lib: lib.multinomial(lib.tensor([[1.0, 1.0], [math.nan, 1.0]]), 1, True),
                        RuntimeError, "probability tensor contains"),
    "multinomial_zero_row": (lambda lib: lib.multinomial(lib.tensor([[1.0, 1.0], [0.0, 0.0]]), 1), RuntimeError,
                             "sum of probabilities <= 0"),
    "multinomial_3d": (lambda lib: lib.multinomial(lib.ones(2, 2, 2), 1), RuntimeError, "prob_dist must be 1 or 2"),
    "multinomial_0d": (lambda lib: lib.multinomial(lib.tensor(1.0), 1), RuntimeError, "prob_dist must be 1 or 2"),
    "multinomial_int": (lambda lib: lib.multinomial(lib.tensor([1, 2]), 1), RuntimeError,
                        "only supports floating-point dtypes for input, got: Long"),
    "multinomial_no_samples": (lambda lib: lib.multinomial(lib.ones(3), 0), RuntimeError, "n_sample <= 0"),
    "multinomial_too_many": (lambda lib: lib.multinomial(lib.ones(3), 4), RuntimeError,
                             "without replacement"),
    "multinomial_float_count": (lambda lib: lib.multinomial(lib.ones(3), 1.5), TypeError, "must be int"),
    "multinomial_too_many_categories": (lambda lib: lib.multinomial(lib.ones(2**24 + 1), 1), RuntimeError,
                                        "cannot exceed 2\\^24"),
    "bernoulli_above_one": (lambda lib: lib.bernoulli(lib.tensor([0.5, 1.5])), RuntimeError, "p_in >= 0"),
    "bernoulli_nan": (lambda lib: lib.bernoulli(lib.tensor([math.nan])), RuntimeError, "p_in >= 0"),
    "bernoulli_int": (lambda lib: lib.bernoulli(lib.tensor([1, 0])), NotImplementedError,
                      "bernoulli_tensor_cpu_p_\" not implemented for 'Long'"),
    "bernoulli_p_out_of_range": (lambda lib: lib.bernoulli(lib.zeros(2), 1.3), RuntimeError,
                                 "expects p to be in \\[0, 1\\], but got p=1.3"),
    "bernoulli_p_tensor": (lambda lib: lib.bernoulli(lib.zeros(2), p=lib.zeros(2)), TypeError, "p"),
    "normal_negative_std_tensor": (lambda lib: lib.normal(lib.zeros(2), lib.tensor([1.0, -1.0])), RuntimeError,
                                   "normal expects all elements of std >= 0.0"),
    "normal_nan_std_tensor": (lambda lib: lib.normal(0.0, lib.tensor([math.nan])), RuntimeError,
                              "normal expects all elements of std >= 0.0"),
    "normal_negative_std_number": (lambda lib: lib.normal(lib.zeros(2), -1.0), RuntimeError,
                                   "normal expects std >= 0.0, but found std -1"),
    "normal_nan_std_number": (lambda lib: lib.normal(lib.zeros(2), math.nan), RuntimeError,
                              "normal expects std >= 0.0, but found std nan"),
    "normal_numbers_without_size": (lambda lib: lib.normal(0.0, 1.0), TypeError, "normal\\(\\)"),
    "normal_tensor_with_size": (lambda lib: lib.normal(lib.zeros(2), 1.0, size=(2,)), TypeError, "normal\\(\\)"),
    "normal_int_mean": (lambda lib: lib.normal(lib.zeros(2, dtype=lib.int64), 1.0), NotImplementedError,
                        "\"normal_kernel_cpu\" not implemented for 'Long'"),
    "normal_int_std_only": (lambda lib: lib.normal(2.0, lib.ones(2, dtype=lib.int64)), NotImplementedError,
                            "not implemented for 'Long'"),
    "normal_shapes": (lambda lib: lib.normal(lib.zeros(2), lib.ones(3)), RuntimeError, "size"),
    "poisson_negative": (lambda lib: lib.poisson(lib.tensor([1.0, -1.0])), RuntimeError, "invalid Poisson rate"),
    "poisson_nan": (lambda lib: lib.poisson(lib.tensor([math.nan])), RuntimeError, "invalid Poisson rate"),
    "poisson_int": (lambda lib: lib.poisson(lib.tensor([1, 2])), NotImplementedError,
                    "\"poisson_cpu\" not implemented for 'Long'"),
    "binomial_int_count": (lambda lib: lib.binomial(lib.tensor([1, 2]), lib.tensor([0.5, 0.5])), ValueError,
                           "only supports floating-point dtypes for count, got: Long"),
    "binomial_int_prob": (lambda lib: lib.binomial(lib.tensor([1.0, 2.0]), lib.tensor([1, 1])), ValueError,
                          "for prob, got: Long"),
    "binomial_dtypes": (lambda lib: lib.binomial(lib.ones(2), lib.ones(2, dtype=lib.float64)), RuntimeError,
                        "Found dtype Double but expected Float"),
    "randint_like_empty_range": (lambda lib: lib.randint_like(lib.zeros(2), 10, 3), RuntimeError,
                                 "random_ expects 'from' to be less than 'to'"),
    "randint_like_uint8_high": (lambda lib: lib.randint_like(lib.zeros(2, dtype=lib.uint8), 300), RuntimeError,
                                "to - 1 is out of bounds for unsigned char"),
    "randint_like_int8_low": (lambda lib: lib.randint_like(lib.zeros(2, dtype=lib.int8), -200, 3), RuntimeError,
                              "from is out of bounds for signed char"),
    "randint_like_bool": (lambda lib: lib.randint_like(lib.zeros(2, dtype=lib.bool), 3), RuntimeError,
                          "to - 1 is out of bounds for bool"),
    "randint_like_float_high": (lambda lib: lib.randint_like(lib.zeros(2), 1.5), TypeError, "randint_like"),
    "cauchy_sigma": (lambda lib: lib.zeros(2).cauchy_(0.0, 0.0), RuntimeError, "cauchy_ expects sigma > 0.0"),
    "cauchy_int": (lambda lib: lib.zeros(2, dtype=lib.int64).cauchy_(), RuntimeError,
                   "Cauchy distribution is a continuous probability distribution"),
    "cauchy_leaf_requiring_grad": (lambda lib: lib.zeros(2, requires_grad=True).cauchy_(), RuntimeError,
                                   "a leaf Variable that requires grad"),
}


@pytest.mark.parametrize("name", list(ERRORS))
def test_errors_match_pytorch(name):
    make, error, message = ERRORS[name]
    with pytest.raises(error):
        make(torch)
    with pytest.raises(error, match=message):
        make(trainer)


# ---------------------------------------------------------------- CUDA

@pytest.mark.cuda
def test_sampling_on_cuda_is_reproducible_and_its_state_round_trips():
    gen = trainer.Generator("cuda:0").manual_seed(3)
    weights = trainer.tensor([[1.0, 2.0, 3.0]], device="cuda")
    draws = [lambda: trainer.multinomial(weights, 2, generator=gen), lambda: weights.multinomial(50, True,
                                                                                                 generator=gen),
             lambda: trainer.bernoulli(weights / 4, generator=gen), lambda: trainer.poisson(weights, generator=gen),
             lambda: trainer.normal(weights, weights, generator=gen),
             lambda: trainer.binomial(weights * 3, weights / 4, generator=gen)]
    for draw in draws:
        out = draw()
        assert out.device == trainer.device("cuda", 0)
        state = gen.get_state()
        assert state.device == trainer.device("cpu") and state.dtype == trainer.uint8
        expected = draw().tolist()
        gen.set_state(state)
        assert draw().tolist() == expected
    counts = np.bincount(trainer.multinomial(weights, 60000, True).cpu().numpy()[0], minlength=3)
    assert_frequencies_fit(counts, [1 / 6, 2 / 6, 3 / 6])
