"""Signal processing: DFT, STFT, the Hann/Hamming/Blackman windows and MelWeightMatrix.

ONNX carries complex values as a trailing axis of 2 (real, imaginary); a trailing axis of 1 is a real signal.
"""

from __future__ import annotations

import math

import numpy as np
from onnx import helper

from serving.kernels.registry import kernel


def _as_complex(xp, x):
    if x.shape[-1] == 1:
        return x[..., 0]
    if x.shape[-1] == 2:
        return x[..., 0] + 1j * x[..., 1]
    raise ValueError(f"a signal's last axis must be 1 (real) or 2 (complex), got shape {tuple(x.shape)}")


def _as_pairs(xp, z, dtype):
    return xp.stack([z.real, z.imag], axis=-1).astype(dtype)


def _scalar(v, default=None):
    return default if v is None else v.reshape(-1)[0].item()


def _dft(xp, x, length, axis, inverse, onesided):
    rank = x.ndim
    axis = axis % rank
    if axis == rank - 1:
        raise ValueError(f"DFT axis {axis} is the real/imaginary axis of a rank-{rank} input")
    if length is None:
        length = 2 * (x.shape[axis] - 1) if inverse and onesided else x.shape[axis]
    signal = _as_complex(xp, x)
    if inverse and onesided:
        return xp.fft.irfft(signal, n=length, axis=axis)[..., None].astype(x.dtype)
    if inverse:
        return _as_pairs(xp, xp.fft.ifft(signal, n=length, axis=axis), x.dtype)
    spectrum = xp.fft.fft(signal, n=length, axis=axis)
    if onesided:
        spectrum = xp.take(spectrum, xp.arange(length // 2 + 1), axis=axis)
    return _as_pairs(xp, spectrum, x.dtype)


@kernel("DFT", since=17)
def DFT(ctx, x, dft_length=None, *, axis=1, inverse=0, onesided=0):
    return _dft(ctx.xp, x, _scalar(dft_length), axis, inverse, onesided)


@kernel("DFT", since=20)
def DFT_20(ctx, x, dft_length=None, axis=None, *, inverse=0, onesided=0):
    return _dft(ctx.xp, x, _scalar(dft_length), _scalar(axis, -2), inverse, onesided)


@kernel("STFT", since=17)
def STFT(ctx, signal, frame_step, window=None, frame_length=None, *, onesided=1):
    xp = ctx.xp
    if signal.ndim != 3:
        raise ValueError(f"STFT expects a signal of shape (batch, length, 1 or 2), got {tuple(signal.shape)}")
    step = _scalar(frame_step)
    length = _scalar(frame_length, window.shape[0] if window is not None else signal.shape[1])
    if window is not None and window.shape[0] != length:
        raise ValueError(f"STFT window has {window.shape[0]} samples but frame_length is {length}")
    frames = 1 + (signal.shape[1] - length) // step
    # Frames as a strided view: (batch, frame, sample, 1 or 2), no copy until the window multiplies it.
    batch, _, comps = signal.shape
    s0, s1, s2 = signal.strides
    framed = xp.lib.stride_tricks.as_strided(
        signal, shape=(batch, frames, length, comps), strides=(s0, s1 * step, s1, s2)
    )
    if window is not None:
        framed = framed * window.astype(signal.dtype).reshape(1, 1, length, 1)
    spectrum = xp.fft.fft(_as_complex(xp, framed), n=length, axis=2)
    if onesided:
        spectrum = spectrum[:, :, : length // 2 + 1]
    return _as_pairs(xp, spectrum, signal.dtype)


def _window_positions(size, periodic):
    n = int(_scalar(size))
    return np.arange(n, dtype=np.float64), (n if periodic else n - 1)


def _window(xp, values, output_datatype):
    return xp.asarray(values.astype(helper.tensor_dtype_to_np_dtype(output_datatype)))


@kernel("HannWindow", since=17)
def HannWindow(ctx, size, *, output_datatype=1, periodic=1):
    n, span = _window_positions(size, periodic)
    return _window(ctx.xp, np.sin(np.pi * n / span) ** 2, output_datatype)


@kernel("HammingWindow", since=17)
def HammingWindow(ctx, size, *, output_datatype=1, periodic=1):
    n, span = _window_positions(size, periodic)
    alpha = 25.0 / 46.0
    return _window(ctx.xp, alpha - (1 - alpha) * np.cos(2 * np.pi * n / span), output_datatype)


@kernel("BlackmanWindow", since=17)
def BlackmanWindow(ctx, size, *, output_datatype=1, periodic=1):
    n, span = _window_positions(size, periodic)
    values = 0.42 - 0.5 * np.cos(2 * np.pi * n / span) + 0.08 * np.cos(4 * np.pi * n / span)
    return _window(ctx.xp, values, output_datatype)


@kernel("MelWeightMatrix", since=17)
def MelWeightMatrix(
    ctx, num_mel_bins, dft_length, sample_rate, lower_edge_hertz, upper_edge_hertz, *, output_datatype=1
):
    mels, length, rate = int(_scalar(num_mel_bins)), int(_scalar(dft_length)), _scalar(sample_rate)
    low, high = _scalar(lower_edge_hertz), _scalar(upper_edge_hertz)
    bins = length // 2 + 1
    # Mel-spaced edges mapped back to DFT bin indices, as the ONNX reference defines them.
    low_mel = 2595 * math.log10(1 + low / 700)
    high_mel = 2595 * math.log10(1 + high / 700)
    step = (high_mel - low_mel) / (mels + 2)
    hertz = 700 * np.expm1((np.arange(mels + 2) * step + low_mel) / 2595 * np.log(10))
    edges = (((length + 1) * hertz) // rate).astype(np.int64)
    left, centre, right = edges[:-2], edges[1:-1], edges[2:]
    j = np.arange(bins)[:, None]
    rising = np.where(centre > left, (j - left) / np.maximum(centre - left, 1), (j == centre).astype(np.float64))
    rising = np.where((j >= left) & (j <= centre), rising, 0.0)
    falling = (right - j) / np.maximum(right - centre, 1)
    weights = np.where((j >= centre) & (j < right), falling, rising)
    return _window(ctx.xp, weights, output_datatype)
