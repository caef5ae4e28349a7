"""MaxUnpool, with PyTorch's per-plane indices made ONNX's indices over the whole output tensor."""

import math

import numpy as np

from exporter.lowerings import lowering


@lowering("MaxUnpool")
def max_unpool(g, x, indices, *, output_size):
    rank = g.rank(x)
    plane = math.prod(output_size)
    # plane (n, c) starts at (n * C + c) * plane in the flat output: a Range over the run-time planes
    planes = g.op("Squeeze", g.op("Mul", g.dims(x, [0]), g.dims(x, [1])), g.ints([0]))
    starts = g.op("Range", g.const(np.int64(0)), g.op("Mul", planes, g.const(np.int64(plane))),
                  g.const(np.int64(plane)))
    starts = g.op("Reshape", starts, g.op("Concat", g.dims(x, [0, 1]), g.ints([1] * (rank - 2)), axis=0))
    # MaxUnpool's attributes only size its output, (in - 1) * stride - pads + kernel per axis: with stride 1, pick a
    # kernel and pads that make that size PyTorch's output_size (ONNX Runtime wants each pad below the kernel)
    spatial = g.shape(x)[2:]
    kernel = [out - n + 1 if out >= n else n - out + 1 for n, out in zip(spatial, output_size)]
    pads = [0 if out >= n else n - out for n, out in zip(spatial, output_size)]
    return g.op("MaxUnpool", x, g.op("Add", indices, starts), kernel_shape=kernel, strides=[1] * len(kernel),
                pads=pads * 2)
