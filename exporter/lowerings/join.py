"""Concat, Stack (Unsqueeze + Concat) and Split."""

from exporter.lowerings import lowering


@lowering("Concat")
def concat(g, *tensors, axis):
    return g.op("Concat", *tensors, axis=axis)


@lowering("Stack")
def stack(g, *tensors, axis):
    return g.op("Concat", *(g.op("Unsqueeze", t, g.ints([axis])) for t in tensors), axis=axis)


@lowering("Split")
def split(g, a, sizes, axis):
    return g.op("Split", a, g.sizes(sizes), axis=axis, outputs=len(sizes))
