"""Image kernels: Resize/Upsample, GridSample, AffineGrid, Col2Im and ImageDecoder.

Resize is separable, so each resized axis is one step: a gather for nearest, and otherwise one matmul with
an (out, in) weight matrix built on the host from that axis's sample positions and filter taps.
"""

from __future__ import annotations

import functools
import io
import itertools
import math

import numpy as np

from serving.kernels.registry import kernel
from serving.kernels.tensor import host, ints, normalize_axis

# ---- Resize: where each output sample comes from --------------------------------------------------------------


def _source_coords(mode: str, n_out: int, n_in: int, scale: float, roi: tuple[float, float] | None):
    """Source coordinate (float64) of every output index along one axis, and the mask of those outside it."""
    y = np.arange(n_out, dtype=np.float64)
    # align_corners and tf_crop_and_resize divide by the unrounded output length, scale * n_in
    length = scale * n_in
    outside = None
    if mode == "half_pixel":
        x = (y + 0.5) / scale - 0.5
    elif mode == "pytorch_half_pixel":
        x = (y + 0.5) / scale - 0.5 if length != 1 else np.full(n_out, -0.5)
    elif mode == "align_corners":
        x = y * (n_in - 1) / (length - 1) if length != 1 else np.zeros(n_out)
    elif mode == "asymmetric":
        x = y / scale
    elif mode == "half_pixel_symmetric":
        offset = n_in / 2 * (1 - n_out / (scale * n_in))
        x = offset + (y + 0.5) / scale - 0.5
    elif mode == "tf_crop_and_resize":
        start, end = roi if roi is not None else (0.0, 1.0)
        if length != 1:
            x = start * (n_in - 1) + y * (end - start) * (n_in - 1) / (length - 1)
        else:
            x = np.full(n_out, start * (n_in - 1) + (end - start) * (n_in - 1) / 2)
        outside = (x < 0) | (x > n_in - 1)
    else:
        raise ValueError(f"Resize: unknown coordinate_transformation_mode {mode!r}")
    return x, outside


def _nearest_index(x, n_in: int, nearest_mode: str, downsampling: bool):
    # float32 scales and the transform leave noise (0.50000002): it must not decide which pixel is nearest
    x = np.round(x, 6)
    if nearest_mode == "round_prefer_floor":
        idx = np.ceil(x - 0.5)
    elif nearest_mode == "round_prefer_ceil":
        idx = np.floor(x + 0.5)
    elif nearest_mode == "floor":
        idx = np.floor(x)
    elif nearest_mode == "ceil":
        idx = np.ceil(x)
    elif nearest_mode == "simple":  # Upsample and Resize-10: floor, but ceil when shrinking
        idx = np.ceil(x) if downsampling else np.floor(x)
    else:
        raise ValueError(f"Resize: unknown nearest_mode {nearest_mode!r}")
    return np.clip(idx, 0, n_in - 1).astype(np.int64)


def _cubic(xp, d, a: float):
    """Keys' cubic convolution kernel at distances ``d``."""
    d = xp.abs(d)
    near = ((a + 2) * d - (a + 3)) * d * d + 1
    far = ((a * d - 5 * a) * d + 8 * a) * d - 4 * a
    return xp.where(d <= 1, near, xp.where(d < 2, far, 0.0))


def _filter_taps(x, n_in: int, scale: float, mode: str, cubic_a: float, antialias: bool, exclude_outside: bool):
    """Per output sample: the input indices (out, taps) it reads, edge-clamped, and their weights."""
    support = 1.0 if mode == "linear" else 2.0
    stretch = min(scale, 1.0) if antialias else 1.0  # antialiasing widens the filter by 1/scale when shrinking
    first = math.floor(-support / stretch) + 1
    taps = np.arange(first, 1 - first + 1)  # offsets from floor(x), symmetric about the sample
    index = np.floor(x)[:, None] + taps[None, :]
    distance = (index - x[:, None]) * stretch
    w = np.clip(1 - np.abs(distance), 0, 1) if mode == "linear" else _cubic(np, distance, cubic_a)
    if exclude_outside:
        w = np.where((index < 0) | (index >= n_in), 0.0, w)
    if antialias or exclude_outside:
        total = w.sum(axis=1, keepdims=True)
        w = w / np.where(total == 0, 1.0, total)
    used = w.any(axis=0)  # the outermost offsets of a widened filter often weigh nothing anywhere
    # taps past the edge repeat the edge sample, as edge padding would
    return np.clip(index[:, used], 0, n_in - 1).astype(np.int64), w[:, used]


