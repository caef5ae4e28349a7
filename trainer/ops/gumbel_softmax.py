"""``gumbel_softmax``: a differentiable sample from a categorical distribution (the Gumbel-softmax, or Concrete,
relaxation); ``hard`` gives one-hot samples whose gradient is the relaxed one (straight-through)."""

from __future__ import annotations

import warnings

import numpy as np

from trainer.autograd.op import Function
from trainer.backend import xp_of
from trainer.type_info import array_finfo


class AddGumbelNoise(Function):
    """``logits`` plus independent standard Gumbel samples ``-log(E)``, ``E ~ Exp(1)``. The noise is constant to
    autograd: the gradient reaches ``logits`` unchanged. An op of its own so that an export refuses it instead of
    baking one draw into the graph."""

    @staticmethod
    def forward(ctx, logits, generator):
        xp = xp_of(logits)
        kind = logits.dtype if logits.dtype in (np.float32, np.float64) else np.float32
        # an exponential draw can round to 0 in float32; its log must stay finite
        draws = xp.maximum(generator.rng.standard_exponential(logits.shape, dtype=kind), array_finfo(kind).tiny)
        gumbels = -xp.log(draws)
        return (logits + gumbels).astype(logits.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        return g


def gumbel_softmax(logits, tau: float = 1, hard: bool = False, eps: float = 1e-10, dim: int = -1):
    """``softmax((logits + g) / tau)`` along ``dim`` for Gumbel noise ``g``; with ``hard``, the one-hot of its
    largest entry, differentiated as the soft sample."""
    from trainer.creation import zeros_like
    from trainer.random import device_generator

    if eps != 1e-10:
        warnings.warn("`eps` parameter is deprecated and has no effect.", stacklevel=2)
    y_soft = (AddGumbelNoise.apply(logits, generator=device_generator(logits.device)) / tau).softmax(dim)
    if not hard:
        return y_soft
    index = y_soft.max(dim, keepdim=True)[1]
    y_hard = zeros_like(logits).scatter(dim, index, value=1.0)
    return y_hard - y_soft.detach() + y_soft
