"""Layer norm, group norm and instance norm, each one fused op with a hand-written backward.

Both normalise the input viewed as rows ``(R, M)`` (zero mean, unit biased variance per row) and
then scale and shift it with per-feature parameters, the input viewed as ``(A, P, B)`` where ``P``
is the parameters' length. They differ only in those two views:

- layer norm: rows are the trailing ``normalized_shape`` elements; affine view ``(R, M, 1)``;
- group norm: rows are the elements of one group of channels of one sample; affine view ``(N, C, spatial)``;
- instance norm: group norm with one channel per group.
"""

from __future__ import annotations

import math

from trainer.autograd.higher_order import graph_tensors
from trainer.autograd.op import Function
from trainer.backend import xp_of
from trainer.ops.bfloat16_opmath import bfloat16_opmath
from trainer.ops.linalg import _same_dtype


def _normalize_rows(x2, eps):
    """``(x - mean) / sqrt(var + eps)`` per row of ``x2``, and the mean and ``1/sqrt(var + eps)`` it used."""
    xp = xp_of(x2)
    mean = x2.mean(axis=1, keepdims=True)
    centred = x2 - mean
    rstd = 1 / xp.sqrt((centred * centred).mean(axis=1, keepdims=True) + eps)
    return centred * rstd, mean, rstd


def _normalize_rows_backward(g_hat, x_hat, rstd):
    """The gradient through ``_normalize_rows`` given the gradient of its output, vectorised over rows."""
    return rstd * (g_hat - g_hat.mean(axis=1, keepdims=True) - x_hat * (g_hat * x_hat).mean(axis=1, keepdims=True))


@bfloat16_opmath
class _AffineNormalization(Function):
    """Shared forward/backward; a subclass gives ``_views(shape, **layout) -> (rows_shape, affine_shape)``."""

    @staticmethod
    def forward(ctx, x, *params, eps, has_weight, has_bias, **layout):
        rows, affine = ctx._views(x.shape, **layout)
        weight = params[0] if has_weight else None
        bias = params[-1] if has_bias else None
        x_hat, mean, rstd = _normalize_rows(x.reshape(rows), eps)
        out = x_hat.reshape(affine)
        if weight is not None:
            out = out * weight.reshape(-1, 1)
        if bias is not None:
            out = out + bias.reshape(-1, 1)
        # the input and its statistics rather than x_hat, as PyTorch keeps: a create_graph backward differentiates
        # x_hat by x, and the input is often alive anyway where x_hat is not
        ctx.save_for_backward(x, mean, rstd, weight)
        ctx.layout = (x.shape, rows, affine, params[0].shape if params else None, has_bias)
        ctx.eps = eps
        return out.reshape(x.shape).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        x, mean, rstd, weight = ctx.saved_tensors
        shape, rows, affine, param_shape, has_bias = ctx.layout
        x_hat = (x.reshape(rows) - mean) * rstd
        need_x, *need_params = ctx.needs_input_grad
        g3 = g.reshape(affine)
        gx = None
        if need_x:
            g_hat = g3 * weight.reshape(-1, 1) if weight is not None else g3
            gx = _normalize_rows_backward(g_hat.reshape(rows), x_hat, rstd).reshape(shape)
        param_grads = []
        if weight is not None:
            param_grads.append((g3 * x_hat.reshape(affine)).sum(axis=(0, 2)).reshape(param_shape)
                               if need_params[0] else None)
        if has_bias:
            param_grads.append(g3.sum(axis=(0, 2)).reshape(param_shape) if need_params[-1] else None)
        return (gx, *param_grads)

    @staticmethod
    def backward_graph(ctx, g):
        x, _, _, weight = graph_tensors(ctx)
        shape, rows, affine, param_shape, has_bias = ctx.layout
        need_x, *need_params = ctx.needs_input_grad
        x2 = x.reshape(rows)
        centred = x2 - x2.mean(1, keepdim=True)
        rstd = ((centred * centred).mean(1, keepdim=True) + ctx.eps).rsqrt()
        x_hat = centred * rstd
        g3 = g.reshape(affine)
        gx = None
        if need_x:
            g_hat = (g3 * weight.reshape(-1, 1) if weight is not None else g3).reshape(rows)
            gx = rstd * (g_hat - g_hat.mean(1, keepdim=True) - x_hat * (g_hat * x_hat).mean(1, keepdim=True))
            gx = gx.reshape(shape)
        param_grads = []
        if weight is not None:
            param_grads.append((g3 * x_hat.reshape(affine)).sum((0, 2)).reshape(param_shape)
                               if need_params[0] else None)
        if has_bias:
            param_grads.append(g3.sum((0, 2)).reshape(param_shape) if need_params[-1] else None)
        return (gx, *param_grads)


