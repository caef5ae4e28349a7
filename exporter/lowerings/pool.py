"""MaxPool, AveragePool, and adaptive average pooling as GlobalAveragePool, AveragePool or two MatMuls."""

import numpy as np

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


def _averaging_matrix(size: int, n_out: int) -> np.ndarray:
    """PyTorch's adaptive windows [floor(i*size/n), ceil((i+1)*size/n)) as an (n_out, size) averaging matrix."""
    i = np.arange(n_out)
    start, end = (i * size) // n_out, -((-(i + 1) * size) // n_out)
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
    out = g.op("MatMul", x, g.const(_averaging_matrix(spatial[-1], output_size[-1]).T.astype(dtype)))
    if len(output_size) == 2:
        out = g.op("MatMul", g.const(_averaging_matrix(spatial[0], output_size[0]).astype(dtype)), out)
    return out
