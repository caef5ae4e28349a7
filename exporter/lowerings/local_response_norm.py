"""LocalResponseNorm as LRN for odd sizes on 4-D input; even sizes (where PyTorch's window leans the other way from
ONNX's), other ranks and the legacy CrossMapLRN2d as their channel-window sums, a MatMul by a 0/1 window matrix."""

import numpy as np

from exporter.lowerings import lowering
from exporter.lowerings.pool import _average_along


def _window_matrix(channels, low, high):
    """``(C, C)``: row ``c`` sums channels ``c + low .. c + high``."""
    offset = np.arange(channels)[None, :] - np.arange(channels)[:, None]
    return ((offset >= low) & (offset <= high)).astype(np.float64)


def _normalised(g, x, window, size, alpha, beta, k):
    """``x / (k + alpha / size * window @ x^2 over channels) ** beta``."""
    sums = _average_along(g, g.op("Mul", x, x), g.rank(x), 1, window.astype(g.dtype(x)))
    denominator = g.op("Add", g.op("Mul", sums, g.like(alpha / size, x)), g.like(k, x))
    return g.op("Div", x, g.op("Pow", denominator, g.like(beta, x)))


@lowering("LocalResponseNorm")
def local_response_norm(g, x, *, size, alpha, beta, k):
    if size % 2 and g.rank(x) == 4:  # ONNX Runtime runs LRN on 4-D input only
        return g.op("LRN", x, size=size, alpha=alpha, beta=beta, bias=k)
    return _normalised(g, x, _window_matrix(g.shape(x)[1], -(size // 2), (size - 1) // 2), size, alpha, beta, k)


@lowering("CrossMapLrn2d")
def cross_map_lrn2d(g, x, *, size, alpha, beta, k):
    pre_pad = int((size - 1) / 2 + 1)
    window = _window_matrix(g.shape(x)[1], 1 - pre_pad, pre_pad - 1)
    window[pre_pad:, 0] = 1  # PyTorch's running window keeps channel 0 from channel pre_pad on
    return _normalised(g, x, window, size, alpha, beta, k)
