"""Matrix functions and decompositions (``torch.linalg``'s core): inverse, determinants, solve, Cholesky, QR,
symmetric eigendecomposition and SVD, each batched over leading dims and differentiable as in PyTorch.

Forward passes are ``xp.linalg`` (LAPACK on NumPy, cuSOLVER on CuPy); backward passes are the standard
matrix-calculus formulas, written with matmuls and triangular solves so they batch the same way. Each
``backward_graph`` is the same formula on tensors, so that second and higher derivatives are exact too.
"""

from __future__ import annotations

from collections import namedtuple

import trainer
from trainer import dtypes
from trainer.autograd.higher_order import graph_tensors
from trainer.autograd.op import Function
from trainer.backend import xp_of
from trainer.ops.holomorphic import holomorphic
from trainer.ops.linalg_errors import cholesky_failures, not_positive_definite_error, singular_error
from trainer.tensor import Tensor

SignLogAbsDet = namedtuple("SignLogAbsDet", ["sign", "logabsdet"])  # torch.return_types.linalg_slogdet
QR = namedtuple("QR", ["Q", "R"])
Eigh = namedtuple("Eigh", ["eigenvalues", "eigenvectors"])
SVD = namedtuple("SVD", ["U", "S", "Vh"])


def _mT(a):
    return a.swapaxes(-1, -2)


def _mH(a):
    """The conjugate transpose (the transpose of a real array): PyTorch's formulas hold for both dtypes with it."""
    return _mT(a).conj() if a.dtype.kind == "c" else _mT(a)


def _eye(like, n: int):
    """The identity ``(n, n)`` in ``like``'s dtype, as a constant tensor."""
    return Tensor._wrap(xp_of(like._data).eye(n, dtype=like._data.dtype))


def check_square(op: str, a) -> None:
    if a.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor A must have at least 2 dimensions.")
    if a.shape[-1] != a.shape[-2]:
        raise RuntimeError(f"{op}: A must be batches of square matrices, but they are {a.shape[-2]} by "
                           f"{a.shape[-1]} matrices")


# PyTorch checks these for low precision before dispatching (a RuntimeError); the others fail at their LAPACK kernel
_PRECISION_CHECKED = frozenset({"linalg.inv", "linalg.slogdet", "linalg.pinv", "torch.linalg.lstsq"})


def reject_bfloat16(op: str, a) -> None:
    """LAPACK has no bfloat16 kernels: refuse a bfloat16 array with the exception PyTorch's CPU linalg raises."""
    if a.dtype == dtypes.bfloat16.np:
        error = RuntimeError if op in _PRECISION_CHECKED else NotImplementedError
        raise error(f"{op}: not implemented for 'BFloat16': linear algebra needs float32, float64 or a complex "
                    "dtype; convert the input with .float() first")


def check_floating(op: str, a) -> None:
    reject_bfloat16(op, a)
    if a.dtype.kind != "f":
        raise RuntimeError(f"{op}: Expected a floating point tensor as input. Got {a.dtype.name}")


def check_floating_or_complex(op: str, a) -> None:
    reject_bfloat16(op, a)
    if a.dtype.kind not in "fc":
        raise RuntimeError(f"{op}: Expected a floating point or complex tensor as input. Got {a.dtype.name}")


def check_phase_invariant(op: str, what: str, imaginary_part, xp) -> None:
    """PyTorch's check that a loss does not depend on the arbitrary phase of complex singular or eigenvectors: the
    imaginary part of the diagonal of ``V^H gV`` (summed over U and V for the SVD) must vanish."""
    if not xp.allclose(imaginary_part, 0, rtol=1e-2, atol=1e-2):
        raise RuntimeError(f"{op}: The {what} in the complex case are specified up to multiplication by e^{{i phi}}. "
                           "The specified loss function depends on this quantity, so it is ill-defined.")


def _lapack(op: str, fn, *arrays):
    xp = xp_of(arrays[0])
    try:
        return fn(*arrays)
    except xp.linalg.LinAlgError:
        raise singular_error(op, arrays[0]) from None


