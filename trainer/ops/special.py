"""Special functions, written once against ``xp`` with no SciPy: the gamma family (``lgamma``, ``digamma``,
``polygamma``, ``mvlgamma``), the error-function family (``erfcx``, ``erfinv``, ``ndtr``, ``ndtri``, ``log_ndtr``),
modified Bessel functions (``i0``, ``i0e``, ``i1``, ``i1e``), ``entr``, ``xlog1py`` and the float-bit helpers
``frexp``, ``ldexp`` and ``nextafter``, as in PyTorch.

The series and expansions below reach about 1e-15 relative error in float64; lower precisions are computed in
float64 and rounded, so every dtype gets the same answer.
"""

from __future__ import annotations

import math
from collections import namedtuple

import numpy as np

from trainer.autograd.higher_order import graph_tensors
from trainer.autograd.op import Function
from trainer.backend import xp_of
from trainer.ops._operands import promote, quiet_fp_errors, unbroadcast
from trainer.ops.compare import where
from trainer.ops.shape import unsqueeze

FrExp = namedtuple("FrExp", ["mantissa", "exponent"])  # torch.return_types.frexp

_SQRT_PI = math.sqrt(math.pi)
_LOG_PI = math.log(math.pi)

# Lanczos approximation, g = 7, 9 terms: relative error below 1e-15 for x >= 0.5
_LANCZOS_G = 7.0
_LANCZOS = (0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
            -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6,
            1.5056327351493116e-7)
# B_2k for the asymptotic (Euler-Maclaurin) tails of digamma and the Hurwitz zeta function
_BERNOULLI = (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6, -3617 / 510, 43867 / 798,
              -174611 / 330, 854513 / 138, -236364091 / 2730)


def _float64(a):
    return a.astype(np.float64, copy=False)


def _sinpi_reduced(xp, x):
    """``x`` moved by a whole even number into [-1, 1]: ``sin(pi x)`` keeps its precision for large ``|x|``."""
    return x - 2 * xp.round(x / 2)


def _lgamma(xp, x):
    with quiet_fp_errors(xp):
        # reflection for x < 0.5: lgamma(x) = log(pi / |sin(pi x)|) - lgamma(1 - x)
        reflect = x < 0.5
        z = xp.where(reflect, 1 - x, x) - 1
        series = xp.full_like(z, _LANCZOS[0])
        for i, c in enumerate(_LANCZOS[1:], 1):
            series = series + c / (z + i)
        t = z + _LANCZOS_G + 0.5
        direct = 0.5 * math.log(2 * math.pi) + (z + 0.5) * xp.log(t) - t + xp.log(series)
        sin = xp.abs(xp.sin(math.pi * _sinpi_reduced(xp, x)))
        out = xp.where(reflect, _LOG_PI - xp.log(sin) - direct, direct)
        out = xp.where(reflect & (x == xp.floor(x)), xp.inf, out)  # poles at 0, -1, -2, ...
        return xp.where(xp.isinf(x), xp.inf, out)


def _digamma(xp, x):
    with quiet_fp_errors(xp):
        reflect = x < 0.5
        y = xp.where(reflect, 1 - x, x)
        shift = xp.zeros_like(y)
        for _ in range(10):  # recurrence psi(y) = psi(y + 1) - 1/y until y >= 10
            small = y < 10
            shift = shift - xp.where(small, 1 / y, 0)
            y = xp.where(small, y + 1, y)
        inv2 = 1 / (y * y)
        tail = xp.zeros_like(y)
        for k in range(7, 0, -1):
            tail = (tail + _BERNOULLI[k - 1] / (2 * k)) * inv2
        out = xp.log(y) - 0.5 / y - tail + shift
        # psi(x) = psi(1 - x) - pi / tan(pi x); the signed zero keeps digamma(-0.0) = +inf as in PyTorch
        r = xp.where(x == 0, x, x - xp.round(x))
        out = xp.where(reflect, out - math.pi / xp.tan(math.pi * r), out)
        out = xp.where((x < 0) & (x == xp.floor(x)), xp.nan, out)
        return xp.where(x == xp.inf, xp.inf, out)


