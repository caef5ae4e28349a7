"""The Hurwitz zeta function ``zeta(x, q) = sum_k (q + k)^-x`` (``torch.special.zeta``), for real ``x`` and ``q``.

As Cephes' ``zeta``, which PyTorch uses: the first terms are summed directly until ``q + k > 9`` (at least nine of
them) or a term no longer changes the sum, and the rest comes from the Euler-Maclaurin tail with the Bernoulli
numbers of ``trainer.ops.special``, stopping at the first correction below machine precision. Every element runs
the same steps as PyTorch's scalar loop, so the edge cases agree too: ``x = 1`` is a pole, ``x < 1`` is NaN, a
non-positive integer ``q`` is a pole, and a negative non-integer ``q`` is only defined for an integer ``x``.

As in PyTorch, only ``q`` (``other``) is differentiable: ``d/dq zeta(x, q) = -x zeta(x + 1, q)``; backward through
``x`` raises ``NotImplementedError``.
"""

from __future__ import annotations

import math

import numpy as np

from trainer.autograd.op import Function
from trainer.backend import xp_of
from trainer.ops._operands import promote, quiet_fp_errors, unbroadcast
from trainer.ops.special import _BERNOULLI
from trainer.tensor import Tensor

_MACHEP = 1.11022302462515654042e-16
# (2j)! / B_2j, the denominators of the Euler-Maclaurin corrections
_EULER_MACLAURIN = tuple(math.factorial(2 * j) / b for j, b in enumerate(_BERNOULLI, 1))


def _hurwitz_zeta(xp, x, q):
    """``zeta(x, q)`` for float64 arrays broadcast together."""
    x, q = (a.copy() for a in xp.broadcast_arrays(x, q))
    with quiet_fp_errors(xp):
        pole = (x == 1) | (q <= 0) & (q == xp.floor(q))
        undefined = (x < 1) | (q <= 0) & (x != xp.floor(x))
        out = xp.where(pole, xp.inf, xp.nan)
        index = xp.nonzero((~pole & ~undefined).reshape(-1))[0]
        xs, a = x.reshape(-1)[index], q.reshape(-1)[index]
        s = a ** -xs
        b = xp.zeros_like(s)
        flat = out.reshape(-1)
        steps = 0
        while index.size:  # the directly summed head
            steps += 1
            a = a + 1
            b = a ** -xs
            s = s + b
            converged = (-_MACHEP * s < b) & (b < _MACHEP * s)
            flat[index[converged]] = s[converged]
            # PyTorch sums at least nine terms and goes on while q + k <= 9
            keep = ~converged & ((steps < 9) | (a <= 9))
            leaving = ~converged & ~keep
            if bool(leaving.any()):
                flat[index[leaving]] = _tail(xp, xs[leaving], a[leaving], b[leaving], s[leaving])
            index, xs, a, b, s = index[keep], xs[keep], a[keep], b[keep], s[keep]
        return flat.reshape(x.shape)


def _tail(xp, x, w, b, s):
    """The Euler-Maclaurin tail after the head's last term ``b = w^-x``, added to the head's sum ``s``."""
    s = s + b * w / (x - 1) - 0.5 * b
    done = xp.zeros(s.shape, dtype=bool)
    factor, k = xp.ones_like(s), 0.0
    for denominator in _EULER_MACLAURIN:
        factor = factor * (x + k)
        b = b / w
        t = factor * b / denominator
        s = xp.where(done, s, s + t)
        done = done | (xp.abs(t / s) < _MACHEP)
        factor = factor * (x + k + 1)
        b = b / w
        k += 2
    return s


class Zeta(Function):
    @staticmethod
    def forward(ctx, x, q):
        x64, q64 = x.astype(np.float64), q.astype(np.float64)
        ctx.save_for_backward(x64, q64)
        ctx.q_shape = q.shape
        return _hurwitz_zeta(xp_of(x), x64, q64).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        if ctx.needs_input_grad[0]:
            raise NotImplementedError("the derivative for 'zeta' is not implemented.")
        x, q = ctx.saved_tensors
        xp = xp_of(g)
        with quiet_fp_errors(xp):
            derivative = -x * _hurwitz_zeta(xp, x + 1, q)
        return None, unbroadcast((g * derivative).astype(g.dtype, copy=False), ctx.q_shape)


def zeta(input, other):  # noqa: A002 - PyTorch's name
    """The Hurwitz zeta function ``zeta(input, other)``, as ``torch.special.zeta``; either may be a number."""
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        raise TypeError(f"zeta() expects input or other to be a Tensor, got {type(input).__name__} and "
                        f"{type(other).__name__}")
    return Zeta.apply(*promote(input, other, min_category_float=True))
