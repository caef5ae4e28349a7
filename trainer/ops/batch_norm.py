"""Batch norm as one fused op with a hand-written backward.

The input ``(N, C, *)`` is viewed as ``(N, C, S)``; statistics are per channel over axes 0 and 2.
In training mode the batch's biased variance normalises and its unbiased variance feeds the running
estimate, as in PyTorch; otherwise the running statistics normalise and act as constants.
"""

from __future__ import annotations

import math

from trainer.autograd.higher_order import graph_tensors
from trainer.autograd.op import Function
from trainer.backend import xp_of
from trainer.ops.bfloat16_opmath import bfloat16_opmath
from trainer.ops.linalg import _same_dtype

_AXES = (0, 2)


@bfloat16_opmath(updates_inputs=True)
class BatchNorm(Function):
    """Inputs: ``x``, then ``weight`` and ``bias`` if present, then ``running_mean`` and ``running_var`` if
    present. Training mode updates the running statistics in place."""

    @staticmethod
    def forward(ctx, x, *tensors, training, momentum, eps, has_weight, has_bias, has_running):
        xp = xp_of(x)
        weight = tensors[0] if has_weight else None
        bias = tensors[int(has_weight)] if has_bias else None
        running_mean, running_var = tensors[-2:] if has_running else (None, None)
        channels = x.shape[1]
        x3 = x.reshape(x.shape[0], channels, -1)
        if training:
            count = x3.shape[0] * x3.shape[2]
            mean = x3.mean(axis=_AXES)
            centred = x3 - mean.reshape(1, -1, 1)
            var = (centred * centred).mean(axis=_AXES)
            if has_running:
                # running_var tracks the unbiased variance; normalisation uses the biased one
                running_mean[...] = (1 - momentum) * running_mean + momentum * mean
                running_var[...] = (1 - momentum) * running_var + momentum * var * (count / (count - 1))
        else:
            # copies: a later training step updates the buffers in place, and backward reads the mean
            mean, var = running_mean.astype(x.dtype), running_var.astype(x.dtype)
            centred = x3 - mean.reshape(1, -1, 1)
        rstd = (1 / xp.sqrt(var + eps)).astype(x.dtype, copy=False).reshape(1, -1, 1)
        # one scale per channel, applied in place to the fresh ``centred``: two passes over the input, not three
        out = centred
        out *= rstd if weight is None else rstd * weight.reshape(1, -1, 1)
        if bias is not None:
            out += bias.reshape(1, -1, 1)
        # the input and its statistics rather than x_hat, as PyTorch keeps: a create_graph backward differentiates
        # x_hat by x, and the input is often alive anyway where x_hat is not
        ctx.save_for_backward(x, mean.reshape(1, -1, 1), rstd, weight)
        ctx.layout = (x.shape, training, has_bias, has_running)
        ctx.eps = eps
        return out.reshape(x.shape).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        x, mean, rstd, weight = ctx.saved_tensors
        shape, training, has_bias, has_running = ctx.layout
        need_x, *need_rest = ctx.needs_input_grad
        need_weight = weight is not None and need_rest[0]
        need_bias = has_bias and need_rest[int(weight is not None)]
        centred = x.reshape(shape[0], shape[1], -1) - mean
        g3 = g.reshape(centred.shape)
        # per-channel sums; x_hat = centred * rstd is folded into per-channel factors instead of materialised
        sum_g = g3.sum(axis=_AXES, keepdims=True) if need_bias or (need_x and training) else None
        sum_g_centred = (g3 * centred).sum(axis=_AXES, keepdims=True) if need_weight or (need_x and training) else None
        gx = None
        if need_x:
            scale = rstd if weight is None else rstd * weight.reshape(1, -1, 1)
            gx = g3 * scale
            if training:
                # the closed form for batch statistics: g_hat - mean(g_hat) - x_hat * mean(g_hat * x_hat), times rstd
                count = centred.shape[0] * centred.shape[2]
                centred *= -scale * rstd * rstd * sum_g_centred / count
                gx += centred
                gx -= scale * sum_g / count
            gx = gx.reshape(shape)
        grads = [gx]
        if weight is not None:
            grads.append((sum_g_centred * rstd).reshape(-1) if need_weight else None)
        if has_bias:
            grads.append(sum_g.reshape(-1) if need_bias else None)
        if has_running:
            grads += [None, None]
        return tuple(grads)

    @staticmethod
    def backward_graph(ctx, g):
        shape, training, has_bias, has_running = ctx.layout
        x, mean, rstd, weight = graph_tensors(ctx)  # the statistics: constants, as in evaluation
        x3 = x.reshape(shape[0], shape[1], -1)
        if training:  # batch statistics: functions of x
            mean = x3.mean(_AXES, keepdim=True)
            rstd = (((x3 - mean) ** 2).mean(_AXES, keepdim=True) + ctx.eps).rsqrt()
        x_hat = (x3 - mean) * rstd
        need_x, *need_rest = ctx.needs_input_grad
        g3 = g.reshape(x3.shape)
        gx = None
        if need_x:
            g_hat = g3 * weight.reshape(1, -1, 1) if weight is not None else g3
            if training:
                g_hat = g_hat - g_hat.mean(_AXES, keepdim=True) - x_hat * (g_hat * x_hat).mean(_AXES, keepdim=True)
            gx = (rstd * g_hat).reshape(shape)
        grads = [gx]
        if weight is not None:
            grads.append((g3 * x_hat).sum(_AXES) if need_rest[0] else None)
        if has_bias:
            grads.append(g3.sum(_AXES) if need_rest[int(weight is not None)] else None)
        if has_running:
            grads += [None, None]
        return tuple(grads)


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5):
    """Normalise each channel of ``(N, C, *)`` with batch statistics (``training``) or the running ones, then
    ``* weight + bias``; in training mode ``running_* = (1 - momentum) * running_* + momentum * batch_*``."""
    if input.ndim < 2:
        raise ValueError(f"batch_norm: expected an input of shape (N, C, *) with at least 2 dimensions, got "
                         f"{input.ndim}D input of shape {list(input.shape)}")
    channels = input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight),
                    ("bias", bias)):
        if t is not None and t.numel() != channels:
            raise RuntimeError(f"{name} should contain {channels} elements not {t.numel()} "
                               f"(input of shape {list(input.shape)} has {channels} channels)")
    if (running_mean is None) != (running_var is None):
        raise ValueError("batch_norm: running_mean and running_var must both be given or both be None")
    if not training and running_mean is None:
        raise ValueError("batch_norm: running_mean and running_var are required when training=False")
    if training and input.shape[0] * math.prod(input.shape[2:]) == 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got input size {list(input.shape)}")
    _same_dtype("batch_norm", input, weight, bias)
    has_running = running_mean is not None
    tensors = [t for t in (weight, bias) if t is not None]
    if has_running:
        tensors += [running_mean, running_var]
    out = BatchNorm.apply(input, *tensors, training=training, momentum=momentum, eps=eps,
                          has_weight=weight is not None, has_bias=bias is not None, has_running=has_running)
    if training and has_running:
        running_mean._version_counter.value += 1
        running_var._version_counter.value += 1
    return out
