"""The differentiable discrete Fourier transforms behind ``trainer.fft``, computed with ``xp.fft`` (NumPy's
pocketfft, CuPy's cuFFT), plus ``Resize``: the crop or zero-pad that ``n=``/``s=`` ask for.

Every transform is linear and PyTorch's complex autograd passes the conjugate Wirtinger gradient, so the backward
of each is its adjoint, itself one of these transforms; ``backward_graph`` applies that transform as a ``Function``,
so gradients are differentiable to any order.

- ``FourierC2C``: the adjoint of the unscaled forward DFT is the unscaled inverse one (conjugated kernel, no 1/n).
- ``FourierR2C`` keeps only the half spectrum, ``n // 2 + 1`` bins along the last transformed dim. Its adjoint
  is the real part of the inverse DFT of the zero-padded gradient, which is the complex-to-real (Hermitian)
  inverse of the gradient with its middle bins (those whose mirror image was dropped) halved.
- ``FourierC2R`` reads each middle bin twice (itself and its mirror) and ignores the imaginary parts of the DC and
  Nyquist bins: its adjoint is the half spectrum of the gradient with the middle bins doubled.
Each of the two carries that weighting (``doubled``/``halved``) and an optional conjugation (for ``hfft`` and
``ihfft``), so that each is the other's adjoint.
"""

from __future__ import annotations

from trainer.autograd.op import Function
from trainer.backend import xp_of


def middle_bins(n: int) -> slice:
    """The bins of the half spectrum of ``n`` points whose mirror image is left out (all but DC and Nyquist)."""
    return slice(1, (n + 1) // 2)


def _scaled(array, scale: float, dtype):
    array = array.astype(dtype, copy=False)  # NumPy < 2 computes complex64 transforms in complex128
    if scale != 1.0:
        array *= array.real.dtype.type(scale)
    return array


def _weigh_middle_bins(spectrum, axis: int, n: int, factor: float):
    index = [slice(None)] * spectrum.ndim
    index[axis] = middle_bins(n)
    spectrum = spectrum.copy()
    spectrum[tuple(index)] *= spectrum.real.dtype.type(factor)
    return spectrum


def complex_to_complex(z, dims, inverse: bool, scale: float):
    """The DFT of ``z`` over ``dims`` (the inverse one without its 1/n when ``inverse``), times ``scale``."""
    if not dims:
        return _scaled(z.copy(), scale, z.dtype)
    xp = xp_of(z)
    out = xp.fft.ifftn(z, axes=dims, norm="forward") if inverse else xp.fft.fftn(z, axes=dims)
    return _scaled(out, scale, z.dtype)


def real_to_complex(x, dims, scale: float, doubled: bool, conjugate: bool):
    """The half spectrum of real ``x`` over ``dims``, times ``scale``; ``doubled``: middle bins twice over;
    ``conjugate``: conjugated."""
    xp = xp_of(x)
    out = xp.fft.rfftn(x, axes=dims)
    if doubled:
        out = _weigh_middle_bins(out, dims[-1], x.shape[dims[-1]], 2.0)
    if conjugate:
        out = out.conj()
    return _scaled(out, scale, xp.result_type(x.dtype, xp.complex64))


def complex_to_real(z, dims, length: int, scale: float, halved: bool, conjugate: bool):
    """The real signal of ``length`` points (along the last of ``dims``) whose half spectrum is ``z``, inverse-
    transformed without its 1/n and times ``scale``; ``halved``: middle bins at half weight; ``conjugate``: of
    ``conj(z)``."""
    xp = xp_of(z)
    if conjugate:
        z = z.conj()
    if halved:
        z = _weigh_middle_bins(z, dims[-1], length, 0.5)
    sizes = [z.shape[d] for d in dims[:-1]] + [length]
    out = xp.fft.irfftn(z, s=sizes, axes=dims, norm="forward")
    return _scaled(out, scale, z.real.dtype)


class FourierC2C(Function):
    @staticmethod
    def forward(ctx, z, *, dims, inverse, scale):
        ctx.attrs = dims, inverse, scale
        return complex_to_complex(z, dims, inverse, scale)

    @staticmethod
    def backward(ctx, g):
        dims, inverse, scale = ctx.attrs
        return complex_to_complex(g, dims, not inverse, scale)

    @staticmethod
    def backward_graph(ctx, g):
        dims, inverse, scale = ctx.attrs
        return FourierC2C.apply(g, dims=dims, inverse=not inverse, scale=scale)


class FourierR2C(Function):
    @staticmethod
    def forward(ctx, x, *, dims, scale, doubled=False, conjugate=False):
        ctx.attrs = dims, x.shape[dims[-1]], scale, doubled, conjugate
        return real_to_complex(x, dims, scale, doubled, conjugate)

    @staticmethod
    def backward(ctx, g):
        dims, length, scale, doubled, conjugate = ctx.attrs
        return complex_to_real(g, dims, length, scale, not doubled, conjugate)

    @staticmethod
    def backward_graph(ctx, g):
        dims, length, scale, doubled, conjugate = ctx.attrs
        return FourierC2R.apply(g, dims=dims, length=length, scale=scale, halved=not doubled, conjugate=conjugate)


class FourierC2R(Function):
    """``z`` holds exactly ``length // 2 + 1`` bins along the last of ``dims`` (``Resize`` first)."""

    @staticmethod
    def forward(ctx, z, *, dims, length, scale, halved=False, conjugate=False):
        ctx.attrs = dims, scale, halved, conjugate
        return complex_to_real(z, dims, length, scale, halved, conjugate)

    @staticmethod
    def backward(ctx, g):
        dims, scale, halved, conjugate = ctx.attrs
        return real_to_complex(g, dims, scale, not halved, conjugate)

    @staticmethod
    def backward_graph(ctx, g):
        dims, scale, halved, conjugate = ctx.attrs
        return FourierR2C.apply(g, dims=dims, scale=scale, doubled=not halved, conjugate=conjugate)


def resize(a, sizes: dict):
    """``a`` cropped or zero-padded at the end of each axis to ``sizes[axis]``."""
    xp = xp_of(a)
    shape = tuple(sizes.get(axis, n) for axis, n in enumerate(a.shape))
    out = xp.zeros(shape, dtype=a.dtype)
    common = tuple(slice(0, min(n, m)) for n, m in zip(a.shape, shape))
    out[common] = a[common]
    return out


class Resize(Function):
    """Crop or zero-pad at the end of some axes (``sizes``: axis -> new length); the adjoint resizes back."""

    @staticmethod
    def forward(ctx, a, *, sizes):
        ctx.original = {axis: a.shape[axis] for axis in sizes}
        return resize(a, sizes)

    @staticmethod
    def backward(ctx, g):
        return resize(g, ctx.original)

    @staticmethod
    def backward_graph(ctx, g):
        return Resize.apply(g, sizes=ctx.original)
