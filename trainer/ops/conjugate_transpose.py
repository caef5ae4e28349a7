"""The conjugate transposes ``Tensor.mH``, ``Tensor.H`` and ``adjoint``: the transpose of the last two dims,
conjugated for complex tensors (eagerly: trainer has no conjugate bit), with PyTorch's checks on how many dims
there are."""

from __future__ import annotations


def adjoint(a, name: str = "tensor.adjoint()"):
    if a.ndim < 2:
        raise RuntimeError(f"{name} is only supported on matrices or batches of matrices. Got {a.ndim}-D tensor.")
    return a.mT.conj()


def matrix_h(a):
    """``Tensor.H``: matrices only, unlike ``mH``."""
    if a.ndim not in (0, 2):
        hint = " For batches of matrices, consider using tensor.mH" if a.ndim > 2 else ""
        raise RuntimeError(f"tensor.H is only supported on matrices (2-D tensors). Got {a.ndim}-D tensor.{hint}")
    return a.mT.conj() if a.ndim == 2 else a.conj()
