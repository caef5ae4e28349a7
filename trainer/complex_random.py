"""Random complex tensors as PyTorch draws them: the real and imaginary parts independently, from ``rand``'s
uniform [0, 1) each, or from a normal of variance 1/2 each for ``randn`` (so that ``E|z|^2 = 1``)."""

from __future__ import annotations

import math

from trainer.backend import xp_of


def complex_draw(rng, method: str, shape: tuple, dt):
    """``shape`` complex samples of dtype ``dt`` from ``rng.<method>`` (``"random"`` or ``"standard_normal"``)."""
    parts = getattr(rng, method)((*shape, 2), dtype=dt.to_real().np)
    if method == "standard_normal":
        parts = parts * math.sqrt(0.5)
    out = xp_of(parts).empty(shape, dtype=dt.np)
    out.real, out.imag = parts[..., 0], parts[..., 1]
    return out
