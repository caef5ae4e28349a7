"""Convolutions of complex inputs and weights, composed from real ones with Gauss's trick as PyTorch does: three
real convolutions instead of four. Being a composition of differentiable real ops, it has gradients of any order
(PyTorch's conjugate Wirtinger convention, through ``real``/``imag``/``complex``) for free."""

from __future__ import annotations

from trainer.ops.complex_ops import complex, imag, real


def gauss_conv(real_conv, input, weight, bias=None):  # noqa: A002 - PyTorch's name
    """``real_conv(x, w)`` (bias-free, linear in each argument) extended to complex ``input`` and ``weight``:
    ``(a + ib) * (c + id) = (ac - bd) + i((a + b)(c + d) - ac - bd)``; ``bias`` is added per output channel."""
    a, b = real(input), imag(input)
    c, d = real(weight), imag(weight)
    ac, bd = real_conv(a, c), real_conv(b, d)
    out = complex(ac - bd, real_conv(a + b, c + d) - ac - bd)
    return out if bias is None else out + bias.reshape(-1, *(1,) * (out.ndim - 2))
