"""The rest of ``torch.special`` against PyTorch (and SciPy where PyTorch is the less accurate one): incomplete gamma
functions, Hurwitz zeta, modified Bessel functions and orthogonal polynomials, in float64 over wide ranges with
their edge cases, which of them are differentiable, and the errors PyTorch raises."""

import math

import numpy as np
import pytest
import scipy.special
import torch

import trainer
from tests.trainer.test_ops_parity import assert_forward_and_gradients_match_torch, assert_raises_like_torch

NAN, INF = math.nan, math.inf
RNG = np.random.default_rng(0)


def _assert_close(ours, theirs, rtol=1e-10, atol=1e-300):
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    finite = np.isfinite(theirs)
    np.testing.assert_array_equal(ours[~finite], theirs[~finite])
    np.testing.assert_allclose(ours[finite], theirs[finite], rtol=rtol, atol=atol)


# ---------------------------------------------------------------- incomplete gamma

SHAPE = np.concatenate([10 ** RNG.uniform(-12, 3, 1500), [0.0, 0.0, 1.0, -1.0, INF, INF, INF, 1.0, 2.0, NAN]])
POINT = np.concatenate([10 ** RNG.uniform(-12, 3, 1500), [0.0, 1.0, 0.0, 1.0, 1.0, 0.0, INF, INF, NAN, 1.0]])


@pytest.mark.parametrize("name", ["gammainc", "gammaincc"])
def test_incomplete_gamma_matches_scipy_inside_and_torch_at_the_edges(name):
    ours = getattr(trainer.special, name)(trainer.tensor(SHAPE), trainer.tensor(POINT)).numpy()
    theirs = getattr(torch.special, name)(torch.tensor(SHAPE), torch.tensor(POINT)).numpy()
    reference = getattr(scipy.special, name)(SHAPE, POINT)
    # PyTorch is good to 1e-9 (P) and 3e-5 (Q) relative here; SciPy to ~1e-15
    representable = np.isfinite(theirs) & (reference > 1e-290)
    _assert_close(ours[representable], reference[representable], rtol=1e-11)
    np.testing.assert_allclose(ours[representable], theirs[representable], rtol=1e-4)
    np.testing.assert_array_equal(ours[~np.isfinite(theirs)], theirs[~np.isfinite(theirs)])
    # where the value underflows, PyTorch gives 0 and may give a subnormal
    np.testing.assert_allclose(ours[reference == 0], theirs[reference == 0], rtol=0, atol=1e-300)


def test_upper_gamma_keeps_its_digits_where_it_is_tiny():
    a, x = np.array([1e-10, 1e-6, 0.3, 50.0]), np.array([0.5, 1.0, 0.01, 200.0])
    _assert_close(trainer.special.gammaincc(trainer.tensor(a), trainer.tensor(x)).numpy(),
                  scipy.special.gammaincc(a, x), rtol=1e-12)


def test_igamma_aliases_methods_and_in_place_forms():
    a, x = trainer.tensor([0.5, 2.0, 7.0]), trainer.tensor([1.0, 3.0, 2.0])
    p = trainer.special.gammainc(a, x)
    assert trainer.igamma(a, x).tolist() == p.tolist() == a.igamma(x).tolist()
    assert trainer.igammac(a, x).tolist() == a.igammac(x).tolist() == trainer.special.gammaincc(a, x).tolist()
    b = a.clone()
    assert b.igamma_(x) is b and b.tolist() == p.tolist()
    c = a.clone()
    c.igammac_(x)
    np.testing.assert_allclose(c.numpy() + p.numpy(), 1.0, rtol=1e-6)


@pytest.mark.parametrize("name", ["gammainc", "gammaincc"])
def test_incomplete_gamma_is_differentiable_in_other_only(name):
    a, x = RNG.uniform(0.3, 5.0, (3, 4)), RNG.uniform(0.1, 6.0, (4,))
    assert_forward_and_gradients_match_torch(lambda lib, x: getattr(lib.special, name)(lib.tensor(a), x), [x])
    kernel = "igamma" if name == "gammainc" else "igammac"
    assert_raises_like_torch(lambda lib: getattr(lib.special, name)(lib.tensor(a, requires_grad=True),
                                                                  lib.tensor(x)).sum().backward(),
                             NotImplementedError, f"the derivative for '{kernel}: input' is not implemented")


def test_incomplete_gamma_refuses_integers_and_numbers():
    assert_raises_like_torch(lambda lib: lib.special.gammainc(lib.tensor([1, 2]), lib.tensor([1, 2])),
                             NotImplementedError, "igamma_cpu\" not implemented for 'Long'")
    assert_raises_like_torch(lambda lib: lib.special.gammainc(lib.tensor([1.0]), 2), TypeError, "must be Tensor")


# ---------------------------------------------------------------- zeta

def test_zeta_matches_torch_with_its_poles_and_edges():
    x = np.concatenate([1 + 10 ** RNG.uniform(-8, 2, 800), [2.0, 2.0, 2.5, 1.0, 0.5, INF, INF, INF, NAN, 3.0, 2.0,
                                                            3.0, 4.0, 2.0, 1.0]])
    q = np.concatenate([10 ** RNG.uniform(-5, 5, 800), [-1.0, -1.5, -1.5, 2.0, 2.0, 2.0, 1.0, 0.5, 1.0, INF, 1e-300,
                                                          -20.5, -3.7, 0.0, NAN]])
    ours = trainer.special.zeta(trainer.tensor(x), trainer.tensor(q)).numpy()
    _assert_close(ours, torch.special.zeta(torch.tensor(x), torch.tensor(q)).numpy(), rtol=1e-13)
    positive = q > 0
    _assert_close(ours[positive & (ours > 0)], scipy.special.zeta(x, q)[positive & (ours > 0)], rtol=1e-12)


