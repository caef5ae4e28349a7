"""``trainer.stft``/``istft`` against PyTorch's: values, vector-Jacobian products for the signal (or spectrum) and
the window, second derivatives, ``Tensor`` methods and the errors."""

import warnings

import numpy as np
import pytest
import torch

import trainer
from tests.trainer.test_fft import _draw, assert_same
from tests.trainer.test_ops_parity import assert_raises_like_torch


def assert_vjps_match_torch(fn, arrays, seed=0):
    """``fn(lib, *tensors)`` in both libraries: the same output and the same gradients of every input for one
    random upstream gradient (complex for a complex output)."""
    theirs_in = [torch.tensor(a, requires_grad=True) for a in arrays]
    ours_in = [trainer.tensor(a, requires_grad=True) for a in arrays]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs, ours = fn(torch, *theirs_in), fn(trainer, *ours_in)
    assert_same(ours, theirs, "output")
    upstream = _draw(np.random.default_rng(seed), tuple(theirs.shape), "complex" if theirs.is_complex() else "real")
    theirs_grads = torch.autograd.grad(theirs, theirs_in, grad_outputs=torch.tensor(upstream))
    ours_grads = trainer.autograd.grad(ours, ours_in, grad_outputs=trainer.tensor(upstream))
    for i, (o, t) in enumerate(zip(ours_grads, theirs_grads)):
        assert_same(o, t, f"gradient of input {i}")


def _hann(n):
    return np.hanning(n + 2)[1:-1]


STFT_CASES = [
    ({}, (2, 40), 8),
    ({"hop_length": 3}, (40,), 6),
    ({"center": False}, (2, 40), 8),
    ({"pad_mode": "constant", "normalized": True}, (2, 40), 8),
    ({"pad_mode": "replicate"}, (37,), 8),
    ({"pad_mode": "circular", "hop_length": 5}, (2, 40), 8),
    ({"onesided": False}, (2, 33), 8),
    ({"n_fft": 9, "hop_length": 2}, (2, 30), 9),
    ({"center": False, "align_to_window": True}, (2, 40), 4),
    ({"center": False, "align_to_window": True, "hop_length": 3}, (2, 40), 5),
]


@pytest.mark.parametrize("kwargs, shape, win_length", STFT_CASES, ids=lambda v: str(v))
def test_stft_values_and_gradients_match_torch(kwargs, shape, win_length):
    kwargs = dict(kwargs)
    n_fft = kwargs.pop("n_fft", 8)
    signal = np.random.default_rng(1).standard_normal(shape)
    assert_vjps_match_torch(lambda lib, x, w: lib.stft(x, n_fft, win_length=win_length, window=w, return_complex=True,
                                                       **kwargs), [signal, _hann(win_length)])


def test_stft_of_complex_input_is_two_sided():
    signal = _draw(np.random.default_rng(2), (2, 24), "complex")
    assert_vjps_match_torch(lambda lib, x, w: lib.stft(x, 8, hop_length=4, window=w), [signal, _hann(8)])


