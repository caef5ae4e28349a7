"""GridSample (4-D from opset 16; 5-D and the renamed modes from opset 20) and AffineGrid (opset 20, with the size
read at run time; before that the traced grid size's base grid as a constant times the transposed matrices)."""

from exporter.lowerings import lowering
from trainer.ops.grid_sample import base_grid

_RENAMED_MODES = {"bilinear": "linear", "bicubic": "cubic"}  # opset 20 renamed the interpolation modes


@lowering("GridSample")
def grid_sample(g, x, grid, *, mode, padding_mode, align_corners):
    if g.rank(x) == 5:
        g.require(20, "GridSample on volumes (5-D input)")
    g.require(16, "GridSample")
    onnx_mode = _RENAMED_MODES.get(mode, mode) if g.opset >= 20 else mode
    return g.op("GridSample", x, grid, mode=onnx_mode, padding_mode=padding_mode, align_corners=int(align_corners))


@lowering("AffineGrid")
def affine_grid(g, theta, *, size, align_corners):
    if g.opset >= 20:
        return g.op("AffineGrid", theta, g.sizes(size), align_corners=int(align_corners))
    spatial = [int(s) for s in size[2:]]  # the traced grid size, as the other spatial lowerings take it
    base = g.const(base_grid(spatial, align_corners).astype(g.dtype(theta)))  # (points, dims + 1)
    points = g.op("MatMul", base, g.op("Transpose", theta, perm=[0, 2, 1]))  # (N, points, dims)
    return g.op("Reshape", points, g.ints([0, *spatial, len(spatial)]))
