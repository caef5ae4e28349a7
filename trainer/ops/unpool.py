"""Max unpooling: ``max_unpool1d``/``2d``/``3d``, the partial inverse of max pooling, as PyTorch's.

Each input value goes to the position its index names within its own channel's output plane (the index that
``max_pool*d(..., return_indices=True)`` returned); every other output position is zero. The gradient of a
value is the output gradient at its index.
"""

from __future__ import annotations

import math

from trainer.amp import cast_policy
from trainer.autograd.higher_order import linear_backward
from trainer.autograd.op import Function
from trainer.backend import xp_of
from trainer.ops._operands import int_tuple


class MaxUnpool(Function):
    """``x`` ``(N, C, *in)`` scattered into zeros ``(N, C, *output_size)`` at the per-plane flat ``indices``."""

    @staticmethod
    def forward(ctx, x, indices, *, output_size):
        xp = xp_of(x)
        planes = x.shape[0] * x.shape[1]
        plane = math.prod(output_size)
        flat_index = indices.reshape(planes, -1)
        invalid = (flat_index < 0) | (flat_index >= plane)
        if bool(invalid.any()):
            # PyTorch names the last invalid index it meets
            last = int(flat_index.reshape(-1)[invalid.size - 1 - int(xp.argmax(invalid.reshape(-1)[::-1]))])
            raise RuntimeError(f"Found an invalid max index: {last} (output volumes are of size "
                               f"{'x'.join(map(str, output_size))})")
        out = xp.zeros((planes, plane), dtype=x.dtype)
        out[xp.arange(planes)[:, None], flat_index] = x.reshape(planes, -1)
        ctx.save_for_backward(flat_index)
        ctx.input_shape = x.shape
        return out.reshape(*x.shape[:2], *output_size)

    @staticmethod
    def backward(ctx, g):
        (flat_index,) = ctx.saved_tensors
        flat_g = g.reshape(flat_index.shape[0], -1)
        return xp_of(g).take_along_axis(flat_g, flat_index, axis=1).reshape(ctx.input_shape), None

    @staticmethod
    def backward_graph(ctx, g):
        (flat_index,) = ctx.saved_tensors
        out_shape = g.shape

        def scatter(v):  # the forward, without its index checks: the adjoint of picking at the indices
            xp = xp_of(v)
            out = xp.zeros((flat_index.shape[0], math.prod(out_shape[2:])), dtype=v.dtype)
            out[xp.arange(flat_index.shape[0])[:, None], flat_index] = v.reshape(flat_index.shape[0], -1)
            return out.reshape(out_shape)

        return linear_backward(ctx, g, scatter), None


def _output_size(input, kernel, stride, padding, output_size):
    """PyTorch's ``_unpool_output_size``: the pooled input's size before pooling, or ``output_size`` (spatial, or
    with the batch and channel dims) when it is within a stride of that."""
    n = len(kernel)
    default = [(input.shape[-n + d] - 1) * stride[d] + kernel[d] - 2 * padding[d] for d in range(n)]
    if output_size is None:
        return default
    sizes = list(output_size)
    if len(sizes) == n + 2:
        sizes = sizes[2:]
    if len(sizes) != n:
        raise ValueError(f"output_size should be a sequence containing {n} or {n + 2} elements, but it has a length "
                         f"of '{len(sizes)}'")
    for d in range(n):
        low, high = default[d] - stride[d], default[d] + stride[d]
        if not low < sizes[d] < high:
            raise ValueError(f'invalid output_size "{output_size}" (dim {d} must be between {low} and {high})')
    for d in range(n):
        if sizes[d] < 0:
            raise ValueError(f"max_unpooling: output_size must contain non-negative spatial dimensions, but got "
                             f"output_size[{d}]={sizes[d]}")
    return [int(s) for s in sizes]


def _max_unpool(n, input, indices, kernel_size, stride, padding, output_size):
    op = f"max_unpooling{n}d"
    kernel = int_tuple(kernel_size, n, "kernel_size")
    stride = kernel if stride is None else int_tuple(stride, n, "stride")
    padding = int_tuple(padding, n, "padding")
    sizes = _output_size(input, kernel, stride, padding, output_size)
    if indices.dtype.name != "int64":
        raise RuntimeError(f"elements in indices should be type int64 but got: {indices.dtype.name}")
    if tuple(indices.shape) != tuple(input.shape):
        raise RuntimeError(f"Expected shape of indices to be same as that of the input tensor ({list(input.shape)}) "
                           f"but got indices tensor with shape: {list(indices.shape)}")
    if input.ndim not in (n + 1, n + 2):
        raise RuntimeError(f"Input to {op} should be a {n + 1}d or {n + 2}d Tensor, but got a tensor with "
                           f"{input.ndim} dimensions.")
    if any(s == 0 for s in input.shape[-n - 1:]):
        raise RuntimeError(f"{op}(): Expected input to have non-zero size for non-batch dimensions, but got "
                           f"{list(input.shape)}")
    if min(stride) <= 0:
        raise RuntimeError(f"strides should be greater than zero, but got stride: {list(stride)}")
    if input.ndim == n + 1:
        return MaxUnpool.apply(input.unsqueeze(0), indices.unsqueeze(0), output_size=tuple(sizes)).squeeze(0)
    return MaxUnpool.apply(input, indices, output_size=tuple(sizes))


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """``torch.nn.functional.max_unpool1d``: ``(N, C, L_in)`` or ``(C, L_in)`` to ``(N, C, L_out)``."""
    return _max_unpool(1, input, indices, kernel_size, stride, padding, output_size)


@cast_policy.fp32
def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """``torch.nn.functional.max_unpool2d``: ``(N, C, H_in, W_in)`` or ``(C, H_in, W_in)`` to
    ``(N, C, H_out, W_out)``."""
    return _max_unpool(2, input, indices, kernel_size, stride, padding, output_size)


@cast_policy.fp32
def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """``torch.nn.functional.max_unpool3d``: ``(N, C, D_in, H_in, W_in)`` or ``(C, D_in, H_in, W_in)`` to
    ``(N, C, D_out, H_out, W_out)``."""
    return _max_unpool(3, input, indices, kernel_size, stride, padding, output_size)
