"""(Bi/tri)linear resizing as Resize(mode=linear): ``align_corners`` coordinates, else ``half_pixel`` (PyTorch's
``(dst + 0.5) * scale - 0.5``, clamped at the edges), with the scale factors when they were given."""

import math

import numpy as np

from exporter.lowerings import lowering


def _resize_scale(in_size, out_size, factor):
    """``factor`` as the float32 scale Resize reads, moved by one ulp where rounding to float32 would make
    ``floor(in * scale)`` (taken in float32 by some runtimes, float64 by others) miss PyTorch's output size; None
    where no neighbour fits."""
    exact = np.float32(factor)
    for scale in (exact, np.nextafter(exact, np.float32(np.inf)), np.nextafter(exact, np.float32(0))):
        if math.floor(np.float32(in_size) * scale) == out_size == math.floor(float(scale) * in_size):
            return scale
    return None


@lowering("UpsampleLinear")
def upsample_linear(g, x, *, output_size, align_corners, scale_factors):
    mode = "align_corners" if align_corners else "half_pixel"
    if not align_corners and all(s is not None for s in scale_factors):
        scales = [_resize_scale(n, out, s) for n, out, s in zip(g.shape(x)[2:], output_size, scale_factors)]
        if all(s is not None for s in scales):
            scales = g.const(np.asarray([1.0, 1.0, *scales], dtype=np.float32))
            return g.op("Resize", x, "", scales, mode="linear", coordinate_transformation_mode=mode)
    sizes = g.op("Concat", g.dims(x, [0, 1]), g.ints(output_size), axis=0)
    return g.op("Resize", x, "", "", sizes, mode="linear", coordinate_transformation_mode=mode)