def test_zeta_takes_a_number_for_either_argument_and_promotes_integers():
    q = trainer.tensor([1.0, 2.5], dtype=trainer.float64)
    assert trainer.special.zeta(2.0, q).tolist() == pytest.approx([math.pi ** 2 / 6, 0.4903577561002349], rel=1e-14)
    assert trainer.special.zeta(trainer.tensor([2, 3]), 1).dtype == trainer.float32
    assert_raises_like_torch(lambda lib: lib.special.zeta(2.0, 3.0), TypeError, "Tensor")


def test_zeta_is_differentiable_in_q_only():
    x, q = RNG.uniform(1.5, 6.0, (2, 3)), RNG.uniform(0.2, 5.0, (3,))
    assert_forward_and_gradients_match_torch(lambda lib, q: lib.special.zeta(lib.tensor(x), q), [q])
    assert_raises_like_torch(lambda lib: lib.special.zeta(lib.tensor(x, requires_grad=True), lib.tensor(q)).sum()
                             .backward(), NotImplementedError, "the derivative for 'zeta' is not implemented")


# ---------------------------------------------------------------- Bessel functions

BESSEL_X = np.concatenate([np.linspace(-10, 50, 601), 10 ** np.linspace(-300, 2.8, 200),
                           [0.0, -0.0, 2.0, 1e10, 1e300, INF, -INF, NAN]])
BESSEL = ["modified_bessel_i0", "modified_bessel_i1", "modified_bessel_k0", "modified_bessel_k1",
          "scaled_modified_bessel_k0", "scaled_modified_bessel_k1", "spherical_bessel_j0"]


@pytest.mark.parametrize("name", BESSEL)
def test_bessel_values_match_torch(name):
    ours = getattr(trainer.special, name)(trainer.tensor(BESSEL_X)).numpy()
    _assert_close(ours, getattr(torch.special, name)(torch.tensor(BESSEL_X)).numpy(), rtol=1e-13)


@pytest.mark.parametrize("name", BESSEL)
def test_bessel_functions_are_not_differentiable_and_keep_float32(name):
    x = trainer.tensor([0.5, 3.0], requires_grad=True)
    assert not getattr(trainer.special, name)(x).requires_grad
    out = getattr(trainer.special, name)(trainer.tensor([1, 2]))
    assert out.dtype == trainer.float32
    np.testing.assert_allclose(out.numpy(), getattr(torch.special, name)(torch.tensor([1, 2])).numpy(), rtol=1e-6)


# ---------------------------------------------------------------- orthogonal polynomials

POLY_X = np.concatenate([np.linspace(-1.5, 1.5, 61), [-1.0, 1.0, 0.0, 0.5, 1.0 + 1e-9, 2.0, -2.0, 0.999999]])
DEGREES = np.array([-3.0, -1.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 25.0, 100.0, 3.7, NAN, INF,
                    1e30, 600.0, 2000.0])
POLYNOMIALS = ["chebyshev_polynomial_t", "chebyshev_polynomial_u", "chebyshev_polynomial_v", "chebyshev_polynomial_w",
               "shifted_chebyshev_polynomial_t", "shifted_chebyshev_polynomial_u", "shifted_chebyshev_polynomial_v",
               "shifted_chebyshev_polynomial_w", "hermite_polynomial_h", "hermite_polynomial_he",
               "laguerre_polynomial_l", "legendre_polynomial_p"]


@pytest.mark.parametrize("name", POLYNOMIALS)
def test_polynomial_values_match_torch_including_degree_conventions(name):
    x, n = np.meshgrid(POLY_X, DEGREES)
    ours = getattr(trainer.special, name)(trainer.tensor(x), trainer.tensor(n)).numpy()
    # at a polynomial's zeros both sides are rounding noise of the size of its terms
    _assert_close(ours, getattr(torch.special, name)(torch.tensor(x), torch.tensor(n)).numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", POLYNOMIALS)
def test_polynomials_broadcast_promote_and_are_not_differentiable(name):
    x = trainer.tensor([[0.25], [0.75], [-0.5]], requires_grad=True)
    n = trainer.tensor([0, 1, 2, 5])
    out = getattr(trainer.special, name)(x, n)
    assert out.shape == (3, 4) and out.dtype == trainer.float32 and not out.requires_grad
    expected = getattr(torch.special, name)(torch.tensor([[0.25], [0.75], [-0.5]]), torch.tensor([0, 1, 2, 5]))
    np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-6)
    assert getattr(trainer.special, name)(0.5, trainer.tensor([3])).dtype == trainer.float32
    assert getattr(trainer.special, name)(trainer.tensor([0.5], dtype=trainer.float64), 3).dtype == trainer.float64
    assert_raises_like_torch(lambda lib: getattr(lib.special, name)(0.5, 3), TypeError, "Tensor")


def test_hermite_cut_off_depends_on_precision():
    n = trainer.tensor([200.0])
    assert math.isnan(trainer.special.hermite_polynomial_h(trainer.tensor([0.1]), n).item())
    assert not math.isnan(trainer.special.hermite_polynomial_h(trainer.tensor([0.1], dtype=trainer.float64),
                                                               n.double()).item())
