"""``trainer.fft``: PyTorch's ``torch.fft`` namespace, differentiable, over the transforms in
``trainer.ops.fft_ops``.

Arguments follow PyTorch: ``n``/``s`` crop or zero-pad the input along the transformed dims first (``-1`` in
``s`` keeps a dim's size), ``dim`` picks the dims (``s`` alone picks the last ``len(s)``), ``norm`` is
``"backward"`` (the default: the inverse divides by n), ``"forward"`` (the forward divides) or ``"ortho"`` (both
divide by sqrt(n)). Real inputs of the complex transforms become complex, integer inputs the default float first;
float32 gives complex64 and float64 complex128, as in PyTorch.
"""

from __future__ import annotations

import math

from trainer import dtypes
from trainer.backend import cuda_context
from trainer.creation import _finish, _target
from trainer.ops._operands import normalize_dim, quiet_fp_errors
from trainer.ops.fft_ops import FourierC2C, FourierC2R, FourierR2C, Resize
from trainer.ops.shape import roll
from trainer.ops.tensor_ops import cast

__all__ = ["fft", "ifft", "fft2", "ifft2", "fftn", "ifftn", "rfft", "irfft", "rfft2", "irfft2", "rfftn", "irfftn",
           "hfft", "ihfft", "hfft2", "ihfft2", "hfftn", "ihfftn", "fftfreq", "rfftfreq", "fftshift", "ifftshift"]

# the C++ scalar type names in PyTorch's messages, for the dtypes these transforms reject
_SCALAR_TYPE_NAMES = {"float16": "Half", "bfloat16": "BFloat16", "complex64": "ComplexFloat",
                      "complex128": "ComplexDouble"}


# ----------------------------------------------------------------------------------------------- arguments


def _scale(norm, points: int, inverse: bool) -> float:
    """The factor ``norm`` puts on a transform of ``points`` points in the forward or inverse direction."""
    if norm not in (None, "backward", "forward", "ortho"):
        raise RuntimeError(f'Invalid normalization mode: "{norm}"')
    if norm == "ortho":
        return 1.0 / math.sqrt(points)
    divides = (norm in (None, "backward")) == inverse
    return 1.0 / points if divides else 1.0


def _real_input(x, op: str):
    """``x`` as a real floating tensor: integers become the default float; complex is refused."""
    _reject_half(x)
    if x.dtype.is_complex:
        raise RuntimeError(f"{op} expects a real input tensor, but got {_SCALAR_TYPE_NAMES[x.dtype.name]}")
    return x if x.dtype.is_floating_point else cast(x, dtypes.get_default_dtype())


def _complex_input(x):
    """``x`` as a complex tensor of its precision (integers: of the default float's)."""
    _reject_half(x)
    if x.dtype.is_complex:
        return x
    real = x.dtype if x.dtype.is_floating_point else dtypes.get_default_dtype()
    return cast(x, real.to_complex())


def _reject_half(x) -> None:
    if x.dtype in (dtypes.float16, dtypes.bfloat16):  # PyTorch's CPU transforms have no half-precision kernels
        raise RuntimeError(f"Unsupported dtype {_SCALAR_TYPE_NAMES[x.dtype.name]}")


def _check_points(points) -> None:
    for n in points:
        if n < 1:
            raise RuntimeError(f"Invalid number of data points ({n}) specified")


def _one_dim(x, n, dim) -> tuple[list[int], list[int | None]]:
    """The dim of a 1-D transform and its requested length (None: the input's)."""
    if isinstance(dim, bool) or not isinstance(dim, int):
        raise TypeError(f"argument 'dim' must be int, not {type(dim).__name__}")
    if n is not None and (isinstance(n, bool) or not isinstance(n, int)):
        raise TypeError(f"argument 'n' must be int, not {type(n).__name__}")
    if x.ndim == 0:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    return [normalize_dim(dim, x.ndim)], [n]