@holomorphic
class Inverse(Function):
    @staticmethod
    def forward(ctx, a):
        inverse = _lapack("linalg.inv", xp_of(a).linalg.inv, a)
        ctx.save_for_backward(inverse)
        return inverse

    @staticmethod
    def backward(ctx, g):
        (inverse,) = ctx.saved_tensors
        return -(_mT(inverse) @ g @ _mT(inverse))

    @staticmethod
    def backward_graph(ctx, g):
        (inverse,) = graph_tensors(ctx)
        return -(inverse.mT @ g @ inverse.mT)


class Det(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return xp_of(a).linalg.det(a)

    @staticmethod
    def backward(ctx, g):
        # d det / dA is the cofactor matrix, det(A) A^-T where A is invertible; from the SVD it is
        # det(U) det(Vh) U diag(prod_{j != i} s_j) Vh, which also holds for singular A.
        (a,) = ctx.saved_tensors
        xp = xp_of(a)
        u, s, vh = xp.linalg.svd(a)
        ones = xp.ones_like(s[..., :1])
        before = xp.cumprod(xp.concatenate([ones, s[..., :-1]], axis=-1), axis=-1)
        after = xp.flip(xp.cumprod(xp.flip(xp.concatenate([s[..., 1:], ones], axis=-1), -1), axis=-1), -1)
        # complex: the conjugate cofactor, conj(det U det Vh) U diag(...) Vh, as PyTorch's convention wants
        scale = ((xp.linalg.det(u) * xp.linalg.det(vh)).conj() * g)[..., None, None]
        return scale * ((u * (before * after)[..., None, :]) @ vh)

    @staticmethod
    def backward_graph(ctx, g):
        # recorded, as det(A) A^-T: for invertible A only, where PyTorch's double backward is exact too
        (a,) = graph_tensors(ctx)
        return (g * trainer.linalg.det(a).conj())[..., None, None] * trainer.linalg.inv(a).mH


class SlogDet(Function):
    @staticmethod
    def forward(ctx, a):
        sign, logabsdet = xp_of(a).linalg.slogdet(a)
        ctx.save_for_backward(a, sign)
        return sign, logabsdet

    @staticmethod
    def backward(ctx, g_sign, g_logabsdet):
        # g A^-H, where for complex A the phase of the sign moves with A too: g = g_logabsdet + i Im(g_sign conj(sign))
        a, sign = ctx.saved_tensors
        g = g_logabsdet + 1j * (g_sign * sign.conj()).imag if a.dtype.kind == "c" else g_logabsdet
        return g[..., None, None] * _mH(_lapack("linalg.slogdet", xp_of(a).linalg.inv, a))

    @staticmethod
    def backward_graph(ctx, g_sign, g_logabsdet):
        a, sign = graph_tensors(ctx)
        g = g_logabsdet + 1j * (g_sign * sign.conj()).imag if a._data.dtype.kind == "c" else g_logabsdet
        return g[..., None, None] * trainer.linalg.inv(a).mH


@holomorphic
class Solve(Function):
    """``A X = B`` for ``X``; ``B`` is ``(*, n, k)`` (a batch of vectors is given as ``(*, n, 1)``)."""

    @staticmethod
    def forward(ctx, a, b):
        x = _lapack("linalg.solve", xp_of(a).linalg.solve, a, b)
        ctx.save_for_backward(a, x)
        return x

    @staticmethod
    def backward(ctx, g):
        a, x = ctx.saved_tensors
        g_b = xp_of(a).linalg.solve(_mT(a), g)
        return -(g_b @ _mT(x)), g_b

    @staticmethod
    def backward_graph(ctx, g):
        a, x = graph_tensors(ctx)
        g_b = Solve.apply(a.mT, g)
        return -(g_b @ x.mT), g_b


class Cholesky(Function):
    @staticmethod
    def forward(ctx, a, upper=False):
        xp = xp_of(a)
        try:
            low = xp.linalg.cholesky(a)
        except xp.linalg.LinAlgError:
            low = None
        if low is None or not xp.isfinite(low).all():  # CuPy answers NaNs where NumPy raises
            raise not_positive_definite_error("linalg.cholesky", cholesky_failures(a)[1], a.ndim)
        factor = _mH(low).copy() if upper else low
        ctx.save_for_backward(factor)  # the output itself, so that a recorded backward differentiates through it
        ctx.upper = upper
        return factor

    @staticmethod
    def backward(ctx, g):
        # Murray (2016), in PyTorch's complex form: with P = tril(L^H gL), gA = L^-H (P + tril(P, -1)^H) / 2 L^-1.
        (factor,) = ctx.saved_tensors
        low = _mH(factor) if ctx.upper else factor
        xp = xp_of(low)
        g = _mH(g) if ctx.upper else g
        p = xp.tril(_mH(low) @ g)
        p = 0.5 * (p + _mH(xp.tril(p, -1)))
        # Triangular systems solved as general ones: SciPy is not a dependency, and both cost O(n^3).
        left = xp.linalg.solve(_mH(low), p)
        return _mH(xp.linalg.solve(_mH(low), _mH(left)))

    @staticmethod
    def backward_graph(ctx, g):
        (factor,) = graph_tensors(ctx)
        low, g = (factor.mH, g.mH) if ctx.upper else (factor, g)
        p = (low.mH @ g).tril()
        p = 0.5 * (p + p.tril(-1).mH)
        left = trainer.linalg.solve_triangular(low.mH, p, upper=True)
        return trainer.linalg.solve_triangular(low, left, upper=False, left=False)


class QRDecomposition(Function):
    @staticmethod
    def forward(ctx, a, mode="reduced"):
        q, r = xp_of(a).linalg.qr(a, mode="complete" if mode == "complete" else "reduced")
        ctx.save_for_backward(q, r)
        ctx.mode = mode
        return q, r

    @staticmethod
    def backward(ctx, g_q, g_r):
        # Reduced QR with m >= n (PyTorch's form): T = triu(gR R^H - Q^H gQ); gA = (gQ + Q herm(T)) R^-H, where
        # herm(T) = T + T^H with the real part of the diagonal counted once.
        q, r = ctx.saved_tensors
        xp = xp_of(q)
        _check_qr_differentiable(ctx.mode, q, r)
        upper = xp.triu(g_r @ _mH(r) - _mH(q) @ g_q)
        herm = upper + _mH(upper) - xp.eye(r.shape[-1], dtype=upper.real.dtype) * upper.real
        return _mH(xp.linalg.solve(r, _mH(g_q + q @ herm)))

    @staticmethod
    def backward_graph(ctx, g_q, g_r):
        q, r = graph_tensors(ctx)
        _check_qr_differentiable(ctx.mode, q, r)
        upper = (g_r @ r.mH - q.mH @ g_q).triu()
        herm = upper + upper.mH - _eye(upper.real, r.shape[-1]) * upper.real
        # X R^H = B read on R's upper triangle only, as R's gradient must be (its lower part is no output)
        return trainer.linalg.solve_triangular(r.mH, g_q + q @ herm, upper=False, left=False)


def _check_qr_differentiable(mode: str, q, r) -> None:
    if mode != "reduced" or q.shape[-2] < r.shape[-1]:
        raise RuntimeError("linalg.qr: the derivative is implemented for mode='reduced' with m >= n only, as "
                           "in PyTorch for full-rank inputs")


def _eigen_gaps(xp, w):
    """``1 / (w_j - w_i)`` off the diagonal, 0 on it: the weights that spread a gradient over eigenvectors."""
    gaps = w[..., None, :] - w[..., :, None]
    eye = xp.eye(w.shape[-1], dtype=bool)
    return xp.where(eye, 0, 1 / xp.where(eye, 1, gaps))


class SymmetricEigen(Function):
    @staticmethod
    def forward(ctx, a, upper=False):
        w, v = xp_of(a).linalg.eigh(a, UPLO="U" if upper else "L")
        ctx.save_for_backward(w, v)
        return w, v

    @staticmethod
    def backward(ctx, g_w, g_v):
        # PyTorch's form: V (skew(V^H gV) / 2 / E + diag(gL)) V^H, the projection onto skew-Hermitian matrices
        # dropping the part of gV that no change of A can cause
        w, v = ctx.saved_tensors
        xp = xp_of(w)
        vh_gv = _mH(v) @ g_v
        if v.dtype.kind == "c":
            check_phase_invariant("linalg_eigh_backward", "eigenvectors", xp.diagonal(vh_gv, 0, -2, -1).imag, xp)
        inner = _eigen_gaps(xp, w) * (0.5 * (vh_gv - _mH(vh_gv)))
        inner = inner + xp.eye(w.shape[-1], dtype=w.dtype) * g_w[..., None, :]
        return v @ inner @ _mH(v)

    @staticmethod
    def backward_graph(ctx, g_w, g_v):
        w, v = graph_tensors(ctx)
        vh_gv = v.mH @ g_v
        inner = _eigen_gaps_graph(w) * (0.5 * (vh_gv - vh_gv.mH)) + _eye(w, w.shape[-1]) * g_w[..., None, :]
        return v @ inner @ v.mH


def _eigen_gaps_graph(w):
    """``_eigen_gaps`` on a tensor, recorded: the gaps are differentiated in a second derivative."""
    eye = Tensor._wrap(xp_of(w._data).eye(w.shape[-1], dtype=bool))
    gaps = w[..., None, :] - w[..., :, None]
    return trainer.where(eye, 0.0, 1 / trainer.where(eye, 1.0, gaps))


class SingularValueDecomposition(Function):
    """The thin SVD ``A = U diag(S) Vh`` (``full_matrices=False``)."""

    @staticmethod
    def forward(ctx, a):
        u, s, vh = xp_of(a).linalg.svd(a, full_matrices=False)
        ctx.save_for_backward(u, s, vh)
        return u, s, vh

    @staticmethod
    def backward(ctx, g_u, g_s, g_vh):
        # Townsend (2016), with the thin factors' projections for non-square A; for complex A, PyTorch's extra
        # diagonal term i Im(diag(U^H gU)) / S and its check that the loss ignores the vectors' phases.
        u, s, vh = ctx.saved_tensors
        xp = xp_of(s)
        v, g_v = _mH(vh), _mH(g_vh)
        m, n, k = u.shape[-2], vh.shape[-1], s.shape[-1]
        eye = xp.eye(k, dtype=s.dtype)
        s_row, s_col = s[..., None, :], s[..., :, None]
        f = _eigen_gaps(xp, s * s)
        uh_gu, vh_gv = _mH(u) @ g_u, _mH(v) @ g_v
        skew_u, skew_v = uh_gu - _mH(uh_gu), vh_gv - _mH(vh_gv)
        inner = (f * skew_u) * s_row + s_col * (f * skew_v) + eye * g_s[..., None, :]
        if u.dtype.kind == "c":
            diag_u = xp.diagonal(skew_u, 0, -2, -1)
            check_phase_invariant("svd_backward", "singular vectors",
                                  diag_u.imag + xp.diagonal(skew_v, 0, -2, -1).imag, xp)
            inner = inner + eye * (diag_u / (2 * s))[..., None, :]
        grad = u @ inner @ vh
        if m > k:
            grad = grad + (g_u - u @ uh_gu) / s_row @ vh
        if n > k:
            grad = grad + u @ _mH((g_v - v @ vh_gv) / s_row)
        return grad

    @staticmethod
    def backward_graph(ctx, g_u, g_s, g_vh):
        u, s, vh = graph_tensors(ctx)
        v, g_v = vh.mH, g_vh.mH
        m, n, k = u.shape[-2], vh.shape[-1], s.shape[-1]
        s_row, s_col = s[..., None, :], s[..., :, None]
        f = _eigen_gaps_graph(s * s)
        uh_gu, vh_gv = u.mH @ g_u, v.mH @ g_v
        skew_u = uh_gu - uh_gu.mH
        inner = (f * skew_u) * s_row + s_col * (f * (vh_gv - vh_gv.mH)) + _eye(s, k) * g_s[..., None, :]
        if u._data.dtype.kind == "c":
            inner = inner + _eye(s, k) * (skew_u.diagonal(0, -2, -1) / (2 * s))[..., None, :]
        grad = u @ inner @ vh
        if m > k:
            grad = grad + (g_u - u @ uh_gu) / s_row @ vh
        if n > k:
            grad = grad + u @ ((g_v - v @ vh_gv) / s_row).mH
        return grad
