"""Order and moment statistics composed of differentiable ops: ``quantile``/``nanquantile`` (a sort, a gather of
the two neighbouring order statistics and an interpolation), ``cov`` and ``corrcoef``, as in PyTorch."""

from __future__ import annotations

import math

import trainer
from trainer.amp import cast_policy
from trainer.ops._operands import normalize_dim

INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


@cast_policy.fp32
def quantile(a, q, dim=None, keepdim=False, *, interpolation="linear"):
    """The ``q``-th quantiles (``q`` a number or a 1-D tensor in ``[0, 1]``) of ``a`` over ``dim`` (all elements
    when None); NaN where the values hold a NaN. A tensor ``q`` adds a leading dim, one entry per quantile."""
    return _quantile("quantile", a, q, dim, keepdim, interpolation, ignore_nan=False)


@cast_policy.fp32
def nanquantile(a, q, dim=None, keepdim=False, *, interpolation="linear"):
    """``quantile`` over the values that are not NaN (NaN where all are)."""
    return _quantile("nanquantile", a, q, dim, keepdim, interpolation, ignore_nan=True)


def _quantile(op, a, q, dim, keepdim, interpolation, ignore_nan):
    if not a.dtype.is_floating_point:
        raise RuntimeError(f"{op}() input tensor must be either float or double dtype, got {a.dtype.name}")
    if interpolation not in INTERPOLATIONS:
        raise RuntimeError(f"{op}() interpolation must be one of {', '.join(INTERPOLATIONS)}. Got {interpolation}")
    scalar_q = not isinstance(q, trainer.Tensor)
    qs = trainer.tensor([q], dtype=a.dtype, device=a.device) if scalar_q else q.to(a.dtype)
    if qs.ndim > 1:
        raise RuntimeError(f"{op}() q must be a scalar or 1D tensor, got a {qs.ndim}D tensor")
    if ((qs < 0) | (qs > 1)).any():
        raise RuntimeError(f"{op}() q values must be in the range [0, 1], got {qs.tolist()}")
    if a.numel() == 0:
        raise RuntimeError(f"{op}() input tensor must be non-empty")

    values = a.reshape(-1) if dim is None else a.movedim(normalize_dim(dim, a.ndim), -1)
    ordered = values.sort(-1).values  # NaN sorts last
    nan = values.isnan()
    count = values.shape[-1] - nan.sum(-1, keepdim=True) if ignore_nan else None
    last = (count - 1).to(a.dtype) if ignore_nan else values.shape[-1] - 1
    ranks = qs * last  # (..., Q)
    if interpolation == "nearest":
        ranks = ranks.round()
    below = ranks.floor().clamp(min=0).long()
    above = ranks.ceil().clamp(min=0).long()
    width = ranks.shape[-1]
    index_shape = (*ordered.shape[:-1], width)
    low = ordered.gather(-1, below.expand(*index_shape))
    high = ordered.gather(-1, above.expand(*index_shape))
    if interpolation in ("lower", "nearest"):
        result = low
    elif interpolation == "higher":
        result = high
    elif interpolation == "midpoint":
        result = (low + high) / 2
    else:
        result = trainer.lerp(low, high, (ranks - below.to(a.dtype)).expand(*index_shape))
    undefined = (count == 0) if ignore_nan else nan.any(-1, keepdim=True)
    result = result.masked_fill(undefined, math.nan)

    result = result.movedim(-1, 0)  # (Q, ...)
    if keepdim:
        if dim is None:
            result = result.reshape(width, *([1] * a.ndim))
        else:
            result = result.unsqueeze(normalize_dim(dim, a.ndim) + 1)
    return result[0] if scalar_q else result


def cov(a, *, correction=1, fweights=None, aweights=None):
    """The covariance matrix of the variables in the rows of ``a`` (observations in columns), optionally weighted
    by integer frequencies ``fweights`` and importance ``aweights``; a 1-D ``a`` is one variable (0-d result)."""
    if a.ndim > 2:
        raise RuntimeError(f"cov(): expected input to have two or fewer dimensions but got an input with {a.ndim} "
                           "dimensions")
    x = a.reshape(1, -1) if a.ndim < 2 else a
    if not x.dtype.is_floating_point:
        x = x.to(trainer.get_default_dtype())
    observations = x.shape[1]
    weights = None
    for name, w in (("fweights", fweights), ("aweights", aweights)):
        if w is None:
            continue
        if w.ndim > 1 or w.numel() != observations:
            raise RuntimeError(f"cov(): expected {name} to have one dimension and {observations} elements, got shape "
                               f"{list(w.shape)}")
        if (w < 0).any():
            raise RuntimeError(f"cov(): {name} cannot be negative")
        if name == "fweights" and w.dtype.is_floating_point:
            raise RuntimeError("cov(): expected fweights to have integral dtype")
        weights = w.to(x.dtype) if weights is None else weights * w.to(x.dtype)
    if weights is None:
        mean = x.mean(1, keepdim=True)
        scale = observations - correction
        centred = x - mean
        product = centred @ centred.mT
    else:
        total = weights.sum()
        mean = (x * weights).sum(1, keepdim=True) / total
        if correction == 0:
            scale = total
        elif aweights is None:
            scale = total - correction
        else:
            scale = total - correction * (weights * aweights.to(x.dtype)).sum() / total
        centred = x - mean
        product = (centred * weights) @ centred.mT
    result = product / (scale.clamp(min=0) if isinstance(scale, trainer.Tensor) else max(scale, 0))
    return result.reshape(()) if a.ndim < 2 else result


def corrcoef(a):
    """Pearson correlation coefficients of the rows of ``a``, clipped to ``[-1, 1]``."""
    c = cov(a)
    if c.ndim == 0:
        return c / c
    std = c.diagonal().sqrt()
    return (c / std.unsqueeze(1) / std.unsqueeze(0)).clamp(-1, 1)
