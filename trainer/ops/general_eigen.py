"""``linalg.eig`` and ``linalg.eigvals``: eigenvalues and eigenvectors of general square matrices, always complex (a
real matrix may have complex conjugate pairs of them), as LAPACK's ``geev`` returns them: unit-norm eigenvectors
in columns, in LAPACK's order.

The gradient is PyTorch's (``linalg_eig_backward``, Eq. 4.77 of arXiv:1701.00392 with unit-norm eigenvectors):
``gA = V^-H (diag(gL) + (V^H gV - V^H V Re diag(V^H gV)) / conj(E)) V^H`` with ``E_ij = L_j - L_i``. Eigenvectors are
only defined up to a phase each, so a loss of them must not depend on it (checked, as in PyTorch); the gradient of a
real input is the real part of that complex one.
"""

# ruff: noqa: N803 - the argument name is PyTorch's (A)

from __future__ import annotations

from collections import namedtuple

from trainer import dtypes
from trainer.autograd.op import Function
from trainer.backend import xp_of
from trainer.ops.decompositions import _mH, check_floating_or_complex, check_phase_invariant, check_square

Eig = namedtuple("Eig", ["eigenvalues", "eigenvectors"])  # torch.return_types.linalg_eig


class GeneralEigen(Function):
    @staticmethod
    def forward(ctx, a):
        xp = xp_of(a)
        complex_dtype = dtypes.from_numpy(a.dtype).to_complex().np
        # NumPy answers real arrays for real matrices whose eigenvalues happen to be real; PyTorch is always complex
        w, v = xp.linalg.eig(a)
        w, v = w.astype(complex_dtype, copy=False), v.astype(complex_dtype, copy=False)
        ctx.save_for_backward(w, v)
        ctx.real_input = a.dtype.kind != "c"
        return w, v

    @staticmethod
    def backward(ctx, g_w, g_v):
        w, v = ctx.saved_tensors
        xp = xp_of(w)
        vh = _mH(v)
        vh_gv = vh @ g_v
        diagonal = xp.diagonal(vh_gv, 0, -2, -1)
        check_phase_invariant("linalg_eig_backward", "eigenvectors", diagonal.imag, xp)
        # the part of gV that keeps the columns at unit norm
        vh_gv = vh_gv - vh @ (v * diagonal.real[..., None, :])
        n = w.shape[-1]
        eye = xp.eye(n, dtype=bool)
        gaps = (w.conj()[..., None, :] - w.conj()[..., :, None])
        inner = xp.where(eye, g_w[..., None, :], vh_gv / xp.where(eye, 1, gaps))
        grad = xp.linalg.solve(vh, inner @ vh)
        return grad.real.copy() if ctx.real_input else grad


def eig(A):
    """``(eigenvalues, eigenvectors)`` with ``A V = V diag(eigenvalues)``, both complex."""
    check_square("linalg.eig", A._data)
    check_floating_or_complex("linalg.eig", A._data)
    return Eig(*GeneralEigen.apply(A))


def eigvals(A):
    """The eigenvalues of ``A``, complex; differentiable through ``eig`` as PyTorch's are."""
    return eig(A).eigenvalues
