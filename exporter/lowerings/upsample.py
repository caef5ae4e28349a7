"""Nearest-neighbour upsampling as Resize: PyTorch's source index ``floor(dst * in / out)`` is Resize's
``asymmetric`` coordinates with ``floor`` rounding; ``nearest-exact``'s is ``half_pixel`` rounded half up."""

import numpy as np

from exporter.lowerings import lowering
from exporter.lowerings.filtered_resize import resize


@lowering("UpsampleNearest")
def upsample_nearest(g, x, output_size, scale_factors):
    attrs = dict(mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    if all(s is not None for s in scale_factors):
        scales = g.const(np.asarray([1.0, 1.0, *scale_factors], dtype=np.float32))
        return g.op("Resize", x, "", scales, **attrs)
    sizes = g.op("Concat", g.dims(x, [0, 1]), g.ints(output_size), axis=0)
    return g.op("Resize", x, "", "", sizes, **attrs)


@lowering("UpsampleNearestExact")
def upsample_nearest_exact(g, x, output_size, scale_factors):
    """PyTorch's ``floor((dst + 0.5) * scale)`` is ``half_pixel`` coordinates rounded half up."""
    return resize(g, x, output_size, scale_factors, mode="nearest", coordinate_transformation_mode="half_pixel",
                  nearest_mode="round_prefer_ceil")
