"""``stft`` and ``istft`` as in PyTorch, composed of differentiable trainer ops (end padding, framing with
``unfold``, the window product, ``trainer.fft``, overlap-add with ``index_add``), so that gradients reach the signal
and the window at any order.

The centring pads are built from slices, flips and ``cat`` rather than ``nn.functional.pad``, whose backward
multiplies by a dense (padded length x length) matrix: too much for an audio signal of many thousand samples.
"""

from __future__ import annotations

import warnings

from trainer import fft
from trainer.backend import xp_of
from trainer.creation import ones, zeros
from trainer.ops.complex_ops import view_as_real
from trainer.ops.indexing import index_add
from trainer.ops.join import cat
from trainer.ops.shape import flip
from trainer.tensor import Tensor

_PAD_MODES = ("constant", "reflect", "replicate", "circular")


def _describe(input) -> str:
    return f"input of shape {list(input.shape)} and dtype {input.dtype.name}"


def _padded_ends(x, pad: int, mode: str):
    """``x`` (``(B, L)``) extended by ``pad`` samples at each end of its last dim, as ``F.pad`` would in ``mode``."""
    length = x.shape[-1]
    if mode == "constant":
        left = right = zeros(x.shape[0], pad, dtype=x.dtype, device=x.device)
    elif mode == "reflect":  # mirrored about the end samples, which are not repeated
        if pad >= length:
            raise RuntimeError(f"Argument #4: Padding size should be less than the corresponding input dimension, but "
                               f"got: padding ({pad}, {pad}) at dimension 2 of input {[1, *x.shape]}")
        left, right = flip(x[:, 1:pad + 1], -1), flip(x[:, length - pad - 1:length - 1], -1)
    elif mode == "replicate":
        left, right = x[:, :1].expand(x.shape[0], pad), x[:, length - 1:].expand(x.shape[0], pad)
    else:  # circular
        if pad > length:
            raise RuntimeError(f"Padding value causes wrapping around more than once: padding {pad} for a signal of "
                               f"{length} samples")
        left, right = x[:, length - pad:], x[:, :pad]
    return cat([left, x, right], -1)


def _window_or_ones(window, win_length: int, like):
    return ones(win_length, dtype=like.dtype.to_real(), device=like.device) if window is None else window


def _zero_padded(a, left: int, size: int):
    """``a`` with zeros before (``left`` of them) and after it along its last dim, to ``size`` in all."""
    if a.shape[-1] == size:
        return a
    before = zeros(*a.shape[:-1], left, dtype=a.dtype, device=a.device)
    after = zeros(*a.shape[:-1], size - left - a.shape[-1], dtype=a.dtype, device=a.device)
    return cat([before, a, after], -1)


