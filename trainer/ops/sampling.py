"""Random draws whose distribution is given by tensors: ``multinomial``, ``bernoulli``, ``normal``, ``poisson``,
``binomial`` and ``randint_like``, from the device's default generator or from ``generator=``.

As in PyTorch a draw is not differentiable in its parameters: ``normal``, ``bernoulli`` and ``poisson`` pass them a
zero gradient, while ``binomial`` (and ``bernoulli`` with a number ``p``) refuse backward. Floats are drawn in
float64 for float64 parameters and in float32 otherwise.
"""

from __future__ import annotations

import operator

import numpy as np

from trainer import creation, dtypes
from trainer.autograd.higher_order import constant_backward
from trainer.autograd.op import Function
from trainer.backend import as_device, cuda_context, xp_of
from trainer.ops._dtype_errors import scalar_type_name
from trainer.ops._operands import _check_same_device, broadcast_shapes
from trainer.tensor import Tensor, _sizes

_MAX_CATEGORIES = 2**24  # PyTorch's limit for multinomial
# Rates above this draw from the normal approximation, whose error is far below the rate's float spacing there;
# NumPy refuses Poisson rates near 2**63
_POISSON_NORMAL_ABOVE = 1e15
# C type names PyTorch's randint range errors use
_C_TYPE_NAMES = {"bool": "bool", "uint8": "unsigned char", "int8": "signed char", "int16": "short", "int32": "int",
                 "int64": "long"}


class RandomDraw(Function):
    """A draw from the distribution whose parameters are the inputs, made by ``draw(rng, xp, *arrays)``; the
    parameters get a zero gradient."""

    @staticmethod
    def forward(ctx, *params, rng, draw):
        ctx.params = [(p.shape, p.dtype) for p in params]
        return draw(rng, xp_of(params[0]), *params)

    @staticmethod
    def backward(ctx, g):
        xp = xp_of(g)
        return tuple(xp.zeros(shape, dtype) for shape, dtype in ctx.params)

    backward_graph = staticmethod(constant_backward)  # zero gradients are zero to every order


class NormalSample(RandomDraw):
    pass


class BernoulliSample(RandomDraw):
    pass


class PoissonSample(RandomDraw):
    pass


class NonDifferentiableDraw(RandomDraw):
    """A draw PyTorch defines no derivative for: its output requires grad, but backward through it fails."""

    aten_name = ""

    @staticmethod
    def backward(ctx, g):
        raise RuntimeError(f"derivative for aten::{type(ctx).aten_name} is not implemented")


class BinomialSample(NonDifferentiableDraw):
    aten_name = "binomial"


class BernoulliFixedSample(NonDifferentiableDraw):
    aten_name = "bernoulli"


def _draw_kind(dtype):
    return np.float64 if dtype == np.float64 else np.float32


def _rng(generator, t: Tensor):
    return creation._generator(generator, t.device).rng


def multinomial(input, num_samples, replacement=False, *, generator=None):
    """Indices drawn from the categories weighted by each row of ``input`` (1-D or 2-D): independently with
    ``replacement``, otherwise each category at most once (positive weights before zero ones)."""
    if not isinstance(num_samples, (int, np.integer)) or isinstance(num_samples, bool):
        raise TypeError(f"multinomial(): argument 'num_samples' (position 2) must be int, not "
                        f"{type(num_samples).__name__}")
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"multinomial only supports floating-point dtypes for input, got: "
                           f"{scalar_type_name(input.dtype)}")
    if input.ndim not in (1, 2):
        raise RuntimeError(f"prob_dist must be 1 or 2 dim, got a tensor with {input.ndim} dims")
    categories = input.shape[-1]
    if not replacement and num_samples > categories:
        raise RuntimeError(f"cannot sample n_sample > prob_dist.size(-1) samples without replacement: asked for "
                           f"{num_samples} samples of {categories} categories; pass replacement=True")
    if num_samples <= 0:
        raise RuntimeError(f"cannot sample n_sample <= 0 samples, got num_samples={num_samples}")
    if categories > _MAX_CATEGORIES:
        raise RuntimeError(f"number of categories cannot exceed 2^24, got {categories}")
    xp = xp_of(input._data)
    weights = input._data.reshape(-1, categories).astype(np.float64)
    if weights.shape[0] and not bool((weights >= 0).all() & xp.isfinite(weights).all()):
        raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
    if weights.shape[0] and not bool((weights.sum(axis=1) > 0).all()):
        raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0): every row needs a "
                           "positive weight")
    num_samples = int(num_samples)
    with cuda_context(input.device):
        if weights.shape[0] == 0:
            indices = xp.zeros((0, num_samples), dtype=np.int64)
        else:
            draw = _with_replacement if replacement else _without_replacement
            indices = draw(xp, _rng(generator, input), weights, num_samples)
    return Tensor._wrap(indices.reshape(*input.shape[:-1], num_samples))


