"""``trainer.signal.windows``: the window functions of ``torch.signal.windows``, with its arguments (``M``,
``sym``, ``dtype``, ``layout``, ``device``, ``requires_grad`` and each window's own parameters).

Each window is composed from differentiable trainer ops on PyTorch's ``linspace`` in the requested dtype, in the
same order of operations as PyTorch, so values agree to rounding and ``requires_grad=True`` gives a result that
records its graph back to that ``linspace``, as PyTorch's does. ``sym=False`` gives the periodic window.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from trainer import dtypes
from trainer.backend import cuda_context
from trainer.creation import _target, empty, ones
from trainer.layouts import strided
from trainer.ops.histogram import _linspace
from trainer.ops.special import i0
from trainer.ops.unary import cos, exp, sin, sqrt
from trainer.tensor import Tensor

__all__ = ["bartlett", "blackman", "cosine", "exponential", "gaussian", "general_cosine", "general_hamming",
           "hamming", "hann", "kaiser", "nuttall"]


def _checked_dtype(name: str, M: int, dtype, layout):  # noqa: N803 - PyTorch's argument name
    """The window's dtype after PyTorch's common checks: a non-negative length, the strided layout, and float32 or
    float64."""
    if M < 0:
        raise ValueError(f"{name} requires non-negative window length, got M={M}")
    if layout is not strided:
        raise ValueError(f"{name} is implemented for strided tensors only, got: {layout}")
    dt = dtypes.get_default_dtype() if dtype is None else dtypes.as_dtype(dtype)
    if dt not in (dtypes.float32, dtypes.float64):
        raise ValueError(f"{name} expects float32 or float64 dtypes, got: {dt}")
    return dt


def _trivial(M, dtype, device, requires_grad):  # noqa: N803
    """The empty window for ``M == 0``, all ones for ``M == 1``."""
    return (empty if M == 0 else ones)((M,), dtype=dtype, device=device, requires_grad=requires_grad)


def _ramp(start: float, end: float, M: int, dtype, device, requires_grad) -> Tensor:  # noqa: N803
    """PyTorch's ``linspace(start, end, M)`` in ``dtype``: the tensor every window is computed from."""
    dev, xp, dt = _target(device, dtype)
    with cuda_context(dev):
        ramp = Tensor._wrap(_linspace(xp, start, end, M, dt.np))
    return ramp.requires_grad_(True) if requires_grad else ramp


def _constant(values, dtype, device) -> Tensor:
    """``values`` (a number or a list) as a constant tensor of ``dtype``."""
    dev, xp, dt = _target(device, dtype)
    with cuda_context(dev):
        return Tensor._wrap(xp.asarray(values, dtype=dt.np))


def _span(M: int, sym: bool) -> int:  # noqa: N803
    """The denominator that spreads the window over ``M - 1`` steps when symmetric, ``M`` when periodic."""
    return M if not sym and M > 1 else M - 1


def exponential(M, *, center=None, tau=1.0, sym=True, dtype=None, layout=strided, device=None,  # noqa: N803
                requires_grad=False):
    """``exp(-|n - center| / tau)``; ``center`` defaults to the middle of the window."""
    dtype = _checked_dtype("exponential", M, dtype, layout)
    if tau <= 0:
        raise ValueError(f"Tau must be positive, got: {tau} instead.")
    if sym and center is not None:
        raise ValueError("Center must be None for symmetric windows")
    if M == 0:
        return _trivial(M, dtype, device, requires_grad)
    if center is None:
        center = _span(M, sym) / 2.0
    constant = 1 / tau
    k = _ramp(-center * constant, (-center + (M - 1)) * constant, M, dtype, device, requires_grad)
    return exp(-k.abs())


def cosine(M, *, sym=True, dtype=None, layout=strided, device=None, requires_grad=False):  # noqa: N803
    """``sin(pi (n + 0.5) / M)``, SciPy's cosine (sine) window."""
    dtype = _checked_dtype("cosine", M, dtype, layout)
    if M == 0:
        return _trivial(M, dtype, device, requires_grad)
    constant = math.pi / (M + 1 if not sym and M > 1 else M)
    return sin(_ramp(0.5 * constant, (0.5 + (M - 1)) * constant, M, dtype, device, requires_grad))


def gaussian(M, *, std=1.0, sym=True, dtype=None, layout=strided, device=None, requires_grad=False):  # noqa: N803
    """``exp(-(n - c)^2 / (2 std^2))`` centred on the middle of the window."""
    dtype = _checked_dtype("gaussian", M, dtype, layout)
    if std <= 0:
        raise ValueError(f"Standard deviation must be positive, got: {std} instead.")
    if M == 0:
        return _trivial(M, dtype, device, requires_grad)
    start = -_span(M, sym) / 2.0
    constant = 1 / (std * math.sqrt(2))
    k = _ramp(start * constant, (start + (M - 1)) * constant, M, dtype, device, requires_grad)
    return exp(-(k**2))


