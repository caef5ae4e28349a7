"""QR in LAPACK's Householder form, PyTorch's ``torch.geqrf``, ``torch.orgqr`` and ``torch.ormqr``.

``geqrf`` leaves ``R`` on and above the diagonal and the reflectors ``v_i`` below it (a unit entry implied on it),
with their scales ``tau``: ``Q = H_1 ... H_k``, ``H_i = I - tau_i v_i v_i^T``. ``orgqr`` forms ``Q``'s first ``n``
columns (``linalg.householder_product``); ``ormqr`` multiplies a matrix by ``Q`` without forming it, one reflection
at a time, composed of differentiable ops. ``geqrf`` itself has no derivative, as in PyTorch.
"""

from __future__ import annotations

from collections import namedtuple

from trainer.autograd.op import Function
from trainer.backend import xp_of
from trainer.creation import eye
from trainer.ops.decompositions import reject_bfloat16
from trainer.ops.householder import householder_product

Geqrf = namedtuple("Geqrf", ["a", "tau"])  # torch.return_types.geqrf


class HouseholderQR(Function):
    """LAPACK's ``geqrf`` through ``xp.linalg.qr(mode="raw")``, which returns the packed factors transposed."""

    @staticmethod
    def forward(ctx, a):
        packed, tau = xp_of(a).linalg.qr(a, mode="raw")
        return xp_of(a).ascontiguousarray(packed.swapaxes(-1, -2)), tau

    @staticmethod
    def backward(ctx, *grads):
        raise NotImplementedError("the derivative for 'geqrf' is not implemented.")


def geqrf(input):  # noqa: A002 - PyTorch's name
    """``(a, tau)``: ``R`` and the Householder reflectors packed in ``a``, their scales in ``tau``."""
    if input.ndim < 2:
        raise RuntimeError("torch.geqrf: input must have at least 2 dimensions.")
    _check_floating("torch.geqrf", input)
    return Geqrf(*HouseholderQR.apply(input))


def _check_floating(op: str, a) -> None:
    # LAPACK has no integer kernels: PyTorch says so with NotImplementedError
    reject_bfloat16(op, a._data)
    if a._data.dtype.kind != "f":
        raise NotImplementedError(f"{op}: not implemented for {a.dtype}; expected a floating point tensor")


def orgqr(input, tau):  # noqa: A002 - PyTorch's name
    """``torch.orgqr``: the first ``n`` columns of ``Q`` from ``geqrf``'s output (``linalg.householder_product``)."""
    return householder_product(input, tau)


def _check_ormqr(input, tau, other, left: bool) -> None:  # noqa: A002 - PyTorch's name
    op = "torch.ormqr"
    for name, t in (("input", input), ("other", other)):
        if t.ndim < 2:
            raise RuntimeError(f"{op}: {name} must have at least 2 dimensions.")
    if tau.ndim != input.ndim - 1:
        raise RuntimeError(f"{op}: Expected tau to have one dimension less than input, but got tau.ndim equal to "
                           f"{tau.ndim} and input.ndim is equal to {input.ndim}")
    if other.ndim != input.ndim:
        raise RuntimeError(f"{op}: Expected other to have the same number of dimensions as input, but got other.ndim "
                           f"equal to {other.ndim} and input.ndim is equal to {input.ndim}")
    side = -2 if left else -1
    if other.shape[side] != input.shape[-2]:
        raise RuntimeError(f"{op}: other.shape[{side}] must be equal to input.shape[-2]")
    if tau.shape[-1] != min(other.shape[side], input.shape[-1]):
        raise RuntimeError(f"{op}: tau.shape[-1] must be equal to min(other.shape[{side}], input.shape[-1])")
    for name, batch in (("tau", tau.shape[:-1]), ("other", other.shape[:-2])):
        if tuple(batch) != tuple(input.shape[:-2]):
            raise RuntimeError(f"{op}: Expected batch dimensions of {name} to be equal to input.shape[:-2], but got "
                               f"{list(batch)}")
    _check_floating(op, input)
    for name, t in (("tau", tau), ("other", other)):
        if t.dtype != input.dtype:
            raise RuntimeError(f"{op}: Expected input and {name} to have the same dtype, but input has dtype"
                               f"{input.dtype} and {name} has dtype {t.dtype}")


def ormqr(input, tau, other, left=True, transpose=False):  # noqa: A002 - PyTorch's name
    """``Q @ other`` (``other @ Q`` with ``left=False``; ``Q^T`` in place of ``Q`` with ``transpose``) for the
    ``Q`` of ``geqrf``'s ``(input, tau)``."""
    _check_ormqr(input, tau, other, left)
    m, k = input.shape[-2], tau.shape[-1]
    reflectors = input[..., :, :k].tril(-1) + eye(m, k, dtype=input.dtype, device=input.device)
    # Q = H_1 ... H_k: from the left Q C applies H_k first, Q^T C applies H_1 first; from the right the reverse
    order = range(k) if left == transpose else reversed(range(k))
    out = other
    for i in order:
        v, scale = reflectors[..., :, i : i + 1], tau[..., i, None, None]
        if left:
            out = out - (scale * v) @ (v.mT @ out)
        else:
            out = out - (out @ v) @ (scale * v.mT)
    return out