@functools.lru_cache(maxsize=256)
def _axis_plan(n_out: int, n_in: int, scale: float, roi, mode: str, transform: str, nearest_mode: str,
               cubic_a: float, antialias: bool, exclude_outside: bool):
    """How one axis is resized, (index, weights or None, outside mask or None); models resize the same way often."""
    coords, outside = _source_coords(transform, n_out, n_in, scale, roi)
    if mode == "nearest":
        index, w = _nearest_index(coords, n_in, nearest_mode, scale < 1)[:, None], None
    else:
        index, w = _filter_taps(coords, n_in, scale, mode, cubic_a, antialias, exclude_outside)
    if outside is not None and not outside.any():
        outside = None
    for a in (index, w, outside):
        if a is not None:
            a.flags.writeable = False
    return index, w, outside


def _apply_taps(xp, x, index, w, axis: int):
    """Resample ``x`` along ``axis``: output j = sum_k w[j, k] * x[index[j, k]] (a plain gather without weights)."""
    pre, n_in, post = math.prod(x.shape[:axis]), x.shape[axis], math.prod(x.shape[axis + 1:])
    x3 = x.reshape(pre, n_in, post)
    if w is None:
        y = xp.take(x3, xp.asarray(index[:, 0]), axis=1)
    elif post == 1:
        # innermost axis: one gather of every tap, then a contraction over the taps
        y = xp.einsum("rok,ok->ro", x3[:, xp.asarray(index), 0], xp.asarray(w, dtype=x.dtype))
    else:
        # an outer axis: each tap gathers whole contiguous rows
        weights = xp.asarray(w, dtype=x.dtype)
        y = xp.take(x3, xp.asarray(index[:, 0]), axis=1) * weights[:, 0].reshape(1, -1, 1)
        for k in range(1, index.shape[1]):
            y += xp.take(x3, xp.asarray(index[:, k]), axis=1) * weights[:, k].reshape(1, -1, 1)
    return y.reshape(x.shape[:axis] + (index.shape[0],) + x.shape[axis + 1:])


def _repeat_factor(index, n_in: int) -> int:
    """r when ``index`` is 0,0,..,1,1,.. (each input index r times in order), else 0."""
    r, rest = divmod(len(index), n_in)
    return r if r >= 1 and not rest and np.array_equal(index, np.repeat(np.arange(n_in), r)) else 0


def _repeat(xp, x, factors: list[int]):
    pairs = list(zip(x.shape, factors, strict=True))
    spread = xp.broadcast_to(x.reshape([d for n, _ in pairs for d in (n, 1)]), [d for pair in pairs for d in pair])
    return spread.reshape([n * r for n, r in pairs])


def _output_plan(shape, scales, sizes, axes, policy):
    """Per-axis (output size, scale) for every axis of the input, from either scales or sizes."""
    rank = len(shape)
    axes = list(range(rank)) if axes is None else [normalize_axis(a, rank, "Resize") for a in axes]
    out = list(shape)
    scale = [1.0] * rank
    if sizes is not None:
        if len(sizes) != len(axes):
            raise ValueError(f"Resize: sizes has {len(sizes)} entries for {len(axes)} axes")
        for a, n in zip(axes, sizes, strict=True):
            out[a], scale[a] = n, n / shape[a]
        if policy != "stretch":
            if policy not in ("not_larger", "not_smaller"):
                raise ValueError(f"Resize: unknown keep_aspect_ratio_policy {policy!r}")
            pick = min if policy == "not_larger" else max
            common = pick(scale[a] for a in axes)
            for a in axes:
                scale[a], out[a] = common, int(common * shape[a] + 0.5)
    else:
        if len(scales) != len(axes):
            raise ValueError(f"Resize: scales has {len(scales)} entries for {len(axes)} axes")
        for a, s in zip(axes, scales, strict=True):
            if s <= 0:
                raise ValueError(f"Resize: scales must be positive, got {scales}")
            scale[a], out[a] = s, int(s * shape[a])
    return axes, out, scale


