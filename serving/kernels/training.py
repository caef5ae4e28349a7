"""Optimizer steps of the ai.onnx.preview.training domain: Adagrad, Adam and Momentum.

Each node updates several tensors at once: its variadic inputs are grouped by role (all X, then all G,
then each state), and the outputs follow the same grouping (all new X, then each new state).
"""

from __future__ import annotations

import math

from serving.kernels.registry import kernel

_DOMAIN = "ai.onnx.preview.training"


def _groups(op, inputs, n_groups):
    if len(inputs) % n_groups:
        raise ValueError(f"{op}: got {len(inputs)} tensors after R and T, expected a multiple of {n_groups} "
                         f"({n_groups} per optimized tensor)")
    n = len(inputs) // n_groups
    return [inputs[i * n: (i + 1) * n] for i in range(n_groups)]


def _scalars(R, T):  # noqa: N803 - the spec's names for the learning rate and the step count
    return float(R.reshape(-1)[0]), int(T.reshape(-1)[0])


def _pack(values):
    return values[0] if len(values) == 1 else tuple(values)


@kernel("Adagrad", domain=_DOMAIN)
def Adagrad(ctx, R, T, *inputs, decay_factor=0.0, epsilon=1e-6, norm_coefficient=0.0):  # noqa: N803
    xp = ctx.xp
    rate, step = _scalars(R, T)
    rate = rate / (1 + step * decay_factor)
    new_x, new_h = [], []
    for x, g, h in zip(*_groups("Adagrad", inputs, 3)):
        g = norm_coefficient * x + g
        h = h + g * g
        new_x.append((x - rate * g / (xp.sqrt(h) + epsilon)).astype(x.dtype, copy=False))
        new_h.append(h.astype(x.dtype, copy=False))
    return _pack(new_x + new_h)


@kernel("Adam", domain=_DOMAIN)
def Adam(ctx, R, T, *inputs, alpha=0.9, beta=0.999, epsilon=1e-6, norm_coefficient=0.0,  # noqa: N803
         norm_coefficient_post=0.0):
    xp = ctx.xp
    rate, step = _scalars(R, T)
    if step > 0:  # bias correction of both moments
        rate = rate * math.sqrt(1 - beta**step) / (1 - alpha**step)
    new_x, new_v, new_h = [], [], []
    for x, g, v, h in zip(*_groups("Adam", inputs, 4)):
        g = norm_coefficient * x + g
        v = alpha * v + (1 - alpha) * g
        h = beta * h + (1 - beta) * (g * g)
        x_new = (1 - norm_coefficient_post) * (x - rate * (v / (xp.sqrt(h) + epsilon)))
        new_x.append(x_new.astype(x.dtype, copy=False))
        new_v.append(v.astype(x.dtype, copy=False))
        new_h.append(h.astype(x.dtype, copy=False))
    return _pack(new_x + new_v + new_h)


@kernel("Momentum", domain=_DOMAIN)
def Momentum(ctx, R, T, *inputs, alpha, beta, mode, norm_coefficient):  # noqa: N803
    if mode not in ("standard", "nesterov"):
        raise ValueError(f"Momentum: mode {mode!r}, expected 'standard' or 'nesterov'")
    rate, step = _scalars(R, T)
    grad_scale = beta if step > 0 else 1.0  # the first step takes the whole gradient
    new_x, new_v = [], []
    for x, g, v in zip(*_groups("Momentum", inputs, 3)):
        g = norm_coefficient * x + g
        v = alpha * v + grad_scale * g
        x_new = x - rate * (g + alpha * v if mode == "nesterov" else v)
        new_x.append(x_new.astype(x.dtype, copy=False))
        new_v.append(v.astype(x.dtype, copy=False))
    return _pack(new_x + new_v)
