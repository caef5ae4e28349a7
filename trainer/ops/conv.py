"""Convolutions as single ops: ``Conv`` (1-D, 2-D and 3-D: stride, explicit pads, dilation, groups) and
``ConvTranspose``, plus the functional forms ``conv1d``/``2d``/``3d`` and ``conv_transpose1d``/``2d``/``3d``.

NumPy and CuPy have no convolution, so ``Conv`` is im2col and one GEMM per group. The input is
gathered into a column matrix laid out ``(C*k..., N*out...)`` by one strided-slice copy per kernel
position (never a loop over pixels), and the weight ``(O, C/groups*k...)`` multiplies it. Backward
is the same pieces in reverse: the weight grad is ``grad_out @ cols.T``, the input grad is
``weight.T @ grad_out`` scattered back by col2im (one strided-slice add per kernel position). Unstrided, the
input grad is instead the convolution of ``grad_out`` with the flipped weight (a gather and one GEMM, cheaper than
col2im's adds when the output has no more channels than the input); columns too large for cache go through
GEMM and col2im a block of samples at a time.

A transposed convolution is conv's input gradient, so ``ConvTranspose``'s forward is the col2im
kernel and its backward conv's forward: both ops are built from the three kernels below.

The kernels take any number of spatial dims; the ops take their attributes in the input's own rank
(``pads`` in ONNX's order: all begins, then all ends).
"""

from __future__ import annotations

import math

from trainer.amp import cast_policy
from trainer.autograd.higher_order import graph_tensors
from trainer.autograd.op import Function
from trainer.backend import xp_of
from trainer.ops import reduced_precision
from trainer.ops._operands import int_tuple
from trainer.ops._windows import inside, taps, window
from trainer.ops.complex_conv import gauss_conv
from trainer.ops.linalg import _same_dtype

# ---------------------------------------------------------------------------------------------
# kernels on raw arrays: x (N, C, *spatial), weight (O, C/groups, *kernel); pads (begins..., ends...)

# the size of a block of input-gradient columns, about a core's share of cache; blocking starts at 8 blocks
_COLUMN_BLOCK_BYTES = 1 << 21


def _channels_first(a):
    """``(N, C, *spatial)`` as a contiguous ``(C, N, *spatial)``: the layout the GEMMs read and write."""
    xp = xp_of(a)
    return xp.ascontiguousarray(xp.swapaxes(a, 0, 1))


def _im2col(x, kernel, stride, pads, dilation, out):
    """The column matrix of ``x``, shaped ``(C, *kernel, N, *out)`` (C-contiguous)."""
    return _gather_columns(xp_of(x).swapaxes(x, 0, 1), kernel, stride, pads, dilation, out)


def _gather_columns(xt, kernel, stride, pads, dilation, out):
    """``_im2col`` of an input given channels first, ``(C, N, *spatial)``, as any (strided) view."""
    xp = xp_of(xt)
    c, n, *spatial = xt.shape
    nd = len(spatial)
    # channels first, so each kernel position's slice lands in ``cols`` in order, without a transpose; unpadded,
    # the slices read the view directly
    if any(pads):
        padded = [s + b + e for s, b, e in zip(spatial, pads[:nd], pads[nd:])]
        xt, view = xp.zeros((c, n, *padded), dtype=xt.dtype), xt
        xt[inside(pads, spatial)] = view
    cols = xp.empty((c, *kernel, n, *out), dtype=xt.dtype)
    for tap in taps(kernel):
        cols[(slice(None),) + tap] = xt[window(tap, dilation, stride, out)]
    return cols


def _col2im(gcols, input_shape, stride, pads, dilation):
    """Sum columns ``(C, *kernel, N, *out)`` back onto the input they came from: ``(N, C, *spatial)``."""
    xp = xp_of(gcols)
    spatial = input_shape[2:]
    nd = len(spatial)
    c, n = gcols.shape[0], gcols.shape[1 + nd]
    padded = [s + b + e for s, b, e in zip(spatial, pads[:nd], pads[nd:])]
    gx = xp.zeros((c, n, *padded), dtype=gcols.dtype)
    _scatter_columns(gx, gcols, stride, dilation)
    return _channels_first(gx[inside(pads, spatial)])


