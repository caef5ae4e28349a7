"""Layout and shape kernels: reshaping, joining, splitting, slicing, padding and making tensors."""

from __future__ import annotations

import math

import numpy as np
from onnx import helper, numpy_helper

from serving.kernels.registry import kernel


def host(a):
    """A small control tensor (a shape, axes, pads, a scalar) as a NumPy array on the host."""
    return a.get() if hasattr(a, "get") else np.asarray(a)


def ints(a) -> list[int]:
    """A 1-D (or scalar) integer control tensor as a list of Python ints."""
    if type(a) is np.ndarray and a.dtype.kind in "iu":
        return a.reshape(-1).tolist()  # one C call, where converting element by element costs microseconds
    return [int(v) for v in host(a).reshape(-1)]


def normalize_axis(axis: int, rank: int, op: str) -> int:
    if not -rank <= axis < max(rank, 1):
        raise ValueError(f"{op}: axis {axis} is out of range for a tensor of rank {rank}")
    return axis + rank if axis < 0 else axis


def native(dtype) -> bool:
    """Whether ``dtype`` is one of NumPy's own (CuPy holds only those; ml_dtypes' bfloat16, float8, int4 are not)."""
    return np.dtype(dtype).type.__module__ == "numpy"


def _np_dtype(onnx_type: int):
    return helper.tensor_dtype_to_np_dtype(onnx_type)


# ---- reshape-like -------------------------------------------------------------------------------------------


def _reshape(data, shape: list[int], allowzero: int):
    if not allowzero:
        shape = [data.shape[i] if s == 0 else s for i, s in enumerate(shape)]
    if shape.count(-1) > 1:
        raise ValueError(f"Reshape: at most one dimension may be -1, got shape {shape}")
    return data.reshape(shape)


@kernel("Reshape")
def Reshape_1(ctx, data, *, shape=None, consumed_inputs=None):
    return _reshape(data, list(shape), 0)


@kernel("Reshape", since=5)
def Reshape(ctx, data, shape, *, allowzero=0):
    return _reshape(data, ints(shape), allowzero)


@kernel("Flatten")
def Flatten(ctx, x, *, axis=1):
    axis = axis + x.ndim if axis < 0 else axis
    if not 0 <= axis <= x.ndim:
        raise ValueError(f"Flatten: axis {axis} is out of range for a tensor of rank {x.ndim}")
    return ctx.xp.reshape(x, (math.prod(x.shape[:axis]), math.prod(x.shape[axis:])))


def _squeeze(data, axes):
    if axes is None:
        return data.reshape([d for d in data.shape if d != 1])
    axes = {normalize_axis(a, data.ndim, "Squeeze") for a in axes}
    for a in axes:
        if data.shape[a] != 1:
            raise ValueError(f"Squeeze: dimension {a} has size {data.shape[a]}, expected 1")
    return data.reshape([d for i, d in enumerate(data.shape) if i not in axes])


@kernel("Squeeze")
def Squeeze_1(ctx, data, *, axes=None):
    return _squeeze(data, axes)


@kernel("Squeeze", since=13)
def Squeeze(ctx, data, axes=None):
    return _squeeze(data, None if axes is None else ints(axes))


def _unsqueeze(data, axes):
    rank = data.ndim + len(axes)
    axes = sorted(normalize_axis(a, rank, "Unsqueeze") for a in axes)
    if len(set(axes)) != len(axes):
        raise ValueError(f"Unsqueeze: axes {axes} repeat an axis")
    shape = list(data.shape)
    for a in axes:
        shape.insert(a, 1)
    return data.reshape(shape)


@kernel("Unsqueeze")
def Unsqueeze_1(ctx, data, *, axes):
    return _unsqueeze(data, axes)


@kernel("Unsqueeze", since=13)
def Unsqueeze(ctx, data, axes):
    return _unsqueeze(data, ints(axes))


@kernel("Transpose")
def Transpose(ctx, data, *, perm=None):
    return ctx.xp.transpose(data, None if perm is None else tuple(perm))


@kernel("Identity")
def Identity(ctx, x):
    return x


# ---- shape queries ------------------------------------------------------------------------------------------


@kernel("Shape")
def Shape(ctx, data, *, start=0, end=None):
    dims = data.shape[slice(start, end)]
    return ctx.xp.asarray(dims, dtype=np.int64).reshape(len(dims))


@kernel("Size")
def Size(ctx, data):
    return ctx.xp.asarray(data.size, dtype=np.int64)


# ---- joining and splitting ----------------------------------------------------------------------------------


@kernel("Concat")
def Concat(ctx, *inputs, axis=None):
    if axis is None:
        if ctx.opset >= 4:
            raise ValueError("Concat: the axis attribute is required from opset 4 on")
        axis = 1  # opset 1 default
    axis = normalize_axis(axis, inputs[0].ndim, "Concat")
    return ctx.xp.concatenate(inputs, axis=axis)


