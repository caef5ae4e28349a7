"""MaxPool, AveragePool, adaptive average pooling as GlobalAveragePool, AveragePool or two MatMuls, and adaptive
max pooling as GlobalMaxPool, MaxPool or one ReduceMax per output cell."""

import numpy as np

from exporter.errors import UnsupportedOpError
from exporter.lowerings import lowering


@lowering("MaxPool")
def max_pool(g, x, *, kernel, stride, padding, dilation, ceil_mode, return_indices=False):
    attrs = dict(kernel_shape=list(kernel), strides=list(stride), pads=list(padding) * 2, dilations=list(dilation),
                 ceil_mode=int(ceil_mode))
    if not return_indices:
        return g.op("MaxPool", x, **attrs)
    values, flat = g.op("MaxPool", x, outputs=2, **attrs)
    # ONNX counts over the whole tensor, PyTorch within each channel's plane: keep the remainder
    plane = g.op("ReduceProd", g.dims(x, range(2, g.rank(x))), keepdims=1)
    return values, g.op("Mod", flat, plane)


@lowering("AvgPool")
def avg_pool(g, x, *, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override=None):
    out = g.op("AveragePool", x, kernel_shape=list(kernel), strides=list(stride), pads=list(padding) * 2,
               ceil_mode=int(ceil_mode), count_include_pad=int(count_include_pad or bool(divisor_override)))
    if divisor_override:
        out = g.op("Mul", out, g.like(np.prod(kernel) / divisor_override, x))
    return out


def _adaptive_bounds(size: int, n_out: int) -> tuple[np.ndarray, np.ndarray]:
    """PyTorch's adaptive windows along one axis, ``[floor(i*size/n_out), ceil((i+1)*size/n_out))``, as int
    arrays ``(starts, ends)``."""
    i = np.arange(n_out)
    return (i * size) // n_out, -((-(i + 1) * size) // n_out)


def _averaging_matrix(size: int, n_out: int) -> np.ndarray:
    """The adaptive windows as an (n_out, size) averaging matrix."""
    start, end = _adaptive_bounds(size, n_out)
    inside = (np.arange(size) >= start[:, None]) & (np.arange(size) < end[:, None])
    return inside / (end - start)[:, None]


@lowering("AdaptiveAvgPool")
def adaptive_avg_pool(g, x, *, output_size):
    spatial = g.shape(x)[-len(output_size):]
    if all(n == 1 for n in output_size) and g.rank(x) == len(output_size) + 2:
        return g.op("GlobalAveragePool", x)
    if all(s % n == 0 for s, n in zip(spatial, output_size)) and g.rank(x) == len(output_size) + 2:
        kernel = [s // n for s, n in zip(spatial, output_size)]
        return g.op("AveragePool", x, kernel_shape=kernel, strides=kernel)
    dtype = g.dtype(x)
    rank = g.rank(x)
    out = x
    for axis, size, n in zip(range(rank - len(output_size), rank), spatial, output_size):
        out = _average_along(g, out, rank, axis, _averaging_matrix(size, n).astype(dtype))
    return out


def _average_along(g, x, rank, axis, matrix):
    """``matrix`` applied along ``axis``: one MatMul on either of the last two axes; any other axis is swapped
    with the last one around it."""
    if axis == rank - 1:
        return g.op("MatMul", x, g.const(matrix.T))
    if axis == rank - 2:
        return g.op("MatMul", g.const(matrix), x)
    perm = list(range(rank))
    perm[axis], perm[-1] = perm[-1], perm[axis]
    swapped = g.op("MatMul", g.op("Transpose", x, perm=perm), g.const(matrix.T))
    return g.op("Transpose", swapped, perm=perm)


@lowering("AdaptiveMaxPool")
def adaptive_max_pool(g, x, *, output_size, return_indices=False):
    n = len(output_size)
    if g.rank(x) == n + 1:  # unbatched: pool as a batch of one
        pooled = adaptive_max_pool(g, g.op("Unsqueeze", x, g.ints([0])), output_size=output_size,
                                   return_indices=return_indices)
        if return_indices:
            return tuple(g.op("Squeeze", p, g.ints([0])) for p in pooled)
        return g.op("Squeeze", pooled, g.ints([0]))
    spatial = g.shape(x)[-n:]
    if all(s % o == 0 for s, o in zip(spatial, output_size)):
        kernel = [s // o for s, o in zip(spatial, output_size)]
        if not return_indices and all(o == 1 for o in output_size):
            return g.op("GlobalMaxPool", x)
        return max_pool(g, x, kernel=kernel, stride=kernel, padding=[0] * n, dilation=[1] * n, ceil_mode=False,
                        return_indices=return_indices)
    if return_indices:
        where = f" in module '{g.scope}'" if g.scope else ""
        raise UnsupportedOpError(f"trainer op AdaptiveMaxPool{where}: return_indices exports only when the input "
                                 f"size {list(spatial)} is a multiple of output_size {list(output_size)}")
    return _cellwise_max(g, x, spatial, output_size)


def _cellwise_max(g, x, spatial, output_size):
    """One Slice + ReduceMax per output cell, concatenated back along each spatial axis."""
    rank = g.rank(x)
    axes = list(range(rank - len(spatial), rank))
    bounds = [list(zip(*(b.tolist() for b in _adaptive_bounds(s, o)))) for s, o in zip(spatial, output_size)]

    def cells(depth, window):
        if depth == len(axes):
            starts, ends = zip(*window)
            cell = g.op("Slice", x, g.ints(starts), g.ints(ends), g.ints(axes))
            return g.reduce("ReduceMax", cell, axes, True)
        parts = [cells(depth + 1, [*window, b]) for b in bounds[depth]]
        return parts[0] if len(parts) == 1 else g.op("Concat", *parts, axis=axes[depth])

    return cells(0, [])
