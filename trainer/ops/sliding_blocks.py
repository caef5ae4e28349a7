"""Sliding local blocks: ``unfold`` (im2col) and ``fold`` (col2im), PyTorch's ``F.unfold``/``F.fold``.

``unfold`` lays every ``kernel_size`` block of a ``(N, C, H, W)`` input out as a column of ``(N, C*kh*kw, L)``
(``L`` blocks, channel-major rows as PyTorch orders them); ``fold`` sums such columns back into an image, so each
is the other's gradient. Both reuse the convolution's im2col and col2im kernels, which already take stride,
padding and dilation and loop over kernel taps, never pixels.
"""

from __future__ import annotations

import math

from trainer.autograd.higher_order import linear_backward
from trainer.autograd.op import Function
from trainer.ops.conv import _col2im, _im2col


def _columns_to_rows(cols, kernel):
    """im2col's ``(C, *kernel, N, *blocks)`` as PyTorch's ``(N, C*prod(kernel), L)``."""
    nd = len(kernel)
    c, n, blocks = cols.shape[0], cols.shape[1 + nd], cols.shape[2 + nd:]
    return cols.reshape(c * math.prod(kernel), n, math.prod(blocks)).transpose(1, 0, 2)


def _rows_to_columns(rows, channels, kernel, blocks):
    """PyTorch's ``(N, C*prod(kernel), L)`` as col2im's ``(C, *kernel, N, *blocks)``."""
    return rows.transpose(1, 0, 2).reshape(channels, *kernel, rows.shape[0], *blocks)


class Im2Col(Function):
    """``(N, C, H, W)`` -> ``(N, C*kh*kw, L)``: each sliding block as one column."""

    @staticmethod
    def forward(ctx, x, *, kernel, dilation, padding, stride, blocks):
        pads = padding + padding
        ctx.geometry = (x.shape, kernel, dilation, pads, stride, blocks)
        return _columns_to_rows(_im2col(x, kernel, stride, pads, dilation, blocks), kernel)

    @staticmethod
    def backward(ctx, g):
        x_shape, kernel, dilation, pads, stride, blocks = ctx.geometry
        return _col2im(_rows_to_columns(g, x_shape[1], kernel, blocks), x_shape, stride, pads, dilation)

    @staticmethod
    def backward_graph(ctx, g):
        _, kernel, dilation, pads, stride, blocks = ctx.geometry
        return linear_backward(ctx, g, lambda v: _columns_to_rows(_im2col(v, kernel, stride, pads, dilation, blocks),
                                                                  kernel))


class Col2Im(Function):
    """``(N, C*kh*kw, L)`` -> ``(N, C, *output_size)``: the columns summed back where their blocks lie."""

    @staticmethod
    def forward(ctx, x, *, output_size, kernel, dilation, padding, stride, blocks):
        channels = x.shape[1] // math.prod(kernel)
        pads = padding + padding
        ctx.geometry = (kernel, dilation, pads, stride, blocks)
        cols = _rows_to_columns(x, channels, kernel, blocks)
        return _col2im(cols, (x.shape[0], channels, *output_size), stride, pads, dilation)

    @staticmethod
    def backward(ctx, g):
        kernel, dilation, pads, stride, blocks = ctx.geometry
        return _columns_to_rows(_im2col(g, kernel, stride, pads, dilation, blocks), kernel)

    @staticmethod
    def backward_graph(ctx, g):
        kernel, dilation, pads, stride, blocks = ctx.geometry
        image_shape = g.shape  # the forward's output: where the adjoint (this op's forward) writes
        return linear_backward(ctx, g, lambda v: _col2im(_rows_to_columns(v, image_shape[1], kernel, blocks),
                                                         image_shape, stride, pads, dilation))


# ---------------------------------------------------------------------------------------------
# the functional forms


def _pair(value, name: str) -> tuple[int, int]:
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise RuntimeError(f"It is expected {name} equals to 2, but got size {len(value)}")
        return int(value[0]), int(value[1])
    return int(value), int(value)


