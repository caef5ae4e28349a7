"""``linalg.cond``: the condition number ``norm(A) norm(A^-1)`` in a matrix norm, or the ratio of the extreme
singular values for the 2-norms (which need no inverse and accept non-square matrices)."""

# ruff: noqa: N803 - the argument name is PyTorch's (A)

from __future__ import annotations

import math

from trainer.ops.decompositions import check_floating, check_square


def cond(A, p=None):
    from trainer import linalg
    from trainer.ops.linalg_ex import inv_ex

    if p not in (None, 2, -2, "fro", "nuc", 1, -1, math.inf, -math.inf):
        raise RuntimeError(f"linalg.cond got an invalid norm type: {p}")
    if A.ndim < 2:
        raise RuntimeError(f"linalg.cond: The input tensor A must have at least 2 dimensions, got {A.ndim}")
    check_floating("linalg.cond", A._data)
    if p in (None, 2, -2):
        s = linalg.svdvals(A)
        return s[..., 0] / s[..., -1] if p != -2 else s[..., -1] / s[..., 0]
    check_square(f"linalg.cond(ord={p})", A._data)
    inverse, info = inv_ex(A)
    # a singular matrix's condition number is infinite
    return (linalg.matrix_norm(A, p) * linalg.matrix_norm(inverse, p)).masked_fill(info > 0, math.inf)