def _many_dims(x, s, dim) -> tuple[list[int], list[int | None]]:
    """The dims of an n-D transform, in the order given, and their requested lengths (None: the input's)."""
    s = None if s is None else ([s] if isinstance(s, int) else [int(v) for v in s])
    if dim is not None:
        dims = [normalize_dim(d, x.ndim) for d in ([dim] if isinstance(dim, int) else dim)]
        if len(set(dims)) != len(dims):
            raise RuntimeError("FFT dims must be unique")
        if s is not None and len(s) != len(dims):
            raise RuntimeError("When given, dim and shape arguments must have the same length")
    elif s is not None:
        if len(s) > x.ndim:
            raise RuntimeError(f"Got shape with {len(s)} values but input tensor only has {x.ndim} dimensions.")
        dims = list(range(x.ndim - len(s), x.ndim))
    else:
        dims = list(range(x.ndim))
    lengths = [None] * len(dims) if s is None else [None if v == -1 else v for v in s]
    return dims, lengths


def _resized(x, dims, lengths):
    """``x`` cropped or zero-padded to ``lengths`` along ``dims``, untouched where nothing changes."""
    sizes = {d: n for d, n in zip(dims, lengths) if n != x.shape[d]}
    return Resize.apply(x, sizes=sizes) if sizes else x


# ----------------------------------------------------------------------------------------------- transforms


def _c2c(x, dims, lengths, norm, inverse: bool):
    lengths = [x.shape[d] if n is None else n for d, n in zip(dims, lengths)]
    _check_points(lengths)
    scale = _scale(norm, math.prod(lengths), inverse)
    return FourierC2C.apply(_resized(_complex_input(x), dims, lengths), dims=tuple(dims), inverse=inverse,
                            scale=scale)


def _r2c(op, x, dims, lengths, norm, inverse: bool):
    """The half spectrum of real ``x``: ``rfft`` (forward), or ``ihfft`` (inverse, conjugated)."""
    if not dims:
        raise RuntimeError(f"{op} must transform at least one axis")
    x = _real_input(x, op)
    lengths = [x.shape[d] if n is None else n for d, n in zip(dims, lengths)]
    _check_points(lengths)
    scale = _scale(norm, math.prod(lengths), inverse)
    return FourierR2C.apply(_resized(x, dims, lengths), dims=tuple(dims), scale=scale, conjugate=inverse)