def _hurwitz_zeta(xp, s, x):
    """``sum_k (x + k)^-s`` for an integer ``s >= 2``: the first terms summed until ``x + k`` is large, the rest
    by Euler-Maclaurin (as Cephes' ``zeta``)."""
    with quiet_fp_errors(xp):
        a = x.copy()
        head = xp.zeros_like(x)
        start = 12.0 + s
        small = a < start
        while small.any():  # runs ``start - min(x)`` times, over the whole array each time
            head = head + xp.where(small, a ** -s, 0)
            a = xp.where(small, a + 1, a)
            small = a < start
        tail = a ** (1 - s) / (s - 1) + 0.5 * a ** -s
        factor = s * a ** (-s - 1) / 2  # s (s+1) ... (s+2j-2) a^(-s-2j+1) / (2j)!
        for j, b in enumerate(_BERNOULLI, 1):
            tail = tail + b * factor
            factor = factor * (s + 2 * j - 1) * (s + 2 * j) / (a * a) / ((2 * j + 1) * (2 * j + 2))
        return xp.where(xp.isnan(x), xp.nan, head + tail)


def _polygamma(xp, n, x):
    if n == 0:
        return _digamma(xp, x)
    return (-1) ** (n + 1) * math.factorial(n) * _hurwitz_zeta(xp, float(n + 1), x)


def _erf_series(xp, x):
    """Maclaurin series of erf, accurate for |x| <= 2."""
    x2 = x * x
    term, total = x, x.copy()
    for n in range(1, 40):
        term = -term * x2 / n
        total = total + term / (2 * n + 1)
    return 2 / _SQRT_PI * total


def _erfcx_fraction(xp, x):
    """``exp(x^2) erfc(x)`` by its continued fraction, evaluated bottom up; converges fast for x >= 2."""
    tail = xp.zeros_like(x)
    for k in range(60, 0, -1):
        tail = (k / 2) / (x + tail)
    return 1 / (_SQRT_PI * (x + tail))


def _erfcx(xp, x):
    with quiet_fp_errors(xp):
        near = xp.minimum(x, 2.0)
        direct = xp.exp(near * near) * (1 - _erf_series(xp, xp.maximum(near, -2.0)))
        # below -2, erfc(x) = 2 - erfc(-x)
        negative = xp.exp(x * x) * 2 - _erfcx_fraction(xp, xp.maximum(-x, 2.0))
        return xp.where(x >= 2, _erfcx_fraction(xp, xp.maximum(x, 2.0)), xp.where(x < -2, negative, direct))


def _erfc(xp, x):
    with quiet_fp_errors(xp):
        far = xp.maximum(xp.abs(x), 2.0)
        upper = xp.exp(-far * far) * _erfcx_fraction(xp, far)
        near = 1 - _erf_series(xp, xp.clip(x, -2.0, 2.0))
        return xp.where(xp.abs(x) < 2, near, xp.where(x > 0, upper, 2 - upper))


def _erf(xp, x):
    return xp.where(xp.abs(x) < 2, _erf_series(xp, xp.clip(x, -2.0, 2.0)), xp.sign(x) * (1 - _erfc(xp, xp.abs(x))))


def _inverse_erf_guess(xp, w, y):
    """Giles' single-precision erfinv, from ``w = -log((1 - y)(1 + y))``: the start for Newton's method."""
    central = w - 2.5
    p = xp.full_like(w, 2.81022636e-08)
    for c in (3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087, -0.00125372503, -0.00417768164,
              0.246640727, 1.50140941):
        p = c + p * central
    tail = xp.sqrt(w) - 3
    q = xp.full_like(w, -0.000200214257)
    for c in (0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613, 0.00943887047,
              1.00167406, 2.83297682):
        q = c + q * tail
    return xp.where(w < 5, p, q) * y


def _erfinv_central(xp, y):
    """erfinv for |y| <= 0.5, by Newton steps on erf."""
    z = _inverse_erf_guess(xp, -xp.log((1 - y) * (1 + y)), y)
    for _ in range(3):
        z = z - (_erf(xp, z) - y) * (_SQRT_PI / 2) * xp.exp(z * z)
    return z


