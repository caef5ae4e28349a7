"""The deprecated and removed linear algebra of the ``torch`` namespace.

Deprecated but working: ``qr(A, some)``, ``cholesky(A, upper)``, ``lu(A, pivot, get_infos)``, ``frobenius_norm``
and ``nuclear_norm``, each built on ``trainer.linalg`` (so differentiable) and giving PyTorch's UserWarning once
per process, as PyTorch's ``TORCH_WARN_ONCE`` does (every time under ``trainer.set_warn_always(True)``).

Removed in PyTorch 1.9+: ``matrix_rank``, ``symeig``, ``eig``, ``lstsq`` and ``solve`` raise PyTorch's
RuntimeError, which says what to call instead.
"""

# ruff: noqa: N803 - the argument names are PyTorch's (A)

from __future__ import annotations

import warnings

from trainer import linalg
from trainer.global_settings import is_warn_always_enabled
from trainer.ops.decompositions import check_square
from trainer.ops.lu import _check_input as check_lu_input

_warned: set[str] = set()


def warn_once(message: str) -> None:
    if message in _warned and not is_warn_always_enabled():
        return
    _warned.add(message)
    warnings.warn(message, UserWarning, stacklevel=3)


_QR_DEPRECATED = (
    "torch.qr is deprecated in favor of torch.linalg.qr and will be removed in a future PyTorch release.\n"
    "The boolean parameter 'some' has been replaced with a string parameter 'mode'.\n"
    "Q, R = torch.qr(A, some)\n"
    "should be replaced with\n"
    "Q, R = torch.linalg.qr(A, 'reduced' if some else 'complete')")
_CHOLESKY_DEPRECATED = (
    "torch.cholesky is deprecated in favor of torch.linalg.cholesky and will be removed in a future PyTorch "
    "release.\n"
    "L = torch.cholesky(A)\n"
    "should be replaced with\n"
    "L = torch.linalg.cholesky(A)\n"
    "and\n"
    "U = torch.cholesky(A, upper=True)\n"
    "should be replaced with\n"
    "U = torch.linalg.cholesky(A).mH\n"
    "This transform will produce equivalent results for all valid (symmetric positive definite) inputs.")
_LU_DEPRECATED = (
    "torch.lu is deprecated in favor of torch.linalg.lu_factor / torch.linalg.lu_factor_ex and will be removed in a "
    "future PyTorch release.\n"
    "LU, pivots = torch.lu(A, compute_pivots)\n"
    "should be replaced with\n"
    "LU, pivots = torch.linalg.lu_factor(A, compute_pivots)\n"
    "and\n"
    "LU, pivots, info = torch.lu(A, compute_pivots, get_infos=True)\n"
    "should be replaced with\n"
    "LU, pivots, info = torch.linalg.lu_factor_ex(A, compute_pivots)")
_FROBENIUS_DEPRECATED = (
    "at::frobenius_norm is deprecated and it is just left for JIT compatibility. It will be removed in a future "
    "PyTorch release. Please use `linalg.vector_norm(A, 2., dim, keepdim)` instead")
_NUCLEAR_DEPRECATED = (
    "at::nuclear_norm is deprecated and it is just left for JIT compatibility. It will be removed in a future "
    "PyTorch release. Please use `linalg.matrix_norm(A, 'nuc', dim, keepdim)` instead")


def qr(input, some=True):
    """``(Q, R)``, reduced when ``some`` (the default), complete otherwise."""
    warn_once(_QR_DEPRECATED)
    # with rows <= columns the complete factors are the reduced ones, and the reduced mode is differentiable
    complete = not some and input.ndim >= 2 and input.shape[-2] > input.shape[-1]
    return linalg.qr(input, "complete" if complete else "reduced")


def cholesky(input, upper=False):
    """``L`` with ``A = L L^H``, or ``U`` with ``A = U^H U`` when ``upper``."""
    warn_once(_CHOLESKY_DEPRECATED)
    check_square("cholesky", input._data)
    return linalg.cholesky(input, upper=upper)


def lu(A, pivot=True, get_infos=False):
    """``(LU, pivots)``, plus ``info`` when ``get_infos``; a singular matrix is factored without an error."""
    warn_once(_LU_DEPRECATED)
    check_lu_input("torch.lu_factor", A)
    factors = linalg.lu_factor_ex(A, pivot=pivot)
    return factors if get_infos else (factors.LU, factors.pivots)


def _dims(dim) -> tuple[int, ...]:
    return (dim,) if isinstance(dim, int) else tuple(dim)


def frobenius_norm(input, dim, keepdim=False):
    """The 2-norm over ``dim``: a vector norm over at most one dim (all dims when ``dim`` is empty), the Frobenius
    matrix norm over two."""
    warn_once(_FROBENIUS_DEPRECATED)
    dims = _dims(dim)
    if len(dims) > 2:
        raise RuntimeError(f"Expected at most 2 dimensions, but got {len(dims)} dimensions instead.")
    if len(dims) == 2:
        return linalg.matrix_norm(input, "fro", dims, keepdim)
    return linalg.vector_norm(input, 2, dims or None, keepdim)


