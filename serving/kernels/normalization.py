"""Normalisation: BatchNormalization, InstanceNormalization, LRN, Layer/Group/RMS/Lp/MeanVariance
normalisation, and Dropout (identity at inference)."""

from __future__ import annotations

import math

import numpy as np

from serving.kernels.registry import kernel


def _compute_dtype(xp, dtype):
    """Statistics are taken in float32 at least: half precision loses too much over a reduction."""
    return xp.float32 if dtype.kind in "fV" and dtype.itemsize < 4 else dtype


def _per_channel(v, ndim):
    return v.reshape(1, -1, *([1] * (ndim - 2)))


def _affine(xp, x, a, b):
    """``x * a + b`` with per-channel ``a``/``b``: two passes, one allocation."""
    y = xp.multiply(x, _per_channel(a, x.ndim))
    y += _per_channel(b, x.ndim)
    return y


@kernel("BatchNormalization")
def BatchNormalization(
    ctx,
    x,
    scale,
    b,
    mean,
    var,
    *,
    consumed_inputs=None,
    epsilon=1e-5,
    is_test=0,
    momentum=0.9,
    spatial=1,
    training_mode=0,
):
    xp = ctx.xp
    if x.ndim < 2:
        raise ValueError(f"BatchNormalization expects (N, C, ...), got shape {tuple(x.shape)}")
    if ctx.opset >= 14:
        training = bool(training_mode)
    elif ctx.opset < 7:
        training = not is_test
    else:
        training = ctx.n_outputs > 1
    wide = _compute_dtype(xp, x.dtype)
    if not training:
        # Fold the statistics into one per-channel scale and shift before touching x.
        a = scale.astype(wide) / xp.sqrt(var.astype(wide) + epsilon)
        shift = b.astype(wide) - mean.astype(wide) * a
        return _affine(xp, x, a.astype(x.dtype), shift.astype(x.dtype))
    axes = (0, *range(2, x.ndim))
    xw = x.astype(wide, copy=False)
    batch_mean = xp.mean(xw, axis=axes)
    batch_var = xp.var(xw, axis=axes)
    a = scale.astype(wide) / xp.sqrt(batch_var + epsilon)
    y = _affine(xp, xw, a, b.astype(wide) - batch_mean * a).astype(x.dtype, copy=False)
    running_mean = (mean * momentum + batch_mean * (1 - momentum)).astype(mean.dtype)
    running_var = (var * momentum + batch_var * (1 - momentum)).astype(var.dtype)
    outputs = (y, running_mean, running_var, batch_mean.astype(mean.dtype), batch_var.astype(var.dtype))
    return outputs[: ctx.n_outputs] if ctx.n_outputs > 1 else y


def _standardise(xp, x, axes, epsilon):
    """``(x - mean) / sqrt(var + eps)`` over ``axes`` in the compute dtype, with the mean and 1/std kept."""
    xw = x.astype(_compute_dtype(xp, x.dtype), copy=False)
    mean = xp.mean(xw, axis=axes, keepdims=True)
    centred = xw - mean
    inv_std = 1 / xp.sqrt(xp.mean(centred * centred, axis=axes, keepdims=True) + epsilon)
    centred *= inv_std
    return centred, mean, inv_std


@kernel("InstanceNormalization")
def InstanceNormalization(ctx, x, scale, b, *, consumed_inputs=None, epsilon=1e-5):
    xp = ctx.xp
    normed, _, _ = _standardise(xp, x, tuple(range(2, x.ndim)), epsilon)
    return _affine(xp, normed, scale.astype(normed.dtype), b.astype(normed.dtype)).astype(x.dtype, copy=False)


@kernel("LRN")
def LRN(ctx, x, *, alpha=1e-4, beta=0.75, bias=1.0, size=None):
    xp = ctx.xp
    if size is None or size < 1:
        raise ValueError(f"LRN needs a positive size attribute, got {size}")
    channels = x.shape[1]
    before, after = (size - 1) // 2, math.ceil((size - 1) / 2)
    squared = x.astype(_compute_dtype(xp, x.dtype), copy=False) ** 2
    widths = [(0, 0), (before, after)] + [(0, 0)] * (x.ndim - 2)
    padded = xp.pad(squared, widths)
    # The window around channel c covers channels c - before .. c + after: one shifted slice per offset.
    total = padded[:, 0:channels].copy()
    for shift in range(1, size):
        total += padded[:, shift : shift + channels]
    return (x / (bias + (alpha / size) * total) ** beta).astype(x.dtype, copy=False)


def _stash_dtype(xp, dtype, stash_type):
    if stash_type == 1:
        return xp.float64 if dtype == np.float64 else xp.float32
    return dtype


def _standardise_rows(xp, x, epsilon):
    """``_standardise`` over the rows of a 2-D float32/float64 NumPy array, mean and 1/std per row.

    Row sums are BLAS matrix-vector products with a ones vector: NumPy reduces a short last axis row by row,
    several times slower than the whole normalisation otherwise costs.
    """
    n = x.shape[1]
    ones = xp.ones(n, dtype=x.dtype)
    mean = x @ ones
    mean /= n
    centred = x - mean[:, None]
    var = (centred * centred) @ ones
    var /= n
    var += epsilon
    inv_std = xp.reciprocal(xp.sqrt(var, out=var), out=var)
    centred *= inv_std[:, None]
    return centred, mean, inv_std


