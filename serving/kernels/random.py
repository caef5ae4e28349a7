"""Random generators: RandomNormal(Like), RandomUniform(Like), Bernoulli, Multinomial.

Each call draws from a fresh ``xp.random.default_rng``: seeded with the ``seed`` attribute when the node
has one (so a seeded node gives the same values on every run), from the OS's entropy otherwise. ONNX
does not fix the generator, so values match no other runtime; only their distribution, shape and dtype do.
"""

from __future__ import annotations

import numpy as np
from onnx import TensorProto
from onnx.helper import tensor_dtype_to_np_dtype

from serving.kernels.registry import kernel

_BFLOAT16 = np.dtype(tensor_dtype_to_np_dtype(TensorProto.BFLOAT16))


def _generator(xp, seed):
    return xp.random.default_rng(None if seed is None else int(seed))


def _float_dtype(dtype, like, op):
    """The output dtype: the ``dtype`` attribute, else the dtype of ``like``; it must be a float type."""
    resolved = np.dtype(tensor_dtype_to_np_dtype(dtype)) if dtype else np.dtype(like.dtype)
    if resolved.kind != "f" and resolved != _BFLOAT16:
        raise ValueError(f"{op} produces floats, but its output dtype would be {resolved}; set dtype to a float type")
    return resolved


def _draw_dtype(dtype):
    """The dtype to draw in: float64 for double outputs, float32 (which both generators support) otherwise."""
    return np.float64 if dtype == np.float64 else np.float32


def _normal(xp, shape, dtype, mean, scale, seed):
    values = _generator(xp, seed).standard_normal(tuple(shape), dtype=_draw_dtype(dtype))
    return (values * scale + mean).astype(dtype)


def _uniform(xp, shape, dtype, low, high, seed):
    values = _generator(xp, seed).random(tuple(shape), dtype=_draw_dtype(dtype))
    return (values * (high - low) + low).astype(dtype)


@kernel("RandomNormal")
def RandomNormal(ctx, *, shape, dtype=TensorProto.FLOAT, mean=0.0, scale=1.0, seed=None):
    out = _float_dtype(dtype, None, "RandomNormal")
    return _normal(ctx.xp, shape, out, mean, scale, seed)


@kernel("RandomUniform")
def RandomUniform(ctx, *, shape, dtype=TensorProto.FLOAT, high=1.0, low=0.0, seed=None):
    out = _float_dtype(dtype, None, "RandomUniform")
    return _uniform(ctx.xp, shape, out, low, high, seed)


@kernel("RandomNormalLike")
def RandomNormalLike(ctx, x, *, dtype=None, mean=0.0, scale=1.0, seed=None):
    out = _float_dtype(dtype, x, "RandomNormalLike")
    return _normal(ctx.xp, x.shape, out, mean, scale, seed)


@kernel("RandomUniformLike")
def RandomUniformLike(ctx, x, *, dtype=None, high=1.0, low=0.0, seed=None):
    out = _float_dtype(dtype, x, "RandomUniformLike")
    return _uniform(ctx.xp, x.shape, out, low, high, seed)


@kernel("Bernoulli", since=15)
def Bernoulli(ctx, x, *, dtype=None, seed=None):
    out = np.dtype(tensor_dtype_to_np_dtype(dtype)) if dtype else np.dtype(x.dtype)
    draws = _generator(ctx.xp, seed).random(x.shape, dtype=np.float64)
    return (draws < x).astype(out)


@kernel("Multinomial", since=7)
def Multinomial(ctx, x, *, dtype=TensorProto.INT32, sample_size=1, seed=None):
    """``sample_size`` class indices per batch row, drawn from the softmax of the row's logits ``x``."""
    xp = ctx.xp
    if x.ndim != 2:
        raise ValueError(f"Multinomial expects logits of shape (batch, classes), got {x.shape}")
    out = np.dtype(tensor_dtype_to_np_dtype(dtype))
    if out not in (np.dtype(np.int32), np.dtype(np.int64)):
        raise ValueError(f"Multinomial's dtype must be int32 or int64, got {out}")
    logits = x.astype(np.float64)
    weights = xp.exp(logits - logits.max(axis=1, keepdims=True))
    cdf = xp.cumsum(weights, axis=1)
    cdf /= cdf[:, -1:]
    draws = _generator(xp, seed).random((x.shape[0], sample_size), dtype=np.float64)
    # The drawn class is the number of cdf steps the uniform draw lies above.
    index = (draws[:, :, None] >= cdf[:, None, :]).sum(axis=2)
    return xp.minimum(index, x.shape[1] - 1).astype(out)
