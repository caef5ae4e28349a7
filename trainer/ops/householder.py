"""``linalg.householder_product``: the first ``n`` columns of ``H_1 ... H_k``, ``H_i = I - tau_i v_i v_i^T`` with
``v_i`` stored below the diagonal of column ``i`` (a unit entry above it implied), as ``geqrf`` leaves them.
Composed of differentiable ops, one reflection at a time."""

from __future__ import annotations

from trainer.creation import eye
from trainer.ops.decompositions import check_floating


def householder_product(A, tau):  # noqa: N803 - PyTorch's name
    if A.ndim < 2:
        raise RuntimeError(f"torch.linalg.householder_product: input must have at least 2 dimensions. Got {A.ndim}")
    check_floating("torch.linalg.householder_product", A._data)
    m, n = A.shape[-2:]
    k = tau.shape[-1] if tau.ndim else 0
    if m < n:
        raise RuntimeError(f"torch.linalg.householder_product: input.shape[-2] must be greater than or equal to "
                           f"input.shape[-1], got {m} < {n}")
    if tau.ndim != A.ndim - 1 or k > n or tuple(tau.shape[:-1]) != tuple(A.shape[:-2]):
        raise RuntimeError(f"torch.linalg.householder_product: tau must have shape input.shape[:-2] + (k,) with "
                           f"k <= input.shape[-1] = {n}, got input {list(A.shape)} and tau {list(tau.shape)}")
    reflectors = A[..., :, :k].tril(-1) + eye(m, k, dtype=A.dtype, device=A.device)
    q = eye(m, n, dtype=A.dtype, device=A.device).expand(*A.shape[:-2], m, n)
    for i in reversed(range(k)):  # H_i applied to the product of the later reflections
        v = reflectors[..., :, i : i + 1]
        q = q - (tau[..., i, None, None] * v) @ (v.mT @ q)
    return q
