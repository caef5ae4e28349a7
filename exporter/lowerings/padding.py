"""Pad (constant, reflect, edge; circular as ``wrap`` from opset 19, as Slice + Concat before) and the pixel
shuffles as DepthToSpace (CRD, PyTorch's channel order) and SpaceToDepth plus a channel reorder."""

from exporter.lowerings import lowering

_ONNX_MODES = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def _per_axis(rank, pad):
    """PyTorch's flat ``pad`` (last dim first) as ONNX's ``[begin_0, ..., begin_n, end_0, ..., end_n]``."""
    begins, ends = [0] * rank, [0] * rank
    for k in range(len(pad) // 2):
        begins[rank - 1 - k], ends[rank - 1 - k] = pad[2 * k], pad[2 * k + 1]
    return begins, ends


@lowering("Pad")
def pad(g, a, pad, mode="constant", value=0.0):
    begins, ends = _per_axis(g.rank(a), pad)
    if mode == "circular" and g.opset < 19:
        return _circular(g, a, begins, ends)
    if mode == "constant":
        return g.op("Pad", a, g.ints(begins + ends), g.like(value, a), mode="constant")
    if mode != "circular" and min(begins + ends) < 0:
        return _padded_then_cropped(g, a, begins, ends, mode)
    return g.op("Pad", a, g.ints(begins + ends), mode=_ONNX_MODES[mode])


def _padded_then_cropped(g, a, begins, ends, mode):
    """Reflect and replicate with negative amounts: PyTorch mirrors or repeats at the edges of the whole input and
    crops afterwards, so pad by the positive amounts first, then slice the negative ones off."""
    padded = g.op("Pad", a, g.ints([max(p, 0) for p in begins + ends]), mode=_ONNX_MODES[mode])
    axes = [axis for axis, (before, after) in enumerate(zip(begins, ends)) if min(before, after) < 0]
    starts = [max(-begins[axis], 0) for axis in axes]
    stops = [ends[axis] if ends[axis] < 0 else 2**62 for axis in axes]
    return g.op("Slice", padded, g.ints(starts), g.ints(stops), g.ints(axes))


def _circular(g, a, begins, ends):
    """Wrap-around padding per axis, as PyTorch (and ONNX's wrap) do it: negative amounts crop first, then the
    last ``before`` and the first ``after`` elements of what is left go around it."""
    big = 2**62
    for axis, (before, after) in enumerate(zip(begins, ends)):
        axes = g.ints([axis])
        if before < 0 or after < 0:
            a = g.op("Slice", a, g.ints([max(-before, 0)]), g.ints([after if after < 0 else big]), axes)
        parts = [g.op("Slice", a, g.ints([-before]), g.ints([big]), axes)] if before > 0 else []
        parts.append(a)
        if after > 0:
            parts.append(g.op("Slice", a, g.ints([0]), g.ints([after]), axes))
        a = parts[0] if len(parts) == 1 else g.op("Concat", *parts, axis=axis)
    return a


@lowering("PixelShuffle")
def pixel_shuffle(g, a, upscale_factor, inverse=False):
    rank = g.rank(a)
    x = a if rank == 4 else g.op("Reshape", a, g.op("Concat", g.ints([-1]), g.dims(a, range(rank - 3, rank)), axis=0))
    out = _space_to_depth(g, x, upscale_factor) if inverse else g.op("DepthToSpace", x, blocksize=upscale_factor,
                                                                      mode="CRD")
    if rank == 4:
        return out
    return g.op("Reshape", out, g.op("Concat", g.dims(a, range(rank - 3)), g.dims(out, (1, 2, 3)), axis=0))


def _space_to_depth(g, x, r):
    """SpaceToDepth orders the new channels ``(block_row, block_col, channel)``; PyTorch's pixel_unshuffle orders
    them ``(channel, block_row, block_col)``: swap the two groups."""
    blocks = g.op("SpaceToDepth", x, blocksize=r)
    grouped = g.op("Reshape", blocks, g.op("Concat", g.ints([0, r * r]), g.dims(x, [1]), g.ints([-1]), axis=0))
    return g.op("Reshape", g.op("Transpose", grouped, perm=[0, 2, 1, 3]), g.op("Shape", blocks))
