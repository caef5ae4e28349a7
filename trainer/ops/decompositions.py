"""Matrix functions and decompositions (``torch.linalg``'s core): inverse, determinants, solve, Cholesky, QR,
symmetric eigendecomposition and SVD, each batched over leading dims and differentiable as in PyTorch.

Forward passes are ``xp.linalg`` (LAPACK on NumPy, cuSOLVER on CuPy); backward passes are the standard
matrix-calculus formulas, written with matmuls and triangular solves so they batch the same way. Each
``backward_graph`` is the same formula on tensors, so that second and higher derivatives are exact too.
"""

from __future__ import annotations

from collections import namedtuple

import trainer
from trainer.autograd.higher_order import graph_tensors
from trainer.autograd.op import Function
from trainer.backend import xp_of
from trainer.ops.linalg_errors import cholesky_failures, not_positive_definite_error, singular_error
from trainer.tensor import Tensor

SignLogAbsDet = namedtuple("SignLogAbsDet", ["sign", "logabsdet"])  # torch.return_types.linalg_slogdet
QR = namedtuple("QR", ["Q", "R"])
Eigh = namedtuple("Eigh", ["eigenvalues", "eigenvectors"])
SVD = namedtuple("SVD", ["U", "S", "Vh"])


def _mT(a):
    return a.swapaxes(-1, -2)


def _eye(like, n: int):
    """The identity ``(n, n)`` in ``like``'s dtype, as a constant tensor."""
    return Tensor._wrap(xp_of(like._data).eye(n, dtype=like._data.dtype))


def check_square(op: str, a) -> None:
    if a.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor A must have at least 2 dimensions.")
    if a.shape[-1] != a.shape[-2]:
        raise RuntimeError(f"{op}: A must be batches of square matrices, but they are {a.shape[-2]} by "
                           f"{a.shape[-1]} matrices")


def check_floating(op: str, a) -> None:
    if a.dtype.kind != "f":
        raise RuntimeError(f"{op}: Expected a floating point tensor as input. Got {a.dtype.name}")


def _lapack(op: str, fn, *arrays):
    xp = xp_of(arrays[0])
    try:
        return fn(*arrays)
    except xp.linalg.LinAlgError:
        raise singular_error(op, arrays[0]) from None


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
        scale = (xp.linalg.det(u) * xp.linalg.det(vh) * g)[..., None, None]
        return scale * ((u * (before * after)[..., None, :]) @ vh)

    @staticmethod
    def backward_graph(ctx, g):
        # recorded, as det(A) A^-T: for invertible A only, where PyTorch's double backward is exact too
        (a,) = graph_tensors(ctx)
        return (g * trainer.linalg.det(a))[..., None, None] * trainer.linalg.inv(a).mT


class SlogDet(Function):
    @staticmethod
    def forward(ctx, a):
        sign, logabsdet = xp_of(a).linalg.slogdet(a)
        ctx.save_for_backward(a)
        return sign, logabsdet

    @staticmethod
    def backward(ctx, g_sign, g_logabsdet):
        (a,) = ctx.saved_tensors
        return g_logabsdet[..., None, None] * _mT(_lapack("linalg.slogdet", xp_of(a).linalg.inv, a))

    @staticmethod
    def backward_graph(ctx, g_sign, g_logabsdet):
        (a,) = graph_tensors(ctx)
        return g_logabsdet[..., None, None] * trainer.linalg.inv(a).mT


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
        factor = _mT(low).copy() if upper else low
        ctx.save_for_backward(factor)  # the output itself, so that a recorded backward differentiates through it
        ctx.upper = upper
        return factor

    @staticmethod
    def backward(ctx, g):
        # Murray (2016): with P = Phi(L^T dL) (lower triangle, halved diagonal), dA = sym(L^-T P L^-1).
        (factor,) = ctx.saved_tensors
        low = _mT(factor) if ctx.upper else factor
        xp = xp_of(low)
        g = _mT(g) if ctx.upper else g
        p = xp.tril(_mT(low) @ g)
        p -= 0.5 * xp.eye(low.shape[-1], dtype=low.dtype) * p
        # Triangular systems solved as general ones: SciPy is not a dependency, and both cost O(n^3).
        left = xp.linalg.solve(_mT(low), p)
        s = _mT(xp.linalg.solve(_mT(low), _mT(left)))
        return 0.5 * (s + _mT(s))

    @staticmethod
    def backward_graph(ctx, g):
        (factor,) = graph_tensors(ctx)
        low, g = (factor.mT, g.mT) if ctx.upper else (factor, g)
        p = (low.mT @ g).tril()
        p = p * (1 - 0.5 * _eye(low, low.shape[-1]))
        left = trainer.linalg.solve_triangular(low.mT, p, upper=True)
        s = trainer.linalg.solve_triangular(low, left, upper=False, left=False)
        return 0.5 * (s + s.mT)