@kernel("LayerNormalization", since=17)
def LayerNormalization(ctx, x, scale, b=None, *, axis=-1, epsilon=1e-5, stash_type=1):
    xp = ctx.xp
    axis = axis + x.ndim if axis < 0 else axis
    if not 0 <= axis < x.ndim:
        raise ValueError(f"LayerNormalization axis {axis} is out of range for rank {x.ndim}")
    stash = _stash_dtype(xp, x.dtype, stash_type)
    if xp is np and stash in (np.float32, np.float64) and x.size:
        lead = x.shape[:axis]
        normed, mean, inv_std = _standardise_rows(xp, x.astype(stash, copy=False).reshape(math.prod(lead), -1),
                                                  epsilon)
        stats = lead + (1,) * (x.ndim - axis)
        normed, mean, inv_std = normed.reshape(x.shape), mean.reshape(stats), inv_std.reshape(stats)
    else:
        normed, mean, inv_std = _standardise(xp, x.astype(stash, copy=False), tuple(range(axis, x.ndim)), epsilon)
    normed *= scale.astype(stash, copy=False)
    if b is not None:
        normed += b.astype(stash, copy=False)
    y = normed.astype(x.dtype, copy=False)
    if ctx.n_outputs == 1:
        return y
    return (y, mean, inv_std)[: ctx.n_outputs]


@kernel("RMSNormalization", since=23)
def RMSNormalization(ctx, x, scale, *, axis=-1, epsilon=1e-5, stash_type=1):
    xp = ctx.xp
    axis = axis + x.ndim if axis < 0 else axis
    stash = _stash_dtype(xp, x.dtype, stash_type)
    xw = x.astype(stash, copy=False)
    inv_rms = 1 / xp.sqrt(xp.mean(xw * xw, axis=tuple(range(axis, x.ndim)), keepdims=True) + epsilon)
    return (xw * inv_rms * scale.astype(stash, copy=False)).astype(x.dtype, copy=False)


@kernel("GroupNormalization", since=18)
def GroupNormalization(ctx, x, scale, bias, *, epsilon=1e-5, num_groups=None, stash_type=1):
    xp = ctx.xp
    n, c = x.shape[:2]
    if num_groups is None or num_groups < 1 or c % num_groups:
        raise ValueError(f"GroupNormalization needs num_groups dividing the {c} channels, got {num_groups}")
    # Opset 18 took one scale/bias per group; 21 takes one per channel.
    per = num_groups if ctx.opset < 21 else c
    if scale.shape != (per,) or bias.shape != (per,):
        raise ValueError(
            f"GroupNormalization at opset {ctx.opset} expects scale and bias of shape ({per},), "
            f"got {tuple(scale.shape)} and {tuple(bias.shape)}"
        )
    stash = _stash_dtype(xp, x.dtype, stash_type)
    grouped = x.astype(stash, copy=False).reshape(n, num_groups, -1)
    normed, _, _ = _standardise(xp, grouped, (2,), epsilon)
    if ctx.opset < 21:
        normed = normed * scale.astype(stash).reshape(1, -1, 1) + bias.astype(stash).reshape(1, -1, 1)
        return normed.reshape(x.shape).astype(x.dtype, copy=False)
    normed = normed.reshape(x.shape)
    return _affine(xp, normed, scale.astype(stash), bias.astype(stash)).astype(x.dtype, copy=False)


@kernel("LpNormalization")
def LpNormalization(ctx, x, *, axis=-1, p=2):
    xp = ctx.xp
    if p == 1:
        norm = xp.sum(xp.abs(x), axis=axis, keepdims=True)
    elif p == 2:
        norm = xp.sqrt(xp.sum(x * x, axis=axis, keepdims=True))
    else:
        raise ValueError(f"LpNormalization supports p = 1 or 2, got {p}")
    # A zero vector stays zero instead of becoming NaN.
    return xp.where(norm == 0, 0, x / xp.where(norm == 0, 1, norm)).astype(x.dtype, copy=False)


@kernel("MeanVarianceNormalization", since=9)
def MeanVarianceNormalization(ctx, x, *, axes=(0, 2, 3)):
    xp = ctx.xp
    axes = tuple(axes)
    xw = x.astype(_compute_dtype(xp, x.dtype), copy=False)
    mean = xp.mean(xw, axis=axes, keepdims=True)
    std = xp.sqrt(xp.mean(xw * xw, axis=axes, keepdims=True) - mean * mean)
    return ((xw - mean) / (std + 1e-9)).astype(x.dtype, copy=False)


def _dropout(ctx, x, rate, training, seed):
    xp = ctx.xp
    if not training or rate == 0:
        if ctx.n_outputs == 1:
            return x
        return x, xp.ones(x.shape, dtype=bool) if ctx.outputs_wanted[1] else None
    if not 0 <= rate < 1:
        raise ValueError(f"Dropout ratio must be in [0, 1), got {rate}")
    # Host RandomState so a seeded node draws the same mask on every backend (and as the ONNX reference).
    keep = xp.asarray(np.random.RandomState(seed).uniform(0.0, 1.0, x.shape) >= rate)
    y = (x * keep * (1 / (1 - rate))).astype(x.dtype, copy=False)
    return (y, keep) if ctx.n_outputs > 1 else y


@kernel("Dropout")
def Dropout(ctx, x, *, consumed_inputs=None, is_test=0, ratio=0.5):
    # An inference runtime never trains the attribute-ratio forms: they are the identity.
    return _dropout(ctx, x, ratio, False, None)


@kernel("Dropout", since=12)
def Dropout_12(ctx, x, ratio=None, training_mode=None, *, seed=None):
    rate = 0.5 if ratio is None else float(ratio)
    return _dropout(ctx, x, rate, training_mode is not None and bool(training_mode), seed)