def test_stft_without_window_and_as_a_tensor_method():
    signal = np.random.default_rng(3).standard_normal(30)
    with pytest.warns(UserWarning, match="A window was not provided"):
        ours = trainer.tensor(signal).stft(8, win_length=6, return_complex=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = torch.tensor(signal).stft(8, win_length=6, return_complex=True)
    assert_same(ours, theirs, "stft")


def test_stft_return_complex_false_gives_real_pairs_with_a_deprecation_warning():
    signal = np.random.default_rng(4).standard_normal((2, 24))
    with pytest.warns(UserWarning, match="return_complex=False is deprecated"):
        trainer.stft(trainer.tensor(signal), 8, window=trainer.tensor(_hann(8)), return_complex=False)
    assert_vjps_match_torch(lambda lib, x, w: lib.stft(x, 8, window=w, return_complex=False), [signal, _hann(8)])


def _spectrum(shape, n_fft, hop_length, onesided=True):
    """A consistent spectrogram (the stft of a random signal), so that istft has a signal to find."""
    signal = torch.tensor(np.random.default_rng(5).standard_normal(shape))
    window = torch.tensor(_hann(n_fft))
    return torch.stft(signal, n_fft, hop_length, window=window, return_complex=True, onesided=onesided).numpy()


ISTFT_CASES = [
    ({}, (2, 40), 8, 2),
    ({"length": 35}, (40,), 8, 2),
    ({"normalized": True}, (2, 41), 8, 3),
    ({"onesided": False}, (2, 40), 8, 2),
    ({"onesided": False, "return_complex": True}, (2, 40), 8, 2),
    ({"center": False}, (2, 40), 8, 2),
    ({"win_length": 6}, (2, 40), 8, 2),
    ({"length": 48}, (2, 40), 8, 2),
]


@pytest.mark.parametrize("kwargs, shape, n_fft, hop_length", ISTFT_CASES, ids=lambda v: str(v))
def test_istft_values_and_gradients_match_torch(kwargs, shape, n_fft, hop_length):
    kwargs = dict(kwargs)
    win_length = kwargs.pop("win_length", n_fft)
    onesided = kwargs.get("onesided", True)
    spectrum = _spectrum(shape, n_fft, hop_length, onesided)
    # edges of a window that never reach zero keep the uncentred inverse's envelope positive
    window = _hann(win_length) + (0.1 if not kwargs.get("center", True) else 0.0)
    assert_vjps_match_torch(lambda lib, s, w: lib.istft(s, n_fft, hop_length, win_length, window=w, **kwargs),
                            [spectrum, window])


def test_istft_inverts_stft_and_is_a_tensor_method():
    signal = np.random.default_rng(6).standard_normal((3, 50))
    window = trainer.tensor(_hann(16))
    spectrum = trainer.tensor(signal).stft(16, 4, window=window, return_complex=True)
    restored = spectrum.istft(16, 4, window=window, length=50)
    np.testing.assert_allclose(np.asarray(restored), signal, atol=1e-12)


def test_hessian_vector_product_through_stft_and_istft_matches_torch():
    x, v = np.random.default_rng(7).standard_normal((2, 32))
    results = []
    for lib in (torch, trainer):
        xt = lib.tensor(x, requires_grad=True)
        window = lib.tensor(_hann(8))
        y = lib.istft(lib.stft(xt * xt, 8, 2, window=window, return_complex=True), 8, 2, window=window, length=32)
        (g,) = lib.autograd.grad((y * y * xt).sum(), xt, create_graph=True)
        (hv,) = lib.autograd.grad((g * lib.tensor(v)).sum(), xt)
        results.append((g, hv))
    assert_same(results[1][0], results[0][0], "gradient")
    assert_same(results[1][1], results[0][1], "Hessian-vector product")


_X = np.random.default_rng(8).standard_normal((2, 40))
_S = _spectrum((2, 40), 8, 2)
_W = _hann(8)


@pytest.mark.parametrize("call, error, message", [
    (lambda lib: lib.stft(lib.tensor(_X), 8, window=lib.tensor(_W)), RuntimeError,
     "stft requires the return_complex parameter be given for real inputs"),
    (lambda lib: lib.stft(lib.tensor(_X), 0, window=lib.ones(0), return_complex=True), RuntimeError,
     r"expected 0 < n_fft < 40, but got n_fft=0"),
    (lambda lib: lib.stft(lib.tensor(_X), 100, center=False, return_complex=True), RuntimeError,
     "but got n_fft=100"),
    (lambda lib: lib.stft(lib.tensor(_X), 100, return_complex=True), RuntimeError,
     "Padding size should be less than the corresponding input dimension"),
    (lambda lib: lib.stft(lib.tensor(_X), 8, hop_length=0, return_complex=True), RuntimeError,
     "expected hop_length > 0, but got hop_length=0"),
    (lambda lib: lib.stft(lib.tensor(_X), 8, win_length=9, return_complex=True), RuntimeError,
     "expected 0 < win_length <= n_fft, but got win_length=9"),
    (lambda lib: lib.stft(lib.tensor(_X), 8, window=lib.ones(5, dtype=lib.float64), return_complex=True),
     RuntimeError, "expected a 1D window tensor of size equal to win_length=8"),
    (lambda lib: lib.stft(lib.ones(2, 2, 40), 8, return_complex=True), RuntimeError, "expected a 1D or 2D tensor"),
    (lambda lib: lib.stft(lib.arange(40), 8, center=False, return_complex=True), RuntimeError,
     "expected a tensor of floating point or complex values"),
    (lambda lib: lib.stft(lib.tensor(_X), 8, pad_mode="foo", return_complex=True), NotImplementedError,
     "Unrecognised padding mode foo"),
    (lambda lib: lib.stft(lib.tensor(_X), 8, align_to_window=True, return_complex=True), RuntimeError,
     "align_to_window should only be set when center = false"),
    (lambda lib: lib.stft(lib.tensor(_X + 1j), 8, onesided=True, return_complex=True), RuntimeError,
     "Cannot have onesided output if window or input is complex"),
    (lambda lib: lib.istft(lib.tensor(_X), 8), RuntimeError, "istft requires a complex-valued input tensor"),
    (lambda lib: lib.istft(lib.tensor(_S), 10, window=lib.tensor(_hann(10))), RuntimeError,
     r"expected the frequency dimension \(3rd to the last\) of the input tensor to match"),
    (lambda lib: lib.istft(lib.tensor(_S), 8, hop_length=8, window=lib.hann_window(8, dtype=lib.float64)),
     RuntimeError,
     "window overlap add min"),
    (lambda lib: lib.istft(lib.tensor(_S), 8, window=lib.tensor(_W), return_complex=True), RuntimeError,
     "Cannot have onesided output if window or input is complex"),
    (lambda lib: lib.istft(lib.tensor(_S)[None], 8), RuntimeError, "expected a tensor with 3 or 4 dimensions"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_bad_arguments_raise_like_torch(call, error, message):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_raises_like_torch(call, error, message)
