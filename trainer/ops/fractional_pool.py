"""Fractional max pooling (Graham, 2014): ``fractional_max_pool2d``/``3d`` and their ``_with_indices`` forms, as in
``torch.nn.functional``.

Each plane gets its own pseudo-random window starts along every spatial axis, drawn from one sample ``u`` in
[0, 1) per (batch, channel, axis) with PyTorch's formula ``int((i + u) * alpha) - int(u * alpha)``,
``alpha = (size - kernel) / (out - 1)``, evaluated in the input's dtype, and the last window ending at the
input's end. So the same ``_random_samples`` give PyTorch's output and indices exactly; without them the samples
come from trainer's generator. Windows may overlap, so backward accumulates with a scatter-add.
"""

from __future__ import annotations

import math

import numpy as np

from trainer.amp import cast_policy
from trainer.autograd.higher_order import linear_backward
from trainer.autograd.op import Function
from trainer.backend import xp_of
from trainer.ops._windows import taps
from trainer.ops.indexing import _scatter_add
from trainer.ops.pool import _max_and_argmax, _plane_index, _tap_offsets

# which column of a plane's samples drives each spatial axis (PyTorch's 2-D kernel reads column 0 for the width)
_SAMPLE_COLUMN = {2: (1, 0), 3: (0, 1, 2)}
_AXIS_NAMES = {2: ("height", "width"), 3: ("time", "height", "width")}
# PyTorch's 3-D kernel checks its axes in this order (time, width, height)
_CHECK_ORDER = {2: (0, 1), 3: (0, 2, 1)}


def _interval_starts(xp, sample, size: int, out: int, pool: int):
    """The window starts along one axis for every plane: ``sample`` holds one draw per plane, shape (N, C)."""
    starts = xp.full(sample.shape + (out,), size - pool, dtype=np.int64)
    if out > 1:
        scalar = sample.dtype.type
        alpha = scalar(size - pool) / scalar(out - 1)
        steps = xp.arange(out - 1, dtype=sample.dtype)
        starts[..., :-1] = (((steps + sample[..., None]) * alpha).astype(np.int64)
                            - (sample * alpha).astype(np.int64)[..., None])
    return starts


class FractionalMaxPool(Function):
    """Max over each plane's pseudo-random windows of the last 2 or 3 dims of an (N, C, ...) input; the second
    output is the flat index of each max within its plane, as ``MaxPool``'s (first maximum wins, NaN takes over)."""

    @staticmethod
    def forward(ctx, x, *, kernel, output_size, samples, return_indices=False):
        xp = xp_of(x)
        nd = len(kernel)
        n, c, spatial = x.shape[0], x.shape[1], x.shape[2:]
        grid = (n, c) + tuple(output_size)
        coords = []
        for a in range(nd):
            starts = _interval_starts(xp, samples[:n, :, _SAMPLE_COLUMN[nd][a]], spatial[a], output_size[a], kernel[a])
            coords.append(starts.reshape((n, c) + tuple(o if b == a else 1 for b, o in enumerate(output_size))))
        base = xp.broadcast_to(_plane_index(coords, spatial), grid).reshape(n, c, -1)
        flat_x = x.reshape(n, c, -1)
        views = [xp.take_along_axis(flat_x, base + _plane_index(tap, spatial), axis=-1) for tap in taps(kernel)]
        out, arg = _max_and_argmax(xp, views, nan_aware=False)
        if bool(xp.isnan(out).any()):
            out, arg = _max_and_argmax(xp, views, nan_aware=True)
        index = (base + _plane_index(_tap_offsets(arg.astype(np.int64), kernel), spatial)).reshape(grid)
        ctx.save_for_backward(index)
        ctx.input_shape = x.shape
        out = out.reshape(grid)
        return (out, index) if return_indices else out

    @staticmethod
    def backward(ctx, g, *_):
        (index,) = ctx.saved_tensors
        xp = xp_of(g)
        n, c = index.shape[:2]
        gx = xp.zeros((n, c, math.prod(ctx.input_shape[2:])), dtype=g.dtype)
        planes = (xp.arange(n).reshape(n, 1, 1), xp.arange(c).reshape(1, c, 1), index.reshape(n, c, -1))
        _scatter_add(xp, gx, planes, g.reshape(n, c, -1))  # overlapping windows can pick one element twice
        return gx.reshape(ctx.input_shape)

    @staticmethod
    def backward_graph(ctx, g, *_):
        (index,) = ctx.saved_tensors
        n, c = index.shape[:2]

        def picked(v):  # the element of v at each output's winner
            flat = v.reshape(n, c, -1)
            return xp_of(v).take_along_axis(flat, index.reshape(n, c, -1), axis=-1).reshape(index.shape)

        return linear_backward(ctx, g, picked)


def _sizes(op: str, value, n: int, name: str) -> tuple[int, ...]:
    words = {2: "", 3: " three"}[n]
    if isinstance(value, (list, tuple)):
        if len(value) == 1:
            value = tuple(value) * n
        if len(value) != n:
            raise RuntimeError(f"{op}: {name} must either be a single Int or tuple of{words} Ints, got {value!r}")
        return tuple(int(v) for v in value)
    return (int(value),) * n