def _resize(xp, x, *, scales=None, sizes=None, roi=None, axes=None, mode="nearest",
            coordinate_transformation_mode="half_pixel", nearest_mode="round_prefer_floor", cubic_coeff_a=-0.75,
            exclude_outside=0, extrapolation_value=0.0, antialias=0, keep_aspect_ratio_policy="stretch"):
    if mode not in ("nearest", "linear", "cubic"):
        raise ValueError(f"Resize: unknown mode {mode!r}, expected nearest, linear or cubic")
    if (scales is None) == (sizes is None):
        raise ValueError("Resize: exactly one of scales and sizes must be given")
    axes, out_shape, scale = _output_plan(x.shape, scales, sizes, axes, keep_aspect_ratio_policy)
    rank = x.ndim
    crop = coordinate_transformation_mode == "tf_crop_and_resize"
    if crop and roi is not None and len(roi) != 2 * len(axes):
        raise ValueError(f"Resize: roi has {len(roi)} entries, expected {2 * len(axes)} (starts, then ends)")
    integer = x.dtype.kind in "iub"
    # filters accumulate in float32 (float64 for double input); nearest only moves values
    y = x if mode == "nearest" or x.dtype == np.float64 else x.astype(np.float32)
    plans = {}
    for position, a in enumerate(axes):
        n_in, n_out = x.shape[a], out_shape[a]
        axis_roi = None if roi is None or not crop else (roi[position], roi[position + len(axes)])
        if n_out == n_in and scale[a] == 1.0 and not crop:
            continue  # identity along this axis
        plans[a] = _axis_plan(n_out, n_in, scale[a], axis_roi, mode, coordinate_transformation_mode, nearest_mode,
                              cubic_coeff_a, bool(antialias), bool(exclude_outside))
    repeats = {a: _repeat_factor(plan[0][:, 0], x.shape[a]) for a, plan in plans.items() if plan[1] is None}
    outside = None
    if plans and len(repeats) == len(plans) and all(repeats.values()) and \
            all(plan[2] is None for plan in plans.values()):
        # nearest upsampling by whole factors (the common 2x): one broadcast copy instead of a gather per axis
        y = _repeat(xp, y, [repeats.get(a, 1) for a in range(rank)])
        plans = {}
    for a, (index, w, out_of_roi) in plans.items():
        y = _apply_taps(xp, y, index, w, a)
        if out_of_roi is not None:
            mask = out_of_roi.reshape((1,) * a + (len(out_of_roi),) + (1,) * (rank - a - 1))
            outside = mask if outside is None else outside | mask
    if outside is not None:
        y = xp.where(xp.asarray(outside), xp.asarray(extrapolation_value, dtype=y.dtype), y)
    if integer and mode != "nearest":
        info = np.iinfo(x.dtype)
        y = xp.clip(xp.rint(y), info.min, info.max)
    return y.astype(x.dtype, copy=False)


def _floats(a):
    return None if a is None or a.size == 0 else [float(v) for v in host(a).reshape(-1)]


@kernel("Resize", since=10)
def Resize_10(ctx, X, scales, *, mode="nearest"):  # noqa: N803 - the ONNX input's name
    return _resize(ctx.xp, X, scales=_floats(scales), mode=mode, coordinate_transformation_mode="asymmetric",
                   nearest_mode="simple")


@kernel("Resize", since=11)
def Resize(ctx, X, roi=None, scales=None, sizes=None, *, mode="nearest",  # noqa: N803 - the ONNX input's name
           coordinate_transformation_mode="half_pixel", nearest_mode="round_prefer_floor", cubic_coeff_a=-0.75,
           exclude_outside=0, extrapolation_value=0.0, antialias=0, axes=None, keep_aspect_ratio_policy="stretch"):
    if antialias and mode == "nearest":
        raise ValueError("Resize: antialias applies to the linear and cubic modes, not nearest")
    sizes = None if sizes is None or sizes.size == 0 else ints(sizes)
    return _resize(ctx.xp, X, scales=None if sizes is not None else _floats(scales), sizes=sizes,
                   roi=_floats(roi), axes=axes, mode=mode, nearest_mode=nearest_mode,
                   coordinate_transformation_mode=coordinate_transformation_mode, cubic_coeff_a=cubic_coeff_a,
                   exclude_outside=exclude_outside, extrapolation_value=extrapolation_value,
                   antialias=antialias, keep_aspect_ratio_policy=keep_aspect_ratio_policy)


def _upsample(xp, x, scales, mode):
    if len(scales) != x.ndim:
        raise ValueError(f"Upsample: {len(scales)} scales for a tensor of rank {x.ndim}")
    # ONNX's "bilinear" of opset 1 and "linear" of 7+ are the same asymmetric, clamped interpolation
    return _resize(xp, x, scales=scales, mode="linear" if mode in ("linear", "bilinear") else mode,
                   coordinate_transformation_mode="asymmetric", nearest_mode="simple")


