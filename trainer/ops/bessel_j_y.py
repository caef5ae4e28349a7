"""``torch.special``'s Bessel functions of the first and second kind, ``bessel_j0/j1`` and ``bessel_y0/y1``.

PyTorch computes them with Cephes' approximations, and these follow the same formulas operation for operation so
that the values agree to rounding: up to ``x = 5`` rational functions of ``x^2`` (times ``log x`` terms for
``Y``), beyond it the asymptotic form ``sqrt(2 / (pi x)) (P cos(x - phase) - 5/x Q sin(x - phase))`` with rational
``P``, ``Q`` of ``25 / x^2`` and ``phase = pi/4`` (order 0) or ``3 pi/4`` (order 1). As in PyTorch: ``Y`` is
``-inf`` at 0 and NaN below it, everything is NaN at +-inf, and none of these is differentiable.

PyTorch evaluates the denominators ``RQ`` and ``QQ`` without the implied leading coefficient that Cephes' ``p1evl``
adds, so its values (and these) differ from SciPy's by up to about 1e-6 absolute between ``x = 1`` and ``x = 50``;
they are PyTorch's values, which is what a program ported from it expects.
"""

from __future__ import annotations

from trainer.ops._cephes import cephes_function, polevl

_TWO_OVER_PI = 0.636619772367581343075535053490057448
_SQRT_TWO_OVER_PI = 0.797884560802865355879892119868763737
_PHASE = (0.785398163397448309615660845819875721, 2.356194490192344928846982537459627163)

# asymptotic P = PP/PQ and Q = QP/QQ, per order
_PP = (
    (7.96936729297347051624e-04, 8.28352392107440799803e-02, 1.23953371646414299388e00, 5.44725003058768775090e00,
     8.74716500199817011941e00, 5.30324038235394892183e00, 9.99999999999999997821e-01),
    (7.62125616208173112003e-04, 7.31397056940917570436e-02, 1.12719608129684925192e00, 5.11207951146807644818e00,
     8.42404590141772420927e00, 5.21451598682361504063e00, 1.00000000000000000254e00),
)
_PQ = (
    (9.24408810558863637013e-04, 8.56288474354474431428e-02, 1.25352743901058953537e00, 5.47097740330417105182e00,
     8.76190883237069594232e00, 5.30605288235394617618e00, 1.00000000000000000218e00),
    (5.71323128072548699714e-04, 6.88455908754495404082e-02, 1.10514232634061696926e00, 5.07386386128601488557e00,
     8.39985554327604159757e00, 5.20982848682361821619e00, 9.99999999999999997461e-01),
)
_QP = (
    (-1.13663838898469149931e-02, -1.28252718670509318512e00, -1.95539544257735972385e01, -9.32060152123768231369e01,
     -1.77681167980488050595e02, -1.47077505154951170175e02, -5.14105326766599330220e01, -6.05014350600728481186e00),
    (5.10862594750176621635e-02, 4.98213872951233449420e00, 7.58238284132545283818e01, 3.66779609360150777800e02,
     7.10856304998926107277e02, 5.97489612400613639965e02, 2.11688757100572135698e02, 2.52070205858023719784e01),
)
_QQ = (
    (6.43178256118178023184e01, 8.56430025976980587198e02, 3.88240183605401609683e03, 7.24046774195652478189e03,
     5.93072701187316984827e03, 2.06209331660327847417e03, 2.42005740240291393179e02),
    (7.42373277035675149943e01, 1.05644886038262816351e03, 4.98641058337653607651e03, 9.56231892404756170795e03,
     7.99704160447350683650e03, 2.82619278517639096600e03, 3.36093607810698293419e02),
)
# J below x = 5: RP/RQ times factors that vanish at the first two zeros (their squares are _J_ZEROS_SQUARED)
_RP = (
    (-4.79443220978201773821e09, 1.95617491946556577543e12, -2.49248344360967716204e14, 9.70862251047306323952e15),
    (-8.99971225705559398224e08, 4.52228297998194034323e11, -7.27494245221818276015e13, 3.68295732863852883286e15),
)
_RQ = (
    (4.99563147152651017219e02, 1.73785401676374683123e05, 4.84409658339962045305e07, 1.11855537045356834862e10,
     2.11277520115489217587e12, 3.10518229857422583814e14, 3.18121955943204943306e16, 1.71086294081043136091e18),
    (6.20836478118054335476e02, 2.56987256757748830383e05, 8.35146791431949253037e07, 2.21511595479792499675e10,
     4.74914122079991414898e12, 7.84369607876235854894e14, 8.95222336184627338078e16, 5.32278620332680085395e18),
)
_J_ZEROS_SQUARED = (
    (5.78318596294678452118e00, 3.04712623436620863991e01),
    (1.46819706421238932572e01, 4.92184563216946036703e01),
)
# Y below x = 5: YP/YQ plus the log x J terms
_YP = (
    (1.55924367855235737965e04, -1.46639295903971606143e07, 5.43526477051876500413e09, -9.82136065717911466409e11,
     8.75906394395366999549e13, -3.46628303384729719441e15, 4.42733268572569800351e16, -1.84950800436986690637e16),
    (1.26320474790178026440e09, -6.47355876379160291031e11, 1.14509511541823727583e14, -8.12770255501325109621e15,
     2.02439475713594898196e17, -7.78877196265950026825e17),
)
_YQ = (
    (1.04128353664259848412e03, 6.26107330137134956842e05, 2.68919633393814121987e08, 8.64002487103935000337e10,
     2.02979612750105546709e13, 3.17157752842975028269e15, 2.50596256172653059228e17),
    (5.94301592346128195359e02, 2.35564092943068577943e05, 7.34811944459721705660e07, 1.87601316108706159478e10,
     3.88231277496238566008e12, 6.20557727146953693363e14, 6.87141087355300489866e16, 3.97270608116560655612e18),
)


