"""Randomized leaky ReLU: in training each negative element gets its own slope, drawn uniformly from
``[lower, upper]``; in evaluation every slope is their mean, a plain leaky ReLU."""

from __future__ import annotations

import numpy as np

from trainer.autograd.op import Function
from trainer.backend import xp_of
from trainer.tensor import Tensor


class RRelu(Function):
    """``x`` where ``x > 0``, else ``x`` times a slope drawn from ``U(lower, upper)`` for that element; the gradient
    is the same slope (1 for positive elements)."""

    @staticmethod
    def forward(ctx, a, lower, upper, generator):
        xp = xp_of(a)
        kind = a.dtype if a.dtype in (np.float32, np.float64) else np.float32
        slopes = generator.rng.random(a.shape, dtype=kind) * (upper - lower) + lower
        ctx.slope = xp.where(a <= 0, slopes, 1).astype(a.dtype)
        return a * ctx.slope

    @staticmethod
    def backward(ctx, g):
        return g * ctx.slope

    @staticmethod
    def backward_graph(ctx, g):
        return g * Tensor._wrap(ctx.slope)


def rrelu(input, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False, inplace: bool = False):
    """Leaky ReLU with a random negative slope per element in ``[lower, upper]`` when ``training``, with their
    mean ``(lower + upper) / 2`` otherwise."""
    from trainer.nn.functional import _in_place
    from trainer.ops.activation import leaky_relu
    from trainer.random import device_generator

    if lower > upper:
        raise RuntimeError("Lower bound should be less than or equal to the upper bound")
    if training:
        result = RRelu.apply(input, lower=float(lower), upper=float(upper), generator=device_generator(input.device))
    else:
        result = leaky_relu(input, (lower + upper) / 2)
    return _in_place(input, result, inplace)


def rrelu_(input, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False):
    return rrelu(input, lower, upper, training, inplace=True)