def _erfcinv_tail(xp, c):
    """The positive z with erfc(z) = c, for 0 <= c <= 0.5, by Newton steps on log(erfc), which never underflows."""
    with quiet_fp_errors(xp):
        safe = xp.clip(c, 1e-300, 0.5)
        w = -xp.log(safe * (2 - safe))
        # Giles' guess holds down to single precision's range; deeper, erfc(z) ~ exp(-z^2) / (z sqrt(pi))
        deep = xp.sqrt(-xp.log(safe) - xp.log(xp.sqrt(-xp.log(safe)) * _SQRT_PI))
        z = xp.where(w > 20, deep, _inverse_erf_guess(xp, xp.minimum(w, 20), 1 - safe))
        for _ in range(4):
            ex = _erfcx(xp, z)
            z = z + (xp.log(ex) - z * z - xp.log(safe)) * (_SQRT_PI / 2) * ex
        return xp.where(c == 0, xp.inf, z)


def _erfinv(xp, y):
    with quiet_fp_errors(xp):
        central = _erfinv_central(xp, xp.clip(y, -0.5, 0.5))
        tail = xp.sign(y) * _erfcinv_tail(xp, xp.clip(1 - xp.abs(y), 0, 0.5))
        out = xp.where(xp.abs(y) <= 0.5, central, tail)
        return xp.where(xp.abs(y) > 1, xp.nan, out)


def _ndtri(xp, p):
    """The standard normal quantile: -sqrt(2) erfcinv(2p), reading the tail from the nearer end."""
    with quiet_fp_errors(xp):
        c = 2 * p
        central = _erfinv_central(xp, xp.clip(1 - c, -0.5, 0.5))
        lower = _erfcinv_tail(xp, xp.clip(c, 0, 0.5))
        upper = -_erfcinv_tail(xp, xp.clip(2 - c, 0, 0.5))
        out = xp.where(c < 0.5, lower, xp.where(c > 1.5, upper, central))
        return xp.where((p < 0) | (p > 1), xp.nan, -math.sqrt(2) * out)


def _log_ndtr(xp, x):
    with quiet_fp_errors(xp):
        t = -xp.minimum(x, 0) / math.sqrt(2)
        lower = xp.log(0.5 * _erfcx(xp, t)) - t * t
        upper = xp.log1p(-0.5 * _erfc(xp, xp.maximum(x, 0) / math.sqrt(2)))
        return xp.where(x > 0, upper, lower)


def _bessel_series(xp, x, order):
    """``sum_k (x/2)^(2k+order) / (k! (k+order)!)``, for |x| <= 30."""
    half = x / 2
    term = half if order else xp.ones_like(x)
    total = term.copy()
    quarter = half * half
    for k in range(1, 90):
        term = term * quarter / (k * (k + order))
        total = total + term
    return total


def _bessel_scaled_asymptotic(xp, x, order):
    """``exp(-|x|) I_order(|x|)`` by its asymptotic expansion, for |x| > 30 (the terms shrink below 1e-20)."""
    term = 1 / xp.sqrt(2 * math.pi * x)
    total = term
    for k in range(1, 40):
        term = -term * (4 * order * order - (2 * k - 1) ** 2) / (8 * k * x)
        total = total + term
    return total


def _bessel_scaled(xp, x, order):
    """``exp(-|x|) I_order(x)``; I1 is odd."""
    with quiet_fp_errors(xp):
        ax = xp.abs(x)
        small = xp.minimum(ax, 30.0)
        near = _bessel_series(xp, small, order) * xp.exp(-small)
        far = _bessel_scaled_asymptotic(xp, xp.maximum(ax, 30.0), order)
        out = xp.where(ax <= 30, near, far)
        out = xp.where(ax == xp.inf, 0.0, out)
        return xp.sign(x) * out if order else out


def _i0(xp, x):
    with quiet_fp_errors(xp):
        return _bessel_scaled(xp, x, 0) * xp.exp(xp.abs(x))


def _i1(xp, x):
    with quiet_fp_errors(xp):
        return _bessel_scaled(xp, x, 1) * xp.exp(xp.abs(x))


