"""The small ``torch.linalg`` functions that are other ops under a linear-algebra name: ``vecdot``, ``diagonal``
and the batched ``vander``."""

from __future__ import annotations

from trainer.amp import cast_policy
from trainer.ops.join import stack


@cast_policy.lower_precision_fp
def vecdot(x, y, *, dim=-1):
    """The dot product of ``x`` and ``y`` along ``dim``, broadcasting the other dims; ``x`` is conjugated, as in
    PyTorch."""
    return (x.conj() * y).sum(dim)


def diagonal(A, *, offset=0, dim1=-2, dim2=-1):  # noqa: N803 - PyTorch's name
    return A.diagonal(offset, dim1, dim2)


def vander(x, *, N=None):  # noqa: N803 - PyTorch's name
    """Columns ``1, x, x^2, ..., x^(N-1)`` along a new last dim, each the previous times ``x``."""
    if x.ndim < 1:
        raise RuntimeError("linalg.vander: x must have at least one dimension.")
    n = x.shape[-1] if N is None else int(N)
    if n <= 1:
        raise RuntimeError(f"linalg.vander: N must be greater than 1, got {n}.")
    columns = [x.new_ones(x.shape)]
    for _ in range(n - 1):  # one column per power: a small static count
        columns.append(columns[-1] * x)
    return stack(columns, -1)
