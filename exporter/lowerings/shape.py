"""Reshape, Flatten, Transpose, Squeeze, Unsqueeze, Expand, Tile.

Targets are written so that they hold for any size of a dynamic axis: ``-1`` stays ``-1``, a size
read from a tensor is recomputed (``g.sizes``), and Expand keeps an input's own dims as ``1``.
"""

from exporter.lowerings import lowering
from exporter.symbolic import SymInt


@lowering("Reshape")
def reshape(g, a, shape):
    if 0 in shape:  # a literal empty dim, not ONNX's "copy this dim"
        g.require(14, "Reshape with allowzero")
        return g.op("Reshape", a, g.sizes(shape), allowzero=1)
    return g.op("Reshape", a, g.sizes(shape))


@lowering("Flatten")
def flatten(g, a, start_dim, end_dim):
    rank = g.rank(a)
    if rank == 0:
        return g.op("Reshape", a, g.ints([1]))
    if start_dim == 1 and end_dim == rank - 1:
        return g.op("Flatten", a, axis=1)
    # leading dims copied (0), the flattened run inferred (-1), trailing dims read at run time
    head = g.ints([0] * start_dim + [-1])
    if end_dim == rank - 1:
        return g.op("Reshape", a, head)
    return g.op("Reshape", a, g.op("Concat", head, g.dims(a, range(end_dim + 1, rank)), axis=0))


@lowering("Transpose")
def transpose(g, a, perm):
    return g.op("Transpose", a, perm=list(perm))


@lowering("Squeeze")
def squeeze(g, a, axes):
    return g.op("Squeeze", a, g.ints(axes))


@lowering("Unsqueeze")
def unsqueeze(g, a, axis):
    return g.op("Unsqueeze", a, g.ints([axis]))


@lowering("Expand")
def expand(g, a, shape):
    own = g.shape(a)
    lead = len(shape) - len(own)
    # where the target equals the input's own size, 1 lets Expand keep whatever that size is at run time
    target = [1 if i >= lead and not isinstance(s, SymInt) and s == own[i - lead] else s for i, s in enumerate(shape)]
    return g.op("Expand", a, g.sizes(target))


@lowering("Tile")
def tile(g, a, repeats):
    extra = len(repeats) - g.rank(a)
    if extra > 0:
        a = g.op("Unsqueeze", a, g.ints(range(extra)))
    return g.op("Tile", a, g.sizes(repeats))
