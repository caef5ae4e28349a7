"""``torch.special``'s Bessel functions of the first and second kind and the Airy function ``Ai`` against PyTorch
(float64 to 1e-10 relative over wide ranges, their edge cases, float32), against SciPy where both follow Cephes,
and that none of them is differentiable, as in PyTorch."""

import math

import numpy as np
import pytest
import scipy.special
import torch

import trainer
from tests.trainer.test_ops_parity import assert_raises_like_torch

NAN, INF = math.nan, math.inf
RNG = np.random.default_rng(0)
NAMES = ["bessel_j0", "bessel_j1", "bessel_y0", "bessel_y1", "airy_ai"]
EDGES = [0.0, -0.0, 1e-320, -1e-320, 1e-6, -1e-6, 9.99e-6, 1e-5, 5.0, -5.0, 5.0 + 1e-12, 2.09, -2.09, 2.0899999,
         -2.0900001, 8.3203353, 103.892, 103.9, -103.9, 1e3, -1e3, 1e10, 1e20, 1e300, -1e300, INF, -INF, NAN]
X = np.concatenate([np.linspace(-40, 40, 1601), RNG.uniform(-6, 6, 500), 10 ** RNG.uniform(-12, 4, 300),
                    -(10 ** RNG.uniform(-12, 4, 300)), EDGES])


def _ours(name, x):
    return getattr(trainer.special, name)(trainer.tensor(x)).numpy()


def _theirs(name, x):
    return getattr(torch.special, name)(torch.tensor(x)).numpy()


@pytest.mark.parametrize("name", NAMES)
def test_float64_values_match_torch_to_1e_10(name):
    ours, theirs = _ours(name, X), _theirs(name, X)
    assert ours.dtype == np.float64
    finite = np.isfinite(theirs)
    # NaN, +-inf, and the sign of zeros (j1(-0.0) is -0.0) exactly as PyTorch
    np.testing.assert_array_equal(ours[~finite], theirs[~finite])
    np.testing.assert_array_equal(np.signbit(ours[theirs == 0]), np.signbit(theirs[theirs == 0]))
    np.testing.assert_allclose(ours[finite], theirs[finite], rtol=1e-10, atol=1e-300)


def test_edge_values_are_pytorchs():
    special = trainer.special
    edges = trainer.tensor([0.0, -0.0, -1.0, INF, -INF, NAN, 200.0], dtype=trainer.float64)
    np.testing.assert_array_equal(special.bessel_y0(edges).numpy(), [-INF, -INF, NAN, NAN, NAN, NAN,
                                                                      _theirs("bessel_y0", np.array(200.0))])
    np.testing.assert_array_equal(special.bessel_y1(edges).numpy()[:6], [-INF, -INF, NAN, NAN, NAN, NAN])
    np.testing.assert_array_equal(special.bessel_j0(edges).numpy()[:6], [1.0, 1.0, _theirs("bessel_j0", np.array(-1.0)),
                                                                         NAN, NAN, NAN])
    np.testing.assert_array_equal(special.airy_ai(edges).numpy()[3:], [NAN, NAN, NAN, 0.0])


@pytest.mark.parametrize(("name", "reference"), [("bessel_j0", scipy.special.j0), ("bessel_j1", scipy.special.j1),
                                                 ("bessel_y0", scipy.special.y0), ("bessel_y1", scipy.special.y1)])
def test_bessel_values_are_the_true_ones_up_to_pytorchs_coefficient_tables(name, reference):
    # PyTorch drops the leading coefficient of two Cephes denominators: about 1e-6 off between x = 1 and 50,
    # exact beyond
    x = np.concatenate([RNG.uniform(0.01, 60, 2000), -RNG.uniform(0.01, 60, 500)])
    truth = reference(x)
    np.testing.assert_allclose(_ours(name, x), truth, rtol=1e-12, atol=1e-6)
    far = np.linspace(60, 1e4, 1000)
    np.testing.assert_allclose(_ours(name, far), reference(far), rtol=1e-12, atol=1e-15)


def test_airy_ai_is_the_true_one_outside_pytorchs_oscillating_form():
    x = np.linspace(-2.09, 100, 3000)
    truth = scipy.special.airy(x)[0]
    nonzero = truth != 0
    np.testing.assert_allclose(_ours("airy_ai", x)[nonzero], truth[nonzero], rtol=1e-12, atol=1e-300)
    # below -2.09 PyTorch's values (which these are) are within 3e-6 of the true ones, 1e-12 below -10
    oscillating = -(10 ** RNG.uniform(0.33, 3, 500))
    np.testing.assert_allclose(_ours("airy_ai", oscillating), scipy.special.airy(oscillating)[0], atol=3e-6)
    far = -(10 ** RNG.uniform(1, 3, 500))
    np.testing.assert_allclose(_ours("airy_ai", far), scipy.special.airy(far)[0], atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_float32_keeps_its_dtype_and_is_close_to_torch(name):
    x = np.concatenate([np.linspace(-30, 30, 601), 10 ** RNG.uniform(-3, 3, 200)]).astype(np.float32)
    ours, theirs = _ours(name, x), _theirs(name, x)
    assert ours.dtype == np.float32
    # PyTorch sums in float32, these in float64 then round: they differ by float32's rounding, not more
    finite = np.isfinite(theirs)
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
    np.testing.assert_allclose(ours[finite], theirs[finite], rtol=1e-5, atol=1e-5 * np.abs(theirs[finite]).max())


@pytest.mark.parametrize("name", NAMES)
def test_integers_promote_to_float32_and_shapes_are_kept(name):
    ints = getattr(trainer.special, name)(trainer.tensor([[1, 2, 3], [4, 5, 6]]))
    assert ints.dtype == trainer.float32 and tuple(ints.shape) == (2, 3)
    np.testing.assert_allclose(ints.numpy(), getattr(torch.special, name)(torch.tensor([[1, 2, 3], [4, 5, 6]])),
                               rtol=1e-5, atol=1e-6)
    assert tuple(getattr(trainer.special, name)(trainer.zeros(0, 4, dtype=trainer.float64)).shape) == (0, 4)
    scalar = getattr(trainer.special, name)(trainer.tensor(1.5, dtype=trainer.float64))
    assert scalar.ndim == 0 and scalar.item() == pytest.approx(_theirs(name, np.array(1.5)).item(), rel=1e-13)


@pytest.mark.parametrize("name", NAMES)
def test_not_differentiable_as_in_pytorch(name):
    x = trainer.tensor([0.5, 3.0, 7.0], dtype=trainer.float64, requires_grad=True)
    assert not getattr(trainer.special, name)(x).requires_grad
    assert_raises_like_torch(lambda lib: getattr(lib.special, name)(lib.tensor([1.0], requires_grad=True)).sum()
                             .backward(), RuntimeError, "does not require grad")


@pytest.mark.parametrize("name", NAMES)
def test_a_number_instead_of_a_tensor_raises_type_error(name):
    assert_raises_like_torch(lambda lib: getattr(lib.special, name)(1.0), TypeError, "must be Tensor, not float")