@kernel("Upsample")
def Upsample_1(ctx, X, *, height_scale, width_scale, mode="nearest"):  # noqa: N803 - the ONNX input's name
    return _upsample(ctx.xp, X, [1.0, 1.0, height_scale, width_scale], mode)


@kernel("Upsample", since=7)
def Upsample_7(ctx, X, *, scales, mode="nearest"):  # noqa: N803 - the ONNX input's name
    return _upsample(ctx.xp, X, list(scales), mode)


@kernel("Upsample", since=9)
def Upsample(ctx, X, scales, *, mode="nearest"):  # noqa: N803 - the ONNX input's name
    return _upsample(ctx.xp, X, _floats(scales), mode)


# ---- GridSample and AffineGrid -------------------------------------------------------------------------------


def _reflect(xp, x, low: float, high: float):
    """Fold coordinates back into [low, high] by mirroring at the borders, as often as needed."""
    span = high - low
    if span <= 0:
        return xp.full_like(x, low)
    below, above = x < low, x > high
    distance = xp.where(below, low - x, xp.where(above, x - high, 0))
    folds = xp.floor(distance / span)
    rest = distance - folds * span
    even = folds % 2 == 0
    from_low = xp.where(even, low + rest, high - rest)
    from_high = xp.where(even, high - rest, low + rest)
    return xp.where(below, from_low, xp.where(above, from_high, x))


def _grid_taps(xp, x, size: int, mode: str, padding: str, align_corners: bool):
    """Per output point along one axis: tap indices (int64), weights and validity, each (..., taps)."""
    low, high = (0.0, size - 1.0) if align_corners else (-0.5, size - 0.5)
    if mode == "nearest":
        x = xp.rint(x)
    # nearest and linear first bring the coordinate inside; cubic, as in PyTorch, pads each of its taps instead
    if padding == "border" and mode != "cubic":
        x = xp.clip(x, 0, size - 1)
    elif padding == "reflection" and mode != "cubic":
        x = _reflect(xp, x, low, high)
    if mode == "nearest":
        index = xp.trunc(x)[..., None]
        weight = xp.ones_like(index)
    else:
        base = xp.floor(x)
        t = (x - base)[..., None]
        if mode == "linear":
            offsets = xp.asarray([0.0, 1.0], dtype=x.dtype)
            weight = xp.concatenate([1 - t, t], axis=-1)
        else:
            offsets = xp.asarray([-1.0, 0.0, 1.0, 2.0], dtype=x.dtype)
            weight = _cubic(xp, offsets - t, -0.75).astype(x.dtype)
        index = base[..., None] + offsets
    if padding == "zeros":
        valid = (index >= 0) & (index <= size - 1)
    else:
        if padding == "reflection":
            index = xp.trunc(_reflect(xp, index, low, high))
        valid = xp.ones(index.shape, dtype=bool)
    return xp.clip(index, 0, size - 1).astype(np.int64), weight, valid


@kernel("GridSample", since=16)
def GridSample(ctx, X, grid, *, align_corners=0, mode="linear", padding_mode="zeros"):  # noqa: N803 - ONNX name
    xp = ctx.xp
    mode = {"bilinear": "linear", "bicubic": "cubic"}.get(mode, mode)
    if mode not in ("nearest", "linear", "cubic"):
        raise ValueError(f"GridSample: unknown mode {mode!r}, expected nearest, linear or cubic")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(f"GridSample: unknown padding_mode {padding_mode!r}, expected zeros, border or reflection")
    n, c, *spatial = X.shape
    dims = len(spatial)
    if grid.ndim != dims + 2 or grid.shape[0] != n or grid.shape[-1] != dims:
        raise ValueError(f"GridSample: grid of shape {grid.shape} does not fit an input of shape {X.shape}")
    out_spatial = grid.shape[1:-1]
    points = math.prod(out_spatial)
    coords = grid.reshape(n, points, dims)
    taps = []
    for d, size in enumerate(spatial):
        g = coords[..., dims - 1 - d]  # the grid lists coordinates innermost axis first (x, y, z)
        x = (g + 1) / 2 * (size - 1) if align_corners else ((g + 1) * size - 1) / 2
        taps.append(_grid_taps(xp, x, size, mode, padding_mode, bool(align_corners)))
    strides = [math.prod(spatial[d + 1:]) for d in range(dims)]
    flat = X.reshape(n, c, -1)
    out = xp.zeros((n, c, points), dtype=X.dtype)
    for combo in itertools.product(*(range(t[0].shape[-1]) for t in taps)):
        linear = sum(taps[d][0][..., k] * strides[d] for d, k in enumerate(combo))
        weight = math.prod(taps[d][1][..., k] * taps[d][2][..., k] for d, k in enumerate(combo))
        gathered = xp.take_along_axis(flat, xp.broadcast_to(linear[:, None, :], (n, c, points)), axis=2)
        out += (gathered * weight[:, None, :]).astype(X.dtype, copy=False)
    return out.reshape(n, c, *out_spatial)


