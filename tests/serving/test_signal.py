"""Signal kernels against NumPy's FFT: DFT forward/inverse round trips and one-sided forms at both opset
conventions, and STFT against explicitly windowed frames."""

import numpy as np
import pytest

from serving.kernels import signal
from serving.kernels.registry import KernelContext

RNG = np.random.default_rng(5)


def ctx(opset):
    return KernelContext(np, opset, 1, (True,), None)


def test_dft_round_trips_a_complex_signal_along_any_axis():
    x = RNG.standard_normal((3, 8, 5, 2))
    spectrum = signal.DFT_20(ctx(20), x, None, np.array(1))
    np.testing.assert_allclose(spectrum[..., 0] + 1j * spectrum[..., 1], np.fft.fft(x[..., 0] + 1j * x[..., 1], axis=1))
    back = signal.DFT_20(ctx(20), spectrum, None, np.array(-3), inverse=1)
    np.testing.assert_allclose(back, x, atol=1e-12)


@pytest.mark.parametrize("length", [None, 6, 12])
def test_one_sided_dft_of_a_real_signal_and_its_inverse(length):
    x = RNG.standard_normal((2, 10, 1))
    n = 10 if length is None else length
    half = signal.DFT(ctx(17), x, None if length is None else np.array(length), axis=1, onesided=1)
    expected = np.fft.rfft(x[..., 0], n=n, axis=1)
    np.testing.assert_allclose(half[..., 0] + 1j * half[..., 1], expected, atol=1e-12)
    restored = signal.DFT(ctx(17), half, np.array(n), axis=1, inverse=1, onesided=1)
    np.testing.assert_allclose(restored[..., 0], np.fft.irfft(expected, n=n, axis=1), atol=1e-12)


def test_stft_is_the_fft_of_windowed_hops():
    x = RNG.standard_normal((2, 40, 1)).astype(np.float32)
    window = signal.HannWindow(ctx(17), np.array(16))
    y = signal.STFT(ctx(17), x, np.array(6), window)
    frames = np.stack([x[:, s : s + 16, 0] * window for s in range(0, 40 - 16 + 1, 6)], axis=1)
    expected = np.fft.rfft(frames, axis=2)
    assert y.shape == (2, 5, 9, 2) and y.dtype == np.float32
    np.testing.assert_allclose(y[..., 0] + 1j * y[..., 1], expected, rtol=1e-4, atol=1e-4)


def test_windows_follow_their_definitions():
    n = np.arange(10)
    np.testing.assert_allclose(signal.HannWindow(ctx(17), np.array(10), periodic=0), np.hanning(10), atol=1e-6)
    np.testing.assert_allclose(
        signal.HammingWindow(ctx(17), np.array(10), periodic=0),
        25 / 46 - 21 / 46 * np.cos(2 * np.pi * n / 9),
        atol=1e-6,
    )
    np.testing.assert_allclose(signal.BlackmanWindow(ctx(17), np.array(10), periodic=0), np.blackman(10), atol=1e-6)
