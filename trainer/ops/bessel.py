"""``torch.special``'s Bessel functions that ``trainer.ops.special`` does not already hold under another name:
``modified_bessel_i0/i1`` (``i0``/``i1`` with PyTorch's NaN at +-inf), ``modified_bessel_k0/k1`` and their
exponentially scaled forms, and ``spherical_bessel_j0``.

``K0`` and ``K1`` come from their ascending series (``log`` times ``I`` plus a harmonic-number series) up to
``x = 2``, and beyond from ``exp(x) K_nu(x) = integral_0^inf exp(-x (cosh t - 1)) cosh(nu t) dt`` by the trapezoidal
rule, which converges geometrically for this analytic, even, double-exponentially decaying integrand. Computed in
float64 and rounded. As in PyTorch none of these is differentiable: their outputs never require grad.
"""

from __future__ import annotations

import numpy as np

from trainer.autograd import grad_mode
from trainer.autograd.op import Function
from trainer.backend import xp_of
from trainer.ops._operands import promote, quiet_fp_errors
from trainer.ops.special import _i0, _i1
from trainer.tensor import Tensor

_EULER_GAMMA = 0.5772156649015329
_SERIES_LIMIT = 2.0
# trapezoidal nodes in u = t sqrt(x / 2), in which the integrand is close to exp(-u^2) for large x: a fixed step
# keeps the rule's error far below 1e-16 for every x > 2, and exp(-u^2) underflows before u = 28
_STEP = 0.1
_NODES = np.arange(0.0, 28.0, _STEP)


def _k_series(xp, x, order):
    """``K0`` or ``K1`` by their ascending series, for ``0 < x <= 2``."""
    quarter = x * x / 4
    log_half = xp.log(x / 2)
    if order == 0:
        term, harmonic, total = xp.ones_like(x), 0.0, xp.zeros_like(x)
        for k in range(1, 30):
            term = term * quarter / (k * k)
            harmonic += 1 / k
            total = total + harmonic * term
        return -(log_half + _EULER_GAMMA) * _i0(xp, x) + total
    # K1 = 1/x + log(x/2) I1 - x/4 sum_k (psi(k+1) + psi(k+2)) (x^2/4)^k / (k! (k+1)!)
    term, harmonic, total = xp.ones_like(x), 0.0, xp.full_like(x, 1 - 2 * _EULER_GAMMA)
    for k in range(1, 30):
        term = term * quarter / (k * (k + 1))
        harmonic += 1 / k
        total = total + (2 * harmonic + 1 / (k + 1) - 2 * _EULER_GAMMA) * term
    return 1 / x + log_half * _i1(xp, x) - x / 4 * total


def _k_scaled_integral(xp, x, order):
    """``exp(x) K_order(x)`` by the trapezoidal rule on its integral representation, for ``x > 2``."""
    scale = xp.sqrt(2 / x)[..., None]
    t = scale * xp.asarray(_NODES)
    # cosh(t) - 1 = 2 sinh(t/2)^2 keeps its digits for small t
    integrand = xp.exp(-2 * x[..., None] * xp.sinh(t / 2) ** 2) * xp.cosh(order * t)
    return _STEP * scale[..., 0] * (integrand.sum(axis=-1) - 0.5 * integrand[..., 0])


def _k_scaled(xp, x, order):
    """``exp(x) K_order(x)``, with PyTorch's values: inf at 0, NaN below, 0 at +inf."""
    with quiet_fp_errors(xp):
        near = xp.clip(x, 1e-300, _SERIES_LIMIT)
        series = _k_series(xp, near, order) * xp.exp(near)
        far = x > _SERIES_LIMIT
        out = series
        if bool(far.any()):
            out = out.copy()
            out[far] = _k_scaled_integral(xp, x[far], order)
        out = xp.where(x == xp.inf, 0.0, out)
        out = xp.where(x == 0, xp.inf, out)
        return xp.where((x < 0) | xp.isnan(x), xp.nan, out)


def _k(xp, x, order):
    with quiet_fp_errors(xp):
        return _k_scaled(xp, x, order) * xp.exp(-xp.where(x == 0, 0.0, x))


def _modified_i(xp, x, order):
    with quiet_fp_errors(xp):
        return xp.where(xp.isinf(x), xp.nan, (_i1 if order else _i0)(xp, x))


def _spherical_j0(xp, x):
    with quiet_fp_errors(xp):
        safe = xp.where(x == 0, 1.0, x)
        return xp.where(xp.isinf(x), 0.0, xp.where(x == 0, 1.0, xp.sin(safe) / safe))


_FORMULAS = {
    "modified_bessel_i0": lambda xp, x: _modified_i(xp, x, 0),
    "modified_bessel_i1": lambda xp, x: _modified_i(xp, x, 1),
    "modified_bessel_k0": lambda xp, x: _k(xp, x, 0),
    "modified_bessel_k1": lambda xp, x: _k(xp, x, 1),
    "scaled_modified_bessel_k0": lambda xp, x: _k_scaled(xp, x, 0),
    "scaled_modified_bessel_k1": lambda xp, x: _k_scaled(xp, x, 1),
    "spherical_bessel_j0": _spherical_j0,
}


class BesselFunction(Function):
    """One of ``_FORMULAS`` elementwise, in float64."""

    @staticmethod
    def forward(ctx, x, *, function):
        return _FORMULAS[function](xp_of(x), x.astype(np.float64)).astype(x.dtype, copy=False)


def _bessel(function):
    def bessel(input):  # noqa: A002 - PyTorch's name
        if not isinstance(input, Tensor):
            raise TypeError(f"{function}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
        (x,) = promote(input, min_category_float=True)
        with grad_mode.no_grad():
            return BesselFunction.apply(x, function=function)

    bessel.__name__ = bessel.__qualname__ = function
    bessel.__doc__ = f"``torch.special.{function}(input)``: not differentiable, as in PyTorch."
    return bessel


modified_bessel_i0 = _bessel("modified_bessel_i0")
modified_bessel_i1 = _bessel("modified_bessel_i1")
modified_bessel_k0 = _bessel("modified_bessel_k0")
modified_bessel_k1 = _bessel("modified_bessel_k1")
scaled_modified_bessel_k0 = _bessel("scaled_modified_bessel_k0")
scaled_modified_bessel_k1 = _bessel("scaled_modified_bessel_k1")
spherical_bessel_j0 = _bessel("spherical_bessel_j0")
