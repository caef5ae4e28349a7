"""``linalg.matrix_exp``: the exponential of each square matrix, by Padé scaling and squaring (Higham 2005: the
[13/13] approximant in float64, [7/7] in float32, each on ``A / 2^s`` with ``s`` chosen per matrix so that the
approximant is exact to the dtype's precision, then squared ``s`` times).

The gradient is the Fréchet derivative of ``exp`` at ``A^T`` in the direction of the incoming gradient, read from
the exponential of the block matrix ``[[A^T, G], [0, A^T]]`` (its top-right block; Mathias 1996). Recorded
(``create_graph=True``), that exponential is ``MatrixExp`` again, so derivatives of any order follow.
"""

# ruff: noqa: N803 - the argument name is PyTorch's (A)

from __future__ import annotations

from trainer import dtypes
from trainer.autograd.higher_order import graph_tensors
from trainer.autograd.op import Function
from trainer.backend import xp_of
from trainer.ops.decompositions import check_floating_or_complex, check_square
from trainer.ops.holomorphic import holomorphic
from trainer.ops.join import cat

# (Padé coefficients b_0..b_m, the largest 1-norm theta_m for which the [m/m] approximant is exact to the unit
# roundoff); Higham, "The scaling and squaring method for the matrix exponential revisited", Table 2.3.
_PADE = {
    "float64": ((64764752532480000.0, 32382376266240000.0, 7771770303897600.0, 1187353796428800.0, 129060195264000.0,
                 10559470521600.0, 670442572800.0, 33522128640.0, 1323241920.0, 40840800.0, 960960.0, 16380.0, 182.0,
                 1.0), 5.371920351148152),
    "float32": ((17297280.0, 8648640.0, 1995840.0, 277200.0, 25200.0, 1512.0, 56.0, 1.0), 3.925724783138660),
}


def exponential(a):
    """``exp(a)`` for a batch of square matrices ``a`` ``(*, n, n)``."""
    xp = xp_of(a)
    n = a.shape[-1]
    if a.size == 0:
        return a.copy()
    b, theta = _PADE["float32" if a.dtype in (xp.float32, xp.complex64) else "float64"]
    norm = xp.abs(a).sum(-2).max(-1)  # the 1-norm: the largest column sum
    squarings = xp.maximum(0, xp.ceil(xp.log2(xp.maximum(norm, 1e-300) / theta))).astype(xp.int64)
    scaled = a / (2.0 ** squarings.astype(a.dtype))[..., None, None]
    identity = xp.eye(n, dtype=a.dtype)
    powers = [identity, scaled @ scaled]  # even powers I, A^2, A^4, ...
    while len(powers) < (len(b) + 1) // 2:
        powers.append(powers[-1] @ powers[1])
    odd = sum(b[2 * i + 1] * powers[i] for i in range(len(b) // 2))
    even = sum(b[2 * i] * powers[i] for i in range((len(b) + 1) // 2))
    u = scaled @ odd
    result = xp.linalg.solve(even - u, even + u)
    for step in range(int(squarings.max()) if squarings.size else 0):
        result = xp.where((squarings > step)[..., None, None], result @ result, result)
    return result


@holomorphic  # exp is a power series: its Frechet derivative is the chain rule
class MatrixExp(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return exponential(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        xp = xp_of(a)
        n = a.shape[-1]
        at = a.swapaxes(-1, -2)
        block = xp.concatenate([xp.concatenate([at, g], axis=-1),
                                xp.concatenate([xp.zeros_like(at), at], axis=-1)], axis=-2)
        return exponential(block)[..., :n, n:]

    @staticmethod
    def backward_graph(ctx, g):
        (a,) = graph_tensors(ctx)
        n = a.shape[-1]
        at = a.mT
        block = cat([cat([at, g], -1), cat([at.new_zeros(at.shape), at], -1)], -2)
        return MatrixExp.apply(block)[..., :n, n:]


def matrix_exp(A):
    """``exp(A) = sum_k A^k / k!`` of each square matrix of ``A`` ``(*, n, n)``."""
    check_square("linalg.matrix_exp", A._data)
    if A.dtype is dtypes.bfloat16:  # a series, not LAPACK, so PyTorch has it: computed in float32, rounded once
        return matrix_exp(A.float()).to(A.dtype)
    check_floating_or_complex("linalg.matrix_exp", A._data)
    return MatrixExp.apply(A)