def _split(ctx, x, sizes, axis, num_outputs=None):
    axis = normalize_axis(axis, x.ndim, "Split")
    dim = x.shape[axis]
    if sizes is None:
        n = num_outputs if num_outputs is not None else ctx.n_outputs
        chunk = -(-dim // n) if num_outputs is not None else dim // n
        if num_outputs is None and chunk * n != dim:
            raise ValueError(f"Split: dimension {dim} does not split evenly into {n} outputs")
        sizes = [min(chunk, max(dim - i * chunk, 0)) for i in range(n)]
    if sum(sizes) != dim:
        raise ValueError(f"Split: split sizes {sizes} do not add up to dimension {dim}")
    bounds = np.cumsum(sizes)[:-1].tolist()
    return tuple(ctx.xp.split(x, bounds, axis=axis))


@kernel("Split")
def Split_1(ctx, x, split=None, *, axis=0):
    # opset 1 takes the sizes from an optional second input or from the attribute of the same name
    return _split(ctx, x, None if split is None else (ints(split) if hasattr(split, "shape") else split), axis)


@kernel("Split", since=2)
def Split_2(ctx, x, *, axis=0, split=None):
    return _split(ctx, x, split, axis)


@kernel("Split", since=13)
def Split(ctx, x, split=None, *, axis=0, num_outputs=None):
    if split is not None and num_outputs is not None:
        raise ValueError("Split: give either the split input or the num_outputs attribute, not both")
    return _split(ctx, x, None if split is None else ints(split), axis, num_outputs)


# ---- slicing ------------------------------------------------------------------------------------------------


def _slice(data, starts, ends, axes, steps):
    axes = list(range(len(starts))) if axes is None else [normalize_axis(a, data.ndim, "Slice") for a in axes]
    steps = [1] * len(starts) if steps is None else steps
    index = [slice(None)] * data.ndim
    for start, end, axis, step in zip(starts, ends, axes, steps, strict=True):
        if step == 0:
            raise ValueError("Slice: steps must not be 0")
        # Python slices clamp exactly as ONNX does, including INT64_MAX/INT64_MIN sentinels
        index[axis] = slice(start, end, step)
    return data[tuple(index)]


@kernel("Slice")
def Slice_1(ctx, data, *, starts, ends, axes=None):
    return _slice(data, starts, ends, axes, None)


@kernel("Slice", since=10)
def Slice(ctx, data, starts, ends, axes=None, steps=None):
    return _slice(data, ints(starts), ints(ends), None if axes is None else ints(axes),
                  None if steps is None else ints(steps))


# ---- broadcasting and repeating -----------------------------------------------------------------------------


@kernel("Expand", since=8)
def Expand(ctx, x, shape):
    target = np.broadcast_shapes(x.shape, tuple(ints(shape)))
    return ctx.xp.broadcast_to(x, target).copy()


@kernel("Tile")
def Tile_1(ctx, x, tiles, axis):
    reps = [1] * x.ndim
    reps[normalize_axis(ints(axis)[0], x.ndim, "Tile")] = ints(tiles)[0]
    return ctx.xp.tile(x, reps)


@kernel("Tile", since=6)
def Tile(ctx, x, repeats):
    reps = ints(repeats)
    if len(reps) != x.ndim:
        raise ValueError(f"Tile: repeats has {len(reps)} entries, expected one per dimension ({x.ndim})")
    return ctx.xp.tile(x, reps)


# ---- padding ------------------------------------------------------------------------------------------------


def _pad(xp, data, pads, mode, value, axes=None):
    rank = data.ndim
    axes = list(range(rank)) if axes is None else [normalize_axis(a, rank, "Pad") for a in axes]
    if len(pads) != 2 * len(axes):
        raise ValueError(f"Pad: {len(pads)} pads given for {len(axes)} axes, expected {2 * len(axes)}")
    width = [[0, 0] for _ in range(rank)]
    for i, a in enumerate(axes):
        width[a] = [pads[i], pads[i + len(axes)]]
    # negative pads crop; do that first so the padding itself only ever grows the tensor
    crop = tuple(slice(max(-b, 0), d - max(-e, 0)) for (b, e), d in zip(width, data.shape, strict=True))
    data = data[crop]
    width = [(max(b, 0), max(e, 0)) for b, e in width]
    if mode == "constant":
        shape = [d + b + e for d, (b, e) in zip(data.shape, width, strict=True)]
        out = xp.full(shape, value if value is not None else 0, dtype=data.dtype)
        out[tuple(slice(b, b + d) for d, (b, _) in zip(data.shape, width, strict=True))] = data
        return out
    if mode not in ("reflect", "edge", "wrap"):
        raise ValueError(f"Pad: unknown mode {mode!r}, expected constant, reflect, edge or wrap")
    if not any(any(w) for w in width):
        return data
    return xp.pad(data, width, mode=mode)


def _scalar(a):
    return None if a is None or a.size == 0 else host(a).reshape(-1)[0]


@kernel("Pad")
def Pad_1(ctx, data, *, paddings, mode="constant", value=0.0):
    return _pad(ctx.xp, data, paddings, mode, value)


@kernel("Pad", since=2)
def Pad_2(ctx, data, *, pads, mode="constant", value=0.0):
    return _pad(ctx.xp, data, pads, mode, value)


@kernel("Pad", since=11)
def Pad(ctx, data, pads, constant_value=None, axes=None, *, mode="constant"):
    return _pad(ctx.xp, data, ints(pads), mode, _scalar(constant_value), None if axes is None else ints(axes))


@kernel("CenterCropPad", since=18)
def CenterCropPad(ctx, input_data, shape, *, axes=None):
    rank = input_data.ndim
    axes = list(range(rank)) if axes is None else [normalize_axis(a, rank, "CenterCropPad") for a in axes]
    target = ints(shape)
    if len(target) != len(axes):
        raise ValueError(f"CenterCropPad: shape has {len(target)} entries for {len(axes)} axes")
    src = [slice(None)] * rank
    dst = [slice(None)] * rank
    out_shape = list(input_data.shape)
    for a, size in zip(axes, target, strict=True):
        dim = input_data.shape[a]
        out_shape[a] = size
        if size < dim:
            start = (dim - size) // 2
            src[a] = slice(start, start + size)
        elif size > dim:
            start = (size - dim) // 2
            dst[a] = slice(start, start + dim)
    out = ctx.xp.zeros(out_shape, dtype=input_data.dtype)
    out[tuple(dst)] = input_data[tuple(src)]
    return out


# ---- making tensors -----------------------------------------------------------------------------------------


def _sparse_to_dense(sparse) -> np.ndarray:
    values = numpy_helper.to_array(sparse.values)
    indices = numpy_helper.to_array(sparse.indices).astype(np.int64)
    dense = np.zeros(int(np.prod(sparse.dims)), dtype=values.dtype)
    # indices are either linear ([NNZ]) or one coordinate row per value ([NNZ, rank])
    flat = indices if indices.ndim == 1 else np.ravel_multi_index(tuple(indices.T), tuple(sparse.dims))
    dense[flat] = values
    return dense.reshape(tuple(sparse.dims))


@kernel("Constant")
def Constant(ctx, *, value=None, sparse_value=None, value_float=None, value_floats=None, value_int=None,
             value_ints=None, value_string=None, value_strings=None):
    given = {k: v for k, v in (("value", value), ("sparse_value", sparse_value), ("value_float", value_float),
                               ("value_floats", value_floats), ("value_int", value_int), ("value_ints", value_ints),
                               ("value_string", value_string), ("value_strings", value_strings)) if v is not None}
    if len(given) != 1:
        raise ValueError(f"Constant: exactly one value attribute is expected, got {sorted(given) or 'none'}")
    (name, v), = given.items()
    if name == "sparse_value":
        v = v if hasattr(v, "shape") else _sparse_to_dense(v)
    elif name in ("value_float", "value_floats"):
        v = np.asarray(v, dtype=np.float32)
    elif name in ("value_int", "value_ints"):
        v = np.asarray(v, dtype=np.int64)
    elif name in ("value_string", "value_strings"):
        return np.asarray(v, dtype=object)
    return ctx.xp.asarray(v) if native(v.dtype) and v.dtype != object else v


@kernel("ConstantOfShape", since=9)
def ConstantOfShape(ctx, input, *, value=None):
    fill = np.zeros(1, dtype=np.float32) if value is None else host(value).reshape(-1)
    xp = ctx.xp if native(fill.dtype) else np  # ml_dtypes values are built on the host
    return xp.full(ints(input), fill[0], dtype=fill.dtype)


@kernel("Range", since=11)
def Range(ctx, start, limit, delta, *, stash_type=1):
    dtype = start.dtype
    a, b, d = (host(v).reshape(()) for v in (start, limit, delta))
    if dtype.kind in "iu":
        a, b, d = int(a), int(b), int(d)
        if d == 0:
            raise ValueError("Range: delta must not be 0")
        n = max(-(-(b - a) // d), 0)
        return ctx.xp.arange(a, a + n * d, d, dtype=dtype)[:n]
    a, b, d = float(a), float(b), float(d)
    if d == 0:
        raise ValueError("Range: delta must not be 0")
    n = max(math.ceil((b - a) / d), 0)
    # float16/bfloat16 compute in the stash type (float32 unless 11 = double); start + i * delta, never sums
    compute = np.float64 if dtype == np.float64 or stash_type == 11 else np.float32
    xp = ctx.xp if native(dtype) else np
    return (xp.asarray(a, dtype=compute) + xp.arange(n, dtype=compute) * xp.asarray(d, dtype=compute)).astype(dtype)


@kernel("EyeLike", since=9)
def EyeLike(ctx, input, *, dtype=None, k=0):
    if input.ndim != 2:
        raise ValueError(f"EyeLike: input must be 2-D, got shape {input.shape}")
    out_dtype = input.dtype if dtype is None else _np_dtype(dtype)
    return ctx.xp.eye(input.shape[0], input.shape[1], k=k, dtype=out_dtype)


@kernel("Trilu", since=14)
def Trilu(ctx, input, k=None, *, upper=1):
    offset = 0 if k is None else int(host(k).reshape(()))
    return ctx.xp.triu(input, offset) if upper else ctx.xp.tril(input, offset)


@kernel("OneHot", since=9)
def OneHot(ctx, indices, depth, values, *, axis=-1):
    xp = ctx.xp
    n = int(host(depth).reshape(-1)[0])
    rank = indices.ndim + 1
    axis = normalize_axis(axis, rank, "OneHot")
    idx = indices.astype(np.int64)
    idx = xp.where(idx < 0, idx + n, idx)  # -depth..-1 count from the end; the rest out of range is all off
    shape = [1] * rank
    shape[axis] = n
    hot = xp.expand_dims(idx, axis) == xp.arange(n, dtype=np.int64).reshape(shape)
    off, on = values[0], values[1]
    return xp.where(hot, on, off).astype(values.dtype)


# ---- moving data between axes -------------------------------------------------------------------------------


def _check_4d(op, x, blocksize):
    if x.ndim != 4:
        raise ValueError(f"{op}: input must be 4-D (N, C, H, W), got shape {x.shape}")
    if not blocksize or blocksize < 1:
        raise ValueError(f"{op}: blocksize must be a positive integer, got {blocksize}")


@kernel("DepthToSpace")
def DepthToSpace(ctx, x, *, blocksize, mode="DCR"):
    _check_4d("DepthToSpace", x, blocksize)
    b, c, h, w = x.shape
    bs = blocksize
    if c % (bs * bs):
        raise ValueError(f"DepthToSpace: channels {c} are not divisible by blocksize^2 = {bs * bs}")
    if mode == "DCR":
        y = x.reshape(b, bs, bs, c // (bs * bs), h, w).transpose(0, 3, 4, 1, 5, 2)
    elif mode == "CRD":
        y = x.reshape(b, c // (bs * bs), bs, bs, h, w).transpose(0, 1, 4, 2, 5, 3)
    else:
        raise ValueError(f"DepthToSpace: unknown mode {mode!r}, expected DCR or CRD")
    return ctx.xp.reshape(y, (b, c // (bs * bs), h * bs, w * bs))


@kernel("SpaceToDepth")
def SpaceToDepth(ctx, x, *, blocksize, mode="DCR"):
    _check_4d("SpaceToDepth", x, blocksize)
    b, c, h, w = x.shape
    bs = blocksize
    if h % bs or w % bs:
        raise ValueError(f"SpaceToDepth: spatial size {h}x{w} is not divisible by blocksize {bs}")
    y = x.reshape(b, c, h // bs, bs, w // bs, bs)
    if mode == "DCR":
        y = y.transpose(0, 3, 5, 1, 2, 4)
    elif mode == "CRD":
        y = y.transpose(0, 1, 3, 5, 2, 4)
    else:
        raise ValueError(f"SpaceToDepth: unknown mode {mode!r}, expected DCR or CRD")
    return ctx.xp.reshape(y, (b, c * bs * bs, h // bs, w // bs))


@kernel("ReverseSequence", since=10)
def ReverseSequence(ctx, input, sequence_lens, *, batch_axis=1, time_axis=0):
    xp = ctx.xp
    steps = input.shape[time_axis]
    lens = sequence_lens.astype(np.int64).reshape(-1, 1)
    t = xp.arange(steps, dtype=np.int64).reshape(1, -1)
    source = xp.where(t < lens, lens - 1 - t, t)  # (batch, time): reverse the first lens[b] steps only
    if batch_axis > time_axis:
        source = source.T
    shape = [1] * input.ndim
    shape[batch_axis], shape[time_axis] = input.shape[batch_axis], steps
    source = xp.broadcast_to(source.reshape(shape), input.shape)
    return xp.take_along_axis(input, source, axis=time_axis)