def _special(name, forward, derivative, graph_derivative):
    """A ``Function`` for ``out = forward(xp, a)`` whose gradient is ``g * derivative(xp, a, out)``; both run in
    float64 (see the module docstring). ``graph_derivative(a, out)`` is the same derivative written with
    differentiable tensor functions, for the recorded backward (``create_graph=True``)."""

    def fwd(ctx, a):
        xp = xp_of(a)
        with quiet_fp_errors(xp):
            out = forward(xp, _float64(a)).astype(a.dtype, copy=False)
        ctx.save_for_backward(a, out)
        return out

    def bwd(ctx, g):
        a, out = ctx.saved_tensors
        xp = xp_of(a)
        with quiet_fp_errors(xp):
            return (g * derivative(xp, _float64(a), out)).astype(g.dtype, copy=False)

    def bwd_graph(ctx, g):
        a, out = graph_tensors(ctx)
        with quiet_fp_errors(xp_of(a._data)):
            return g * graph_derivative(a, out)

    return type(name, (Function,), {"forward": staticmethod(fwd), "backward": staticmethod(bwd),
                                    "backward_graph": staticmethod(bwd_graph)})


def _nonzero(a):
    """``a`` with its zeros replaced by 1: a divisor whose quotient a ``where`` then discards at 0."""
    return where(a == 0, 1.0, a)


LGamma = _special("LGamma", _lgamma, lambda xp, a, out: _digamma(xp, a), lambda a, out: digamma(a))
Digamma = _special("Digamma", _digamma, lambda xp, a, out: _polygamma(xp, 1, a), lambda a, out: polygamma(1, a))
ErfInv = _special("ErfInv", _erfinv, lambda xp, a, out: (_SQRT_PI / 2) * xp.exp(out * out),
                  lambda a, out: (_SQRT_PI / 2) * (out * out).exp())
Erfcx = _special("Erfcx", _erfcx, lambda xp, a, out: 2 * a * out - 2 / _SQRT_PI,
                 lambda a, out: 2 * a * out - 2 / _SQRT_PI)
Ndtr = _special("Ndtr", lambda xp, a: 0.5 * _erfc(xp, -a / math.sqrt(2)),
                lambda xp, a, out: xp.exp(-0.5 * a * a) / math.sqrt(2 * math.pi),
                lambda a, out: (-0.5 * a * a).exp() / math.sqrt(2 * math.pi))
Ndtri = _special("Ndtri", _ndtri, lambda xp, a, out: math.sqrt(2 * math.pi) * xp.exp(0.5 * out * out),
                 lambda a, out: math.sqrt(2 * math.pi) * (0.5 * out * out).exp())
# d/dx log ndtr(x) = pdf / ndtr, written through erfcx below zero so that it neither under- nor overflows
LogNdtr = _special("LogNdtr", _log_ndtr, lambda xp, a, out: xp.where(
    a > 0, xp.exp(-0.5 * a * a - out) / math.sqrt(2 * math.pi),
    math.sqrt(2 / math.pi) / _erfcx(xp, -xp.minimum(a, 0) / math.sqrt(2))),
    lambda a, out: where(a > 0, (-0.5 * a * a - out).exp() / math.sqrt(2 * math.pi),
                         math.sqrt(2 / math.pi) / erfcx(-a.clamp(max=0) / math.sqrt(2))))
I0 = _special("I0", _i0, lambda xp, a, out: _i1(xp, a), lambda a, out: i1(a))
I0e = _special("I0e", lambda xp, a: _bessel_scaled(xp, a, 0),
               lambda xp, a, out: _bessel_scaled(xp, a, 1) - xp.sign(a) * out,
               lambda a, out: i1e(a) - a.sign() * out)
# I1'(x) = I0(x) - I1(x) / x, which is 1/2 at 0
I1 = _special("I1", _i1, lambda xp, a, out: xp.where(a == 0, 0.5, _i0(xp, a) - out / xp.where(a == 0, 1, a)),
              lambda a, out: where(a == 0, 0.5, i0(a) - out / _nonzero(a)))
I1e = _special("I1e", lambda xp, a: _bessel_scaled(xp, a, 1), lambda xp, a, out: xp.where(
    a == 0, 0.5, _bessel_scaled(xp, a, 0) - out * (xp.sign(a) + 1 / xp.where(a == 0, 1, a))),
    lambda a, out: where(a == 0, 0.5, i0e(a) - out * (a.sign() + 1 / _nonzero(a))))
# entr = -x log x: 0 at 0, -inf below; its gradient -(1 + log x) is +inf at 0, as PyTorch's
Entr = _special("Entr", lambda xp, a: xp.where(a > 0, -a * xp.log(xp.where(a > 0, a, 1)),
                                               xp.where(a == 0, 0.0, xp.where(xp.isnan(a), a, -xp.inf))),
                lambda xp, a, out: -(1 + xp.log(a)), lambda a, out: -(1 + a.log()))


