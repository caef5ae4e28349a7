"""``torch.special.airy_ai``, the Airy function ``Ai``, as PyTorch computes it from Cephes' ``airy``.

Below ``x = -2.09`` the oscillating asymptotic form with rational corrections in ``z = 1 / zeta``, ``zeta =
2/3 (-x)^(3/2)``; from ``x = 2.09`` the decaying form ``exp(-zeta) / (2 sqrt(pi) x^(1/4))`` times a rational function
of ``1 / zeta`` (0 beyond ``x = 103.892``, where it underflows); between them the Maclaurin series ``c1 f(x) - c2
g(x)``, summed until a term drops below the machine epsilon relative to ``f``. NaN at +-inf, as in PyTorch.

PyTorch evaluates the oscillating form's denominators ``AFD``, ``AGD`` without the implied leading coefficient
that Cephes' ``p1evl`` adds, so its values there differ from SciPy's ``airy`` by up to 3e-6 absolute near -2.09
(1e-12 below -10); these are PyTorch's values. Not differentiable, as in PyTorch.
"""

from __future__ import annotations

from trainer.ops._cephes import cephes_function, polevl

_ONE_OVER_SQRT_PI = 5.64189583547756286948e-01
_C1 = 0.355028053887817239260  # Ai(0)
_C2 = 0.258819403792806798405  # -Ai'(0)
_OSCILLATING_BELOW = -2.09
_DECAYING_FROM = 2.09
_ZERO_BEYOND = 103.892
_EPSILON = 2.220446049250313e-16  # float64's, where PyTorch's series stops

_AN = (3.46538101525629032477e-01, 1.20075952739645805542e01, 7.62796053615234516538e01, 1.68089224934630576269e02,
       1.59756391350164413639e02, 7.05360906840444183113e01, 1.40264691163389668864e01, 9.99999999999999995305e-01)
_AD = (5.67594532638770212846e-01, 1.47562562584847203173e01, 8.45138970141474626562e01, 1.77318088145400459522e02,
       1.64234692871529701831e02, 7.14778400825575695274e01, 1.40959135607834029598e01, 1.00000000000000000470e00)
_AFN = (-1.31696323418331795333e-01, -6.26456544431912369773e-01, -6.93158036036933542233e-01,
        -2.79779981545119124951e-01, -4.91900132609500318020e-02, -4.06265923594885404393e-03,
        -1.59276496239262096340e-04, -2.77649108155232920844e-06, -1.67787698489114633780e-08)
_AFD = (1.33560420706553243746e01, 3.26825032795224613948e01, 2.67367040941499554804e01, 9.18707402907259625840e00,
        1.47529146771666414581e00, 1.15687173795188044134e-01, 4.40291641615211203805e-03, 7.54720348287414296618e-05,
        4.51850092970580378464e-07)
_AGN = (1.97339932091685679179e-02, 3.91103029615688277255e-01, 1.06579897599595591108e00, 9.39169229816650230044e-01,
        3.51465656105547619242e-01, 6.33888919628925490927e-02, 5.85804113048388458567e-03, 2.82851600836737019778e-04,
        6.98793669997260967291e-06, 8.11789239554389293311e-08, 3.41551784765923618484e-10)
_AGD = (9.30892908077441974853e00, 1.98352928718312140417e01, 1.55646628932864612953e01, 5.47686069422975497931e00,
        9.54293611618961883998e-01, 8.64580826352392193095e-02, 4.12656523824222607191e-03, 1.01259085116509135510e-04,
        1.17166733214413521882e-06, 4.91834570062930015649e-09)


def _oscillating(xp, x):
    """``Ai`` for ``x < -2.09``."""
    zeta = -2.0 * x * xp.sqrt(-x) / 3.0
    z = 1.0 / zeta
    zz = z * z
    f = 1.0 + zz * polevl(zz, _AFN) / polevl(zz, _AFD)
    g = z * polevl(zz, _AGN) / polevl(zz, _AGD)
    t = zeta + 0.25 * 3.141592653589793
    return _ONE_OVER_SQRT_PI / xp.sqrt(xp.sqrt(-x)) * (xp.sin(t) * f - xp.cos(t) * g)


def _decaying(xp, x):
    """``Ai`` for ``x >= 2.09``."""
    zeta = 2.0 * x * xp.sqrt(x) / 3.0
    w = 1.0 / zeta
    ratio = polevl(w, _AN) / polevl(w, _AD)
    return _ONE_OVER_SQRT_PI * ratio / (2.0 * xp.sqrt(xp.sqrt(x)) * xp.exp(zeta))


def _maclaurin(xp, x):
    """``Ai = c1 f - c2 g`` by the series of ``f = sum 3^k (1/3)_k x^3k / (3k)!`` and ``g``, each element's sum
    stopped where PyTorch stops it (after the first term below epsilon relative to ``f``)."""
    z = x * x * x
    f, g, m, n = xp.ones_like(x), x.copy(), xp.ones_like(x), x.copy()
    active = xp.ones(x.shape, dtype=bool)
    k = 1.0
    while bool(active.any()):
        m_next = m * z / (k + 1) / (k + 2)
        n_next = n * z / (k + 2) / (k + 3)
        k += 3.0
        m = xp.where(active, m_next, m)
        n = xp.where(active, n_next, n)
        f = xp.where(active, f + m, f)
        g = xp.where(active, g + n, g)
        active &= xp.abs(m / f) > _EPSILON
    return _C1 * f - _C2 * g


def _airy_ai(xp, x):
    oscillating = x < _OSCILLATING_BELOW
    decaying = x >= _DECAYING_FROM
    middle = xp.where(oscillating | decaying, 0.0, x)  # NaN stays here and comes out NaN
    out = xp.where(oscillating, _oscillating(xp, xp.minimum(x, _OSCILLATING_BELOW)), _maclaurin(xp, middle))
    out = xp.where(decaying, _decaying(xp, xp.maximum(x, _DECAYING_FROM)), out)
    return xp.where(xp.isinf(x), xp.nan, xp.where(x > _ZERO_BEYOND, 0.0, out))


airy_ai = cephes_function("airy_ai", _airy_ai)
