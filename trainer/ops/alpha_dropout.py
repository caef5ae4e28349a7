"""Alpha dropout: dropout for self-normalising (SELU) networks. A dropped element takes SELU's negative
saturation value instead of zero, and an affine correction keeps the mean and variance of standardised inputs."""

from __future__ import annotations

import math

import numpy as np

from trainer.autograd.op import Function
from trainer.ops.activation import SELU_ALPHA, SELU_SCALE
from trainer.tensor import Tensor

_SATURATION = SELU_ALPHA * SELU_SCALE  # minus SELU's limit at -inf: what a dropped element stands for


class AlphaDropout(Function):
    """``a * x + b`` for kept elements and ``a * (-alpha') + b`` for dropped ones, a mask element kept with
    probability ``1 - p``; ``mask_shape`` (broadcast to the input's) drops whole channels."""

    @staticmethod
    def forward(ctx, x, p, generator, mask_shape=None):
        keep = generator.rng.random(x.shape if mask_shape is None else mask_shape, dtype=np.float32) >= p
        scale = 1.0 / math.sqrt((_SATURATION**2 * p + 1) * (1 - p))
        ctx.factor = (keep * scale).astype(x.dtype)
        shift = ((keep - 1.0) * (_SATURATION * scale) + _SATURATION * scale * p).astype(x.dtype)
        return x * ctx.factor + shift

    @staticmethod
    def backward(ctx, g):
        return g * ctx.factor

    @staticmethod
    def backward_graph(ctx, g):
        return g * Tensor._wrap(ctx.factor)


def _alpha_dropout(input, p, training, inplace, feature: bool):
    from trainer.nn.functional import _in_place
    from trainer.random import device_generator

    if not 0 <= p <= 1:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if p == 0 or not training or input.numel() == 0:
        return input
    if p == 1:
        return _in_place(input, input * 0.0, inplace)
    mask_shape = None
    if feature:
        if input.ndim < 2:
            raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
        mask_shape = tuple(input.shape[:2]) + (1,) * (input.ndim - 2)
    result = AlphaDropout.apply(input, p=float(p), generator=device_generator(input.device), mask_shape=mask_shape)
    return _in_place(input, result, inplace)


def alpha_dropout(input, p: float = 0.5, training: bool = False, inplace: bool = False):
    """Alpha dropout of single elements, active only when ``training``."""
    return _alpha_dropout(input, p, training, inplace, feature=False)


def feature_alpha_dropout(input, p: float = 0.5, training: bool = False, inplace: bool = False):
    """Alpha dropout of whole channels (dim 1 of an input with at least 2 dims), active only when ``training``."""
    return _alpha_dropout(input, p, training, inplace, feature=True)
