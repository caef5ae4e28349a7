"""Bicubic and antialiased resizing as Resize.

``bicubic`` is Resize(mode=cubic) with PyTorch's ``A = -0.75`` and edge-repeating taps (``exclude_outside=0``), at
``align_corners`` or ``half_pixel`` coordinates (PyTorch's cubic source position is not clamped at 0, unlike its
linear one). Antialiasing (opset 18's ``antialias``) widens the filter by the shrink factor as PIL does, and PyTorch's
antialiased filters only weigh the inputs inside the image, normalised: ``exclude_outside=1``, and ``A = -0.5`` for
cubic. PyTorch centres an antialiased output at ``scale * (i + 0.5)`` also with ``align_corners`` (its scale then
being ``(in - 1) / (out - 1)``), which no Resize coordinate mode gives; and Resize has no Lanczos filter.
"""

import numpy as np

from exporter.errors import UnsupportedOpError
from exporter.lowerings import lowering
from exporter.lowerings.linear_resize import _resize_scale

_ANTIALIAS_OPSET = 18


def resize(g, x, output_size, scale_factors, **attrs):
    """Resize of the trailing dims of ``x`` to ``output_size``: by PyTorch's scale factors where they were given and
    a float32 scale reproduces the output size, else to the sizes."""
    if all(s is not None for s in scale_factors):
        scales = [_resize_scale(n, out, s) for n, out, s in zip(g.shape(x)[2:], output_size, scale_factors)]
        if all(s is not None for s in scales):
            return g.op("Resize", x, "", g.const(np.asarray([1.0, 1.0, *scales], dtype=np.float32)), **attrs)
    sizes = g.op("Concat", g.dims(x, [0, 1]), g.ints(output_size), axis=0)
    return g.op("Resize", x, "", "", sizes, **attrs)


@lowering("UpsampleBicubic")
def upsample_bicubic(g, x, *, output_size, align_corners, scale_factors):
    if align_corners:  # the scale factors play no part in align_corners positions
        scale_factors = (None,) * len(output_size)
    return resize(g, x, output_size, scale_factors, mode="cubic", cubic_coeff_a=-0.75,
                  coordinate_transformation_mode="align_corners" if align_corners else "half_pixel")


@lowering("UpsampleAntialias")
def upsample_antialias(g, x, *, mode, output_size, align_corners, scale_factors):
    where = f" in module '{g.scope}'" if g.scope else ""
    refusal = None
    if mode == "lanczos":
        refusal = "mode='lanczos' has no ONNX Resize filter"
    elif align_corners:
        refusal = "antialias=True with align_corners=True centres outputs where no Resize coordinate mode does"
    elif g.opset < _ANTIALIAS_OPSET:
        refusal = (f"antialias=True needs Resize's antialias attribute, from opset {_ANTIALIAS_OPSET}; exporting at "
                   f"opset {g.opset}")
    if refusal:
        raise UnsupportedOpError(f"trainer op UpsampleAntialias{where} (interpolate(mode={mode!r}, antialias=True)): "
                                 f"{refusal}. Export at opset_version >= {_ANTIALIAS_OPSET} with bilinear or bicubic "
                                 "and align_corners=False, or resize without antialias.")
    filters = {"bilinear": dict(mode="linear"), "bicubic": dict(mode="cubic", cubic_coeff_a=-0.5)}
    return resize(g, x, output_size, scale_factors, antialias=1, exclude_outside=1,
                  coordinate_transformation_mode="half_pixel", **filters[mode])
