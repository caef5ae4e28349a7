"""``trainer.linalg``, PyTorch's ``torch.linalg``: inverses, determinants, solves, decompositions and norms on
batches of matrices (the trailing two dims), differentiable; plus, outside ``__all__``, the matrix functions
of the ``torch`` namespace built on them (``logdet``, ``trace``, ``kron``, ``tensordot``, ``cdist``, ...),
which ``trainer`` exports at its top level.

The decompositions are single ops (``trainer/ops/decompositions.py``); everything else is composed of
differentiable tensor ops, so it exports to ONNX wherever those do.
"""

# ruff: noqa: N803, N806 - the argument names are PyTorch's (A, B, UPLO), so keyword calls keep working

from __future__ import annotations

import math

from trainer.amp import cast_policy
from trainer.backend import xp_of
from trainer.creation import eye
from trainer.ops import decompositions as ops
from trainer.ops._operands import broadcast_shapes
from trainer.ops.complex_checks import reject_complex
from trainer.ops.condition import cond
from trainer.ops.decompositions import QR, SVD, Eigh, SignLogAbsDet, check_floating_or_complex, check_square
from trainer.ops.general_eigen import eig, eigvals
from trainer.ops.householder import householder_product
from trainer.ops.ldl import ldl_factor, ldl_factor_ex, ldl_solve
from trainer.ops.linalg import cross, einsum, matmul
from trainer.ops.linalg_errors import LinAlgError
from trainer.ops.linalg_ex import cholesky_ex, inv_ex, solve_ex
from trainer.ops.linalg_vectors import diagonal, vander, vecdot
from trainer.ops.lstsq import lstsq
from trainer.ops.lu import lu, lu_factor, lu_factor_ex, lu_solve
from trainer.ops.matrix_exp import matrix_exp
from trainer.ops.reduce import Norm, _axes, _require_floating
from trainer.ops.tensor_solve import tensorinv, tensorsolve
from trainer.ops.triangular import solve_triangular
from trainer.tensor import Tensor
from trainer.type_info import array_finfo

__all__ = ["inv", "det", "slogdet", "solve", "cholesky", "qr", "eigh", "eigvalsh", "svd", "svdvals", "pinv",
           "matrix_power", "matrix_rank", "vector_norm", "matrix_norm", "norm", "cross", "multi_dot",
           "solve_triangular", "lu", "lu_factor", "lu_factor_ex", "lu_solve", "cholesky_ex", "inv_ex", "solve_ex",
           "LinAlgError", "lstsq", "matrix_exp", "cond", "vecdot", "tensorinv", "tensorsolve", "householder_product",
           "diagonal", "vander", "eig", "eigvals"]
__all__ += ["ldl_factor", "ldl_factor_ex", "ldl_solve"]


def _square_float(op: str, a) -> None:
    check_square(op, a._data)
    check_floating_or_complex(op, a._data)


@cast_policy.fp32
def inv(A):
    _square_float("linalg.inv", A)
    return ops.Inverse.apply(A)


def det(A):
    _square_float("linalg.det", A)
    return ops.Det.apply(A)


def slogdet(A):
    """``(sign, logabsdet)`` of each matrix; only ``logabsdet`` carries a gradient."""
    _square_float("linalg.slogdet", A)
    return SignLogAbsDet(*ops.SlogDet.apply(A))


@cast_policy.fp32
def solve(A, B, *, left=True):
    """``X`` with ``A X = B`` (``X A = B`` with ``left=False``). ``B`` is a batch of vectors when it is 1-D or
    has ``A``'s shape without the last dim, as PyTorch decides."""
    _square_float("linalg.solve", A)
    if not left:
        return solve(A.mT, B.mT).mT
    vector = B.ndim == 1 or (B.ndim == A.ndim - 1 and tuple(B.shape) == tuple(A.shape[:-1]))
    rhs = B.unsqueeze(-1) if vector else B
    if rhs.shape[-2] != A.shape[-1]:
        raise RuntimeError(f"linalg.solve: Incompatible shapes of A and B for the equation AX = B "
                           f"({A.shape[-2]}x{A.shape[-1]} and {rhs.shape[-2]}x{rhs.shape[-1]})")
    batch = tuple(broadcast_shapes(tuple(A.shape[:-2]), tuple(rhs.shape[:-2])))
    x = ops.Solve.apply(A.expand(*batch, *A.shape[-2:]), rhs.expand(*batch, *rhs.shape[-2:]))
    return x.squeeze(-1) if vector else x