def _with_replacement(xp, rng, weights, k):
    """Inverse-CDF draws: the first category whose cumulative weight exceeds ``u * total``."""
    cdf = xp.cumsum(weights, axis=1)
    targets = rng.random((weights.shape[0], k)) * cdf[:, -1:]
    n = weights.shape[1]
    lo = xp.zeros(targets.shape, dtype=np.int64)
    hi = xp.full(targets.shape, n, dtype=np.int64)
    for _ in range(n.bit_length()):  # binary search in every row at once; n + 1 possible answers
        mid = (lo + hi) // 2
        below = xp.take_along_axis(cdf, xp.minimum(mid, n - 1), axis=1) <= targets
        lo = xp.where(below, mid + 1, lo)
        hi = xp.where(below, hi, mid)
    # u * total can round up to total: fall back to the last category that has weight
    last = n - 1 - xp.argmax(weights[:, ::-1] > 0, axis=1)
    return xp.minimum(lo, last[:, None])


def _without_replacement(xp, rng, weights, k):
    """The ``k`` largest of ``w / E`` with ``E ~ Exp(1)``: a weighted draw without replacement (PyTorch's
    exponential race), in which zero weights come last."""
    keys = weights / rng.standard_exponential(weights.shape)
    return xp.argsort(-keys, axis=1)[:, :k]


def bernoulli(input, p=None, *, generator=None):
    """Ones with probability ``input`` (or a number ``p``), zeros elsewhere, in ``input``'s dtype."""
    if p is not None:
        if isinstance(p, Tensor):
            raise TypeError("bernoulli(): p must be a number; to draw with a tensor of probabilities pass it as "
                            "input: bernoulli(probs)")
        if not 0 <= p <= 1:
            raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={p}")
        kind = _draw_kind(input._data.dtype)
        with cuda_context(input.device):
            return BernoulliFixedSample.apply(input, rng=_rng(generator, input), draw=lambda rng, xp, a: (
                rng.random(a.shape, dtype=kind) < p).astype(a.dtype))
    if not input.dtype.is_floating_point:
        raise NotImplementedError(f"\"bernoulli_tensor_{input.device.type}_p_\" not implemented for "
                                  f"'{scalar_type_name(input.dtype)}': bernoulli(input) reads probabilities from a "
                                  f"floating-point input")
    if not bool(((input._data >= 0) & (input._data <= 1)).all()):
        raise RuntimeError("Expected p_in >= 0 && p_in <= 1 to be true, but got false: every probability passed "
                           "to bernoulli must lie in [0, 1]")

    def draw(rng, xp, probs):
        return (rng.random(probs.shape, dtype=_draw_kind(probs.dtype)) < probs).astype(probs.dtype)

    with cuda_context(input.device):
        return BernoulliSample.apply(input, rng=_rng(generator, input), draw=draw)


def normal(mean, std=1.0, size=None, *, generator=None, dtype=None, device=None, requires_grad=False):
    """Normal draws: ``normal(mean, std)`` with a tensor mean and/or std (broadcast together; the result has the
    tensor mean's dtype, else std's), or ``normal(mean, std, size)`` with numbers."""
    tensors = [t for t in (mean, std) if isinstance(t, Tensor)]
    if not tensors:
        if size is None:
            raise TypeError("normal() received an invalid combination of arguments: with a number mean and std "
                            "pass size, as in normal(0.0, 1.0, size=(2, 3)), or pass mean or std as a tensor")
        _check_std_number(std)
        dt = dtypes.as_dtype(dtype) if dtype is not None else dtypes.get_default_dtype()
        _require_floating(dt, as_device(device))
        out = creation.randn(_sizes((size,)), generator=generator, dtype=dt, device=device)
        return out.mul_(std).add_(mean).requires_grad_(requires_grad)
    if size is not None or dtype is not None or device is not None or requires_grad:
        raise TypeError("normal() received an invalid combination of arguments: size, dtype, device and "
                        "requires_grad go only with a number mean and std; a tensor mean or std sets them")
    out_dtype = tensors[0].dtype
    _require_floating(out_dtype, tensors[0].device)
    _check_same_device(tensors)
    if isinstance(std, Tensor):
        if not bool((std._data >= 0).all()):
            raise RuntimeError("normal expects all elements of std >= 0.0")
    else:
        _check_std_number(std)
    shape = broadcast_shapes(*(t.shape for t in tensors))
    kind = _draw_kind(out_dtype.np)

    def draw(rng, xp, *arrays):
        values = iter(arrays)
        loc = next(values).astype(kind) if isinstance(mean, Tensor) else mean
        scale = next(values).astype(kind) if isinstance(std, Tensor) else std
        return (loc + scale * rng.standard_normal(shape, dtype=kind)).astype(out_dtype.np, copy=False)

    with cuda_context(tensors[0].device):
        return NormalSample.apply(*tensors, rng=_rng(generator, tensors[0]), draw=draw)