def _geometry(kernel_size, dilation, padding, stride):
    """The four window arguments as pairs, checked as PyTorch's im2col and col2im check them."""
    kernel, dilation = _pair(kernel_size, "kernel_size"), _pair(dilation, "dilation")
    padding, stride = _pair(padding, "padding"), _pair(stride, "stride")
    if min(kernel) <= 0:
        raise RuntimeError(f"kernel size should be greater than zero, but got kernel_height: {kernel[0]} "
                           f"kernel_width: {kernel[1]}")
    if min(stride) <= 0:
        raise RuntimeError(f"stride should be greater than zero, but got stride_height: {stride[0]} "
                           f"stride_width: {stride[1]}")
    if min(dilation) <= 0:
        raise RuntimeError(f"dilation should be greater than zero, but got dilation_height: {dilation[0]} "
                           f"dilation_width: {dilation[1]}")
    if min(padding) < 0:
        raise RuntimeError(f"padding should be non-negative, but got pad_height: {padding[0]} "
                           f"pad_width: {padding[1]}")
    return kernel, dilation, padding, stride


def _blocks(spatial, kernel, dilation, padding, stride):
    """How many blocks fit along each spatial axis."""
    return tuple((s + 2 * p - d * (k - 1) - 1) // st + 1
                 for s, k, d, p, st in zip(spatial, kernel, dilation, padding, stride))


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """``torch.nn.functional.unfold``: ``(N, C, H, W)`` -> ``(N, C*kh*kw, L)``; ``(C, H, W)`` -> ``(C*kh*kw, L)``."""
    kernel, dilation, padding, stride = _geometry(kernel_size, dilation, padding, stride)
    if input.ndim not in (3, 4) or any(s == 0 for s in input.shape[-3:]):
        raise RuntimeError("Expected 3D or 4D (batch mode) tensor with possibly 0 batch size and other non-zero "
                           f"dimensions for input, but got: {list(input.shape)}")
    spatial = tuple(input.shape[-2:])
    blocks = _blocks(spatial, kernel, dilation, padding, stride)
    if min(blocks) < 1:
        raise RuntimeError(f"Given input with spatial size {spatial}, kernel_size={kernel}, dilation={dilation}, "
                           f"padding={padding}, calculated shape of the array of sliding blocks as {blocks}, but "
                           "its components must be at least one.")
    batched = input if input.ndim == 4 else input.unsqueeze(0)
    out = Im2Col.apply(batched, kernel=kernel, dilation=dilation, padding=padding, stride=stride, blocks=blocks)
    return out if input.ndim == 4 else out.squeeze(0)


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """``torch.nn.functional.fold``: ``(N, C*kh*kw, L)`` -> ``(N, C, *output_size)``; ``(C*kh*kw, L)`` ->
    ``(C, *output_size)``. Overlapping blocks add up."""
    output_size = _pair(output_size, "output_size")
    kernel, dilation, padding, stride = _geometry(kernel_size, dilation, padding, stride)
    if input.ndim not in (2, 3) or any(s == 0 for s in input.shape[-2:]):
        raise RuntimeError("Expected 2D or 3D (batch mode) tensor for input with possibly 0 batch size and non-zero "
                           f"dimensions for input, but got: {list(input.shape)}")
    rows, length = input.shape[-2:]
    taps = math.prod(kernel)
    if rows % taps:
        raise RuntimeError(f"Expected size of input's dimension 1 to be divisible by the product of kernel_size, but "
                           f"got input.size(1)={rows} and kernel_size={kernel}.")
    blocks = _blocks(output_size, kernel, dilation, padding, stride)
    given = (f"Given output_size={output_size}, kernel_size={kernel}, dilation={dilation}, padding={padding}, "
             f"stride={stride}")
    if blocks[0] * blocks[1] != length:
        raise RuntimeError(f"{given}, expected size of input's dimension 2 to match the calculated number of sliding "
                           f"blocks {blocks[0]} * {blocks[1]} = {blocks[0] * blocks[1]}, but got input.size(2)="
                           f"{length}.")
    if min(blocks) < 1:
        raise RuntimeError(f"{given}, calculated shape of the array of sliding blocks as {blocks}, which is too small "
                           "(non-positive).")
    batched = input if input.ndim == 3 else input.unsqueeze(0)
    out = Col2Im.apply(batched, output_size=output_size, kernel=kernel, dilation=dilation, padding=padding,
                       stride=stride, blocks=blocks)
    return out if input.ndim == 3 else out.squeeze(0)