@cast_policy.fp32
def cholesky(A, *, upper=False):
    _square_float("linalg.cholesky", A)
    return ops.Cholesky.apply(A, upper=upper)


@cast_policy.fp32
def qr(A, mode="reduced"):
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of 'reduced' (default), "
                           "'r', or 'complete'")
    if A.ndim < 2:
        raise RuntimeError(f"linalg.qr: The input tensor A must have at least 2 dimensions, got {A.ndim}")
    check_floating_or_complex("linalg.qr", A._data)
    q, r = ops.QRDecomposition.apply(A, mode="reduced" if mode == "r" else mode)
    if mode == "r":
        return QR(q.new_empty(0), r)
    return QR(q, r)


def eigh(A, UPLO="L"):
    """Eigenvalues (ascending) and orthonormal eigenvectors of symmetric matrices, read from the ``UPLO``
    triangle."""
    _square_float("linalg.eigh", A)
    if UPLO not in ("L", "U"):
        raise RuntimeError(f"Expected UPLO argument to be 'L' or 'U', but got {UPLO}")
    return Eigh(*ops.SymmetricEigen.apply(A, upper=UPLO == "U"))


def eigvalsh(A, UPLO="L"):
    return eigh(A, UPLO).eigenvalues


@cast_policy.fp32
def svd(A, full_matrices=True, *, driver=None):
    """``U, S, Vh`` with ``A = U diag(S) Vh``; differentiable for the thin factors (``full_matrices=False``),
    as PyTorch's gradient also needs."""
    del driver  # accepted for PyTorch compatibility: a cuSOLVER algorithm choice
    if A.ndim < 2:
        raise RuntimeError(f"linalg.svd: The input tensor A must have at least 2 dimensions, got {A.ndim}")
    check_floating_or_complex("linalg.svd", A._data)
    if full_matrices and A.shape[-1] != A.shape[-2]:
        if A.requires_grad:
            raise RuntimeError("linalg.svd: The derivative of linalg.svd is not implemented when "
                               "full_matrices=True for non-square inputs; pass full_matrices=False")
        u, s, vh = xp_of(A._data).linalg.svd(A._data, full_matrices=True)
        return SVD(Tensor._wrap(u), Tensor._wrap(s), Tensor._wrap(vh))
    return SVD(*ops.SingularValueDecomposition.apply(A))


def svdvals(A):
    return svd(A, full_matrices=False).S


def pinv(A, *, atol=None, rtol=None, hermitian=False):
    """The Moore-Penrose pseudo-inverse, from the SVD: singular values at or below
    ``max(atol, rtol * largest)`` count as zero (``rtol`` defaults to ``eps * max(m, n)`` when ``atol`` is
    not given, as in PyTorch)."""
    del hermitian  # the SVD path serves symmetric inputs too
    check_floating_or_complex("linalg.pinv", A._data)
    u, s, vh = svd(A, full_matrices=False)
    if rtol is None:
        rtol = 0.0 if atol is not None and atol > 0 else _eps(A) * max(A.shape[-2], A.shape[-1])
    largest = s.amax(-1, keepdim=True) if s.shape[-1] else s.sum(-1, keepdim=True)
    cutoff = (largest * rtol).clamp(min=atol or 0.0)
    kept = s > cutoff
    s_inv = (1 / s.masked_fill(~kept, 1)).masked_fill(~kept, 0)
    return (vh.mH * s_inv.unsqueeze(-2)) @ u.mH


def _eps(A) -> float:
    return float(array_finfo(A._data.dtype).eps)


