"""Max, average and adaptive average pooling against PyTorch: outputs, indices and input gradients."""

import numpy as np
import pytest
import torch

import trainer
import trainer.nn as nn
import trainer.nn.functional as F

TOLS = {"float64": 1e-8, "float32": 1e-4}


def run_both(ours, theirs, x, dtype, rng):
    tol = TOLS[dtype]
    x = x.astype(dtype)
    tx, ox = torch.tensor(x, requires_grad=True), trainer.tensor(x, requires_grad=True)
    tout, out = theirs(tx), ours(ox)
    if isinstance(tout, tuple):
        np.testing.assert_array_equal(out[1].numpy(), tout[1].numpy())
        assert out[1].dtype == trainer.int64 and not out[1].requires_grad
        tout, out = tout[0], out[0]
    assert tuple(out.shape) == tuple(tout.shape)
    assert out.dtype == getattr(trainer, dtype)
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), atol=tol, rtol=0)
    g = rng.standard_normal(tout.shape).astype(dtype)
    tout.backward(torch.tensor(g))
    out.backward(trainer.tensor(g))
    np.testing.assert_allclose(ox.grad.numpy(), tx.grad.numpy(), atol=tol, rtol=0)


MAX2D = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 0), ceil_mode=True),
    dict(kernel_size=3, stride=2, dilation=2, ceil_mode=True, return_indices=True),
    dict(kernel_size=(2, 3), stride=3, padding=1, ceil_mode=True, return_indices=True),
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kwargs", MAX2D, ids=lambda k: ",".join(f"{a}={b}" for a, b in k.items()))
def test_max_pool2d_matches_torch(kwargs, dtype):
    rng = np.random.default_rng(0)
    run_both(nn.MaxPool2d(**kwargs), torch.nn.MaxPool2d(**kwargs), rng.standard_normal((2, 3, 11, 10)), dtype, rng)


def test_max_pool_ties_and_nan_follow_torch():
    """The first maximum of a window gets the gradient, and NaN wins, as in PyTorch's CPU kernel."""
    x = np.array([[[[1.0, 1, 2, 2], [1, np.nan, 2, 2], [0, 0, 3, 3], [0, 0, 3, 3]]]])
    ox, tx = trainer.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, idx = F.max_pool2d(ox, 2, return_indices=True)
    tout, tidx = torch.nn.functional.max_pool2d(tx, 2, return_indices=True)
    np.testing.assert_array_equal(out.detach().numpy(), tout.detach().numpy())
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())
    out.sum().backward()
    tout.sum().backward()
    np.testing.assert_array_equal(ox.grad.numpy(), tx.grad.numpy())


AVG2D = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=2, padding=1, count_include_pad=False),
    dict(kernel_size=(3, 2), stride=(2, 3), padding=(1, 1), ceil_mode=True),
    dict(kernel_size=(3, 2), stride=(2, 3), padding=(1, 1), ceil_mode=True, count_include_pad=False),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, divisor_override=4),
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kwargs", AVG2D, ids=lambda k: ",".join(f"{a}={b}" for a, b in k.items()))
def test_avg_pool2d_matches_torch(kwargs, dtype):
    rng = np.random.default_rng(1)
    run_both(nn.AvgPool2d(**kwargs), torch.nn.AvgPool2d(**kwargs), rng.standard_normal((2, 3, 11, 10)), dtype, rng)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("size", [1, 3, (4, 3), (None, 4), (11, 10), (7, None), (13, 12)])
def test_adaptive_avg_pool2d_matches_torch(size, dtype):
    rng = np.random.default_rng(2)
    run_both(nn.AdaptiveAvgPool2d(size), torch.nn.AdaptiveAvgPool2d(size), rng.standard_normal((2, 3, 11, 10)),
             dtype, rng)


@pytest.mark.parametrize("make", [
    lambda m: m.MaxPool1d(3, stride=2, padding=1, ceil_mode=True),
    lambda m: m.MaxPool1d(2, return_indices=True),
    lambda m: m.AvgPool1d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
    lambda m: m.AdaptiveAvgPool1d(4),
])
def test_1d_pooling_matches_torch(make):
    rng = np.random.default_rng(3)
    run_both(make(nn), make(torch.nn), rng.standard_normal((2, 3, 11)), "float64", rng)