@kernel("AffineGrid", since=20)
def AffineGrid(ctx, theta, size, *, align_corners=0):
    xp = ctx.xp
    n, _, *spatial = ints(size)
    dims = len(spatial)
    if theta.shape != (n, dims, dims + 1):
        raise ValueError(f"AffineGrid: theta has shape {theta.shape}, expected {(n, dims, dims + 1)} for size {size}")
    axes = []
    for length in spatial:
        if align_corners:
            axes.append(np.linspace(-1.0, 1.0, length))
        else:
            axes.append((np.arange(length) * 2 + 1) / length - 1)
    mesh = np.meshgrid(*axes, indexing="ij")
    # homogeneous points (x, y[, z], 1) with x running along the innermost axis
    base = np.stack([*reversed(mesh), np.ones(mesh[0].shape)], axis=-1).reshape(-1, dims + 1)
    grid = xp.matmul(xp.asarray(base, dtype=theta.dtype), xp.swapaxes(theta, 1, 2))
    return grid.reshape(n, *spatial, dims)


# ---- Col2Im --------------------------------------------------------------------------------------------------


@kernel("Col2Im", since=18)
def Col2Im(ctx, input, image_shape, block_shape, *, dilations=None, pads=None, strides=None):
    xp = ctx.xp
    image, block = ints(image_shape), ints(block_shape)
    dims = len(image)
    dilations = dilations or [1] * dims
    pads = pads or [0] * (2 * dims)
    strides = strides or [1] * dims
    n, columns, length = input.shape
    kernel_size = math.prod(block)
    if columns % kernel_size:
        raise ValueError(f"Col2Im: input dimension 1 ({columns}) is not divisible by the block size {kernel_size}")
    padded = [image[d] + pads[d] + pads[d + dims] for d in range(dims)]
    blocks = [(padded[d] - dilations[d] * (block[d] - 1) - 1) // strides[d] + 1 for d in range(dims)]
    if math.prod(blocks) != length:
        raise ValueError(f"Col2Im: input dimension 2 is {length}, expected {math.prod(blocks)} sliding blocks "
                         f"{blocks} for image {image}, block {block}, pads {pads}, strides {strides}")
    c = columns // kernel_size
    cols = input.reshape(n, c, *block, *blocks)
    out = xp.zeros((n, c, *padded), dtype=input.dtype)
    # one strided add per kernel offset; within one offset no two blocks touch the same pixel
    for offset in itertools.product(*(range(k) for k in block)):
        target = tuple(slice(offset[d] * dilations[d], offset[d] * dilations[d] + (blocks[d] - 1) * strides[d] + 1,
                             strides[d]) for d in range(dims))
        out[(slice(None), slice(None), *target)] += cols[(slice(None), slice(None), *offset)]
    crop = tuple(slice(pads[d], pads[d] + image[d]) for d in range(dims))
    return out[(slice(None), slice(None), *crop)]


# ---- ImageDecoder --------------------------------------------------------------------------------------------


@kernel("ImageDecoder", since=20)
def ImageDecoder(ctx, encoded_stream, *, pixel_format="RGB"):
    try:
        from PIL import Image  # noqa: PLC0415 - optional: only models that decode images need Pillow
    except ImportError as exc:
        raise ImportError("ImageDecoder needs Pillow to decode images: pip install pillow") from exc
    if pixel_format not in ("RGB", "BGR", "Grayscale"):
        raise ValueError(f"ImageDecoder: unknown pixel_format {pixel_format!r}, expected RGB, BGR or Grayscale")
    try:
        image = Image.open(io.BytesIO(host(encoded_stream).tobytes()))
        image.load()
    except OSError as exc:
        raise ValueError(f"ImageDecoder: could not decode the image: {exc}") from exc
    if pixel_format == "Grayscale":
        pixels = np.asarray(image.convert("L"))[:, :, None]
    else:
        pixels = np.asarray(image.convert("RGB"))
        if pixel_format == "BGR":
            pixels = pixels[:, :, ::-1]
    return ctx.xp.asarray(np.ascontiguousarray(pixels, dtype=np.uint8))
