"""Gamma and beta draws that are differentiable in their parameters by implicit reparameterisation.

A draw ``x = F^-1(u; theta)`` moves with ``theta`` at a fixed uniform ``u``, so ``dx/dtheta = -(dF/dtheta) / (dF/dx)``
at the drawn ``x``: the gradient PyTorch's ``_standard_gamma`` and Beta ``rsample`` give, here computed exactly from
the incomplete gamma and beta functions rather than approximated. Like PyTorch, draws are clamped away from the
ends of their support (to the dtype's smallest normal number, and below 1 for beta draws).
"""

from __future__ import annotations

import numpy as np

from trainer import dtypes
from trainer.autograd.op import Function
from trainer.backend import cuda_context, xp_of
from trainer.creation import _generator
from trainer.ops.incomplete_beta import regularized_beta
from trainer.ops.incomplete_gamma import regularized_gamma
from trainer.type_info import array_finfo


class StandardGamma(Function):
    """Draws from Gamma(alpha, 1), one per element of ``alpha``."""

    @staticmethod
    def forward(ctx, alpha, rng):
        xp = xp_of(alpha)
        a = alpha.astype(np.float64)
        x = xp.maximum(rng.standard_gamma(a), array_finfo(alpha.dtype).tiny).astype(alpha.dtype)
        ctx.save_for_backward(a, x.astype(np.float64))
        return x

    @staticmethod
    def backward(ctx, g):
        a, x = ctx.saved_tensors
        return (g * regularized_gamma(xp_of(g), a, x).dx_da).astype(g.dtype, copy=False)


class BetaDraw(Function):
    """Draws from Beta(a, b), one per element of the equally shaped ``a`` and ``b``."""

    @staticmethod
    def forward(ctx, a, b, rng):
        xp = xp_of(a)
        info = array_finfo(a.dtype)
        a64, b64 = a.astype(np.float64), b.astype(np.float64)
        x = xp.clip(rng.beta(a64, b64), info.tiny, 1 - info.eps).astype(a.dtype)
        ctx.save_for_backward(a64, b64, x.astype(np.float64))
        return x

    @staticmethod
    def backward(ctx, g):
        a, b, x = ctx.saved_tensors
        moved = regularized_beta(xp_of(g), a, b, x)
        return (g * moved.dx_da).astype(g.dtype, copy=False), (g * moved.dx_db).astype(g.dtype, copy=False)


def reject_bfloat16_sampler(kernel: str, t) -> None:
    """PyTorch has no bfloat16 gamma or Dirichlet sampler on the CPU: refuse as it does, naming its kernel."""
    if t.dtype is dtypes.bfloat16:
        raise NotImplementedError(f'"{kernel}" not implemented for \'BFloat16\': draw with float32 parameters '
                                  "(.float()) and convert the sample")


def standard_gamma(alpha, *, generator=None):
    """Gamma(alpha, 1) draws (PyTorch's ``_standard_gamma``), differentiable in ``alpha``."""
    reject_bfloat16_sampler("gamma_cpu", alpha)
    with cuda_context(alpha.device):
        return StandardGamma.apply(alpha, rng=_generator(generator, alpha.device).rng)


def sample_beta(a, b, *, generator=None):
    """Beta(a, b) draws for equally shaped floating-point ``a`` and ``b``, differentiable in both."""
    reject_bfloat16_sampler("dirichlet", a)
    with cuda_context(a.device):
        return BetaDraw.apply(a, b, rng=_generator(generator, a.device).rng)
