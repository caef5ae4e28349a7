"""``a[key] = value`` recorded as trainer's IndexPut (a write that autograd records): ScatterND into the flattened
``a`` at the positions ``a[key]`` selects. Those positions are found by running ``x[key]``'s own lowering on a
tensor of element positions shaped as ``a`` (a boolean mask over ``a``'s leading dims: Compress of those
positions), so a key means the same thing at every size of a dynamic axis.
"""

import numpy as np

from exporter.lowerings import lowering
from exporter.lowerings.indexing import _is_array, index


def _mask_of(key):
    """The boolean mask when the key is one (``a[mask] = value``), else None."""
    mask = key[0] if isinstance(key, tuple) and len(key) == 1 else key
    return mask if _is_array(mask) and mask.dtype.kind == "b" else None


@lowering("IndexPut")
def index_put(g, a, value, key):
    shape = g.op("Shape", a)
    count = g.op("ReduceProd", shape, keepdims=0)
    positions = g.op("Reshape", g.op("Range", g.const(np.int64(0)), count, g.const(np.int64(1))), shape)
    mask = _mask_of(key)
    if mask is None:
        selected = index(g, g.record(positions, g.shape(a), np.int64), key)
    else:  # the mask covers a's leading dims: one row of positions per mask element, the selected rows kept
        rest = [g.dims(a, range(mask.ndim, g.rank(a)))] if mask.ndim < g.rank(a) else []
        rows = g.op("Reshape", positions, g.op("Concat", g.ints([-1]), *rest, axis=0))
        selected = g.op("Compress", rows, g.op("Reshape", g.value_of_array(mask), g.ints([-1])), axis=0)
    selected_shape = g.op("Shape", selected)
    # the value broadcast to what a[key] selects (leading size-1 dims of the value dropped, as NumPy allows)
    updates = g.op("Reshape", g.op("Expand", value, selected_shape), selected_shape)
    flat = g.op("Reshape", a, g.ints([-1]))
    written = g.op("ScatterND", flat, g.op("Unsqueeze", selected, g.ints([-1])), updates)
    return g.op("Reshape", written, shape)