def _asymptotic(xp, x, order, second_kind):
    """The large-``x`` form of ``J_order`` (or ``Y_order``) for ``x > 0``."""
    # PyTorch writes 25 / x^2 as 25 / (x x) for order 0 and (5 / x)(5 / x) for order 1
    w = 25.0 / (x * x) if order == 0 else 5.0 / x * (5.0 / x)
    p = polevl(w, _PP[order]) / polevl(w, _PQ[order])
    q = polevl(w, _QP[order]) / polevl(w, _QQ[order])
    shifted = x - _PHASE[order]
    if second_kind:
        wave = p * xp.sin(shifted) + 5.0 / x * q * xp.cos(shifted)
    else:
        wave = p * xp.cos(shifted) - 5.0 / x * q * xp.sin(shifted)
    return wave * _SQRT_TWO_OVER_PI / xp.sqrt(x)


def _j0(xp, x):
    x = xp.abs(x)
    z = x * x
    first, second = _J_ZEROS_SQUARED[0]
    near = (z - first) * (z - second) * polevl(z, _RP[0]) / polevl(z, _RQ[0])
    near = xp.where(x < 1e-5, 1.0 - z / 4.0, near)
    return xp.where(x <= 5.0, near, _asymptotic(xp, x, 0, second_kind=False))


def _j1(xp, x):
    z = x * x
    first, second = _J_ZEROS_SQUARED[1]
    # odd in x: the rational form keeps the sign (and -0.0) of x itself
    near = polevl(z, _RP[1]) / polevl(z, _RQ[1]) * x * (z - first) * (z - second)
    far = _asymptotic(xp, xp.abs(x), 1, second_kind=False)
    return xp.where(xp.abs(x) <= 5.0, near, xp.where(x < 0, -far, far))


def _y0(xp, x):
    z = x * x
    near = polevl(z, _YP[0]) / polevl(z, _YQ[0]) + _TWO_OVER_PI * xp.log(x) * _j0(xp, x)
    return _second_kind(xp, x, near, _asymptotic(xp, x, 0, second_kind=True))


def _y1(xp, x):
    z = x * x
    near = x * (polevl(z, _YP[1]) / polevl(z, _YQ[1])) + _TWO_OVER_PI * (_j1(xp, x) * xp.log(x) - 1.0 / x)
    return _second_kind(xp, x, near, _asymptotic(xp, x, 1, second_kind=True))


def _second_kind(xp, x, near, far):
    """``Y``'s branches joined, with PyTorch's ``-inf`` at 0 (either sign) and NaN for negative ``x``."""
    near = xp.where(x < 0, xp.nan, xp.where(x == 0, -xp.inf, near))
    return xp.where(x <= 5.0, near, far)


bessel_j0 = cephes_function("bessel_j0", _j0)
bessel_j1 = cephes_function("bessel_j1", _j1)
bessel_y0 = cephes_function("bessel_y0", _y0)
bessel_y1 = cephes_function("bessel_y1", _y1)
