"""Convolutions: Conv, ConvTranspose, DeformConv, CausalConvWithState.

``convolve`` is the shared engine: im2col through a strided view, then one matmul (batched per image, or a
single one over the batch for small feature maps); depthwise convolutions multiply-add per kernel tap
instead. On NumPy, float convolutions with one group take ``_chunked_gemm``: im2col and GEMM a few images at
a time through one reused, cache-sized column buffer. The quantized convolutions call ``convolve`` too, so it
must stay exact on integer inputs. ``WindowTaps`` (shared with the pools) gives the inputs of each kernel tap
as long contiguous runs.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from serving.kernels.activation import relu as relu_into
from serving.kernels.registry import kernel


def resolve_pads(in_shape, kernel_shape, *, strides, dilations, pads, auto_pad):
    """The explicit ``[begin..., end...]`` padding of a sliding-window op, from its ``auto_pad``/``pads``."""
    nd = len(in_shape)
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        begins, ends = [], []
        for size, k, s, d in zip(in_shape, kernel_shape, strides, dilations):
            out = -(-size // s)
            total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
            small, large = total // 2, total - total // 2
            begins.append(large if auto_pad == "SAME_LOWER" else small)
            ends.append(small if auto_pad == "SAME_LOWER" else large)
        return begins + ends
    if auto_pad == "VALID":
        return [0] * (2 * nd)
    if auto_pad != "NOTSET":
        raise ValueError(f"auto_pad must be NOTSET, SAME_UPPER, SAME_LOWER or VALID, got {auto_pad!r}")
    pads = list(pads) if pads else [0] * (2 * nd)
    if len(pads) != 2 * nd:
        raise ValueError(f"pads must hold 2 values per spatial axis ({2 * nd}), got {pads}")
    return pads


def window_defaults(x_ndim, kernel_shape, strides, dilations):
    nd = x_ndim - 2
    if kernel_shape is not None and len(kernel_shape) != nd:
        raise ValueError(f"kernel_shape {kernel_shape} does not match an input with {nd} spatial axes")
    return list(strides) if strides else [1] * nd, list(dilations) if dilations else [1] * nd


def pad_spatial(xp, x, pads, value=0, empty=None):
    """``x`` ``(N, C, *spatial)`` padded with ``value`` by ``[begin..., end...]`` (negative pads crop); ``x``
    itself when there is no padding. ``empty(shape, dtype)`` allocates the result (a kernel's ``ctx.empty``)."""
    nd = x.ndim - 2
    if not any(pads):
        return x
    if any(p < 0 for p in pads):
        # A negative pad crops; fold the crop into a slice before padding the rest.
        crop = (slice(None), slice(None)) + tuple(
            slice(max(-pads[i], 0), x.shape[2 + i] - max(-pads[i + nd], 0)) for i in range(nd)
        )
        x = x[crop]
        pads = [max(p, 0) for p in pads]
    # Written directly rather than by xp.pad, whose generic passes cost several times the copy itself.
    shape = (*x.shape[:2], *(size + pads[i] + pads[i + nd] for i, size in enumerate(x.shape[2:])))
    y = (xp.empty if empty is None else empty)(shape, x.dtype)
    y[(slice(None), slice(None), *(slice(pads[i], pads[i] + size) for i, size in enumerate(x.shape[2:])))] = x
    for i in range(nd):
        before, after, edge = pads[i], pads[i + nd], (slice(None),) * (2 + i)
        if before:
            y[(*edge, slice(0, before))] = value
        if after:
            y[(*edge, slice(shape[2 + i] - after, None))] = value
    return y


def sliding_windows(xp, x, kernel_shape, out_shape, strides, dilations):
    """A view of the windows of an (already padded) ``(N, C, *spatial)`` array: ``(N, C, *kernel, *out)``."""
    nd = len(kernel_shape)
    sp = x.strides[2:]
    shape = (*x.shape[:2], *kernel_shape, *out_shape)
    steps = (*x.strides[:2], *(sp[i] * dilations[i] for i in range(nd)), *(sp[i] * strides[i] for i in range(nd)))
    return strided_view(xp, x, shape, steps)


def strided_view(xp, x, shape, strides):
    """``as_strided`` for read-only use. On NumPy, a C-contiguous ``x`` gets the view straight from the
    ndarray constructor: ``as_strided``'s Python layers cost 15 us a call, more than a small conv's copy."""
    if xp is np and x.flags.c_contiguous:
        return np.ndarray(shape, x.dtype, buffer=x, strides=strides)
    return xp.lib.stride_tricks.as_strided(x, shape=shape, strides=strides)


def output_size(size, k, stride, dilation):
    span = size - ((k - 1) * dilation + 1)
    if span < 0:
        raise ValueError(f"kernel extent {(k - 1) * dilation + 1} is larger than the padded input ({size})")
    return span // stride + 1


def _grouped_matmul(xp, cols, w, group):
    """``cols`` ``(N, C, K, L)`` against ``w`` ``(M, C/group, K...)``: ``(N, M, L)``."""
    n, c, k, length = cols.shape
    m = w.shape[0]
    if group == 1:
        return xp.matmul(w.reshape(m, c * k), cols.reshape(n, c * k, length))
    cols = cols.reshape(n, group, (c // group) * k, length)
    y = xp.matmul(w.reshape(group, m // group, (c // group) * k), cols)
    return y.reshape(n, m, length)


def _phase_split(xp, x, pads, value, lengths, strides):
    """The padded input split by stride phase: ``(*strides, N, C, *lengths)`` with
    ``phases[p][..., j, ...] = padded[..., p + stride * j, ...]``, built in one allocation."""
    nd = len(strides)
    phases = xp.full((*strides, *x.shape[:2], *lengths), value, dtype=x.dtype)
    for phase in itertools.product(*(range(s) for s in strides)):
        target, source = [slice(None)] * 2, [slice(None)] * 2
        for p, s, begin, size, count in zip(phase, strides, pads[:nd], x.shape[2:], lengths):
            first = max(0, -((p - begin) // s))  # first j whose padded position lands inside the input
            last = min(count, (begin + size - 1 - p) // s + 1)
            if last <= first:
                break
            start = p + s * first - begin
            target.append(slice(first, last))
            source.append(slice(start, start + s * (last - first - 1) + 1, s))
        else:
            phases[phase][tuple(target)] = x[tuple(source)]
    return phases


class WindowTaps:
    """The inputs each kernel tap meets, as flat views, for ops that combine taps elementwise.

    ``x`` is padded by ``pads`` with ``value`` and, when a stride is above 1, split into its stride phases,
    so that every tap reads one contiguous run per ``(n, c)`` plane: ``view(tap)`` is ``(N, C, span)``.
    A result accumulated over those runs, shaped ``(..., size)`` with ``span <= size``, becomes the
    ``(..., *out)`` output through ``collect``: the run covers each output row plus the gaps between rows,
    which ``collect`` drops. Long inner loops are what make NumPy's elementwise loops fast.
    """

    def __init__(self, xp, x, kernel_shape, out_shape, *, strides, dilations, pads, value=0):
        self.xp, self.out_shape = xp, tuple(out_shape)
        offsets = [
            [o * d for o, d in zip(offset, dilations)] for offset in itertools.product(*map(range, kernel_shape))
        ]
        if all(s == 1 for s in strides):
            padded = pad_spatial(xp, x, pads, value)
            grid = padded.shape[2:]
            self._sources = padded.reshape(1, *padded.shape[:2], -1)
            phase_of = [0] * len(offsets)
            starts = offsets
        else:
            # Long enough along each axis for the last tap's last window.
            grid = [(k - 1) * d // s + n for k, d, s, n in zip(kernel_shape, dilations, strides, out_shape)]
            phases = _phase_split(xp, x, pads, value, grid, strides)
            self._sources = phases.reshape(-1, *x.shape[:2], math.prod(grid))
            phase_of = [int(np.ravel_multi_index([t % s for t, s in zip(taps, strides)], strides)) for taps in offsets]
            starts = [[t // s for t, s in zip(taps, strides)] for taps in offsets]
        self._grid = (self.out_shape[0], *grid[1:])
        row = [math.prod(grid[i + 1 :]) for i in range(len(grid))]
        self._taps = [(phase, sum(a * r for a, r in zip(start, row))) for phase, start in zip(phase_of, starts)]
        self.span = sum((n - 1) * r for n, r in zip(self.out_shape, row)) + 1
        self.size = math.prod(self._grid)

    def __len__(self):
        return len(self._taps)

    def view(self, tap):
        phase, start = self._taps[tap]
        return self._sources[phase, :, :, start : start + self.span]

    def collect(self, acc):
        shaped = acc.reshape(*acc.shape[:-1], *self._grid)
        crop = (Ellipsis, *(slice(0, n) for n in self.out_shape))
        return self.xp.ascontiguousarray(shaped[crop])


def _depthwise(xp, x, w, out_shape, strides, dilations, pads):
    """group == channels: one multiply-add per kernel tap over all channels at once, no per-channel loop."""
    n, c = x.shape[:2]
    mult = w.shape[0] // c
    taps = w.reshape(c, mult, -1)
    dtype = xp.result_type(x, w)
    y = xp.empty((n, c, mult, *out_shape), dtype=dtype)
    # A few images at a time keep the accumulator in cache across the taps: this is bandwidth-bound.
    chunk = max(1, (1 << 20) // max(x[0].nbytes, 1))
    for begin in range(0, n, chunk):
        windows = WindowTaps(
            xp, x[begin : begin + chunk], w.shape[2:], out_shape, strides=strides, dilations=dilations, pads=pads
        )
        images = min(chunk, n - begin)
        acc = xp.zeros((images, c, mult, windows.size), dtype=dtype)
        scratch = xp.empty((images, c, mult, windows.span), dtype=dtype)
        for tap in range(len(windows)):
            xp.multiply(windows.view(tap)[:, :, None], taps[:, :, tap, None], out=scratch)
            acc[..., : windows.span] += scratch
        y[begin : begin + chunk] = windows.collect(acc)
    return y.reshape(n, c * mult, *out_shape)


_SINGLE_GEMM_PIXELS = 1024  # output pixels per image up to which one gemm over the batch is faster


def _im2col(xp, x, w, out_shape, strides, dilations, group):
    """The generic path, on a padded input: every window copied out once, then one (batched, grouped) matmul."""
    n, c = x.shape[:2]
    m = w.shape[0]
    kernel_shape = w.shape[2:]
    nd = len(kernel_shape)
    length = math.prod(out_shape)
    pointwise = all(k == 1 for k in kernel_shape) and all(s == 1 for s in strides)
    windows = (
        x[(slice(None), slice(None)) + (None,) * nd]
        if pointwise
        else sliding_windows(xp, x, kernel_shape, out_shape, strides, dilations)
    )
    if group == 1 and n > 1 and length <= _SINGLE_GEMM_PIXELS:
        # Small feature maps: one (M, C*K) x (C*K, N*L) product beats N thin ones (and syncs BLAS threads once);
        # the output is transposed back.
        cols = windows.transpose(1, *range(2, 2 + nd), 0, *range(2 + nd, 2 + 2 * nd)).reshape(-1, n * length)
        y = xp.matmul(w.reshape(m, -1), cols).reshape(m, n, length)
        return xp.ascontiguousarray(y.transpose(1, 0, 2)).reshape(n, m, *out_shape)
    cols = windows.reshape(n, c, math.prod(kernel_shape), length)
    return _grouped_matmul(xp, cols, w, group).reshape(n, m, *out_shape)


_CHUNK_BYTES = 1 << 22  # columns plus product per batch chunk: mostly in cache, yet few BLAS calls (each syncs threads)
_MAX_RUN_WASTE = 1.1  # GEMM columns per output pixel up to which tap runs beat copying window by window


def _tap_runs(x, kernel_shape, out_shape, dilations, pads, empty):
    """Stride-1 columns as runs: each tap of each ``(n, c)`` plane is one contiguous stretch of the padded
    input, ``(N, C, *kernel, span)``, covering every output row plus the gaps between rows. Copying long runs
    costs far less than copying rows as short as the output's; the GEMM then computes the gap columns too.
    Returns the runs, the padded grid and the padded input (from ``empty``), or None where the gaps would
    waste more than ``_MAX_RUN_WASTE``.
    """
    nd = len(out_shape)
    grid = (out_shape[0], *(x.shape[2 + i] + pads[i] + pads[i + nd] for i in range(1, nd)))
    if math.prod(grid) > _MAX_RUN_WASTE * math.prod(out_shape):
        return None
    padded = pad_spatial(np, x, pads, empty=empty)
    row = [math.prod(padded.shape[3 + i :]) for i in range(nd)]
    span = sum((n - 1) * r for n, r in zip(out_shape, row)) + 1
    item = padded.itemsize
    steps = (*padded.strides[:2], *(d * r * item for d, r in zip(dilations, row)), item)
    runs = strided_view(np, padded, (*padded.shape[:2], *kernel_shape, span), steps)
    return runs, grid, padded


def _gemm_weights(w, bias, dtype):
    """The ``(M, C*K)`` weight matrix, with the bias as one more column when there is one."""
    weights = w.reshape(w.shape[0], -1)
    if bias is None:
        return weights
    return np.concatenate([weights, bias.astype(dtype, copy=False).reshape(-1, 1)], axis=1)


def _chunked_gemm(x, w, bias, out_shape, *, strides, dilations, pads, relu=False, pool=None, ctx=None):
    """The NumPy fast path for group == 1: im2col and GEMM per batch chunk, reusing one column buffer.

    Each chunk's columns are written and read while in cache instead of one batch-sized matrix going through
    memory. Where the output is wider than the columns (few input channels), or a chunk holds one image, each
    image's GEMM writes straight into the output; otherwise one GEMM per chunk (fewer, larger BLAS calls) and
    a transposing copy to ``(N, M, *out)``, which also drops the gap columns of tap runs. A fused ``pool`` (a
    ``WindowMax``) replaces that copy: the chunk's product is pooled into the output, so the full-size
    activation is never written. The bias rides in the GEMM (a ones row under the columns, the bias beside the
    weights); a fused Relu is applied while the result is contiguous and cache-hot, after the pool, which it
    commutes with (Relu is monotone) and which leaves it fewer values. With a kernel ``ctx``, the output and
    the padded, column and product buffers come from the session's pool, so a repeated run writes memory that
    is already mapped, and the weight matrix is built once per session where the weights are constants.
    """
    empty = np.empty if ctx is None else ctx.empty
    recycle = None if ctx is None else ctx.recycle
    n, c = x.shape[:2]
    m = w.shape[0]
    kernel_shape, nd = tuple(w.shape[2:]), len(out_shape)
    taps = math.prod(kernel_shape)
    per_image = pool is None and m > c * taps
    runs = None
    if not per_image and all(s == 1 for s in strides):
        runs = _tap_runs(x, kernel_shape, out_shape, dilations, pads, empty)
    if runs is None:
        padded = pad_spatial(np, x, pads, empty=empty)
        windows = sliding_windows(np, padded, kernel_shape, out_shape, strides, dilations)
        grid = tuple(out_shape)
    else:
        windows, grid, padded = runs
    length = math.prod(grid)
    k = c * taps
    rows = k + (bias is not None)  # a row of ones carries the bias through the GEMM: no pass of its own
    image_bytes = (rows + (0 if per_image else m)) * length * x.itemsize
    chunk = max(1, min(n, _CHUNK_BYTES // max(image_bytes, 1)))
    per_image = pool is None and runs is None and (per_image or chunk == 1)
    buffer = empty((rows, chunk, length), x.dtype)
    cols = buffer[:k].reshape(c, *kernel_shape, chunk, *(grid if runs is None else (length,)))
    if runs is not None:
        # Read only into dropped columns; zeroed so those stay finite. One strided pass per gap column
        # (there are kernel - 1 of them) instead of a short write per row.
        flat = buffer[:k].reshape(-1)
        for column in range(windows.shape[-1], length):
            flat[column::length] = 0
    if bias is not None:
        buffer[k] = 1
    if ctx is None:
        weights = _gemm_weights(w, bias, x.dtype)
    else:
        weights = ctx.prepare("gemm_weights", lambda: _gemm_weights(w, bias, x.dtype))
    y = empty((n, m, *(out_shape if pool is None else pool.out_shape(out_shape))), x.dtype)
    product = None if per_image else empty((m, chunk, length), x.dtype)
    for begin in range(0, n, chunk):
        images = min(chunk, n - begin)
        target = cols[(slice(None),) * (1 + nd) + (slice(0, images),)]
        if runs is not None:
            target = target[..., : windows.shape[-1]]
        target[...] = windows[begin : begin + images].transpose(*range(1, 2 + nd), 0, *range(2 + nd, windows.ndim))
        columns = buffer[:, :images]
        if per_image:
            part = y[begin : begin + images].reshape(images, m, length)
            np.matmul(weights, columns.transpose(1, 0, 2), out=part)
        else:
            part = product[:, :images]
            np.matmul(weights, columns.reshape(rows, images * length), out=part.reshape(m, images * length))
        if not per_image:
            kept = part.reshape(m, images, *grid)[(Ellipsis, *(slice(0, o) for o in out_shape))]
            if pool is None:
                y[begin : begin + images] = kept.swapaxes(0, 1)
            else:
                pool(np, kept, y[begin : begin + images].swapaxes(0, 1), empty, recycle)
        if relu:
            done = y[begin : begin + images]
            relu_into(np, done, out=done)
    if ctx is not None:
        for scratch in (buffer, product, None if padded is x else padded):
            if scratch is not None:
                ctx.recycle(scratch)
    return y


def convolve(xp, x, w, *, strides, pads, dilations, group=1, bias=None, relu=False, pool=None, ctx=None):
    """N-D cross-correlation of ``x`` ``(N, C, *in)`` with ``w`` ``(M, C/group, *k)``, plus ``bias`` ``(M,)``,
    then Relu when ``relu``, then the window maxima of ``pool`` (a ``WindowMax``) when given. ``ctx``, a
    kernel's context, lends buffers from the session's pool."""
    if x.dtype.kind in "fV" and x.dtype.itemsize < 4:
        # Half-precision sums lose too much over C*K terms: accumulate in float32 as other runtimes do.
        wide = convolve(
            xp,
            x.astype(xp.float32),
            w.astype(xp.float32),
            strides=strides,
            pads=pads,
            dilations=dilations,
            group=group,
            bias=None if bias is None else bias.astype(xp.float32),
            relu=relu,
            pool=pool,
        )
        return wide.astype(x.dtype)
    c = x.shape[1]
    m, cg = w.shape[:2]
    kernel_shape = tuple(w.shape[2:])
    if x.ndim != w.ndim or c != cg * group or m % group:
        raise ValueError(
            f"Conv input {tuple(x.shape)} and weight {tuple(w.shape)} do not fit group={group}: "
            f"expected weight (M, {c // max(group, 1)}, *kernel) with M divisible by {group}"
        )
    nd = len(kernel_shape)
    out_shape = tuple(
        output_size(x.shape[2 + i] + pads[i] + pads[i + nd], k, strides[i], dilations[i])
        for i, k in enumerate(kernel_shape)
    )
    if xp is np and group == 1 and x.dtype in (np.float32, np.float64) and w.dtype == x.dtype:
        return _chunked_gemm(x, w, bias, out_shape, strides=strides, dilations=dilations, pads=pads, relu=relu,
                             pool=pool, ctx=ctx)
    if group == c and cg == 1 and group > 1:
        y = _depthwise(xp, x, w, out_shape, strides, dilations, pads)
    else:
        y = _im2col(xp, pad_spatial(xp, x, pads), w, out_shape, strides, dilations, group)
    y = _add_bias(y, bias)
    if relu:
        relu_into(xp, y, out=y)
    if pool is None:
        return y
    return pool(xp, y, xp.empty((*y.shape[:2], *pool.out_shape(out_shape)), y.dtype), xp.empty)


def _add_bias(y, b):
    if b is not None:
        y += b.reshape(1, -1, *([1] * (y.ndim - 2))).astype(y.dtype, copy=False)
    return y


@kernel("Conv")
def Conv(ctx, x, w, b=None, *, auto_pad="NOTSET", dilations=None, group=1, kernel_shape=None, pads=None, strides=None,
         _relu=False, _pool=None):
    """ONNX Conv; the fused ConvRelu and ConvMaxPool call it with ``_relu`` and ``_pool``, which no model can
    set: the ONNX checker at load refuses attributes a node's schema lacks."""
    strides, dilations = window_defaults(x.ndim, kernel_shape, strides, dilations)
    pads = resolve_pads(x.shape[2:], w.shape[2:], strides=strides, dilations=dilations, pads=pads, auto_pad=auto_pad)
    return convolve(ctx.xp, x, w, strides=strides, pads=pads, dilations=dilations, group=group, bias=b, relu=_relu,
                    pool=_pool, ctx=ctx)


def _transpose_pads(in_shape, kernel_shape, *, strides, dilations, output_padding, pads, auto_pad, output_shape):
    nd = len(in_shape)
    natural = [
        s * (i - 1) + op + (k - 1) * d + 1
        for i, k, s, d, op in zip(in_shape, kernel_shape, strides, dilations, output_padding)
    ]
    if output_shape is None and auto_pad not in ("SAME_UPPER", "SAME_LOWER"):
        pads = [0] * (2 * nd) if auto_pad == "VALID" or not pads else list(pads)
        return pads, [natural[i] - pads[i] - pads[i + nd] for i in range(nd)]
    if output_shape is None:
        output_shape = [i * s for i, s in zip(in_shape, strides)]
    output_shape = list(output_shape)[-nd:]
    begins, ends = [], []
    for full, out in zip(natural, output_shape):
        total = full - out
        small, large = total // 2, total - total // 2
        begins.append(small if auto_pad == "SAME_UPPER" else large)
        ends.append(large if auto_pad == "SAME_UPPER" else small)
    return begins + ends, output_shape


@kernel("ConvTranspose")
def ConvTranspose(
    ctx,
    x,
    w,
    b=None,
    *,
    auto_pad="NOTSET",
    dilations=None,
    group=1,
    kernel_shape=None,
    output_padding=None,
    output_shape=None,
    pads=None,
    strides=None,
):
    xp = ctx.xp
    strides, dilations = window_defaults(x.ndim, kernel_shape, strides, dilations)
    n, c = x.shape[:2]
    in_shape = x.shape[2:]
    nd = len(in_shape)
    k_shape = tuple(w.shape[2:])
    if w.shape[0] != c or c % group:
        raise ValueError(
            f"ConvTranspose weight {tuple(w.shape)} must be (C={c}, M/group, *kernel) with C divisible by group={group}"
        )
    output_padding = list(output_padding) if output_padding else [0] * nd
    pads, out_shape = _transpose_pads(
        in_shape,
        k_shape,
        strides=strides,
        dilations=dilations,
        output_padding=output_padding,
        pads=pads,
        auto_pad=auto_pad,
        output_shape=output_shape,
    )
    mg = w.shape[1]
    kk = math.prod(k_shape)
    length = math.prod(in_shape)
    # Each input pixel spreads a (M, *kernel) patch: one matmul gives every patch, then col2im sums them.
    wt = w.reshape(group, c // group, mg * kk).transpose(0, 2, 1)
    cols = xp.matmul(wt, x.reshape(n, group, c // group, length))
    cols = cols.reshape(n, group * mg, kk, *in_shape)
    full = [
        s * (i - 1) + (k - 1) * d + 1 + op
        for i, k, s, d, op in zip(in_shape, k_shape, strides, dilations, output_padding)
    ]
    y = xp.zeros((n, group * mg, *full), dtype=cols.dtype)
    for index, offset in enumerate(itertools.product(*(range(k) for k in k_shape))):
        target = (slice(None), slice(None)) + tuple(
            slice(o * d, o * d + (i - 1) * s + 1, s) for o, d, s, i in zip(offset, dilations, strides, in_shape)
        )
        y[target] += cols[:, :, index]
    crop = [-pads[i] for i in range(nd)] + [out_shape[i] + pads[i] - full[i] for i in range(nd)]
    y = pad_spatial(xp, y, crop)
    return _add_bias(y, b)


def _bilinear_columns(xp, x, positions, offset_group):
    """Sample ``x`` ``(N, C, *in)`` at fractional ``positions`` ``(N, G, nd, K, *out)`` with zero padding.

    Returns ``(N, C, K, L)``: every input channel at every kernel tap, channels of offset group g using
    that group's positions.
    """
    n, c = x.shape[:2]
    in_shape = x.shape[2:]
    nd = len(in_shape)
    flat_x = x.reshape(n, offset_group, c // offset_group, -1)
    base = xp.floor(positions)
    frac = positions - base
    base = base.astype(xp.int64)
    sample_shape = positions.shape[:2] + positions.shape[3:]
    cols = 0
    for corner in itertools.product((0, 1), repeat=nd):
        weight = xp.ones(sample_shape, dtype=x.dtype)
        flat = xp.zeros(sample_shape, dtype=xp.int64)
        valid = xp.ones(sample_shape, dtype=bool)
        for axis, bit in enumerate(corner):
            coord = base[:, :, axis] + bit
            valid &= (coord >= 0) & (coord < in_shape[axis])
            weight = weight * (frac[:, :, axis] if bit else 1 - frac[:, :, axis]).astype(x.dtype)
            flat = flat * in_shape[axis] + xp.clip(coord, 0, in_shape[axis] - 1)
        weight = xp.where(valid, weight, 0).astype(x.dtype)
        index = flat.reshape(n, offset_group, 1, -1)
        gathered = xp.take_along_axis(flat_x, xp.broadcast_to(index, (*flat_x.shape[:3], index.shape[3])), axis=3)
        cols = cols + gathered * weight.reshape(n, offset_group, 1, -1)
    k = positions.shape[3]
    return cols.reshape(n, c, k, -1)


@kernel("DeformConv", since=19)
def DeformConv(
    ctx,
    x,
    w,
    offset,
    b=None,
    mask=None,
    *,
    dilations=None,
    group=1,
    kernel_shape=None,
    offset_group=1,
    pads=None,
    strides=None,
):
    xp = ctx.xp
    strides, dilations = window_defaults(x.ndim, kernel_shape, strides, dilations)
    n, c = x.shape[:2]
    nd = x.ndim - 2
    k_shape = tuple(w.shape[2:])
    kk = math.prod(k_shape)
    out_shape = tuple(offset.shape[2:])
    pads = list(pads) if pads else [0] * (2 * nd)
    if offset.shape[1] != offset_group * kk * nd or c % offset_group:
        raise ValueError(
            f"DeformConv offset {tuple(offset.shape)} must have offset_group*prod(kernel)*{nd} = "
            f"{offset_group * kk * nd} channels, and C={c} be divisible by offset_group={offset_group}"
        )
    # Sampling position = window origin + dilated tap + learned offset, per (group, axis, tap, output pixel).
    grid = []
    for axis in range(nd):
        tap = xp.arange(k_shape[axis]) * dilations[axis]
        origin = xp.arange(out_shape[axis]) * strides[axis] - pads[axis]
        shape_t = [1] * nd
        shape_t[axis] = k_shape[axis]
        shape_o = [1] * nd
        shape_o[axis] = out_shape[axis]
        pos = tap.reshape(*shape_t, *([1] * nd)) + origin.reshape(*([1] * nd), *shape_o)
        grid.append(xp.broadcast_to(pos, (*k_shape, *out_shape)).reshape(kk, *out_shape))
    grid = xp.stack(grid).astype(x.dtype)
    deltas = offset.reshape(n, offset_group, kk, nd, *out_shape).swapaxes(2, 3)
    cols = _bilinear_columns(xp, x, grid + deltas, offset_group)
    if mask is not None:
        m = mask.reshape(n, offset_group, 1, kk, -1).astype(x.dtype)
        cols = (cols.reshape(n, offset_group, c // offset_group, kk, -1) * m).reshape(n, c, kk, -1)
    y = _grouped_matmul(xp, cols, w, group).reshape(n, w.shape[0], *out_shape)
    return _add_bias(y, b)


@kernel("CausalConvWithState", since=27)
def CausalConvWithState(ctx, x, w, b=None, past_state=None, *, activation="none"):
    xp = ctx.xp
    if activation not in ("none", "silu", "swish"):
        raise ValueError(f"CausalConvWithState activation must be 'none', 'silu' or 'swish', got {activation!r}")
    if x.ndim != 3 or w.ndim != 3 or w.shape[0] != x.shape[1] or w.shape[1] != 1:
        raise ValueError(
            f"CausalConvWithState expects input (B, C, L) and weight (C, 1, k), got {tuple(x.shape)} "
            f"and {tuple(w.shape)}"
        )
    batch, channels, _ = x.shape
    k = w.shape[2]
    if past_state is None:
        past_state = xp.zeros((batch, channels, k - 1), dtype=x.dtype)
    padded = xp.concatenate([past_state.astype(x.dtype, copy=False), x], axis=2)
    y = _add_bias(convolve(xp, padded, w, strides=[1], pads=[0, 0], dilations=[1], group=channels), b)
    if activation != "none":
        wide = y.astype(xp.float32) if y.dtype.itemsize < 4 else y
        y = (wide / (1 + xp.exp(-wide))).astype(x.dtype)
    present = padded[:, :, padded.shape[2] - (k - 1) :]
    return y.astype(x.dtype, copy=False), present
