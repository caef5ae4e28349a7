"""Ops that move elements between positions without arithmetic: ``Pad`` (constant, reflect, replicate,
circular) and the pixel shuffles.

Every padding mode is, along each padded axis, a gather: output position ``i`` reads input position
``source[i]`` (or the fill value where ``source[i] < 0``). Forward gathers axis by axis; backward sums
each output gradient back into the input position it was read from. Negative pads crop.
"""

from __future__ import annotations

import numpy as np

from trainer.amp import cast_policy
from trainer.autograd.higher_order import linear_backward
from trainer.autograd.op import Function
from trainer.backend import as_device, to_device, xp_of

PAD_MODES = ("constant", "reflect", "replicate", "circular")


def _source_indices(xp, size, before, after, mode):
    """For each output position along one axis, the input position it copies (-1: the fill value)."""
    if mode == "circular":  # negative amounts crop first; the rest wraps around what is left
        kept = xp.arange(max(-before, 0), size - max(-after, 0))
        return kept[xp.arange(-max(before, 0), kept.size + max(after, 0)) % kept.size]
    i = xp.arange(-before, size + after)
    if mode == "constant":
        return xp.where((i >= 0) & (i < size), i, -1)
    if mode == "replicate":
        return xp.clip(i, 0, size - 1)
    reflected = xp.abs(i)  # reflect: mirror at 0 and at size - 1, never repeating the edge
    return xp.where(reflected > size - 1, 2 * (size - 1) - reflected, reflected)


