"""Local response normalisation across channels: ``local_response_norm`` (``nn.LocalResponseNorm``) and the legacy
``nn.CrossMapLRN2d``, as PyTorch computes them.

Both divide each value by ``(k + alpha / size * sum of squares over a window of neighbouring channels) ** beta``.
The window sums are one shifted add per window offset (``size`` of them), never a loop over channels or pixels.
"""

from __future__ import annotations

from trainer.autograd.higher_order import LinearMap, graph_tensors
from trainer.autograd.op import Function
from trainer.backend import xp_of
from trainer.ops.join import cat


def _channel_window_sum(a, low, high):
    """``out[:, c] = a[:, c + low] + ... + a[:, c + high]``, channels outside ``0 .. C - 1`` counting as zero."""
    channels = a.shape[1]
    out = xp_of(a).zeros_like(a)
    for offset in range(low, high + 1):
        if abs(offset) >= channels:
            continue
        if offset >= 0:
            out[:, :channels - offset] += a[:, offset:]
        else:
            out[:, -offset:] += a[:, :channels + offset]
    return out


def _channel_window_sum_graph(t, low, high):
    """``_channel_window_sum`` of a tensor, differentiable to any order: its adjoint is the mirrored window."""
    return LinearMap.apply(t, apply=lambda a: _channel_window_sum(a, low, high),
                           adjoint=lambda a: _channel_window_sum(a, -high, -low))


class LocalResponseNorm(Function):
    """``x / (k + alpha / size * sum_{c - size//2 <= j <= c + (size-1)//2} x_j^2) ** beta`` over dim 1."""

    @staticmethod
    def forward(ctx, x, *, size, alpha, beta, k):
        before, after = size // 2, (size - 1) // 2
        denominator = k + alpha / size * _channel_window_sum(x * x, -before, after)
        scale = denominator ** -beta
        ctx.save_for_backward(x, denominator, scale)
        ctx.settings = (size, alpha, beta)
        ctx.k = k
        return x * scale

    @staticmethod
    def backward(ctx, g):
        x, denominator, scale = ctx.saved_tensors
        size, alpha, beta = ctx.settings
        before, after = size // 2, (size - 1) // 2
        # x_i sits in the windows of channels i - after .. i + before
        spread = _channel_window_sum(g * x * scale / denominator, -after, before)
        return g * scale - (2 * alpha * beta / size) * x * spread

    @staticmethod
    def backward_graph(ctx, g):
        # the same maths on the graph: the denominator recomputed from x, so that it is differentiated too
        x = graph_tensors(ctx)[0]
        size, alpha, beta = ctx.settings
        before, after = size // 2, (size - 1) // 2
        denominator = ctx.k + alpha / size * _channel_window_sum_graph(x * x, -before, after)
        scale = denominator ** -beta
        spread = _channel_window_sum_graph(g * x * scale / denominator, -after, before)
        return g * scale - (2 * alpha * beta / size) * x * spread


class CrossMapLrn2d(Function):
    """``nn.CrossMapLRN2d``'s own forward and backward, kept exactly as PyTorch's legacy implementation runs them:
    its running window keeps channel 0's square in the sum of every channel from ``(size - 1) // 2 + 1`` on, and
    its backward sums over the window ``c - ipp .. c + size - 1 - ipp`` (``ipp = int(size - (size - 1) / 2)``),
    which is not the forward's transpose. PyTorch's users train with these gradients, so they are matched."""

    @staticmethod
    def forward(ctx, x, *, size, alpha, beta, k):
        pre_pad = int((size - 1) / 2 + 1)
        squares = x * x
        window = _channel_window_sum(squares, 1 - pre_pad, pre_pad - 1)
        window[:, pre_pad:] += squares[:, :1]
        scale = k + alpha / size * window
        out = x * scale ** -beta
        ctx.save_for_backward(x, scale, out)
        ctx.settings = (size, alpha, beta)
        ctx.k = k
        return out

    @staticmethod
    def backward(ctx, g):
        x, scale, out = ctx.saved_tensors
        size, alpha, beta = ctx.settings
        inverse_pre_pad = int(size - (size - 1) / 2)
        ratio = _channel_window_sum(g * out / scale, -inverse_pre_pad, size - 1 - inverse_pre_pad)
        return scale ** -beta * g - (2 * alpha * beta / size) * x * ratio

    @staticmethod
    def backward_graph(ctx, g):
        # the legacy backward on the graph, its running window recomputed from x (the first channel's square in
        # the windows from pre_pad on, as the forward has it)
        x = graph_tensors(ctx)[0]
        size, alpha, beta = ctx.settings
        pre_pad = int((size - 1) / 2 + 1)
        squares = x * x
        window = _channel_window_sum_graph(squares, 1 - pre_pad, pre_pad - 1)
        channels = x.shape[1]
        if channels > pre_pad:
            first = squares[:, :1].expand(x.shape[0], channels - pre_pad, *x.shape[2:])
            window = window + cat([first.new_zeros((x.shape[0], pre_pad, *x.shape[2:])), first], 1)
        scale = ctx.k + alpha / size * window
        out = x * scale ** -beta  # recomputed: the saved output would be differentiated by the legacy gradient
        inverse_pre_pad = int(size - (size - 1) / 2)
        ratio = _channel_window_sum_graph(g * out / scale, -inverse_pre_pad, size - 1 - inverse_pre_pad)
        return scale ** -beta * g - (2 * alpha * beta / size) * x * ratio


def _check_size(size):
    if size <= 0:
        raise RuntimeError(f"local_response_norm: size should be greater than zero, but got size: {size}")


def local_response_norm(input, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0):
    """``torch.nn.functional.local_response_norm`` over the channels (dim 1) of an input of 3 or more dims."""
    if input.ndim < 3:
        raise ValueError(f"Expected 3D or higher dimensionality input (got {input.ndim} dimensions)")
    if input.numel() == 0:
        return input
    _check_size(size)
    return LocalResponseNorm.apply(input, size=int(size), alpha=float(alpha), beta=float(beta), k=float(k))


def cross_map_lrn2d(input, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1):
    """``nn.CrossMapLRN2d``'s computation on a 4-D input."""
    if input.ndim != 4:
        raise ValueError(f"CrossMapLRN2d: Expected input to be 4D, got {input.ndim}D instead.")
    _check_size(size)
    return CrossMapLrn2d.apply(input, size=int(size), alpha=float(alpha), beta=float(beta), k=float(k))
