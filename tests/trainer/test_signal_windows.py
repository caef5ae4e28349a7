"""``trainer.signal.windows`` against ``torch.signal.windows``: values for each window, length, symmetry and dtype;
window parameters; ``requires_grad``; and PyTorch's argument errors."""

import numpy as np
import pytest
import torch

import trainer
from tests.trainer.test_ops_parity import assert_raises_like_torch

WINDOWS = {
    "bartlett": {}, "blackman": {}, "cosine": {}, "exponential": {}, "gaussian": {}, "hamming": {}, "hann": {},
    "kaiser": {}, "nuttall": {}, "general_hamming": {}, "general_cosine": {"a": [0.5, 0.3, 0.2]},
}
PARAMETERS = [
    ("exponential", {"tau": 0.5}), ("exponential", {"center": 2.0, "sym": False}), ("gaussian", {"std": 2.5}),
    ("kaiser", {"beta": 0.9}), ("kaiser", {"beta": 0.0}), ("general_hamming", {"alpha": 0.6}),
    ("general_cosine", {"a": (1.0,)}),
]


def _both(name, M, **kwargs):  # noqa: N803 - the window length, as PyTorch names it
    dtype = kwargs.pop("dtype", "float64")
    theirs = getattr(torch.signal.windows, name)(M, dtype=getattr(torch, dtype), **kwargs)
    ours = getattr(trainer.signal.windows, name)(M, dtype=getattr(trainer, dtype), **kwargs)
    return ours, theirs


@pytest.mark.parametrize("name", sorted(WINDOWS))
@pytest.mark.parametrize("sym", [True, False])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_window_values_match_torch(name, sym, dtype):
    for M in (0, 1, 2, 5, 10, 17):
        ours, theirs = _both(name, M, sym=sym, dtype=dtype, **WINDOWS[name])
        assert ours.dtype == getattr(trainer, dtype) and tuple(ours.shape) == tuple(theirs.shape)
        eps = np.finfo(dtype).eps
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=8 * eps, atol=8 * eps, err_msg=f"M={M}")


@pytest.mark.parametrize(("name", "kwargs"), PARAMETERS, ids=lambda p: str(p))
def test_window_parameters_match_torch(name, kwargs):
    ours, theirs = _both(name, 9, **kwargs)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-14, atol=1e-15)


def test_default_dtype_and_requires_grad_follow_torch():
    ours, theirs = trainer.signal.windows.hann(6), torch.signal.windows.hann(6)
    assert ours.dtype == trainer.float32 and theirs.dtype == torch.float32
    ours = trainer.signal.windows.gaussian(6, requires_grad=True, dtype=trainer.float64)
    theirs = torch.signal.windows.gaussian(6, requires_grad=True, dtype=torch.float64)
    assert ours.requires_grad and theirs.requires_grad
    assert ours.is_leaf == theirs.is_leaf  # the window is computed from a linspace that requires grad
    assert trainer.signal.windows.kaiser(1, requires_grad=True).is_leaf


def test_windows_are_the_same_as_the_torch_namespace_ones():
    # torch.hann_window(M, periodic=False) is signal.windows.hann(M) up to rounding
    np.testing.assert_allclose(trainer.signal.windows.hann(7, dtype=trainer.float64).numpy(),
                               trainer.hann_window(7, periodic=False, dtype=trainer.float64).numpy(), atol=1e-15)


@pytest.mark.parametrize(("call", "message"), [
    (lambda lib: lib.signal.windows.hann(-1), "non-negative window length, got M=-1"),
    (lambda lib: lib.signal.windows.hann(4, dtype=lib.int64), "expects float32 or float64 dtypes"),
    (lambda lib: lib.signal.windows.bartlett(4, dtype=lib.float16), "bartlett expects float32 or float64"),
    (lambda lib: lib.signal.windows.blackman(4, dtype=lib.float16), "blackman expects float32 or float64"),
    (lambda lib: lib.signal.windows.exponential(4, tau=0), "Tau must be positive, got: 0 instead"),
    (lambda lib: lib.signal.windows.exponential(4, center=1.0), "Center must be None for symmetric windows"),
    (lambda lib: lib.signal.windows.gaussian(4, std=-1.0), "Standard deviation must be positive"),
    (lambda lib: lib.signal.windows.kaiser(4, beta=-1.0), "beta must be non-negative"),
    (lambda lib: lib.signal.windows.general_cosine(4, a=[]), "Coefficients cannot be empty"),
])
def test_bad_arguments_raise_value_error_like_torch(call, message):
    assert_raises_like_torch(call, ValueError, message)


def test_non_iterable_coefficients_raise_type_error_like_torch():
    assert_raises_like_torch(lambda lib: lib.signal.windows.general_cosine(4, a=0.5), TypeError,
                             "Coefficients must be a list/tuple")