def _scatter_columns(gx, gcols, stride, dilation):
    """Add columns ``(C, *kernel, N, *out)`` onto the padded input ``gx`` ``(C, N, *padded)`` they were read from."""
    nd = gx.ndim - 2
    out = gcols.shape[2 + nd:]
    # a kernel position's window touches each input pixel at most once, so a strided add is exact
    for tap in taps(gcols.shape[1:1 + nd]):
        gx[window(tap, dilation, stride, out)] += gcols[(slice(None),) + tap]


def _grouped_matmul(a, b):
    """``a @ b`` over a leading group axis; one plain 2-D GEMM when there is one group."""
    if a.shape[0] == 1:
        return reduced_precision.matmul(a[0], b[0])[None]
    return reduced_precision.matmul(a, b)


def _conv(x, weight, stride, pads, dilation, groups, out):
    """Convolution forward: ``(out (O, N, *out), cols)``, the output channels first."""
    cols = _im2col(x, weight.shape[2:], stride, pads, dilation, out)
    return _weighted_columns(weight, cols, groups), cols


def _weighted_columns(weight, cols, groups):
    """The GEMM of a convolution: weight ``(O, C/groups, *kernel)`` times columns ``(C, *kernel, N, *out)`` gives
    the output channels first, ``(O, N, *out)``."""
    o, cg, *kernel = weight.shape
    n, *out = cols.shape[1 + len(kernel):]
    taps = math.prod(kernel)
    result = _grouped_matmul(weight.reshape(groups, o // groups, cg * taps),
                             cols.reshape(groups, cg * taps, n * math.prod(out)))
    return result.reshape(o, n, *out)


def _flipped_transpose(weight, groups):
    """The weight of a transposed convolution: ``(O, C/groups, *k)`` as ``(C, O/groups, *k)``, kernel reversed."""
    xp = xp_of(weight)
    o, cg, *kernel = weight.shape
    w = weight.reshape(groups, o // groups, cg, *kernel).swapaxes(1, 2)
    w = xp.flip(w, axis=tuple(range(3, w.ndim)))
    return w.reshape(groups * cg, o // groups, *kernel)  # a copy: the view is not contiguous


def _conv_input_grad(g_cf, weight, input_shape, stride, pads, dilation, groups):
    """The gradient of conv's input from its output gradient ``g_cf`` given channels first (O, N, *out)."""
    o, cg, *kernel = weight.shape
    _, n, *out = g_cf.shape
    nd = len(kernel)
    spatial = input_shape[2:]
    reach = [d * (k - 1) for d, k in zip(dilation, kernel)]
    full = [r - p for r, p in zip(reach, pads[:nd])] + [x - y + p for x, y, p in zip(spatial, out, pads[:nd])]
    if all(s == 1 for s in stride) and min(full) >= 0 and o <= cg * groups:
        # unstrided, it is the convolution of g (padded to the full overlap) with the flipped, transposed weight:
        # gathering columns beats col2im's scattered adds where g has no more channels than the input
        cols = _gather_columns(g_cf, kernel, stride, full, dilation, spatial)
        return _channels_first(_weighted_columns(_flipped_transpose(weight, groups), cols, groups))
    w2t = weight.reshape(groups, o // groups, cg * math.prod(kernel)).transpose(0, 2, 1)
    sample_bytes = cg * groups * math.prod(kernel) * math.prod(out) * g_cf.itemsize
    if sample_bytes * n <= _COLUMN_BLOCK_BYTES * 8:
        gcols = _grouped_matmul(w2t, g_cf.reshape(groups, o // groups, n * math.prod(out)))
        return _col2im(gcols.reshape(cg * groups, *kernel, n, *out), input_shape, stride, pads, dilation)
    # large columns: a few samples at a time, so each block is still in cache when col2im adds it up
    padded = [s + b + e for s, b, e in zip(spatial, pads[:nd], pads[nd:])]
    gx = xp_of(g_cf).zeros((cg * groups, n, *padded), dtype=g_cf.dtype)
    block = max(1, _COLUMN_BLOCK_BYTES // sample_bytes)
    for start in range(0, n, block):
        stop = min(n, start + block)
        gcols = _grouped_matmul(w2t, g_cf[:, start:stop].reshape(groups, o // groups, -1))
        _scatter_columns(gx[:, start:stop], gcols.reshape(cg * groups, *kernel, stop - start, *out), stride, dilation)
    return _channels_first(gx[inside(pads, spatial)])


def _conv_weight_grad(g_cf, cols, weight_shape, groups):
    """The gradient of conv's weight from the channels-first output gradient and the saved columns."""
    o = g_cf.shape[0]
    m = g_cf[0].size
    g2 = g_cf.reshape(groups, o // groups, m)
    return _grouped_matmul(g2, cols.reshape(groups, -1, m).transpose(0, 2, 1)).reshape(weight_shape)


def _out_size(size, k, s, p_total, d):
    return (size + p_total - d * (k - 1) - 1) // s + 1


def _per_channel(v, ndim, axis):
    """A per-channel vector shaped to broadcast along ``axis`` of an ``ndim``-D array."""
    return v.reshape((1,) * axis + (-1,) + (1,) * (ndim - axis - 1))


# ---------------------------------------------------------------------------------------------
# the ops


class Conv(Function):
    """``conv(x, weight) + bias`` over 1, 2 or 3 spatial dims, as ONNX's ``Conv``."""

    @staticmethod
    def forward(ctx, x, weight, bias=None, *, stride, pads, dilation, groups):
        nd = x.ndim - 2
        out_shape = tuple(_out_size(x.shape[2 + a], weight.shape[2 + a], stride[a], pads[a] + pads[nd + a],
                                    dilation[a]) for a in range(nd))
        out, cols = _conv(x, weight, stride, pads, dilation, groups, out_shape)
        if bias is not None:
            out += _per_channel(bias, out.ndim, 0)
        # keep the columns: the weight gradient reuses them instead of gathering again (memory for speed; they
        # are prod(kernel) times the input's size); the input only for a create_graph backward
        ctx.save_for_backward(weight, cols, x)
        ctx.geometry = (x.shape, stride, pads, dilation, groups)
        return _channels_first(out)

    @staticmethod
    def backward(ctx, g):
        weight, cols, _ = ctx.saved_tensors
        x_shape, stride, pads, dilation, groups = ctx.geometry
        needs = ctx.needs_input_grad
        g_cf = _channels_first(g)
        gx = gw = None
        if needs[0]:
            gx = _conv_input_grad(g_cf, weight, x_shape, stride, pads, dilation, groups)
        if needs[1]:
            gw = _conv_weight_grad(g_cf, cols, weight.shape, groups)
        if len(needs) == 2:
            return gx, gw
        return gx, gw, (g_cf.reshape(g_cf.shape[0], -1).sum(axis=1) if needs[2] else None)

    @staticmethod
    def backward_graph(ctx, g):
        weight, _, x = graph_tensors(ctx)
        _, stride, pads, dilation, groups = ctx.geometry
        needs = ctx.needs_input_grad
        geometry = {"stride": stride, "pads": pads, "dilation": dilation, "groups": groups}
        gx = gw = None
        if needs[0]:
            extra = _transpose_padding(x.shape, g.shape, weight.shape[2:], stride, pads, dilation)
            gx = ConvTranspose.apply(g, weight, output_padding=extra, **geometry)
        if needs[1]:
            gw = ConvWeightGrad.apply(x, g, weight_shape=tuple(weight.shape), **geometry)
        if len(needs) == 2:
            return gx, gw
        return gx, gw, (g.sum((0, *range(2, g.ndim))) if needs[2] else None)


class ConvTranspose(Function):
    """The transposed convolution (conv's input gradient as a layer), as ONNX's ``ConvTranspose``.

    ``weight`` is ``(C_in, C_out/groups, *kernel)``; the output grows by ``output_padding`` on the far side.
    """

    @staticmethod
    def forward(ctx, x, weight, bias=None, *, stride, pads, output_padding, dilation, groups):
        nd = x.ndim - 2
        spatial = x.shape[2:]
        kernel = weight.shape[2:]
        out_spatial = tuple((spatial[a] - 1) * stride[a] - pads[a] - pads[nd + a] + dilation[a] * (kernel[a] - 1)
                            + 1 + output_padding[a] for a in range(nd))
        out_shape = (x.shape[0], weight.shape[1] * groups, *out_spatial)
        out = _conv_input_grad(_channels_first(x), weight, out_shape, stride, pads, dilation, groups)
        if bias is not None:
            out += _per_channel(bias, out.ndim, 1)
        ctx.save_for_backward(x, weight)
        ctx.geometry = (stride, pads, dilation, groups)
        return out

    @staticmethod
    def backward(ctx, g):
        x, weight = ctx.saved_tensors
        stride, pads, dilation, groups = ctx.geometry
        needs = ctx.needs_input_grad
        spatial = x.shape[2:]
        gx = gw = None
        if needs[0]:
            # the input's gradient is the convolution of the output's gradient with the same weight
            gx_cf, gcols = _conv(g, weight, stride, pads, dilation, groups, spatial)
            gx = _channels_first(gx_cf)
        else:
            gcols = _im2col(g, weight.shape[2:], stride, pads, dilation, spatial)
        if needs[1]:
            gw = _conv_weight_grad(_channels_first(x), gcols, weight.shape, groups)
        if len(needs) == 2:
            return gx, gw
        return gx, gw, (g.sum(axis=(0, *range(2, g.ndim))) if needs[2] else None)

    @staticmethod
    def backward_graph(ctx, g):
        x, weight = graph_tensors(ctx)
        stride, pads, dilation, groups = ctx.geometry
        needs = ctx.needs_input_grad
        geometry = {"stride": stride, "pads": pads, "dilation": dilation, "groups": groups}
        gx = Conv.apply(g, weight, **geometry) if needs[0] else None
        gw = ConvWeightGrad.apply(g, x, weight_shape=tuple(weight.shape), **geometry) if needs[1] else None
        if len(needs) == 2:
            return gx, gw
        return gx, gw, (g.sum((0, *range(2, g.ndim))) if needs[2] else None)


class ConvWeightGrad(Function):
    """Conv's weight gradient as an op of the input ``x`` and the output gradient ``g`` (both linear), so that a
    ``create_graph`` backward through ``Conv`` or ``ConvTranspose`` can be differentiated again."""

    @staticmethod
    def forward(ctx, x, g, *, weight_shape, stride, pads, dilation, groups):
        cols = _im2col(x, weight_shape[2:], stride, pads, dilation, g.shape[2:])
        ctx.save_for_backward(x, g)
        ctx.geometry = (stride, pads, dilation, groups)
        return _conv_weight_grad(_channels_first(g), cols, weight_shape, groups)

    @staticmethod
    def backward(ctx, gw):
        x, g = ctx.saved_tensors
        stride, pads, dilation, groups = ctx.geometry
        need_x, need_g = ctx.needs_input_grad
        gx = _conv_input_grad(_channels_first(g), gw, x.shape, stride, pads, dilation, groups) if need_x else None
        gg = None
        if need_g:
            gg = _channels_first(_conv(x, gw, stride, pads, dilation, groups, g.shape[2:])[0])
        return gx, gg

    @staticmethod
    def backward_graph(ctx, gw):
        x, g = graph_tensors(ctx)
        stride, pads, dilation, groups = ctx.geometry
        need_x, need_g = ctx.needs_input_grad
        geometry = {"stride": stride, "pads": pads, "dilation": dilation, "groups": groups}
        gx = gg = None
        if need_x:
            extra = _transpose_padding(x.shape, g.shape, gw.shape[2:], stride, pads, dilation)
            gx = ConvTranspose.apply(g, gw, output_padding=extra, **geometry)
        if need_g:
            gg = Conv.apply(x, gw, **geometry)
        return gx, gg


def _transpose_padding(x_shape, g_shape, kernel, stride, pads, dilation):
    """The output padding that makes a transposed convolution of ``g`` come back at ``x``'s spatial size (it
    covers the input a strided convolution's last window left unread)."""
    nd = len(kernel)
    return tuple(x_shape[2 + a] - ((g_shape[2 + a] - 1) * stride[a] - pads[a] - pads[nd + a]
                                   + dilation[a] * (kernel[a] - 1) + 1) for a in range(nd))


# ---------------------------------------------------------------------------------------------
# argument handling and the functional forms


def conv_pads(padding, kernel, dilation, stride) -> tuple[int, ...]:
    """PyTorch's ``padding`` (int, tuple, ``"valid"``, ``"same"``) as explicit ONNX-order pads.

    ``"same"`` splits an odd total as PyTorch does: the extra row or column goes at the end.
    """
    n = len(kernel)
    if isinstance(padding, str):
        if padding == "valid":
            return (0,) * (2 * n)
        if padding != "same":
            raise ValueError(f"Invalid padding string {padding!r}, should be one of {{'valid', 'same'}}")
        if any(s != 1 for s in stride):
            raise ValueError("padding='same' is not supported for strided convolutions")
        totals = [d * (k - 1) for d, k in zip(dilation, kernel)]
        return tuple(t // 2 for t in totals) + tuple(t - t // 2 for t in totals)
    pads = int_tuple(padding, n, "padding")
    return pads + pads


def _size(shape) -> str:
    return str(list(shape))


def _check_conv(op, x, weight, bias, stride, pads, dilation, groups, transposed=False):
    n = weight.ndim - 2
    if x.ndim != n + 2:
        raise RuntimeError(f"Expected {n + 1}D (unbatched) or {n + 2}D (batched) input to {op}, but got input of "
                           f"size: {_size(x.shape)}")
    if any(s <= 0 for s in stride):
        raise RuntimeError(f"{op}: non-positive stride is not supported, got stride={stride}")
    if any(d <= 0 for d in dilation):
        raise RuntimeError(f"{op}: dilation should be greater than zero, got dilation={dilation}")
    if any(p < 0 for p in pads):
        raise RuntimeError(f"{op}: negative padding is not supported, got padding={pads}")
    if groups <= 0:
        raise RuntimeError(f"{op}: non-positive groups is not supported, got groups={groups}")
    if not transposed and weight.shape[0] % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, "
                           f"but got weight of size {_size(weight.shape)} instead")
    expected = weight.shape[0] if transposed else weight.shape[1] * groups
    if x.shape[1] != expected:
        given = "transposed=1" if transposed else f"groups={groups}"
        raise RuntimeError(f"Given {given}, weight of size {_size(weight.shape)}, expected input{_size(x.shape)} to "
                           f"have {expected} channels, but got {x.shape[1]} channels instead")
    out_channels = weight.shape[1] * groups if transposed else weight.shape[0]
    if bias is not None and (bias.ndim != 1 or bias.shape[0] != out_channels):
        raise RuntimeError(f"Given weight of size {_size(weight.shape)}, expected bias to be 1-dimensional with "
                           f"{out_channels} elements, but got bias of size {_size(bias.shape)} instead")
    if transposed:
        return
    padded = [x.shape[2 + i] + pads[i] + pads[n + i] for i in range(n)]
    kernel = [dilation[i] * (weight.shape[2 + i] - 1) + 1 for i in range(n)]
    if any(p < k for p, k in zip(padded, kernel)):
        raise RuntimeError(f"Calculated padded input size per channel: ({' x '.join(map(str, padded))}). Kernel size: "
                           f"({' x '.join(map(str, kernel))}). Kernel size can't be greater than actual input size")


def _batched(x, n_spatial, run):
    """Run ``run`` on a batched input, adding and removing the batch dim for an unbatched one."""
    if x.ndim == n_spatial + 1:
        return run(x.unsqueeze(0)).squeeze(0)
    return run(x)


def _conv_nd(op, n, input, weight, bias, stride, padding, dilation, groups):
    _same_dtype(op, input, weight, bias)
    stride, dilation = int_tuple(stride, n, "stride"), int_tuple(dilation, n, "dilation")
    if weight.ndim != n + 2:
        raise RuntimeError(f"{op}: expected a {n + 2}D weight (out_channels, in_channels/groups, kernel...), got "
                           f"weight of size {_size(weight.shape)}")
    pads = conv_pads(padding, tuple(weight.shape[2:]), dilation, stride)
    inputs = (weight,) if bias is None else (weight, bias)

    def run(x):
        _check_conv(op, x, weight, bias, stride, pads, dilation, groups)
        if x.is_complex():
            return gauss_conv(lambda xs, ws: Conv.apply(xs, ws, stride=stride, pads=pads, dilation=dilation,
                                                        groups=groups), x, weight, bias)
        return Conv.apply(x, *inputs, stride=stride, pads=pads, dilation=dilation, groups=groups)

    return _batched(input, n, run)


@cast_policy.lower_precision_fp
def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """``torch.nn.functional.conv1d``: input ``(N, C, L)`` or ``(C, L)``, weight ``(O, C/groups, k)``."""
    return _conv_nd("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


@cast_policy.lower_precision_fp
def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """``torch.nn.functional.conv2d``: input ``(N, C, H, W)`` or ``(C, H, W)``, weight ``(O, C/groups, kh, kw)``."""
    return _conv_nd("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


@cast_policy.lower_precision_fp
def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """``torch.nn.functional.conv3d``: input ``(N, C, D, H, W)`` or ``(C, D, H, W)``, weight
    ``(O, C/groups, kd, kh, kw)``."""
    return _conv_nd("conv3d", 3, input, weight, bias, stride, padding, dilation, groups)


def _conv_transpose_nd(op, n, input, weight, bias, stride, padding, output_padding, groups, dilation):
    _same_dtype(op, input, weight, bias)
    if weight.ndim != n + 2:
        raise RuntimeError(f"{op}: expected a {n + 2}D weight (in_channels, out_channels/groups, kernel...), got "
                           f"weight of size {_size(weight.shape)}")
    stride, dilation = int_tuple(stride, n, "stride"), int_tuple(dilation, n, "dilation")
    if isinstance(padding, str):
        raise ValueError(f"{op}: padding must be an int or a tuple of ints, got {padding!r}")
    pads = conv_pads(padding, tuple(weight.shape[2:]), dilation, stride)
    output_padding = int_tuple(output_padding, n, "output_padding")
    for op_, s, d in zip(output_padding, stride, dilation):
        if op_ < 0 or (op_ >= s and op_ >= d):
            raise RuntimeError(f"{op}: output padding must be smaller than either stride or dilation, but got "
                               f"output_padding={output_padding}, stride={stride}, dilation={dilation}")
    inputs = (weight,) if bias is None else (weight, bias)

    def run(x):
        _check_conv(op, x, weight, bias, stride, pads, dilation, groups, transposed=True)
        if x.is_complex():
            return gauss_conv(lambda xs, ws: ConvTranspose.apply(xs, ws, stride=stride, pads=pads,
                                                                 output_padding=output_padding, dilation=dilation,
                                                                 groups=groups), x, weight, bias)
        return ConvTranspose.apply(x, *inputs, stride=stride, pads=pads, output_padding=output_padding,
                                   dilation=dilation, groups=groups)

    return _batched(input, n, run)


@cast_policy.lower_precision_fp
def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """``torch.nn.functional.conv_transpose1d``: weight ``(C_in, C_out/groups, k)``."""
    return _conv_transpose_nd("conv_transpose1d", 1, input, weight, bias, stride, padding, output_padding, groups,
                              dilation)


@cast_policy.lower_precision_fp
def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """``torch.nn.functional.conv_transpose2d``: weight ``(C_in, C_out/groups, kh, kw)``."""
    return _conv_transpose_nd("conv_transpose2d", 2, input, weight, bias, stride, padding, output_padding, groups,
                              dilation)


@cast_policy.lower_precision_fp
def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """``torch.nn.functional.conv_transpose3d``: weight ``(C_in, C_out/groups, kd, kh, kw)``."""
    return _conv_transpose_nd("conv_transpose3d", 3, input, weight, bias, stride, padding, output_padding, groups,
                              dilation)