def matrix_power(A, n: int):
    """``A`` multiplied by itself ``n`` times (by squaring); ``A^-1`` to the ``-n`` for negative ``n``."""
    check_square("linalg.matrix_power", A._data)
    if not isinstance(n, int):
        raise TypeError(f"matrix_power(): argument 'n' must be int, not {type(n).__name__}")
    if n == 0:
        return eye(A.shape[-1], dtype=A.dtype, device=A.device).expand(*A.shape).clone()
    base = inv(A) if n < 0 else A
    result, n = None, abs(n)
    while n:
        if n & 1:
            result = base if result is None else result @ base
        n >>= 1
        if n:
            base = base @ base
    return result


def matrix_rank(A, *, atol=None, rtol=None, hermitian=False):
    del hermitian
    s = svdvals(A.detach())
    if rtol is None:
        rtol = 0.0 if atol is not None and atol > 0 else _eps(A) * max(A.shape[-2], A.shape[-1])
    cutoff = (s.amax(-1, keepdim=True) * rtol).clamp(min=atol or 0.0)
    return (s > cutoff).sum(-1)


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None):
    """``(sum |x|^ord)^(1/ord)`` over ``dim`` (all elements by default); ``inf``/``-inf``: max/min of ``|x|``;
    ``0``: the count of non-zeros."""
    if dtype is not None:
        x = x.to(dtype)
    _require_floating(x, "linalg.vector_norm")
    if isinstance(ord, str):
        raise RuntimeError(f"linalg.vector_norm: ord must be a number, got {ord!r}")
    if x._data.dtype.kind == "c":  # the norm of the magnitudes: real, as in PyTorch
        x = x.abs()
    return Norm.apply(x, p=float(ord), axes=_axes(x, dim), keepdim=keepdim)


_MATRIX_ORDS = ("fro", "nuc", math.inf, -math.inf, 1, -1, 2, -2)


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None):
    if dtype is not None:
        A = A.to(dtype)
    _require_floating(A, "linalg.matrix_norm")
    if ord not in _MATRIX_ORDS:
        raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported; expected one of {list(_MATRIX_ORDS)}")
    if A.ndim < 2:
        raise RuntimeError(f"linalg.matrix_norm: The input tensor A must have at least 2 dimensions, got {A.ndim}")
    rows, cols = (d % A.ndim for d in dim)
    if ord == "fro":
        return vector_norm(A, 2, (rows, cols), keepdim)
    if ord in (1, -1, math.inf, -math.inf):
        summed, other = (rows, cols) if ord in (1, -1) else (cols, rows)  # 1: column sums, inf: row sums
        sums = A.abs().sum(summed, keepdim=True)
        out = sums.amax(other, keepdim=True) if ord > 0 else sums.amin(other, keepdim=True)
        return out if keepdim else out.squeeze((max(rows, cols), min(rows, cols)))
    s = svdvals(A.movedim((rows, cols), (-2, -1)))
    out = s.sum(-1) if ord == "nuc" else s.amax(-1) if ord == 2 else s.amin(-1)
    if keepdim:
        for axis in sorted((rows, cols)):
            out = out.unsqueeze(axis)
    return out


def norm(A, ord=None, dim=None, keepdim=False, *, dtype=None):
    """``vector_norm`` for 1-D inputs or an int ``dim``, ``matrix_norm`` for 2-D inputs or a pair of dims;
    ``ord=None`` is the 2-norm of the flattened input."""
    if ord is None:
        return vector_norm(A, 2, dim, keepdim, dtype=dtype)
    if isinstance(dim, int) or (dim is None and A.ndim == 1):
        return vector_norm(A, ord, dim, keepdim, dtype=dtype)
    if dim is None and A.ndim != 2:
        raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input must be 1D or 2D. Got "
                           f"{A.ndim}D.")
    return matrix_norm(A, ord, (-2, -1) if dim is None else dim, keepdim, dtype=dtype)


