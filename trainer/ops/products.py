"""More products and distances: mv, inner, vdot, addmv, addr, addbmm, chain_matmul, dist and renorm, each a
composition of matmul, the norms and elementwise ops (so differentiable and exportable with them)."""

from __future__ import annotations

from trainer.amp import cast_policy
from trainer.ops._operands import normalize_dim
from trainer.ops.compare import where
from trainer.ops.linalg import _scaled_sum, dot, matmul, mm, outer
from trainer.ops.reduce import norm
from trainer.ops.shape import reshape, transpose


def _check_integral_scalars(op, tensors, **scalars):
    """Integer tensors take integer ``alpha``/``beta`` only, as in PyTorch."""
    if any(t.dtype.is_floating_point for t in tensors):
        return
    for name, value in scalars.items():
        if isinstance(value, float):
            raise RuntimeError(f"For integral input tensors, argument {name} must not be a floating point number. "
                               f"({op} got {name}={value})")


def _check_same_dtype(op, *tensors):
    if len({t._data.dtype for t in tensors}) > 1:
        raise RuntimeError(f"{op} input tensors must have the same dtype, but got "
                           + ", ".join(t.dtype.name for t in tensors))


def _check_addend(op, input, shape):
    """``input`` must broadcast to the product's ``shape``."""
    own = tuple(input.shape)
    if len(own) > len(shape) or any(s not in (1, n) for s, n in zip(reversed(own), reversed(shape))):
        raise RuntimeError(f"{op}: the added tensor of shape {list(own)} does not broadcast to the product's shape "
                           f"{list(shape)}")


@cast_policy.autocast_excluded
def mv(input, vec):  # noqa: A002 - PyTorch's name
    """Matrix times vector."""
    if input.ndim != 2 or vec.ndim != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got 1, {input.ndim}, {vec.ndim}")
    if input.shape[1] != vec.shape[0]:
        raise RuntimeError(f"size mismatch, got input ({input.shape[0]}), mat ({input.shape[0]}x{input.shape[1]}), "
                           f"vec ({vec.shape[0]})")
    _check_same_dtype("addmv", input, vec)
    return matmul(input, vec)


def inner(input, other):  # noqa: A002 - PyTorch's name
    """The sum of products over the last dims; the result has both inputs' other dims. A 0-d input scales."""
    if input.ndim == 0 or other.ndim == 0:
        return input * other
    if input._data.dtype != other._data.dtype:
        raise RuntimeError("both inputs should have same dtype")
    if input.shape[-1] != other.shape[-1]:
        raise RuntimeError(f"inner() the last dimension must match on both input tensors but got shapes "
                           f"{list(input.shape)} and {list(other.shape)}")
    k = input.shape[-1]
    rows = reshape(input, -1, k)
    cols = transpose(reshape(other, -1, k), 0, 1)
    return reshape(matmul(rows, cols), *input.shape[:-1], *other.shape[:-1])


def vdot(input, other):  # noqa: A002 - PyTorch's name
    """The dot product of two vectors, the first conjugated."""
    return dot(input.conj(), other)


@cast_policy.autocast_excluded
def addmv(input, mat, vec, *, beta=1, alpha=1):  # noqa: A002 - PyTorch's name
    """``beta * input + alpha * (mat @ vec)``."""
    product = mv(mat, vec)
    _check_addend("addmv", input, (mat.shape[0],))
    _check_integral_scalars("addmv", (input, mat, vec), alpha=alpha, beta=beta)
    return _scaled_sum(input, product, beta, alpha)


def addmv_(input, mat, vec, *, beta=1, alpha=1):  # noqa: A002 - PyTorch's name
    """``torch.addmv_``: ``Tensor.addmv_`` as a function."""
    return input.addmv_(mat, vec, beta=beta, alpha=alpha)


def addr(input, vec1, vec2, *, beta=1, alpha=1):  # noqa: A002 - PyTorch's name
    """``beta * input + alpha * outer(vec1, vec2)``."""
    for name, v in (("vec1", vec1), ("vec2", vec2)):
        if v.ndim != 1:
            raise RuntimeError(f"addr: Expected 1-D argument {name}, but got {v.ndim}-D")
    _check_addend("addr", input, (vec1.shape[0], vec2.shape[0]))
    _check_integral_scalars("addr", (input, vec1, vec2), alpha=alpha, beta=beta)
    return _scaled_sum(input, outer(vec1, vec2), beta, alpha)


@cast_policy.lower_precision_fp
def addbmm(input, batch1, batch2, *, beta=1, alpha=1):  # noqa: A002 - PyTorch's name
    """``beta * input + alpha * sum_b(batch1[b] @ batch2[b])``, as one matrix product over the batch and inner
    dims together."""
    for name, b in (("batch1", batch1), ("batch2", batch2)):
        if b.ndim != 3:
            raise RuntimeError(f"{name} must be a 3D tensor")
    if batch1.shape[0] != batch2.shape[0]:
        raise RuntimeError(f"batch1 and batch2 must have same number of batches, got {batch1.shape[0]} and "
                           f"{batch2.shape[0]}")
    if batch1.shape[2] != batch2.shape[1]:
        raise RuntimeError(f"Incompatible matrix sizes for bmm ({batch1.shape[1]}x{batch1.shape[2]} and "
                           f"{batch2.shape[1]}x{batch2.shape[2]})")
    _check_addend("addbmm", input, (batch1.shape[1], batch2.shape[2]))
    _check_integral_scalars("addbmm", (input, batch1, batch2), alpha=alpha, beta=beta)
    rows = reshape(transpose(batch1, 0, 1), batch1.shape[1], -1)  # (n, batches * k)
    cols = reshape(batch2, -1, batch2.shape[2])  # (batches * k, m)
    return _scaled_sum(input, matmul(rows, cols), beta, alpha)


def chain_matmul(*matrices):
    """The product of a chain of matrices."""
    if len(matrices) == 1 and isinstance(matrices[0], (list, tuple)):
        matrices = tuple(matrices[0])
    if not matrices:
        raise RuntimeError("chain_matmul(): Expected one or more matrices")
    for m in matrices:
        if m.ndim != 2:
            raise RuntimeError(f"Tensor dimension is {m.ndim}, expected 2 instead.")
    if len(matrices) == 1:
        return matrices[0].clone()
    result = matrices[0]
    for m in matrices[1:]:
        result = mm(result, m)
    return result


def dist(input, other, p=2):  # noqa: A002 - PyTorch's name
    """The p-norm of ``input - other`` (broadcast)."""
    return norm(input - other, p)


def renorm(input, p, dim, maxnorm):  # noqa: A002 - PyTorch's name
    """Each slice along ``dim`` whose p-norm exceeds ``maxnorm`` scaled down to norm ``maxnorm``."""
    if p <= 0:
        raise RuntimeError("renorm: non-positive-norm not supported")
    if maxnorm < 0:
        raise RuntimeError(f"renorm: expected maxnorm to be >= 0 but got {maxnorm}")
    if input.ndim < 2:
        raise RuntimeError(f"renorm: input needs at least 2 dimensions, got {input.ndim} dimensions")
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"linalg.vector_norm: Expected a floating point or complex tensor as input. Got "
                           f"{input.dtype.name}")
    axis = normalize_dim(dim, input.ndim)
    norms = norm(input, p, tuple(d for d in range(input.ndim) if d != axis), keepdim=True)
    # PyTorch's 1e-7 keeps the scale finite for a norm of zero
    return input * where(norms > maxnorm, maxnorm / (norms + 1e-7), 1.0)
