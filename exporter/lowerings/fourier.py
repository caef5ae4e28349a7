"""``trainer.fft``'s transforms (and so ``stft``, which frames with ``unfold`` and calls them) as ONNX ``DFT`` nodes,
one per transformed dim, on complex values stored as (real, imag) pairs; ``Resize`` (the crop or zero-pad of ``n=``
and ``s=``) as Slice + Pad.

- ``FourierR2C`` (rfft): a one-sided DFT of the real signal (a trailing dim of 1) along the last dim, then full
  DFTs along the others.
- ``FourierC2C`` (fft/ifft): full DFTs. ONNX's inverse DFT divides by n, trainer's ``inverse`` does not (it scales
  by ``scale`` instead), so the output is multiplied by ``scale * n``; with the default norm that is 1 and no node
  is written, so the graph stays right at every length of a dynamic axis.
- ``FourierC2R`` (irfft): the one-sided spectrum completed with the conjugate mirror of its middle bins, an inverse
  DFT, and its real part. The imaginary parts of the DC and Nyquist bins only reach the imaginary part of the
  result, which is dropped: exactly what a complex-to-real transform ignores.
The weighting (``doubled``/``halved``) and ``conjugate`` flags of hfft/ihfft and of the transforms' adjoints become
one constant factor.
"""

import math

import numpy as np

from exporter.lowerings import lowering
from exporter.lowerings.complex_pairs import complex_lowering, real_dtype
from exporter.lowerings.complex_pairs import conjugate as conjugated  # "conjugate" is also the ops' flag
from trainer.ops.fft_ops import middle_bins


def _dft(g, x, axis: int, inverse: bool = False, onesided: bool = False) -> str:
    g.require(17, "DFT")
    flags = {"inverse": int(inverse), "onesided": int(onesided)}
    if g.opset >= 20:  # the axis became an input
        return g.op("DFT", x, "", g.const(np.int64(axis)), **flags)
    return g.op("DFT", x, axis=axis, **flags)


def _times(g, z, dtype, factor: float, conjugated: bool = False, bins=None) -> str:
    """``z`` (pairs) times ``factor``, conjugated; ``bins`` ``(axis, rank, length, weight)``: the middle bins along
    ``axis`` of a spectrum of ``length`` points also times ``weight``. No node when all that is the identity."""
    pair = np.array([factor, -factor if conjugated else factor], dtype=np.float64)
    if bins is not None:
        axis, rank, length, weight = bins
        count = length // 2 + 1
        weights = np.ones(count)
        weights[middle_bins(length)] = weight
        pair = weights.reshape(count, *[1] * (rank - axis - 1), 1) * pair
    if np.all(pair == 1.0):
        return z
    if np.all(pair == factor):  # the same factor on both parts: a scalar
        pair = np.asarray(factor)
    return g.op("Mul", z, g.const(pair.astype(dtype)))


def _transform_scale(factor: float) -> float:
    """``factor`` rounded to 1 when it only differs from it by rounding (``scale * n`` for the default norm)."""
    return 1.0 if math.isclose(factor, 1.0, rel_tol=1e-12) else factor


@complex_lowering("FourierR2C")
def real_to_complex(g, x, dims, scale, doubled=False, conjugate=False):
    *lead, last = dims
    out = _dft(g, g.op("Unsqueeze", x, g.ints([-1])), last, onesided=True)  # a real signal: a trailing dim of 1
    for axis in lead:
        out = _dft(g, out, axis)
    bins = (last, g.rank(x), g.shape(x)[last], 2.0) if doubled else None
    return _times(g, out, g.dtype(x), scale, conjugate, bins)


@complex_lowering("FourierC2C")
def complex_to_complex(g, z, dims, inverse, scale):
    out = z
    for axis in dims:
        out = _dft(g, out, axis, inverse=inverse)
    points = math.prod(g.shape(z)[axis] for axis in dims)
    return _times(g, out, real_dtype(g, z), _transform_scale(scale * points if inverse else scale))


@complex_lowering("FourierC2R")
def complex_to_real(g, z, dims, length, scale, halved=False, conjugate=False):
    *lead, last = dims
    dtype = real_dtype(g, z)
    bins = (last, g.rank(z), length, 0.5) if halved else None
    out = _times(g, z, dtype, 1.0, conjugate, bins)
    for axis in lead:
        out = _dft(g, out, axis, inverse=True)
    mirrored = length - length // 2 - 1  # bins 1 .. mirrored appear again, conjugated, in reverse order
    if mirrored > 0:
        # a length read from the input (irfft's default n) stays a run-time size
        mirror = g.op("Slice", out, g.sizes([mirrored]), g.ints([0]), g.ints([last]), g.ints([-1]))
        out = g.op("Concat", out, conjugated(g, mirror, dtype), axis=last)
    signal = _dft(g, out, last, inverse=True)
    points = length * math.prod(g.shape(z)[axis] for axis in lead)
    factor = _transform_scale(scale * points)
    real = g.op("Gather", signal, g.const(np.int64(0)), axis=-1)
    return real if factor == 1.0 else g.op("Mul", real, g.const(np.asarray(factor, dtype=dtype)))


@lowering("Resize")
def resize(g, a, sizes):
    """Crop to ``n`` then pad with zeros up to ``n``, the pad computed at run time so that it holds at every size."""
    rank = g.rank(a)
    zero = g.const(np.zeros((), dtype=g.dtype(a)))
    for axis, n in sorted(sizes.items()):
        a = g.op("Slice", a, g.ints([0]), g.ints([n]), g.ints([axis]))
        short = g.op("Sub", g.ints([n]), g.dims(a, [axis]))
        pads = g.op("Concat", g.ints([0] * (rank + axis)), short, g.ints([0] * (rank - axis - 1)), axis=0)
        a = g.op("Pad", a, pads, zero, mode="constant")
    return a

