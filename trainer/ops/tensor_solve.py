"""``linalg.tensorinv`` and ``linalg.tensorsolve``: ``inv`` and ``solve`` on tensors read as matrices, their
leading dims as rows and their trailing dims as columns."""

# ruff: noqa: N803, N806 - the argument names are PyTorch's (A, B), so keyword calls keep working

from __future__ import annotations

import math


def tensorinv(A, ind=2):
    """The tensor ``X`` of shape ``A.shape[ind:] + A.shape[:ind]`` with ``tensordot(X, A, ind)`` the identity."""
    from trainer import linalg

    if ind <= 0:
        raise RuntimeError(f"Expected a strictly positive integer for 'ind', but got {ind}")
    rows, cols = A.shape[:ind], A.shape[ind:]
    if math.prod(rows) != math.prod(cols):
        raise RuntimeError(f"Expected self to satisfy the requirement prod(self.shape[ind:]) == "
                           f"prod(self.shape[:ind]), but got {math.prod(cols)} != {math.prod(rows)}")
    return linalg.inv(A.reshape(math.prod(rows), math.prod(cols))).reshape(*cols, *rows)


def tensorsolve(A, B, dims=None):
    """``X`` with ``tensordot(A, X, X.ndim) == B``; ``dims`` names dims of ``A`` to move to its end first."""
    from trainer import linalg

    if dims is not None:
        moved = [d % A.ndim for d in dims]
        A = A.movedim(moved, list(range(A.ndim - len(moved), A.ndim)))
    solution_shape = A.shape[B.ndim:]
    if math.prod(A.shape[: B.ndim]) != math.prod(solution_shape) or tuple(A.shape[: B.ndim]) != tuple(B.shape):
        raise RuntimeError(f"Expected self to satisfy the requirement prod(self.shape[other.ndim:]) == "
                           f"prod(self.shape[:other.ndim]), but got {math.prod(solution_shape)} != "
                           f"{math.prod(A.shape[: B.ndim])}")
    size = math.prod(solution_shape)
    return linalg.solve(A.reshape(size, size), B.reshape(size)).reshape(*solution_shape)