class QRDecomposition(Function):
    @staticmethod
    def forward(ctx, a, mode="reduced"):
        q, r = xp_of(a).linalg.qr(a, mode="complete" if mode == "complete" else "reduced")
        ctx.save_for_backward(q, r)
        ctx.mode = mode
        return q, r

    @staticmethod
    def backward(ctx, g_q, g_r):
        # Reduced QR with m >= n: M = R gR^T - gQ^T Q; dA = (gQ + Q copyltu(M)) R^-T, where copyltu mirrors the
        # lower triangle onto the upper one.
        q, r = ctx.saved_tensors
        xp = xp_of(q)
        _check_qr_differentiable(ctx.mode, q, r)
        product = r @ _mT(g_r) - _mT(g_q) @ q
        lower = xp.tril(product, -1)
        copyltu = lower + _mT(lower) + xp.eye(r.shape[-1], dtype=q.dtype) * product
        return _mT(xp.linalg.solve(r, _mT(g_q + q @ copyltu)))

    @staticmethod
    def backward_graph(ctx, g_q, g_r):
        q, r = graph_tensors(ctx)
        _check_qr_differentiable(ctx.mode, q, r)
        product = r @ g_r.mT - g_q.mT @ q
        lower = product.tril(-1)
        copyltu = lower + lower.mT + _eye(r, r.shape[-1]) * product
        # X R^T = B read on R's upper triangle only, as R's gradient must be (its lower part is no output)
        return trainer.linalg.solve_triangular(r.mT, g_q + q @ copyltu, upper=False, left=False)


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
        w, v = ctx.saved_tensors
        xp = xp_of(w)
        inner = _eigen_gaps(xp, w) * (_mT(v) @ g_v)
        inner = inner + xp.eye(w.shape[-1], dtype=w.dtype) * g_w[..., None, :]
        return v @ inner @ _mT(v)

    @staticmethod
    def backward_graph(ctx, g_w, g_v):
        w, v = graph_tensors(ctx)
        inner = _eigen_gaps_graph(w) * (v.mT @ g_v) + _eye(w, w.shape[-1]) * g_w[..., None, :]
        return v @ inner @ v.mT


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
        # Townsend (2016) for real matrices, with the thin factors' projections for non-square A.
        u, s, vh = ctx.saved_tensors
        xp = xp_of(s)
        v, g_v = _mT(vh), _mT(g_vh)
        m, n, k = u.shape[-2], vh.shape[-1], s.shape[-1]
        eye = xp.eye(k, dtype=s.dtype)
        s_row, s_col = s[..., None, :], s[..., :, None]
        f = _eigen_gaps(xp, s * s)
        ut_gu, vt_gv = _mT(u) @ g_u, _mT(v) @ g_v
        inner = (f * (ut_gu - _mT(ut_gu))) * s_row + s_col * (f * (vt_gv - _mT(vt_gv))) + eye * g_s[..., None, :]
        grad = u @ inner @ vh
        if m > k:
            grad = grad + (g_u - u @ ut_gu) / s_row @ vh
        if n > k:
            grad = grad + u @ _mT((g_v - v @ vt_gv) / s_row)
        return grad

    @staticmethod
    def backward_graph(ctx, g_u, g_s, g_vh):
        u, s, vh = graph_tensors(ctx)
        v, g_v = vh.mT, g_vh.mT
        m, n, k = u.shape[-2], vh.shape[-1], s.shape[-1]
        s_row, s_col = s[..., None, :], s[..., :, None]
        f = _eigen_gaps_graph(s * s)
        ut_gu, vt_gv = u.mT @ g_u, v.mT @ g_v
        inner = ((f * (ut_gu - ut_gu.mT)) * s_row + s_col * (f * (vt_gv - vt_gv.mT))
                 + _eye(s, k) * g_s[..., None, :])
        grad = u @ inner @ vh
        if m > k:
            grad = grad + (g_u - u @ ut_gu) / s_row @ vh
        if n > k:
            grad = grad + u @ ((g_v - v @ vt_gv) / s_row).mT
        return grad