class LayerNorm(_AffineNormalization):
    @staticmethod
    def _views(shape, normalized_shape):
        features = math.prod(normalized_shape)
        count = math.prod(shape) // features if features else 0
        return (count, features), (count, features, 1)


class GroupNorm(_AffineNormalization):
    @staticmethod
    def _views(shape, num_groups):
        batch, channels = shape[0], shape[1]
        spatial = math.prod(shape[2:])
        return (batch * num_groups, channels // num_groups * spatial), (batch, channels, spatial)


class InstanceNorm(_AffineNormalization):
    @staticmethod
    def _views(shape):
        batch, channels = shape[0], shape[1]
        spatial = math.prod(shape[2:])
        return (batch * channels, spatial), (batch, channels, spatial)


def _apply(cls, input, weight, bias, eps, **layout):
    params = [p for p in (weight, bias) if p is not None]
    return cls.apply(input, *params, eps=eps, has_weight=weight is not None, has_bias=bias is not None, **layout)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps: float = 1e-5):
    """Normalise over the trailing ``normalized_shape`` dims, then ``* weight + bias`` (each of that shape)."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if not shape or input.ndim < len(shape) or tuple(input.shape[input.ndim - len(shape):]) != shape:
        dims = ", ".join(str(s) for s in shape)
        raise RuntimeError(f"Given normalized_shape={list(shape)}, expected input with shape [*, {dims}], but got "
                           f"input of size{list(input.shape)}")
    for name, param in (("weight", weight), ("bias", bias)):
        if param is not None and tuple(param.shape) != shape:
            raise RuntimeError(f"Expected {name} to be of same shape as normalized_shape, but got {name} of shape "
                               f"{list(param.shape)} and normalized_shape = {list(shape)}")
    _same_dtype("layer_norm", input, weight, bias)
    return _apply(LayerNorm, input, weight, bias, eps, normalized_shape=shape)


def group_norm(input, num_groups: int, weight=None, bias=None, eps: float = 1e-5):
    """Normalise each group of ``num_groups`` channel groups per sample of ``(N, C, *)``, then a per-channel affine."""
    if input.ndim < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received {input.ndim}")
    channels = input.shape[1]
    if num_groups <= 0 or channels % num_groups:
        raise RuntimeError(f"Expected number of channels in input to be divisible by num_groups, but got input of "
                           f"shape {list(input.shape)} and num_groups={num_groups}")
    for name, param in (("weight", weight), ("bias", bias)):
        if param is not None and tuple(param.shape) != (channels,):
            raise RuntimeError(f"Expected {name} to be a vector of size equal to the number of channels in input, "
                               f"but got {name} of shape {list(param.shape)} and input of shape {list(input.shape)}")
    _same_dtype("group_norm", input, weight, bias)
    return _apply(GroupNorm, input, weight, bias, eps, num_groups=num_groups)


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats: bool = True,
                  momentum: float = 0.1, eps: float = 1e-5):
    """Normalise each channel of each sample of ``(N, C, *)`` over its spatial dims, then a per-channel affine.
    With ``use_input_stats`` and running statistics given, those move towards the batch's average per-instance
    mean and unbiased variance; without ``use_input_stats`` the running statistics normalise (``batch_norm``)."""
    from trainer.ops.batch_norm import batch_norm

    if input.ndim < 3:
        raise ValueError(f"instance_norm: expected an input of shape (N, C, *) with at least one spatial dim, got "
                         f"{input.ndim}D input of shape {list(input.shape)}")
    channels = input.shape[1]
    for name, param in (("weight", weight), ("bias", bias), ("running_mean", running_mean),
                        ("running_var", running_var)):
        if param is not None and tuple(param.shape) != (channels,):
            raise RuntimeError(f"instance_norm: expected {name} of shape [{channels}] for input of shape "
                               f"{list(input.shape)}, got {list(param.shape)}")
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise ValueError("Expected running_mean and running_var to be defined when use_input_stats is false")
        return batch_norm(input, running_mean, running_var, weight, bias, False, momentum, eps)
    if math.prod(input.shape[2:]) == 1:
        raise ValueError(f"Expected more than 1 spatial element when training, got input size {list(input.shape)}")
    _same_dtype("instance_norm", input, weight, bias)
    if running_mean is not None and running_var is not None:
        _update_running_stats(input, running_mean, running_var, momentum)
    return _apply(InstanceNorm, input, weight, bias, eps)


def _update_running_stats(input, running_mean, running_var, momentum):
    x = input._data.reshape(input.shape[0], input.shape[1], -1)
    count = x.shape[2]
    mean = x.mean(axis=2)
    centred = x - mean[..., None]
    unbiased_var = (centred * centred).sum(axis=2) / (count - 1)
    for stat, batch_value in ((running_mean, mean), (running_var, unbiased_var)):
        stat._data[...] = (1 - momentum) * stat._data + momentum * batch_value.mean(axis=0)
        stat._version_counter.value += 1