def _output_size(op: str, n: int, input, output_size, output_ratio) -> tuple[int, ...]:
    if output_size is not None:
        return _sizes(op, output_size, n, "output_size")
    ratios = output_ratio if isinstance(output_ratio, (list, tuple)) else (output_ratio,)
    if len(ratios) == 1:
        ratios = tuple(ratios) * n
    if len(ratios) != n:
        raise ValueError(f"{op} requires output_ratio to either be a single number or a tuple of {n} numbers, "
                         f"got {output_ratio!r}")
    return tuple(int(size * ratio) for size, ratio in zip(input.shape[-n:], ratios))


def _check_input(op: str, n: int, input) -> None:
    if input.ndim not in (n + 1, n + 2):
        raise RuntimeError(f"{op}: Expected {n + 1}D or {n + 2}D tensor, but got: {list(input.shape)}")
    for axis in range(input.ndim - n - 1, input.ndim):
        if input.shape[axis] == 0:
            raise RuntimeError(f"{op}: Expected input to have non-zero size for non-batch dimensions, but got"
                               f"{list(input.shape)} with dimension {axis} being empty.")
    if not input.is_floating_point():
        raise NotImplementedError(f'"{op}" not implemented for \'{input.dtype}\'; fractional max pooling needs a '
                                  "floating-point input")


def _check_windows(op: str, n: int, input, kernel, out) -> None:
    if any(k <= 0 for k in kernel):
        raise RuntimeError(f"{op}: kernel_size must be greater than zero, but got kernel_size={kernel}")
    if any(o < 0 for o in out):
        raise RuntimeError(f"{op}: output_size must be non-negative, but got output_size={out}")
    spatial = input.shape[-n:]
    for a in _CHECK_ORDER[n]:
        # PyTorch lets a 2-D window reach the input's end, but keeps a 3-D one one step short of it
        fits = out[a] + kernel[a] - 1 <= spatial[a] if n == 2 else out[a] + kernel[a] - 1 < spatial[a]
        if not fits:
            axis = _AXIS_NAMES[n][a]
            raise RuntimeError(f"{op}: pool {axis} {kernel[a]} too large relative to input {axis} {spatial[a]}")


def _checked_samples(op: str, n: int, input, samples):
    """``_random_samples`` as an (N', C, n) array with N' at least the batch size, or fresh draws from trainer's
    generator."""
    batch = input.shape[0] if input.ndim == n + 2 else 1
    channels = input.shape[-n - 1]
    if samples is None:
        from trainer.creation import rand

        return rand(batch, channels, n, dtype=input.dtype, device=input.device)._data
    if samples.ndim != 3:
        raise RuntimeError(f"{op}: Expect _random_samples to have 3 dimensions, got {samples.ndim}")
    if samples.shape[2] != n:
        raise RuntimeError(f"{op}: Expect _random_samples.size(2) equals to {n}; got {samples.shape[2]}.")
    if samples.shape[1] != channels:
        raise RuntimeError(f"{op}: Expect _random_samples.size(1) equals to input channel size ({channels}); got "
                           f"{samples.shape[1]}.")
    if samples.shape[0] < batch:
        raise RuntimeError(f"{op}: Expect _random_samples.size(0) no less then input batch size ({batch}); got "
                           f"{samples.shape[0]}.")
    if samples.dtype != input.dtype:
        raise RuntimeError(f"{op}: Expect _random_samples to have the same dtype as input ({input.dtype}); got "
                           f"{samples.dtype}")
    return samples.detach()._data


def _fractional_max_pool(op, n, input, kernel_size, output_size, output_ratio, samples):
    if output_size is None and output_ratio is None:
        raise ValueError(f"{op} requires specifying either an output_size or an output_ratio")
    _check_input(op, n, input)
    kernel = _sizes(op, kernel_size, n, "kernel_size")
    out = _output_size(op, n, input, output_size, output_ratio)
    _check_windows(op, n, input, kernel, out)
    samples = _checked_samples(op, n, input, samples)
    batched = input.ndim == n + 2
    x = input if batched else input.unsqueeze(0)
    values, indices = FractionalMaxPool.apply(x, kernel=kernel, output_size=out, samples=samples,
                                              return_indices=True)
    return (values, indices) if batched else (values.squeeze(0), indices.squeeze(0))


# ``return_indices`` is accepted and ignored by the ``_with_indices`` names, as in PyTorch


def fractional_max_pool2d_with_indices(input, kernel_size, output_size=None, output_ratio=None,
                                       return_indices=False, _random_samples=None):
    return _fractional_max_pool("fractional_max_pool2d", 2, input, kernel_size, output_size, output_ratio,
                                _random_samples)


def fractional_max_pool3d_with_indices(input, kernel_size, output_size=None, output_ratio=None,
                                       return_indices=False, _random_samples=None):
    return _fractional_max_pool("fractional_max_pool3d", 3, input, kernel_size, output_size, output_ratio,
                                _random_samples)


@cast_policy.fp32
def fractional_max_pool2d(input, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                          _random_samples=None):
    """Max over pseudo-random ``kernel_size`` windows of the last two dims, giving ``output_size`` (or the input's
    size times ``output_ratio``); ``return_indices`` adds each max's flat index within its plane."""
    values, indices = fractional_max_pool2d_with_indices(input, kernel_size, output_size, output_ratio,
                                                         _random_samples=_random_samples)
    return (values, indices) if return_indices else values


@cast_policy.fp32
def fractional_max_pool3d(input, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                          _random_samples=None):
    """``fractional_max_pool2d`` over the last three dims."""
    values, indices = fractional_max_pool3d_with_indices(input, kernel_size, output_size, output_ratio,
                                                         _random_samples=_random_samples)
    return (values, indices) if return_indices else values
