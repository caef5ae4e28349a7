"""``trainer.nn.grad`` against ``torch.nn.grad``: the same input and weight gradients of conv1d/2d/3d for the same
arguments, and gradients of those gradients."""

import numpy as np
import pytest
import torch

import trainer
from tests.trainer.test_ops_parity import assert_forward_and_gradients_match_torch, assert_raises_like_torch

# rank, input shape, weight shape, stride, padding, dilation, groups
CASES = [
    (1, (2, 4, 9), (6, 2, 3), 2, 1, 1, 2),
    (1, (1, 3, 8), (2, 3, 2), 1, 0, 2, 1),
    (2, (2, 4, 7, 6), (6, 2, 3, 2), (2, 1), (1, 0), 1, 2),
    (2, (1, 2, 6, 6), (3, 2, 3, 3), 2, 1, (2, 1), 1),
    (3, (1, 2, 5, 4, 5), (4, 2, 2, 3, 2), (1, 2, 1), (1, 0, 1), 1, 1),
]


def output_gradient(rank, x, w, stride, padding, dilation, groups):
    conv = getattr(torch.nn.functional, f"conv{rank}d")
    out = conv(torch.tensor(x), torch.tensor(w), None, stride, padding, dilation, groups)
    return np.random.default_rng(2).standard_normal(tuple(out.shape))


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"conv{c[0]}d-{c[1]}")
def test_input_and_weight_gradients_match_torch(case):
    rank, x_shape, w_shape, stride, padding, dilation, groups = case
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    go = output_gradient(rank, x, w, stride, padding, dilation, groups)

    def grads(lib, w_t, x_t, go_t):
        g = lib.nn.grad
        return (getattr(g, f"conv{rank}d_input")(x_shape, w_t, go_t, stride, padding, dilation, groups),
                getattr(g, f"conv{rank}d_weight")(x_t, w_shape, go_t, stride, padding, dilation, groups))

    assert_forward_and_gradients_match_torch(grads, [w, x, go])


def test_gradients_equal_autograd_of_the_convolution():
    rng = np.random.default_rng(3)
    x = trainer.tensor(rng.standard_normal((2, 3, 6, 5)), requires_grad=True)
    w = trainer.tensor(rng.standard_normal((4, 3, 2, 2)), requires_grad=True)
    out = trainer.nn.functional.conv2d(x, w, stride=2, padding=1)
    go = trainer.tensor(rng.standard_normal(tuple(out.shape)))
    gx, gw = trainer.autograd.grad(out, (x, w), go)
    np.testing.assert_allclose(trainer.nn.grad.conv2d_input(x.shape, w, go, 2, 1).detach().numpy(), gx.numpy(),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(trainer.nn.grad.conv2d_weight(x, w.shape, go, 2, 1).detach().numpy(), gw.numpy(),
                               rtol=1e-12, atol=1e-12)
    assert trainer.nn.functional.grad is trainer.nn.grad


def test_no_grad_gives_a_result_without_history():
    w = trainer.randn(2, 1, 3, dtype=trainer.float64, requires_grad=True)
    with trainer.no_grad():
        g = trainer.nn.grad.conv1d_input((1, 1, 5), w, trainer.ones(1, 2, 3, dtype=trainer.float64))
    assert not g.requires_grad and g.grad_fn is None


def test_grad_output_of_the_wrong_shape_raises():
    def call(lib):
        w = lib.ones(2, 1, 3, dtype=lib.float64)
        return lib.nn.grad.conv1d_input((1, 1, 5), w, lib.ones(1, 2, 4, dtype=lib.float64))

    assert_raises_like_torch(call, RuntimeError, "grad_output has shape")
