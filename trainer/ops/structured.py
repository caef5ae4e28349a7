"""Structured matrices built from their entries: block_diag, vander and diagflat (diag_embed lives with the other
diagonal writers in ``region_scatter``). All three are compositions of differentiable ops."""

from __future__ import annotations

from trainer import dtypes
from trainer.creation import ones, zeros
from trainer.ops._operands import promote
from trainer.ops.join import cat, stack
from trainer.ops.shape import diag, reshape


def block_diag(*tensors):
    """The tensors (0-d, 1-D as one row, or 2-D) as the blocks of a block-diagonal matrix, zeros elsewhere."""
    for i, t in enumerate(tensors):
        if t.ndim > 2:
            raise RuntimeError(f"torch.block_diag: Input tensors must have 2 or fewer dimensions. Input {i} has "
                               f"{t.ndim} dimensions")
    if not tensors:
        return zeros(1, 0)
    blocks = [reshape(t, 1, -1) if t.ndim < 2 else t for t in promote(*tensors)]
    like = blocks[0]
    width = sum(b.shape[1] for b in blocks)
    rows, left = [], 0
    for b in blocks:  # one row of blocks per input: zeros, the block, zeros
        n_rows, n_cols = b.shape
        pad_left = zeros(n_rows, left, dtype=like.dtype, device=like.device)
        pad_right = zeros(n_rows, width - left - n_cols, dtype=like.dtype, device=like.device)
        rows.append(cat([piece for piece in (pad_left, b, pad_right) if piece.shape[1]] or [b], 1))
        left += n_cols
    return cat(rows, 0)


def vander(x, N=None, increasing=False):  # noqa: N803 - PyTorch's name
    """Columns ``x ** (N - 1), ..., x, 1`` (reversed with ``increasing``), each the previous times ``x`` as in
    PyTorch's cumulative product; integer and boolean inputs give int64."""
    if x.ndim != 1:
        raise RuntimeError("x must be a one-dimensional tensor.")
    n = x.shape[0] if N is None else int(N)
    if n < 0:
        raise RuntimeError("N must be non-negative.")
    if not x.dtype.is_floating_point:
        x = x.to(dtypes.int64)
    if n == 0:
        return zeros(x.shape[0], 0, dtype=x.dtype, device=x.device)
    columns = [ones(x.shape[0], dtype=x.dtype, device=x.device)]
    for _ in range(n - 1):  # one column per power: a small static count
        columns.append(columns[-1] * x)
    return stack(columns if increasing else columns[::-1], 1)


def diagflat(a, offset=0):
    """The flattened input as the ``offset``-th diagonal of a square matrix."""
    return diag(reshape(a, -1), offset)