def _check_std_number(std) -> None:
    if not std >= 0:  # also refuses NaN
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std:g}")


def _require_floating(dt, device) -> None:
    if not dt.is_floating_point:
        raise NotImplementedError(f"\"normal_kernel_{device.type}\" not implemented for '{scalar_type_name(dt)}': "
                                  f"normal draws floating-point values")


def poisson(input, generator=None):
    """Counts drawn from the Poisson distribution with the rates in ``input``, in ``input``'s dtype."""
    if not input.dtype.is_floating_point:
        raise NotImplementedError(f"\"poisson_{input.device.type}\" not implemented for "
                                  f"'{scalar_type_name(input.dtype)}': poisson reads rates from a floating-point input")
    if not bool((input._data >= 0).all()):
        raise RuntimeError("invalid Poisson rate, expected rate to be non-negative (and not NaN)")

    def draw(rng, xp, rates):
        lam = rates.astype(np.float64)
        large = lam > _POISSON_NORMAL_ABOVE
        counts = xp.asarray(rng.poisson(xp.where(large, 0.0, lam)), dtype=np.float64)  # 0-d: a Python int
        if bool(large.any()):
            finite = xp.where(xp.isinf(lam), 0.0, lam)
            approx = xp.round(finite + xp.sqrt(finite) * rng.standard_normal(lam.shape))
            counts = xp.where(large, xp.where(xp.isinf(lam), lam, approx), counts)
        return counts.astype(rates.dtype)

    with cuda_context(input.device):
        return PoissonSample.apply(input, rng=_rng(generator, input), draw=draw)


def binomial(count, prob, generator=None):
    """Successes in ``count`` trials of probability ``prob`` (broadcast together), in ``count``'s dtype. Counts
    are whole numbers (a fraction is dropped); probabilities outside [0, 1] count as the nearer end, and a NaN
    count or probability gives NaN."""
    for name, t in (("count", count), ("prob", prob)):
        if not t.dtype.is_floating_point:
            raise ValueError(f"binomial only supports floating-point dtypes for {name}, got: "
                             f"{scalar_type_name(t.dtype)}")
    if prob.dtype != count.dtype:
        raise RuntimeError(f"Found dtype {scalar_type_name(prob.dtype)} but expected "
                           f"{scalar_type_name(count.dtype)}: binomial needs count and prob of one dtype")
    _check_same_device([count, prob])
    shape = broadcast_shapes(count.shape, prob.shape)

    def draw(rng, xp, n, p):
        n, p = xp.broadcast_to(n.astype(np.float64), shape), xp.broadcast_to(p.astype(np.float64), shape)
        valid = xp.isfinite(n) & ~xp.isnan(p)
        trials = xp.where(valid, xp.floor(xp.maximum(n, 0)), 0).astype(np.int64)
        successes = xp.asarray(rng.binomial(trials, xp.where(valid, xp.clip(p, 0, 1), 0)), dtype=np.float64)  # 0-d: int
        return xp.where(valid, successes, xp.nan).astype(count._data.dtype)

    with cuda_context(count.device):
        return BinomialSample.apply(count, prob, rng=_rng(generator, count), draw=draw)


def randint_like(input, low=0, high=None, *, generator=None, dtype=None, device=None, requires_grad=False):
    """Integers drawn uniformly from [low, high) in ``input``'s shape (and dtype and device unless given);
    ``randint_like(input, high)`` draws from [0, high)."""
    if high is None:
        low, high = 0, low
    try:
        low, high = operator.index(low), operator.index(high)
    except TypeError:
        raise TypeError(f"randint_like() expects integer low and high, got {type(low).__name__} and "
                        f"{type(high).__name__}") from None
    dt = dtypes.as_dtype(dtype) if dtype is not None else input.dtype
    if dt.name in _C_TYPE_NAMES:
        info = np.iinfo(dt.np) if dt.np != np.bool_ else np.iinfo(np.uint8)
        top = 1 if dt.np == np.bool_ else info.max
        if not info.min <= low <= top:
            raise RuntimeError(f"from is out of bounds for {_C_TYPE_NAMES[dt.name]}: {dt.name} holds "
                               f"[{info.min}, {top}], got low={low}")
        if not info.min <= high - 1 <= top:
            raise RuntimeError(f"to - 1 is out of bounds for {_C_TYPE_NAMES[dt.name]}: {dt.name} holds "
                               f"[{info.min}, {top}], got high={high}")
    return creation.randint(low, high, input.shape, generator=generator, dtype=dt,
                            device=device if device is not None else input.device, requires_grad=requires_grad)