def test_unbatched_inputs_match_torch():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 7, 6))
    run_both(nn.MaxPool2d(2, ceil_mode=True), torch.nn.MaxPool2d(2, ceil_mode=True), x, "float64", rng)
    run_both(nn.AvgPool2d(3, 2, 1), torch.nn.AvgPool2d(3, 2, 1), x, "float64", rng)
    run_both(nn.AdaptiveAvgPool2d(2), torch.nn.AdaptiveAvgPool2d(2), x, "float64", rng)


def test_functional_forms_and_default_stride():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, 8, 8))
    pairs = [
        (F.max_pool2d(trainer.tensor(x), 2), torch.nn.functional.max_pool2d(torch.tensor(x), 2)),
        (F.avg_pool2d(trainer.tensor(x), 3, 1, 1, False, False),
         torch.nn.functional.avg_pool2d(torch.tensor(x), 3, 1, 1, False, False)),
        (F.adaptive_avg_pool2d(trainer.tensor(x), (3, 5)), torch.nn.functional.adaptive_avg_pool2d(torch.tensor(x),
                                                                                                    (3, 5))),
        (F.max_pool1d(trainer.tensor(x[0]), 3), torch.nn.functional.max_pool1d(torch.tensor(x[0]), 3)),
        (F.avg_pool1d(trainer.tensor(x[0]), 3), torch.nn.functional.avg_pool1d(torch.tensor(x[0]), 3)),
        (F.adaptive_avg_pool1d(trainer.tensor(x[0]), 3), torch.nn.functional.adaptive_avg_pool1d(torch.tensor(x[0]),
                                                                                                  3)),
    ]
    for ours, theirs in pairs:
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), atol=1e-8)


@pytest.mark.parametrize("make", [
    lambda m: m.MaxPool2d(2),
    lambda m: m.MaxPool2d((2, 3), stride=1, padding=1, dilation=2, ceil_mode=True),
    lambda m: m.MaxPool2d(2, return_indices=True),
    lambda m: m.AvgPool2d(2),
    lambda m: m.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False, divisor_override=2),
    lambda m: m.AdaptiveAvgPool2d((None, 3)),
    lambda m: m.AdaptiveAvgPool2d(1),
    lambda m: m.MaxPool1d(2),
    lambda m: m.AvgPool1d(2),
    lambda m: m.AdaptiveAvgPool1d(5),
])
def test_repr_and_state_dict_match_torch(make):
    ours, theirs = make(nn), make(torch.nn)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == []


def test_pool_error_messages():
    with pytest.raises(RuntimeError, match="pad should be at most half of effective kernel size, but got pad=2, "
                                           "kernel_size=3 and dilation=1"):
        F.max_pool2d(trainer.randn(1, 1, 4, 4), 3, padding=2)
    with pytest.raises(RuntimeError, match=r"Given input size: \(1x1x1\). Calculated output size: \(1x0x0\). "
                                           "Output size is too small"):
        F.max_pool2d(trainer.randn(1, 1, 1, 1), 3)
    with pytest.raises(RuntimeError, match=r"Expected 3D or 4D \(batch mode\) non-empty tensor for input"):
        nn.MaxPool2d(2)(trainer.randn(4, 4))
    with pytest.raises(RuntimeError, match=r"Expected 3D or 4D tensor, but got \[3, 4\]"):
        F.adaptive_avg_pool2d(trainer.randn(3, 4), 2)
    with pytest.raises(RuntimeError, match="divisor must be not zero"):
        F.avg_pool2d(trainer.randn(1, 1, 4, 4), 2, divisor_override=0)


@pytest.mark.cuda
def test_pooling_on_cuda_matches_cpu():
    x = np.random.default_rng(6).standard_normal((2, 3, 11, 10)).astype(np.float32)
    ops = [lambda t: F.max_pool2d(t, 3, 2, 1, ceil_mode=True, return_indices=True),
           lambda t: F.avg_pool2d(t, 3, 2, 1, ceil_mode=True, count_include_pad=False),
           lambda t: F.adaptive_avg_pool2d(t, (4, 3))]
    for op in ops:
        results = {}
        for device in ("cpu", "cuda"):
            inp = trainer.tensor(x, device=device, requires_grad=True)
            out = op(inp)
            values = out if isinstance(out, tuple) else (out,)
            values[0].sum().backward()
            results[device] = [v.detach().cpu().numpy() for v in values] + [inp.grad.cpu().numpy()]
        for ours, ref in zip(results["cuda"], results["cpu"]):
            np.testing.assert_allclose(ours, ref, atol=1e-5, rtol=1e-5)