def kaiser(M, *, beta=12.0, sym=True, dtype=None, layout=strided, device=None, requires_grad=False):  # noqa: N803
    """``I0(sqrt(beta^2 - k^2)) / I0(beta)`` for ``k`` from ``-beta`` to ``beta``."""
    dtype = _checked_dtype("kaiser", M, dtype, layout)
    if beta < 0:
        raise ValueError(f"beta must be non-negative, got: {beta} instead.")
    if M <= 1:
        return _trivial(M, dtype, device, requires_grad)
    # PyTorch rounds beta and the step into the window's dtype before spreading them
    kind = dtype.np.type
    beta = kind(beta)
    constant = kind(2.0) * beta / kind(M if not sym else M - 1)
    end = min(beta, -beta + kind(M - 1) * constant)
    k = _ramp(float(-beta), float(end), M, dtype, device, requires_grad)
    beta_tensor = _constant(beta, dtype, device)
    return i0(sqrt(beta_tensor * beta_tensor - k**2)) / i0(beta_tensor)


def general_cosine(M, *, a, sym=True, dtype=None, layout=strided, device=None, requires_grad=False):  # noqa: N803
    """``sum_i (-1)^i a_i cos(2 pi i n / (M - 1))``, the family of Hann, Hamming, Blackman and Nuttall."""
    dtype = _checked_dtype("general_cosine", M, dtype, layout)
    if M <= 1:
        return _trivial(M, dtype, device, requires_grad)
    if not isinstance(a, Iterable):
        raise TypeError("Coefficients must be a list/tuple")
    a = list(a)
    if not a:
        raise ValueError("Coefficients cannot be empty")
    constant = 2 * math.pi / (M if not sym else M - 1)
    k = _ramp(0.0, (M - 1) * constant, M, dtype, device, requires_grad)
    signed = [(-1) ** i * w for i, w in enumerate(a)]
    coefficients = _constant(signed, dtype, device)
    orders = _constant(list(range(len(signed))), dtype, device)
    if requires_grad:
        coefficients.requires_grad_(True)
    return (coefficients.unsqueeze(-1) * cos(orders.unsqueeze(-1) * k)).sum(0)


def general_hamming(M, *, alpha=0.54, sym=True, dtype=None, layout=strided, device=None,  # noqa: N803
                    requires_grad=False):
    """``alpha - (1 - alpha) cos(2 pi n / (M - 1))``."""
    return general_cosine(M, a=[alpha, 1.0 - alpha], sym=sym, dtype=dtype, layout=layout, device=device,
                          requires_grad=requires_grad)


def hamming(M, *, sym=True, dtype=None, layout=strided, device=None, requires_grad=False):  # noqa: N803
    """The general Hamming window with ``alpha = 0.54``."""
    return general_hamming(M, sym=sym, dtype=dtype, layout=layout, device=device, requires_grad=requires_grad)


def hann(M, *, sym=True, dtype=None, layout=strided, device=None, requires_grad=False):  # noqa: N803
    """The general Hamming window with ``alpha = 0.5``."""
    return general_hamming(M, alpha=0.5, sym=sym, dtype=dtype, layout=layout, device=device,
                           requires_grad=requires_grad)


def blackman(M, *, sym=True, dtype=None, layout=strided, device=None, requires_grad=False):  # noqa: N803
    """The general cosine window with coefficients ``0.42, 0.5, 0.08``."""
    _checked_dtype("blackman", M, dtype, layout)
    return general_cosine(M, a=[0.42, 0.5, 0.08], sym=sym, dtype=dtype, layout=layout, device=device,
                          requires_grad=requires_grad)


def nuttall(M, *, sym=True, dtype=None, layout=strided, device=None, requires_grad=False):  # noqa: N803
    """Nuttall's minimum 4-term Blackman-Harris window."""
    return general_cosine(M, a=[0.3635819, 0.4891775, 0.1365995, 0.0106411], sym=sym, dtype=dtype, layout=layout,
                          device=device, requires_grad=requires_grad)


def bartlett(M, *, sym=True, dtype=None, layout=strided, device=None, requires_grad=False):  # noqa: N803
    """The triangle ``1 - |k|`` for ``k`` from -1 to 1."""
    dtype = _checked_dtype("bartlett", M, dtype, layout)
    if M <= 1:
        return _trivial(M, dtype, device, requires_grad)
    constant = 2 / (M if not sym else M - 1)
    return 1 - _ramp(-1.0, -1 + (M - 1) * constant, M, dtype, device, requires_grad).abs()
