"""Moving a batch of sequences between the padded layout (T, B, *) and the packed one (total, *):
``PackPaddedSequence`` and ``PadPackedSequence``.

The packed layout holds the rows of each time step one after the other: step ``t`` has
``batch_sizes[t]`` rows, the first sequences of the batch (they are sorted longest first). So
``mask[t, j] = j < batch_sizes[t]`` marks the padded positions that hold data, and the mask's
row-major order is the packed order: each direction is one boolean-mask copy, and each op's
backward is the other direction with zeros where the padding was.

``batch_sizes`` is a tuple of ints, read on the host like PyTorch's CPU ``batch_sizes`` tensor.
An exporter does not keep this layout (it depends on the lengths' values): it lowers these ops, and the packed
recurrent ops between them, on the padded batch and its lengths (see ``exporter.lowerings.packed_sequence``).
"""

from __future__ import annotations

import numpy as np

from trainer.autograd.higher_order import linear_backward
from trainer.autograd.op import Function
from trainer.backend import xp_of


def _data_mask(xp, batch_sizes: tuple, steps: int, batch: int):
    """(steps, batch): whether sequence ``j`` has a row at step ``t``; steps past ``len(batch_sizes)`` have none."""
    sizes = xp.zeros(steps, dtype=xp.int64)
    sizes[:len(batch_sizes)] = xp.asarray(batch_sizes, dtype=xp.int64)
    return xp.arange(batch) < sizes[:, None]


def _scattered(packed, mask, shape):
    """The padded array of ``shape`` holding ``packed``'s rows where ``mask`` is set, zeros elsewhere."""
    out = xp_of(packed).zeros(shape, dtype=packed.dtype)
    out[mask] = packed
    return out


class PackPaddedSequence(Function):
    """(T, B, *) padded, time-major -> (total, *) packed. ``lengths`` (sorted, int64) is an input although
    ``batch_sizes`` already says everything about it: an observer of ops sees that the result depends on it."""

    @staticmethod
    def forward(ctx, padded, lengths, *, batch_sizes):
        mask = _data_mask(xp_of(padded), batch_sizes, *padded.shape[:2])
        ctx.mask, ctx.shape = mask, padded.shape
        return padded[mask]

    @staticmethod
    def backward(ctx, g):
        return _scattered(g, ctx.mask, ctx.shape), None

    @staticmethod
    def backward_graph(ctx, g):  # linear in g; the adjoint is forward's gather
        mask = ctx.mask
        return linear_backward(ctx, g, lambda v: v[mask], position=0), None


class PadPackedSequence(Function):
    """(total, *) packed -> (total_length, B, *) padded with ``padding_value``, time-major, and the sequences'
    lengths (B,), a CPU int64 array as PyTorch's. ``total_length`` None pads to the longest sequence; it stays
    None in the attributes so that an observer of ops can tell a fixed length from the longest one. The lengths
    are an output, not a constant made after the op, so that an observer sees where they come from."""

    @staticmethod
    def forward(ctx, data, *, batch_sizes, total_length, padding_value):
        xp = xp_of(data)
        batch = batch_sizes[0]
        steps = len(batch_sizes) if total_length is None else total_length
        mask = _data_mask(xp, batch_sizes, steps, batch)
        out = xp.full((steps, batch, *data.shape[1:]), padding_value, dtype=data.dtype)
        out[mask] = data
        ctx.mask = mask
        sizes = np.asarray(batch_sizes)  # host values, as PyTorch's CPU batch_sizes
        return out, (sizes[:, None] > np.arange(batch)).sum(axis=0).astype(np.int64)

    @staticmethod
    def backward(ctx, g, _lengths=None):  # the lengths (integers) carry no gradient
        return g[ctx.mask]

    @staticmethod
    def backward_graph(ctx, g, _lengths=None):  # linear in g; the adjoint scatters back into the padded shape
        mask, shape = ctx.mask, tuple(g.shape)
        return linear_backward(ctx, g, lambda v: _scattered(v, mask, shape))
