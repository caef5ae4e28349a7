"""Nearest-neighbour upsampling as Resize: PyTorch's source index ``floor(dst * in / out)`` is Resize's
``asymmetric`` coordinates with ``floor`` rounding."""

import numpy as np

from exporter.lowerings import lowering


@lowering("UpsampleNearest")
def upsample_nearest(g, x, output_size, scale_factors):
    attrs = dict(mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    if all(s is not None for s in scale_factors):
        scales = g.const(np.asarray([1.0, 1.0, *scale_factors], dtype=np.float32))
        return g.op("Resize", x, "", scales, **attrs)
    sizes = g.op("Concat", g.dims(x, [0, 1]), g.ints(output_size), axis=0)
    return g.op("Resize", x, "", "", sizes, **attrs)
