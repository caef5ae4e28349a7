"""Special functions, order statistics and the trapezoidal rule against PyTorch (and SciPy where PyTorch is the less
accurate one): float64 values to ~1e-10 relative over wide ranges including poles, zeros and large arguments,
gradients of every input, and the errors PyTorch raises for bad arguments."""

import math

import numpy as np
import pytest
import scipy.special
import torch

import trainer
from tests.trainer.test_ops_parity import assert_forward_and_gradients_match_torch

NAN, INF = math.nan, math.inf
GAMMA_X = np.concatenate([np.linspace(-20.3, 40, 1201), [1e-8, 0.5, 1.0, 2.0, 171.5, 1e3, 1e10, 0.0, -1.0, -3.0,
                                                          INF, NAN]])
UNIT = np.concatenate([np.linspace(-1, 1, 801), [1 - 1e-12, -1 + 1e-15, 1e-10, 0.5, 0.501, 1.5, -2.0, NAN]])
PROB = np.concatenate([np.linspace(0, 1, 801), [1e-300, 1e-20, 1 - 1e-12, -0.5, 1.5, NAN]])
REAL = np.concatenate([np.linspace(-40, 40, 1601), [0.0, 700.0, 1e4, -1e4, INF, -INF, NAN]])


def _assert_close(ours, theirs, rtol=1e-10):
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    finite = np.isfinite(theirs)
    np.testing.assert_array_equal(ours[~finite], theirs[~finite])
    np.testing.assert_allclose(ours[finite], theirs[finite], rtol=rtol, atol=1e-13)


# name -> (ours, reference, inputs, rtol)
VALUES = {
    "lgamma": (trainer.lgamma, lambda x: torch.lgamma(torch.tensor(x)), GAMMA_X, 1e-10),
    "digamma": (trainer.digamma, lambda x: torch.digamma(torch.tensor(x)), GAMMA_X, 1e-10),
    "special_psi_negative_zero": (trainer.special.psi, lambda x: torch.special.psi(torch.tensor(x)),
                                  np.array([0.0, -0.0, -2.0, 1.0]), 1e-12),
    # PyTorch's trigamma is good to ~5e-10 only; SciPy's is the reference
    "polygamma_1": (lambda t: trainer.polygamma(1, t), lambda x: scipy.special.polygamma(1, x),
                    GAMMA_X[(GAMMA_X > 0) | (GAMMA_X != np.floor(GAMMA_X))], 1e-12),
    "polygamma_3": (lambda t: t.polygamma(3), lambda x: torch.polygamma(3, torch.tensor(x)), GAMMA_X[:1210], 1e-10),
    "mvlgamma": (lambda t: trainer.mvlgamma(t, 3), lambda x: torch.mvlgamma(torch.tensor(x), 3),
                 np.linspace(1.01, 50, 300), 1e-10),
    "erfinv": (trainer.erfinv, lambda x: torch.erfinv(torch.tensor(x)), UNIT, 1e-12),
    "ndtri": (trainer.special.ndtri, lambda x: torch.special.ndtri(torch.tensor(x)), PROB, 1e-12),
    "ndtr": (trainer.special.ndtr, lambda x: torch.special.ndtr(torch.tensor(x)), REAL[np.abs(REAL) < 37], 1e-10),
    "log_ndtr": (trainer.special.log_ndtr, lambda x: torch.special.log_ndtr(torch.tensor(x)), REAL, 1e-10),
    "erfcx": (trainer.special.erfcx, lambda x: torch.special.erfcx(torch.tensor(x)), REAL[REAL > -26], 1e-12),
    "i0": (trainer.i0, lambda x: torch.i0(torch.tensor(x)), REAL, 1e-12),
    "i0e": (trainer.special.i0e, lambda x: torch.special.i0e(torch.tensor(x)), REAL, 1e-12),
    "i1": (trainer.special.i1, lambda x: torch.special.i1(torch.tensor(x)), REAL, 1e-12),
    "i1e": (trainer.special.i1e, lambda x: torch.special.i1e(torch.tensor(x)), REAL, 1e-12),
    "entr": (trainer.special.entr, lambda x: torch.special.entr(torch.tensor(x)), REAL, 1e-12),
    "gammaln": (trainer.special.gammaln, lambda x: torch.special.gammaln(torch.tensor(x)), GAMMA_X, 1e-10),
}


@pytest.mark.parametrize("name", list(VALUES))
def test_values_match_the_reference(name):
    ours, reference, x, rtol = VALUES[name]
    _assert_close(ours(trainer.tensor(x)).numpy(), np.asarray(reference(x)), rtol)


def _pos(*shape):
    return np.random.default_rng(0).uniform(0.3, 6.0, shape)


def _unit(*shape):
    return np.random.default_rng(1).uniform(-0.99, 0.99, shape)


