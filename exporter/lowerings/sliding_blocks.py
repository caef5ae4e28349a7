"""Unfold (im2col) as one strided Slice per kernel tap stacked into columns, and Fold (col2im) as Col2Im."""

import itertools

from exporter.lowerings import lowering


@lowering("Im2Col")
def im2col(g, x, *, kernel, dilation, padding, stride, blocks):
    channels = g.shape(x)[1]
    if any(padding):
        x = g.op("Pad", x, g.ints([0, 0, *padding, 0, 0, *padding]), g.like(0, x))
    axes, steps = g.ints([2, 3]), g.ints(stride)
    taps = []
    for tap in itertools.product(*(range(k) for k in kernel)):
        starts = [t * d for t, d in zip(tap, dilation)]
        ends = [start + s * (b - 1) + 1 for start, s, b in zip(starts, stride, blocks)]
        window = g.op("Slice", x, g.ints(starts), g.ints(ends), axes, steps)  # (N, C, *blocks)
        taps.append(g.op("Unsqueeze", window, g.ints([2])))
    columns = taps[0] if len(taps) == 1 else g.op("Concat", *taps, axis=2)  # (N, C, taps, *blocks)
    return g.op("Reshape", columns, g.ints([0, channels * len(taps), -1]))


@lowering("Col2Im")
def col2im(g, x, *, output_size, kernel, dilation, padding, stride, blocks):
    g.require(18, "Col2Im")
    return g.op("Col2Im", x, g.ints(output_size), g.ints(kernel), dilations=list(dilation), pads=list(padding) * 2,
                strides=list(stride))