def multi_dot(tensors):
    """The product of a chain of matrices (the first may be a vector, the last too)."""
    if len(tensors) < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {len(tensors)}")
    result = tensors[0]
    for t in tensors[1:]:
        result = matmul(result, t)
    return result


# ---------------------------------------------------------------- the torch namespace's matrix functions
def logdet(A):
    """``log det A``: NaN where the determinant is negative, as in PyTorch; complex ``A`` has a complex logarithm."""
    sign, logabsdet = slogdet(A)
    if sign._data.dtype.kind == "c":
        return sign.log() + logabsdet
    return logabsdet.masked_fill(sign < 0, math.nan)


@cast_policy.fp32
def trace(A):
    if A.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {A.ndim}")
    return A.diagonal().sum()


def kron(a, b):
    """The Kronecker product: every element of ``a`` scales a copy of ``b``."""
    ndim = max(a.ndim, b.ndim)
    a = a.reshape(*([1] * (ndim - a.ndim)), *a.shape)
    b = b.reshape(*([1] * (ndim - b.ndim)), *b.shape)
    spread_a = a.reshape(*[n for size in a.shape for n in (size, 1)])
    spread_b = b.reshape(*[n for size in b.shape for n in (1, size)])
    return (spread_a * spread_b).reshape(*[x * y for x, y in zip(a.shape, b.shape)])


def tensordot(a, b, dims=2):
    """Contract the last ``dims`` dims of ``a`` with the first ``dims`` of ``b``, or the listed pairs."""
    if isinstance(dims, int):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        dims_a, dims_b = list(range(a.ndim - dims, a.ndim)), list(range(dims))
    else:
        dims_a, dims_b = ([d] if isinstance(d, int) else list(d) for d in dims)
    if len(dims_a) != len(dims_b):
        raise RuntimeError("both dimension lists should have same length")
    letters = iter("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
    sub_a = [next(letters) for _ in range(a.ndim)]
    sub_b = [next(letters) for _ in range(b.ndim)]
    for da, db in zip(dims_a, dims_b):
        sub_b[db % b.ndim] = sub_a[da % a.ndim]
    contracted = {sub_a[d % a.ndim] for d in dims_a}
    out = [c for c in sub_a if c not in contracted] + [c for c in sub_b if c not in contracted]
    return einsum(f"{''.join(sub_a)},{''.join(sub_b)}->{''.join(out)}", a, b)


@cast_policy.fp32
def cdist(x1, x2, p=2.0, compute_mode="use_mm_for_euclid_dist_if_necessary"):
    """Pairwise ``p``-norm distances between the rows of ``x1`` ``(*, P, M)`` and ``x2`` ``(*, R, M)``."""
    del compute_mode  # one algorithm serves every mode: the difference tensor, exact for every p
    if x1.ndim < 2 or x2.ndim < 2:
        raise RuntimeError(f"cdist only supports at least 2D tensors, X1 got: {x1.ndim}D, X2 got: {x2.ndim}D")
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(f"X1 and X2 must have the same number of columns. X1: {x1.shape[-1]} X2: {x2.shape[-1]}")
    if p < 0:
        raise RuntimeError(f"cdist only supports non-negative p values, got {p}")
    reject_complex(x1, "cdist only supports floating-point dtypes, X1 got a complex tensor", RuntimeError)
    reject_complex(x2, "cdist only supports floating-point dtypes, X2 got a complex tensor", RuntimeError)
    return vector_norm(x1.unsqueeze(-2) - x2.unsqueeze(-3), p, -1)


@cast_policy.fp32
def pinverse(A, rcond=1e-15):
    return pinv(A, rtol=rcond)


def legacy_svd(A, some=True, compute_uv=True):
    """``torch.svd``: ``U, S, V`` (``V``, not ``Vh``), thin unless ``some=False``; without ``compute_uv`` the
    factors are zeros, as in PyTorch."""
    u, s, vh = svd(A, full_matrices=not some)
    if not compute_uv:
        return SVD(u.detach().zero_(), s, vh.detach().zero_().mT)
    return SVD(u, s, vh.mT)

