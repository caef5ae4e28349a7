"""Window functions for spectral analysis, as PyTorch defines them: hann, hamming, blackman, bartlett and kaiser.

Each is computed in the requested floating dtype with PyTorch's sequence of operations, so float32 windows
agree with PyTorch's to the last bit or two. ``periodic=True`` (the default) gives the first ``window_length``
values of the symmetric window one longer, the form spectral analysis wants.
"""

from __future__ import annotations

import math

from trainer.backend import cuda_context
from trainer.creation import _finish, _target


def _window(name, window_length, periodic, dtype, device, requires_grad, values):
    """Validate the arguments, then ``values(xp, n, dtype)`` for the symmetric window of length ``n`` (one longer
    when ``periodic``), cut back to ``window_length``."""
    if window_length < 0:
        raise RuntimeError(f"{name} requires non-negative window_length, got window_length={window_length}")
    dev, xp, dt = _target(device, dtype)
    if not dt.is_floating_point:
        raise RuntimeError(f"{name} expects floating point dtypes, got: {dt.name}")
    with cuda_context(dev):
        if window_length <= 1:
            return _finish(xp.ones(window_length, dt.np), requires_grad)
        n = window_length + 1 if periodic else window_length
        return _finish(values(xp, n, dt.np.type)[:window_length].astype(dt.np, copy=False), requires_grad)


def _positions(xp, n, kind, scale):
    """``0, 1, ..., n - 1`` times ``scale``, in ``kind``."""
    return xp.arange(n).astype(kind) * kind(scale)


def _raised_cosine(alpha, beta):
    """The values of ``alpha - beta * cos(2 pi k / (N - 1))``."""
    def values(xp, n, kind):
        return xp.cos(_positions(xp, n, kind, 2 * math.pi / (n - 1))) * kind(-beta) + kind(alpha)

    return values


def hamming_window(window_length, periodic=True, alpha=0.54, beta=0.46, *, dtype=None, device=None,
                   requires_grad=False):
    """``alpha - beta * cos(2 pi k / (N - 1))``."""
    return _window("hamming_window", window_length, periodic, dtype, device, requires_grad,
                   _raised_cosine(alpha, beta))


def hann_window(window_length, periodic=True, *, dtype=None, device=None, requires_grad=False):
    """``0.5 - 0.5 * cos(2 pi k / (N - 1))``: the Hamming window with alpha = beta = 0.5."""
    return _window("hann_window", window_length, periodic, dtype, device, requires_grad, _raised_cosine(0.5, 0.5))


def blackman_window(window_length, periodic=True, *, dtype=None, device=None, requires_grad=False):
    """``0.42 - 0.5 * cos(2 pi k / (N - 1)) + 0.08 * cos(4 pi k / (N - 1))``."""
    def values(xp, n, kind):
        angle = _positions(xp, n, kind, math.pi / (n - 1))
        return xp.cos(angle * kind(4)) * kind(0.08) - xp.cos(angle * kind(2)) * kind(0.5) + kind(0.42)

    return _window("blackman_window", window_length, periodic, dtype, device, requires_grad, values)


def bartlett_window(window_length, periodic=True, *, dtype=None, device=None, requires_grad=False):
    """The triangle ``2k / (N - 1)`` rising to 1 in the middle and falling back to 0."""
    def values(xp, n, kind):
        ramp = _positions(xp, n, kind, 2.0 / (n - 1))
        rising = (n - 1) // 2 + 1
        ramp[rising:] = kind(2) - ramp[rising:]
        return ramp

    return _window("bartlett_window", window_length, periodic, dtype, device, requires_grad, values)


def kaiser_window(window_length, periodic=True, beta=12.0, *, dtype=None, device=None, requires_grad=False):
    """``I0(beta * sqrt(1 - ((k - a) / a)^2)) / I0(beta)`` with ``a = (N - 1) / 2`` and ``I0`` the modified Bessel
    function of order zero."""
    def values(xp, n, kind):
        centre = kind((n - 1) / 2.0)
        ratio = (xp.arange(n).astype(kind) - centre) / centre
        return (xp.i0(kind(beta) * xp.sqrt(xp.abs(kind(1) - ratio * ratio))) / xp.i0(kind(beta))).astype(kind)

    return _window("kaiser_window", window_length, periodic, dtype, device, requires_grad, values)
