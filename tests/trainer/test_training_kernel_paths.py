"""The faster kernel paths of a training step against PyTorch: conv's unstrided input gradient (a convolution with the
flipped weight), its blocked col2im for large columns, max pooling's backward for disjoint windows and non-finite
gradients, and batch norm's folded backward."""

import numpy as np
import pytest
import torch

import trainer
from tests.trainer.test_ops_parity import assert_forward_and_gradients_match_torch
from trainer.ops import conv

UNSTRIDED = [  # out_channels <= in_channels: the input gradient is a convolution with the flipped weight
    dict(padding=1),
    dict(padding=0),
    dict(padding=2, dilation=2),
    dict(padding="same", dilation=(1, 2)),
    dict(padding=(0, 1), groups=2),
]


@pytest.mark.parametrize("kwargs", UNSTRIDED, ids=lambda k: ",".join(f"{a}={b}" for a, b in k.items()))
def test_unstrided_conv2d_gradients_match_torch(kwargs):
    rng = np.random.default_rng(0)
    groups = kwargs.get("groups", 1)
    x, w, b = rng.standard_normal((2, 6, 7, 8)), rng.standard_normal((4, 6 // groups, 3, 2)), rng.standard_normal(4)
    assert_forward_and_gradients_match_torch(lambda lib, x, w, b: lib.nn.functional.conv2d(x, w, b, **kwargs),
                                             [x, w, b])


@pytest.mark.parametrize("nd", [1, 3])
def test_unstrided_conv1d_and_conv3d_gradients_match_torch(nd):
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((2, 4) + (5,) * nd), rng.standard_normal((3, 4) + (3,) * nd)
    name = f"conv{nd}d"
    assert_forward_and_gradients_match_torch(lambda lib, x, w: getattr(lib.nn.functional, name)(x, w, padding=1),
                                             [x, w])


def test_unit_stride_conv_transpose_with_output_padding_matches_torch():
    """ConvTranspose's forward is conv's input gradient: the flipped-weight path must honour output_padding."""
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal((2, 5, 4, 6)), rng.standard_normal((5, 3, 3, 3))
    assert_forward_and_gradients_match_torch(
        lambda lib, x, w: lib.nn.functional.conv_transpose2d(x, w, padding=1, dilation=2, output_padding=1), [x, w])


@pytest.mark.parametrize(("size", "groups", "kwargs"), [(7, 1, dict()), (9, 1, dict(stride=2, padding=1)),
                                                        (5, 2, dict(padding=1, groups=2))],
                         ids=["unpadded", "strided", "grouped"])
def test_blocked_col2im_matches_torch(monkeypatch, size, groups, kwargs):
    """Columns far over the block size (here 3600 bytes a sample) are computed and added one block at a time."""
    monkeypatch.setattr(conv, "_COLUMN_BLOCK_BYTES", 1000)
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((5, 2, size, size)), rng.standard_normal((4, 2 // groups, 3, 3))
    assert_forward_and_gradients_match_torch(lambda lib, x, w: lib.nn.functional.conv2d(x, w, **kwargs), [x, w])


@pytest.mark.parametrize("kwargs", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                    dict(kernel_size=2, stride=3, dilation=2, ceil_mode=True)],
                         ids=["disjoint", "overlapping", "dilated-gaps"])
def test_max_pool_backward_with_non_finite_gradient_matches_torch(kwargs):
    """An inf or NaN upstream gradient reaches only the window's maximum; every other input gets exactly zero."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 3, 9, 8))
    ours, theirs = trainer.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, tout = trainer.nn.functional.max_pool2d(ours, **kwargs), torch.nn.functional.max_pool2d(theirs, **kwargs)
    g = rng.standard_normal(tuple(tout.shape))
    g.flat[[0, 5, 11]] = [np.inf, -np.inf, np.nan]
    out.backward(trainer.tensor(g))
    tout.backward(torch.tensor(g))
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-12, atol=0)  # zeros stay exact
    assert int(np.isnan(ours.grad.numpy()).sum()) == 1


@pytest.mark.parametrize("kwargs", [dict(kernel_size=2), dict(kernel_size=3, stride=1, padding=1)],
                         ids=["disjoint", "overlapping"])
def test_max_pool_float32_gradient_matches_torch(kwargs):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((4, 8, 12, 12)).astype(np.float32)
    ours, theirs = trainer.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, tout = trainer.nn.functional.max_pool2d(ours, **kwargs), torch.nn.functional.max_pool2d(theirs, **kwargs)
    np.testing.assert_array_equal(out.detach().numpy(), tout.detach().numpy())
    g = rng.standard_normal(tuple(tout.shape)).astype(np.float32)
    out.backward(trainer.tensor(g))
    tout.backward(torch.tensor(g))
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=0, atol=1e-6)


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("affine", [(True, True), (True, False), (False, True), (False, False)],
                         ids=["weight+bias", "weight", "bias", "none"])
def test_batch_norm_gradients_match_torch(training, affine):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((4, 3, 5, 2)) * 3 + 2
    mean, var = rng.standard_normal(3), rng.uniform(0.5, 2, 3)
    params = [rng.standard_normal(3) if has else None for has in affine]
    arrays = [x] + [p for p in params if p is not None]

    def fn(lib, x, *given):
        given = iter(given)
        weight, bias = (next(given) if has else None for has in affine)
        running = lib.tensor(mean), lib.tensor(var)
        return lib.nn.functional.batch_norm(x, *running, weight, bias, training=training, momentum=0.3)

    assert_forward_and_gradients_match_torch(fn, arrays)


def test_batch_norm_parameter_gradients_without_input_gradient_match_torch():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((6, 4, 3)) - 1
    weight, bias = rng.standard_normal(4), rng.standard_normal(4)
    g = rng.standard_normal(x.shape)
    grads = {}
    for lib in (torch, trainer):
        w, b = lib.tensor(weight, requires_grad=True), lib.tensor(bias, requires_grad=True)
        out = lib.nn.functional.batch_norm(lib.tensor(x), None, None, w, b, training=True)
        out.backward(lib.tensor(g))
        grads[lib.__name__] = (w.grad.numpy(), b.grad.numpy())
    for ours, theirs in zip(grads["trainer"], grads["torch"]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)