def nuclear_norm(input, dim=None, keepdim=False):
    """The sum of singular values of the matrices over ``dim`` (the last two dims by default); an int ``dim``
    stands for the pair ``(dim, dim)``, as in PyTorch, which is refused."""
    warn_once(_NUCLEAR_DEPRECATED)
    if isinstance(dim, bool):  # nuclear_norm(input, keepdim) is PyTorch's other overload
        dim, keepdim = None, dim
    dims = (-2, -1) if dim is None else (dim, dim) if isinstance(dim, int) else tuple(dim)
    if len(dims) != 2:
        raise RuntimeError(f"linalg.matrix_norm: dim must be a 2-tuple. Got {' '.join(str(d) for d in dims)}")
    wrapped = [d % input.ndim if -input.ndim <= d < input.ndim else d for d in dims]
    if wrapped[0] == wrapped[1]:
        raise RuntimeError(f"linalg.matrix_norm: dims must be different. Got ({dims[0]}, {dims[1]})")
    return linalg.matrix_norm(input, "nuc", dims, keepdim)


# --------------------------------------------------------------- removed: PyTorch's own messages
_MATRIX_RANK_REMOVED = (
    "This function was deprecated since version 1.9 and is now removed.\n"
    "Please use the `torch.linalg.matrix_rank` function instead. "
    "The parameter 'symmetric' was renamed in `torch.linalg.matrix_rank()` to 'hermitian'.")
_SOLVE_REMOVED = (
    "This function was deprecated since version 1.9 and is now removed. "
    "`torch.solve` is deprecated in favor of `torch.linalg.solve`. "
    "`torch.linalg.solve` has its arguments reversed and does not return the LU factorization.\n\n"
    "To get the LU factorization see `torch.lu`, which can be used with `torch.lu_solve` or `torch.lu_unpack`.\n"
    "X = torch.solve(B, A).solution should be replaced with:\n"
    "X = torch.linalg.solve(A, B)")
_LSTSQ_REMOVED = (
    "This function was deprecated since version 1.9 and is now removed. "
    "`torch.lstsq` is deprecated in favor of `torch.linalg.lstsq`.\n"
    "`torch.linalg.lstsq` has reversed arguments and does not return the QR decomposition in "
    "the returned tuple (although it returns other information about the problem).\n\n"
    "To get the QR decomposition consider using `torch.linalg.qr`.\n\n"
    "The returned solution in `torch.lstsq` stored the residuals of the solution in the "
    "last m - n columns of the returned value whenever m > n. In torch.linalg.lstsq, "
    "the residuals are in the field 'residuals' of the returned named tuple.\n\n"
    "The unpacking of the solution, as in\n"
    "X, _ = torch.lstsq(B, A).solution[:A.size(1)]\n"
    "should be replaced with:\n"
    "X = torch.linalg.lstsq(A, B).solution")
_SYMEIG_REMOVED = (
    "This function was deprecated since version 1.9 and is now removed. "
    "The default behavior has changed from using the upper triangular portion of the matrix by default "
    "to using the lower triangular portion.\n\n"
    "L, _ = torch.symeig(A, upper=upper) should be replaced with:\n"
    "L = torch.linalg.eigvalsh(A, UPLO='U' if upper else 'L')\n\n"
    "and\n\n"
    "L, V = torch.symeig(A, eigenvectors=True) should be replaced with:\n"
    "L, V = torch.linalg.eigh(A, UPLO='U' if upper else 'L')")
_EIG_REMOVED = (
    "This function was deprecated since version 1.9 and is now removed. "
    "`torch.linalg.eig` returns complex tensors of dtype `cfloat` or `cdouble` rather than real tensors "
    "mimicking complex tensors.\n\n"
    "L, _ = torch.eig(A) should be replaced with:\n"
    "L_complex = torch.linalg.eigvals(A)\n\n"
    "and\n\n"
    "L, V = torch.eig(A, eigenvectors=True) should be replaced with:\n"
    "L_complex, V_complex = torch.linalg.eig(A)")


def matrix_rank(input, tol=None, symmetric=False, *, out=None):
    raise RuntimeError(_MATRIX_RANK_REMOVED)


def solve(input, A, *, out=None):
    raise RuntimeError(_SOLVE_REMOVED)


def lstsq(input, A, *, out=None):
    raise RuntimeError(_LSTSQ_REMOVED)


def symeig(input, eigenvectors=False, upper=True, *, out=None):
    raise RuntimeError(_SYMEIG_REMOVED)


def eig(input, eigenvectors=False, *, e=None, v=None):
    raise RuntimeError(_EIG_REMOVED)