def _real(*shape):
    return np.random.default_rng(2).normal(0, 3, shape)


def _ties():
    return np.array([[1.0, 3.0, 3.0, -2.0, 0.5], [0.5, 0.5, -1.0, 0.5, NAN], [2.0, -4.0, 2.0, 2.0, -4.0]])


GRADIENTS = {
    "lgamma": (lambda lib, a: lib.lgamma(a) + a.lgamma(), [_real(3, 4)]),
    "digamma": (lambda lib, a: lib.digamma(a) * a.digamma(), [_pos(3, 4)]),
    "polygamma": (lambda lib, a: lib.polygamma(2, a) + a.polygamma(4), [_pos(3, 4)]),
    "mvlgamma": (lambda lib, a: lib.mvlgamma(a + 2, 4) + a.mvlgamma(1), [_pos(3, 4)]),
    "erfinv": (lambda lib, a: lib.erfinv(a) + a.erfinv() ** 2, [_unit(3, 4)]),
    "i0": (lambda lib, a: lib.i0(a) + a.i0(), [_real(3, 4)]),
    "bessel": (lambda lib, a: lib.special.i0e(a) + lib.special.i1(a) * lib.special.i1e(a), [_real(3, 4)]),
    "normal": (lambda lib, a: (lib.special.ndtr(a), lib.special.log_ndtr(a * 10), lib.special.ndtri(a.sigmoid())),
               [_real(3, 4)]),
    "erfcx_entr": (lambda lib, a: (lib.special.erfcx(a), lib.special.entr(a.abs())), [_real(3, 4)]),
    "xlog1py": (lambda lib, a, b: lib.special.xlog1py(a, b.abs()), [_real(3, 4), _real(3, 4)]),
    "ldexp": (lambda lib, a, b: lib.ldexp(a, b.round()) + a.ldexp(b), [_real(3, 4), _unit(3, 4)]),
    "nanmedian": (lambda lib, a: (*a.nanmedian(1), *lib.nanmedian(a, 0, keepdim=True)), [_ties()]),
    "mode": (lambda lib, a: (*lib.mode(a.nan_to_num(), 1), *a.nan_to_num().mode(0, keepdim=True)), [_ties()]),
    "trapezoid": (lambda lib, y, x: (lib.trapezoid(y), lib.trapezoid(y, x[0], dim=1), lib.trapz(y, dx=0.3, dim=0),
                                     lib.cumulative_trapezoid(y, x), lib.cumulative_trapezoid(y, dx=2.0, dim=0)),
                  [_real(3, 5), _real(3, 5)]),
}


@pytest.mark.parametrize("name", list(GRADIENTS))
def test_forward_and_gradients_match_torch(name):
    fn, arrays = GRADIENTS[name]
    assert_forward_and_gradients_match_torch(fn, arrays)


def test_nanmedian_of_all_elements_matches_torch():
    x = _ties()
    assert trainer.nanmedian(trainer.tensor(x)).item() == torch.nanmedian(torch.tensor(x)).item()


def test_frexp_and_nextafter_match_torch():
    x = np.array([0.0, -0.0, 1.0, -3.5, 1e-310, 1e300, INF, NAN])
    ours, theirs = trainer.frexp(trainer.tensor(x)), torch.frexp(torch.tensor(x))
    np.testing.assert_array_equal(ours.mantissa.numpy(), theirs.mantissa.numpy())
    np.testing.assert_array_equal(ours.exponent[:6].numpy(), theirs.exponent[:6].numpy())
    assert ours.exponent.dtype == trainer.int32
    np.testing.assert_array_equal(trainer.tensor(x).nextafter(trainer.tensor(1.0)).numpy(),
                                  torch.nextafter(torch.tensor(x), torch.tensor(1.0, dtype=torch.float64)).numpy())


ERRORS = {
    "polygamma_negative": lambda lib: lib.polygamma(-1, lib.ones(2)),
    "mvlgamma_p": lambda lib: lib.mvlgamma(lib.ones(2) * 3, 0),
    "frexp_integer": lambda lib: lib.frexp(lib.ones(2, dtype=lib.int64)),
    "mode_empty": lambda lib: lib.mode(lib.ones(2, 0), 1),
}


@pytest.mark.parametrize("name", list(ERRORS))
def test_bad_arguments_raise_like_torch(name):
    with pytest.raises(Exception) as theirs:
        ERRORS[name](torch)
    with pytest.raises(type(theirs.value)):
        ERRORS[name](trainer)


def test_mvlgamma_rejects_arguments_outside_its_domain():
    with pytest.raises(RuntimeError, match=r"greater than \(p-1\)/2"):
        trainer.mvlgamma(trainer.ones(2, dtype=trainer.float64), 3)
