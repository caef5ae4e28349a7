"""``LinAlgError`` (PyTorch's ``torch.linalg.LinAlgError``, a ``RuntimeError``) and the per-matrix failure report
that the ``*_ex`` functions return as ``info`` and the checked functions turn into that error."""

from __future__ import annotations

from trainer.backend import xp_of


class LinAlgError(RuntimeError):
    """A matrix was singular or not positive-definite where the computation needs it to be."""


def first_failure(info, ndim: int):
    """``(prefix, code)`` of the first matrix whose ``info`` is non-zero, or None when every matrix succeeded. The
    prefix names the batch element as PyTorch does, for inputs with batch dims."""
    xp = xp_of(info)
    flat = info.reshape(-1)
    failed = xp.flatnonzero(flat)
    if failed.size == 0:
        return None
    index = int(failed[0])
    return (f"(Batch element {index}): " if ndim > 2 else ""), int(flat[index])


_SINGULAR = {
    "inv": "The diagonal element {code} is zero, the inversion could not be completed because the input matrix is "
           "singular.",
    "solve": "The solver failed because the input matrix is singular.",
}


def singular_error(op: str, a) -> LinAlgError:
    """The error for a batch of square matrices ``a`` with an exactly singular one, naming the first such matrix
    and where its LU factorisation met a zero pivot. ``op`` is PyTorch's name, ``linalg.inv`` or ``linalg.solve``."""
    from trainer.ops.lu import factor

    failure = first_failure(factor(a)[2], a.ndim) or ("", 0)
    template = _SINGULAR["solve" if op.endswith("solve") else "inv"]
    name = "torch." + op if op == "linalg.solve" else op
    return LinAlgError(f"{name}: {failure[0]}{template.format(code=failure[1])}")


def cholesky_failures(a):
    """``(L, info)`` as LAPACK's unblocked ``potf2`` leaves them: ``info`` is the order of the first leading minor
    that is not positive-definite (0 when there is none); such a matrix keeps the columns factored before it, the
    reduced diagonal entry that failed, and its input's lower triangle after that."""
    xp = xp_of(a)
    n = a.shape[-1]
    low = xp.tril(a).astype(a.dtype, copy=True)
    info = xp.zeros(a.shape[:-2], dtype=xp.int32)
    for j in range(n):
        going = info == 0
        row = low[..., j, :j]
        diagonal = low[..., j, j] - (row * row).sum(-1)
        failed = going & ~(diagonal > 0)  # NaN fails too
        info = xp.where(failed, j + 1, info).astype(xp.int32)
        going = going & ~failed
        kept = low[..., j, j]
        low[..., j, j] = xp.where(going, xp.sqrt(xp.where(going, diagonal, 1)), xp.where(failed, diagonal, kept))
        below = low[..., j + 1 :, j] - (low[..., j + 1 :, :j] @ row[..., :, None])[..., 0]
        divisor = xp.where(going, low[..., j, j], 1)[..., None]
        low[..., j + 1 :, j] = xp.where(going[..., None], below / divisor, low[..., j + 1 :, j])
    return low, info


def not_positive_definite_error(op: str, info, ndim: int) -> LinAlgError:
    failure = first_failure(info, ndim)
    # None where the factor only overflowed to inf/NaN (CuPy's report) with every pivot positive
    prefix, detail = ("", "") if failure is None else \
        (failure[0], f" (the leading minor of order {failure[1]} is not positive-definite)")
    return LinAlgError(f"{op}: {prefix}The factorization could not be completed because the input is not "
                       f"positive-definite{detail}.")
