"""BatchNormalization (running statistics), LayerNormalization (opset >= 17, else its formula), group norm,
InstanceNormalization."""

import numpy as np

from exporter.lowerings import lowering


def _split_affine(tensors, has_weight, has_bias):
    weight = tensors[0] if has_weight else None
    bias = tensors[int(has_weight)] if has_bias else None
    return weight, bias


def _normalized(g, x, axes, eps, dtype_of=None):
    """``(x - mean) / sqrt(var + eps)`` over ``axes``, from Reduce ops (``eps`` in ``dtype_of``'s dtype)."""
    centred = g.op("Sub", x, g.reduce("ReduceMean", x, axes, True))
    var = g.reduce("ReduceMean", g.op("Mul", centred, centred), axes, True)
    return g.op("Div", centred, g.op("Sqrt", g.op("Add", var, g.like(eps, dtype_of or x))))


def _affine(g, out, weight, bias, channel_shape):
    if weight is not None:
        out = g.op("Mul", out, g.op("Reshape", weight, g.ints(channel_shape)))
    if bias is not None:
        out = g.op("Add", out, g.op("Reshape", bias, g.ints(channel_shape)))
    return out


@lowering("BatchNorm")
def batch_norm(g, x, *tensors, training, momentum, eps, has_weight, has_bias, has_running):
    weight, bias = _split_affine(tensors, has_weight, has_bias)
    channels, rank = g.shape(x)[1], g.rank(x)
    if training:
        # batch statistics without a running estimate: the formula, per channel over every other axis
        normalized = _normalized(g, x, [0, *range(2, rank)], eps)
        return _affine(g, normalized, weight, bias, [channels] + [1] * (rank - 2))
    mean, var = tensors[-2:]
    dtype = g.dtype(x)
    scale = weight or g.const(np.ones(channels, dtype))
    shift = bias or g.const(np.zeros(channels, dtype))
    return g.op("BatchNormalization", x, scale, shift, mean, var, epsilon=float(eps))


@lowering("LayerNorm")
def layer_norm(g, x, *params, eps, has_weight, has_bias, normalized_shape):
    weight, bias = _split_affine(params, has_weight, has_bias)
    axis = -len(normalized_shape)
    if g.opset >= 17:
        scale = weight or g.const(np.ones(normalized_shape, g.dtype(x)))
        return g.op("LayerNormalization", x, scale, bias or "", axis=axis, epsilon=float(eps))
    normalized = _normalized(g, x, list(range(g.rank(x) + axis, g.rank(x))), eps)
    return _affine(g, normalized, weight, bias, list(normalized_shape))


@lowering("GroupNorm")
def group_norm(g, x, *params, eps, has_weight, has_bias, num_groups):
    weight, bias = _split_affine(params, has_weight, has_bias)
    grouped = g.op("Reshape", x, g.ints([0, num_groups, -1]))
    normalized = g.op("Reshape", _normalized(g, grouped, [2], eps, dtype_of=x), g.op("Shape", x))
    rank = g.rank(x)
    return _affine(g, normalized, weight, bias, [g.shape(x)[1]] + [1] * (rank - 2))


@lowering("InstanceNorm")
def instance_norm(g, x, *params, eps, has_weight, has_bias):
    weight, bias = _split_affine(params, has_weight, has_bias)
    channels, dtype = g.shape(x)[1], g.dtype(x)
    scale = weight or g.const(np.ones(channels, dtype))
    shift = bias or g.const(np.zeros(channels, dtype))
    return g.op("InstanceNormalization", x, scale, shift, epsilon=float(eps))