def _axis_pads(ndim, pad):
    """PyTorch's flat ``pad`` (last dim first, ``(before, after)`` pairs) as ``{axis: (before, after)}``."""
    return {ndim - 1 - k: (pad[2 * k], pad[2 * k + 1]) for k in range(len(pad) // 2) if pad[2 * k] or pad[2 * k + 1]}


class Pad(Function):
    @staticmethod
    def forward(ctx, a, pad, mode="constant", value=0.0):
        xp = xp_of(a)
        pads = _axis_pads(a.ndim, pad)
        sources = {axis: _source_indices(xp, a.shape[axis], before, after, mode)
                   for axis, (before, after) in pads.items()}
        ctx.sources, ctx.pads = sources, pads
        ctx.in_shape = a.shape
        ctx.constant = mode == "constant"
        return _gathered(a, sources, ctx.constant, value)

    @staticmethod
    def backward(ctx, g):
        for axis, source in ctx.sources.items():
            g = _summed_back(g, source, ctx.in_shape[axis], ctx.pads[axis][0], axis)
        return g

    @staticmethod
    def backward_graph(ctx, g):
        sources, constant = ctx.sources, ctx.constant
        return linear_backward(ctx, g, lambda v: _gathered(v, sources, constant, 0))


def _summed_back(g, source, size: int, before: int, axis: int):
    """The gradient along one padded ``axis`` summed into the ``size`` input positions that ``source`` read.

    The output positions that read their own input position (``i - before``) form one block, moved as a slice;
    only the few others (the pads) are added one at a time. A 0/1 matrix product would cost padded x input
    elements: gigabytes for a long signal.
    """
    xp = xp_of(g)
    moved = xp.moveaxis(g, axis, 0)
    out = xp.zeros((size,) + moved.shape[1:], dtype=g.dtype)
    reads = to_device(source, as_device("cpu"))
    own = np.flatnonzero((reads == np.arange(reads.size) - before) & (reads >= 0))
    rest = np.ones(reads.size, bool)
    if own.size and own[-1] - own[0] + 1 == own.size:  # contiguous, as every mode gives
        out[reads[own[0]]:reads[own[-1]] + 1] = moved[own[0]:own[-1] + 1]
        rest[own] = False
    for i in np.flatnonzero(rest & (reads >= 0)):
        out[reads[i]] += moved[i]
    return xp.moveaxis(out, 0, axis)


def _gathered(a, sources, constant: bool, value):
    """``a`` read at ``sources`` along each of their axes; with ``constant``, a negative source reads ``value``."""
    xp = xp_of(a)
    for axis, source in sources.items():
        a = xp.take(a, xp.maximum(source, 0), axis=axis)
        if constant:
            fill = (source < 0).reshape((-1,) + (1,) * (a.ndim - axis - 1))
            a = xp.where(fill, xp.asarray(value, dtype=a.dtype), a)
    return a


class PixelShuffle(Function):
    """``(*, C * r * r, H, W) -> (*, C, H * r, W * r)``; ``inverse`` is pixel unshuffle."""

    @staticmethod
    def forward(ctx, a, upscale_factor, inverse=False):
        ctx.factor, ctx.inverse = upscale_factor, inverse
        return _pixel_unshuffle(a, upscale_factor) if inverse else _pixel_shuffle(a, upscale_factor)

    @staticmethod
    def backward(ctx, g):
        return _pixel_shuffle(g, ctx.factor) if ctx.inverse else _pixel_unshuffle(g, ctx.factor)

    @staticmethod
    def backward_graph(ctx, g):
        return PixelShuffle.apply(g, upscale_factor=ctx.factor, inverse=not ctx.inverse)


def _pixel_shuffle(a, r):
    *lead, c, h, w = a.shape
    n = len(lead)
    blocks = a.reshape(*lead, c // (r * r), r, r, h, w)
    perm = (*range(n), n, n + 3, n + 1, n + 4, n + 2)
    return blocks.transpose(perm).reshape(*lead, c // (r * r), h * r, w * r)


def _pixel_unshuffle(a, r):
    *lead, c, h, w = a.shape
    n = len(lead)
    blocks = a.reshape(*lead, c, h // r, r, w // r, r)
    perm = (*range(n), n, n + 2, n + 4, n + 1, n + 3)
    return blocks.transpose(perm).reshape(*lead, c * r * r, h // r, w // r)


def _pads_by_copying_edges(input, pad, mode="constant", value=None) -> bool:  # noqa: A002 - PyTorch's names
    """Reflection and replication padding: on PyTorch's CPU autocast fp32 list (constant and circular are not)."""
    return mode in ("reflect", "replicate")


@cast_policy.fp32_when(_pads_by_copying_edges)
def pad(input, pad, mode="constant", value=None):
    """``torch.nn.functional.pad``: ``pad`` lists ``(before, after)`` pairs starting from the last dim."""
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2:
        raise RuntimeError(f"Padding length must be divisible by 2, got {len(pad)} values: {list(pad)}")
    if len(pad) // 2 > input.ndim:
        raise RuntimeError(f"Padding length should be less than or equal to two times the input dimension but got "
                           f"padding length {len(pad)} and input of dimension {input.ndim}")
    if mode not in PAD_MODES:
        raise NotImplementedError(f"Unrecognised padding mode {mode!r}; expected one of {PAD_MODES}")
    if mode != "constant":
        _check_non_constant(input, pad, mode, value)
    for axis, (before, after) in _axis_pads(input.ndim, pad).items():
        if input.shape[axis] + before + after < 0:
            raise RuntimeError(f"The input size {input.shape[axis]}, plus negative padding {before} and {after} "
                               f"resulted in a negative output size, which is invalid. Check dimension {axis} of "
                               f"your input.")
    return Pad.apply(input, pad=pad, mode=mode, value=0.0 if value is None else value)


def _check_non_constant(input, pad, mode, value):
    if value:
        raise NotImplementedError(f"Padding mode \"{mode}\" doesn't take in value argument.")
    n = len(pad) // 2
    if input.ndim not in (n + 1, n + 2):
        raise NotImplementedError(f"Only {n + 1}D or {n + 2}D input is supported for {n}D {mode} padding (pad of "
                                  f"length {len(pad)}), got {input.ndim}D input of shape {list(input.shape)}")
    for axis, (before, after) in _axis_pads(input.ndim, pad).items():
        size = input.shape[axis]
        if mode == "reflect" and max(before, after) >= size:
            raise RuntimeError(f"Argument #4: Padding size should be less than the corresponding input dimension, "
                               f"but got: padding ({before}, {after}) at dimension {axis} of input "
                               f"{list(input.shape)}")
        kept = size + min(before, 0) + min(after, 0)  # what is left to wrap around once negative pads crop
        if mode == "circular" and max(before, after) > kept:
            raise RuntimeError(f"Padding value causes wrapping around more than once: padding ({before}, {after}) at "
                               f"dimension {axis} of size {size} (after cropping: {kept})")
        if mode == "replicate" and size == 0:
            raise RuntimeError(f"replicate padding: dimension {axis} of input {list(input.shape)} is empty")


def _check_pixel_input(name, input, factor):
    if input.ndim < 3:
        raise RuntimeError(f"{name} expects input to have at least 3 dimensions, but got input with {input.ndim} "
                           f"dimension(s)")
    if not isinstance(factor, int) or factor <= 0:
        raise RuntimeError(f"{name} expects a positive integer factor, but got {factor!r}")


def pixel_shuffle(input, upscale_factor: int):
    _check_pixel_input("pixel_shuffle", input, upscale_factor)
    if input.shape[-3] % (upscale_factor * upscale_factor):
        raise RuntimeError(f"pixel_shuffle expects its input's 'channel' dimension to be divisible by the square of "
                           f"upscale_factor, but input.size(-3)={input.shape[-3]} is not divisible by "
                           f"{upscale_factor * upscale_factor}")
    return PixelShuffle.apply(input, upscale_factor=upscale_factor)


def pixel_unshuffle(input, downscale_factor: int):
    _check_pixel_input("pixel_unshuffle", input, downscale_factor)
    for axis in (-2, -1):
        if input.shape[axis] % downscale_factor:
            raise RuntimeError(f"pixel_unshuffle expects {'height' if axis == -2 else 'width'} to be divisible by "
                               f"downscale_factor, but input.size({axis})={input.shape[axis]} is not divisible by "
                               f"{downscale_factor}")
    return PixelShuffle.apply(input, upscale_factor=downscale_factor, inverse=True)