def _c2r(op, x, dims, lengths, norm, inverse: bool):
    """The real signal of a half spectrum: ``irfft`` (inverse), or ``hfft`` (forward, of the conjugate)."""
    if not dims:
        raise RuntimeError(f"{op} must transform at least one axis")
    *lead, last = lengths
    lead = [x.shape[d] if n is None else n for d, n in zip(dims, lead)]
    last = 2 * (x.shape[dims[-1]] - 1) if last is None else last
    _check_points([*lead, last])
    scale = _scale(norm, math.prod(lead) * last, inverse)
    z = _resized(_complex_input(x), dims, [*lead, last // 2 + 1])
    return FourierC2R.apply(z, dims=tuple(dims), length=last, scale=scale, conjugate=not inverse)


def fft(input, n=None, dim=-1, norm=None):
    return _c2c(input, *_one_dim(input, n, dim), norm, inverse=False)


def ifft(input, n=None, dim=-1, norm=None):
    return _c2c(input, *_one_dim(input, n, dim), norm, inverse=True)


def fft2(input, s=None, dim=(-2, -1), norm=None):
    return _c2c(input, *_many_dims(input, s, dim), norm, inverse=False)


def ifft2(input, s=None, dim=(-2, -1), norm=None):
    return _c2c(input, *_many_dims(input, s, dim), norm, inverse=True)


def fftn(input, s=None, dim=None, norm=None):
    return _c2c(input, *_many_dims(input, s, dim), norm, inverse=False)


def ifftn(input, s=None, dim=None, norm=None):
    return _c2c(input, *_many_dims(input, s, dim), norm, inverse=True)


def rfft(input, n=None, dim=-1, norm=None):
    return _r2c("rfft", input, *_one_dim(input, n, dim), norm, inverse=False)


def rfft2(input, s=None, dim=(-2, -1), norm=None):
    return _r2c("rfftn", input, *_many_dims(input, s, dim), norm, inverse=False)


def rfftn(input, s=None, dim=None, norm=None):
    return _r2c("rfftn", input, *_many_dims(input, s, dim), norm, inverse=False)


def ihfft(input, n=None, dim=-1, norm=None):
    return _r2c("ihfft", input, *_one_dim(input, n, dim), norm, inverse=True)


def ihfft2(input, s=None, dim=(-2, -1), norm=None):
    return _r2c("ihfftn", input, *_many_dims(input, s, dim), norm, inverse=True)


def ihfftn(input, s=None, dim=None, norm=None):
    return _r2c("ihfftn", input, *_many_dims(input, s, dim), norm, inverse=True)


def irfft(input, n=None, dim=-1, norm=None):
    return _c2r("irfft", input, *_one_dim(input, n, dim), norm, inverse=True)


def irfft2(input, s=None, dim=(-2, -1), norm=None):
    return _c2r("irfftn", input, *_many_dims(input, s, dim), norm, inverse=True)


def irfftn(input, s=None, dim=None, norm=None):
    return _c2r("irfftn", input, *_many_dims(input, s, dim), norm, inverse=True)


def hfft(input, n=None, dim=-1, norm=None):
    return _c2r("hfft", input, *_one_dim(input, n, dim), norm, inverse=False)


def hfft2(input, s=None, dim=(-2, -1), norm=None):
    return _c2r("hfftn", input, *_many_dims(input, s, dim), norm, inverse=False)


def hfftn(input, s=None, dim=None, norm=None):
    return _c2r("hfftn", input, *_many_dims(input, s, dim), norm, inverse=False)


# ----------------------------------------------------------------------------------------------- helpers


def _frequencies(op, n, d, count, dtype, device, requires_grad):
    """``[0, 1, ..., count - 1]`` with the top half wrapped to negative values for ``fftfreq``, over ``n * d``."""
    if count < 0:
        raise RuntimeError(f"Trying to create tensor with negative dimension {count}: [{count}]")
    dev, xp, dt = _target(device, dtype)
    if dt.is_complex:  # PyTorch builds them with arange, which has no complex kernel
        raise NotImplementedError(f'"arange_{dev.type}" not implemented for \'{_SCALAR_TYPE_NAMES[dt.name]}\'')
    if not dt.is_floating_point:
        raise RuntimeError(f"{op} requires a floating point or complex dtype")
    with cuda_context(dev):
        k = xp.arange(count)
        if op == "fftfreq":
            k[(n + 1) // 2:] -= n
        scale = 1.0 / (n * d) if n * d else math.inf  # as PyTorch: rfftfreq(0) is [nan]
        with quiet_fp_errors(xp):
            return _finish(k.astype(dt.np) * dt.np.type(scale), requires_grad)


def fftfreq(n, d=1.0, *, dtype=None, layout=None, device=None, requires_grad=False):
    """The sample frequencies of an ``n``-point ``fft`` with sample spacing ``d``."""
    return _frequencies("fftfreq", n, d, n, dtype, device, requires_grad)


def rfftfreq(n, d=1.0, *, dtype=None, layout=None, device=None, requires_grad=False):
    """The sample frequencies of an ``n``-point ``rfft``: the non-negative half."""
    return _frequencies("rfftfreq", n, d, int(n / 2) + 1, dtype, device, requires_grad)


def _shift(input, dim, inverse: bool):
    dims = list(range(input.ndim)) if dim is None else [dim] if isinstance(dim, int) else list(dim)
    dims = [normalize_dim(d, input.ndim) for d in dims]
    if not dims:
        return input
    shifts = [(input.shape[d] + 1) // 2 if inverse else input.shape[d] // 2 for d in dims]
    return roll(input, shifts, dims)


def fftshift(input, dim=None):
    """The zero frequency moved to the centre: a roll by half of each dim."""
    return _shift(input, dim, inverse=False)


def ifftshift(input, dim=None):
    """The inverse of ``fftshift``."""
    return _shift(input, dim, inverse=True)