def stft(input, n_fft, hop_length=None, win_length=None, window=None, center=True, pad_mode="reflect",
         normalized=False, onesided=None, return_complex=None, align_to_window=None):
    """The short-time Fourier transform of ``input`` (``(L,)`` or ``(B, L)``): ``(B?, N, T)`` with ``N`` frequencies
    (``n_fft // 2 + 1`` when ``onesided``) and ``T`` frames ``hop_length`` apart."""
    if center and align_to_window is not None:
        raise RuntimeError("stft align_to_window should only be set when center = false")
    complex_input = input.is_complex() or (window is not None and window.is_complex())
    if return_complex is None:
        if not complex_input:
            raise RuntimeError("stft requires the return_complex parameter be given for real inputs, and will further "
                               "require that return_complex=True in a future PyTorch release.")
        return_complex = True
    if window is None:
        warnings.warn("A window was not provided. A rectangular window will be applied,which is known to cause "
                      "spectral leakage. Other windows such as torch.hann_window or torch.hamming_window are "
                      "recommended to reduce spectral leakage.To suppress this warning and use a rectangular window, "
                      "explicitly set `window=torch.ones(n_fft, device=<device>)`.", UserWarning, stacklevel=2)
    if pad_mode not in _PAD_MODES:
        raise NotImplementedError(f"Unrecognised padding mode {pad_mode}")
    if input.ndim not in (1, 2):
        raise RuntimeError(f"stft: expected a 1D or 2D tensor, but got {_describe(input)}")
    if not (input.dtype.is_floating_point or input.is_complex()):
        raise RuntimeError(f"stft: expected a tensor of floating point or complex values, but got {_describe(input)}")
    x = input.unsqueeze(0) if input.ndim == 1 else input
    if center:
        x = _padded_ends(x, n_fft // 2, pad_mode)
    hop_length = n_fft // 4 if hop_length is None else hop_length
    win_length = n_fft if win_length is None else win_length
    length = x.shape[-1]
    if not 0 < n_fft <= length:
        raise RuntimeError(f"stft: expected 0 < n_fft < {length}, but got n_fft={n_fft}")
    if hop_length <= 0:
        raise RuntimeError(f"stft: expected hop_length > 0, but got hop_length={hop_length}")
    if not 0 < win_length <= n_fft:
        raise RuntimeError(f"stft: expected 0 < win_length <= n_fft, but got win_length={win_length}")
    if window is not None and (window.ndim != 1 or window.shape[0] != win_length):
        raise RuntimeError(f"stft: expected a 1D window tensor of size equal to win_length={win_length}, but got "
                           f"window with size {list(window.shape)}")
    onesided = not complex_input if onesided is None else onesided
    if onesided and complex_input:
        raise RuntimeError("Cannot have onesided output if window or input is complex")
    window, left = _window_or_ones(window, win_length, x), (n_fft - win_length) // 2
    if align_to_window:  # each frame starts where its window starts, not where the window's zero padding does
        frames = _zero_padded(x.unfold(-1, win_length, hop_length) * window, left, n_fft)
    else:  # the window centred in n_fft samples, as PyTorch centres it
        frames = x.unfold(-1, n_fft, hop_length) * _zero_padded(window, left, n_fft)  # (B, T, n_fft)
    norm = "ortho" if normalized else "backward"
    spectrum = fft.rfft(frames, norm=norm) if onesided else fft.fft(frames, norm=norm)
    spectrum = spectrum.transpose(1, 2)
    if input.ndim == 1:
        spectrum = spectrum.squeeze(0)
    if not return_complex:
        warnings.warn("stft with return_complex=False is deprecated. In a future pytorch release, stft will return "
                      "complex tensors for all inputs, and return_complex=False will raise an error.\nNote: you can "
                      "still call torch.view_as_real on the complex output to recover the old return format.",
                      UserWarning, stacklevel=2)
        return view_as_real(spectrum)
    return spectrum


def _overlap_add(frames, hop_length: int, total: int):
    """The sum of ``frames`` (``(B, T, n)``), frame ``t`` added in at sample ``t * hop_length``: ``(B, total)``."""
    batch, count, size = frames.shape
    xp = xp_of(frames._data)
    positions = (xp.arange(count)[:, None] * hop_length + xp.arange(size)[None, :]).reshape(-1)
    out = zeros(batch, total, dtype=frames.dtype, device=frames.device)
    return index_add(out, 1, Tensor._wrap(positions), frames.reshape(batch, count * size))


def istft(input, n_fft, hop_length=None, win_length=None, window=None, center=True, normalized=False, onesided=None,
          length=None, return_complex=False):
    """The least-squares inverse of ``stft``: overlap-added inverse transforms of the frames, divided by the
    overlap-added squared window."""
    if not input.is_complex():
        raise RuntimeError("istft requires a complex-valued input tensor matching the output from stft with "
                           "return_complex=True.")
    if window is None:
        warnings.warn("A window was not provided. A rectangular window will be applied.Please provide the same "
                      "window used by stft to make the inversion more precise.", UserWarning, stacklevel=2)
    hop_length = n_fft // 4 if hop_length is None else hop_length
    win_length = n_fft if win_length is None else win_length
    if input.ndim not in (2, 3):
        raise RuntimeError(f"istft: expected a tensor with 3 or 4 dimensions, but got {input.ndim + 1} (a complex "
                           f"(B?, freq, frames) input of shape {list(input.shape)})")
    spectrum = input.unsqueeze(0) if input.ndim == 2 else input
    fft_size, frame_count = spectrum.shape[-2], spectrum.shape[-1]
    onesided = fft_size != n_fft if onesided is None else onesided
    expected = n_fft // 2 + 1 if onesided else n_fft
    if fft_size != expected:
        raise RuntimeError(f"istft: expected the frequency dimension (3rd to the last) of the input tensor to match "
                           f"{'n_fft / 2 + 1' if onesided else 'n_fft'} when onesided={onesided}, but got {fft_size}")
    if not 0 < win_length <= n_fft:
        raise RuntimeError(f"istft: expected 0 < win_length <= n_fft, but got win_length={win_length}")
    if not 0 < hop_length <= win_length:
        raise RuntimeError(f"istft: expected 0 < hop_length <= win_length, but got hop_length={hop_length}")
    if window is not None and (window.ndim != 1 or window.shape[0] != win_length):
        raise RuntimeError(f"istft: Invalid window shape. window has to be 1D and length of `win_length` "
                           f"({win_length}), got {list(window.shape)}")
    if return_complex and onesided:
        raise RuntimeError("Cannot have onesided output if window or input is complex")
    if not return_complex and window is not None and window.is_complex():
        raise RuntimeError("Complex windows are incompatible with return_complex=False")
    full_window = _zero_padded(_window_or_ones(window, win_length, spectrum), (n_fft - win_length) // 2, n_fft)
    frames = spectrum.transpose(1, 2)  # (B, T, freq)
    norm = "ortho" if normalized else "backward"
    if return_complex:
        frames = fft.ifft(frames, norm=norm)
    else:
        frames = fft.irfft(frames[..., :n_fft // 2 + 1], n=n_fft, norm=norm)
    total = n_fft + hop_length * (frame_count - 1)
    signal = _overlap_add(frames * full_window, hop_length, total)
    envelope = _overlap_add((full_window * full_window).expand(1, frame_count, n_fft), hop_length, total)
    start = n_fft // 2 if center else 0
    end = start + length if length is not None else total - n_fft // 2 if center else total
    signal, envelope = signal[:, start:end], envelope[:, start:end]
    if float(abs(envelope._data).min()) < 1e-11:
        raise RuntimeError("istft: window overlap add min: 1 (the squared window summed over overlapping frames is 0 "
                           "somewhere, so the signal cannot be recovered there: choose a window and hop_length that "
                           "overlap everywhere)")
    signal = signal / envelope
    if end > total:
        warnings.warn("The length of signal is shorter than the length parameter. Result is being padded with zeros "
                      "in the tail. Please check your center and hop_length settings.", UserWarning, stacklevel=2)
        signal = _zero_padded(signal, 0, signal.shape[1] + end - total)
    return signal.squeeze(0) if input.ndim == 2 else signal