class Polygamma(Function):
    @staticmethod
    def forward(ctx, a, n):
        ctx.save_for_backward(a)
        ctx.n = n
        return _polygamma(xp_of(a), n, _float64(a)).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return (g * _polygamma(xp_of(a), ctx.n + 1, _float64(a))).astype(g.dtype, copy=False)

    @staticmethod
    def backward_graph(ctx, g):
        (a,) = graph_tensors(ctx)
        return g * polygamma(ctx.n + 1, a)


class FrExpOp(Function):
    """Mantissa in [0.5, 1) and int32 exponent; like PyTorch, not differentiable."""

    @staticmethod
    def forward(ctx, a):
        mantissa, exponent = xp_of(a).frexp(a)
        return mantissa, exponent.astype(np.int32, copy=False)


class NextAfter(Function):
    """The next float after ``a`` towards ``b``: as PyTorch, the gradient passes to ``a`` unchanged and is zero
    for ``b``."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.a_shape, ctx.b_shape = a.shape, b.shape
        return xp_of(a).nextafter(a, b)

    @staticmethod
    def backward(ctx, g):
        need_a, need_b = ctx.needs_input_grad
        return (unbroadcast(g, ctx.a_shape) if need_a else None), (xp_of(g).zeros(ctx.b_shape, g.dtype) if need_b
                                                                    else None)


def _floating(a):
    return promote(a, min_category_float=True)[0]


def lgamma(a):
    return LGamma.apply(_floating(a))


def digamma(a):
    return Digamma.apply(_floating(a))


def polygamma(n, a):
    if int(n) != n or n < 0:
        raise RuntimeError(f"polygamma(n, x) does not support negative n, got n={n}" if n < 0 else
                           f"polygamma(n, x) expects an integer n, got {n}")
    return Polygamma.apply(_floating(a), n=int(n))


def mvlgamma(a, p):
    """The multivariate log-gamma ``sum_i lgamma(a - i/2) + p (p-1)/4 log(pi)``, defined for ``a > (p-1)/2``."""
    if p < 1:
        raise RuntimeError(f"p has to be greater than or equal to 1, got p={p}")
    a = _floating(a)
    if bool((a <= (p - 1) / 2).any()):
        raise RuntimeError(f"All elements must be greater than (p-1)/2 = {(p - 1) / 2}")
    offsets = a.new_tensor([-i / 2 for i in range(p)])
    return lgamma(unsqueeze(a, -1) + offsets).sum(-1) + p * (p - 1) / 4 * _LOG_PI


def erfinv(a):
    return ErfInv.apply(_floating(a))


def erfcx(a):
    return Erfcx.apply(_floating(a))


def ndtr(a):
    return Ndtr.apply(_floating(a))


def ndtri(a):
    return Ndtri.apply(_floating(a))


def log_ndtr(a):
    return LogNdtr.apply(_floating(a))


def i0(a):
    return I0.apply(_floating(a))


def i0e(a):
    return I0e.apply(_floating(a))


def i1(a):
    return I1.apply(_floating(a))


def i1e(a):
    return I1e.apply(_floating(a))


def entr(a):
    return Entr.apply(_floating(a))


def xlog1py(x, y):
    """``x * log1p(y)``, and 0 where ``x`` is 0 (unless ``y`` is NaN), as ``xlogy``."""
    x, y = promote(x, y, min_category_float=True)
    zero = (x == 0) & ((y <= -1) | y.isinf())
    return where(zero, 0.0, x * where(zero, 0.0, y).log1p())


def frexp(a):
    if not a.dtype.is_floating_point:
        raise RuntimeError("torch.frexp() only supports floating-point dtypes")
    return FrExp(*FrExpOp.apply(a))


def ldexp(a, other):
    """``a * 2**other``, in floating point."""
    a, other = promote(a, other, min_category_float=True)
    return a * (2.0 ** other)


def nextafter(a, other):
    a, other = promote(a, other)
    if not a.dtype.is_floating_point:
        raise RuntimeError(f'"nextafter_cpu" not implemented for \'{a.dtype.name}\'')
    return NextAfter.apply(a, other)
