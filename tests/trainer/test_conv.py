"""Conv1d, Conv2d and ConvTranspose2d against PyTorch with the same weights: outputs and every gradient."""

import math

import numpy as np
import pytest
import torch

import trainer
import trainer.nn as nn
import trainer.nn.functional as F
from trainer.ops import conv as conv_ops

TOLS = {"float64": 1e-8, "float32": 1e-4}
# PyTorch warns that it copies the input for an asymmetric "same" split; we do that split too
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths")


def run_both(ours, theirs, x, dtype, rng, **call):
    """Forward and backward through both layers; compare output, input grad and parameter grads."""
    tol = TOLS[dtype]
    theirs = theirs.to(getattr(torch, dtype))
    ours = ours.to(getattr(trainer, dtype))
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    x = x.astype(dtype)
    tx = torch.tensor(x, requires_grad=True)
    ox = trainer.tensor(x, requires_grad=True)
    tout, out = theirs(tx, **call), ours(ox, **call)
    assert out.dtype == getattr(trainer, dtype)
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), atol=tol, rtol=0)
    g = rng.standard_normal(tout.shape).astype(dtype)
    tout.backward(torch.tensor(g))
    out.backward(trainer.tensor(g))
    np.testing.assert_allclose(ox.grad.numpy(), tx.grad.numpy(), atol=tol, rtol=0)
    for name, p in theirs.named_parameters():
        np.testing.assert_allclose(getattr(ours, name).grad.numpy(), p.grad.numpy(), atol=tol, rtol=0, err_msg=name)


CONV2D = [
    dict(in_channels=3, out_channels=4, kernel_size=3),
    dict(in_channels=3, out_channels=4, kernel_size=(3, 2), stride=(2, 1), padding=(1, 2)),
    dict(in_channels=4, out_channels=6, kernel_size=3, stride=2, padding=1, dilation=2, groups=2, bias=False),
    dict(in_channels=4, out_channels=8, kernel_size=3, padding=1, groups=4),  # depthwise, multiplier 2
    dict(in_channels=4, out_channels=4, kernel_size=(2, 4), padding="same", dilation=(1, 3)),  # asymmetric split
    dict(in_channels=3, out_channels=5, kernel_size=(4, 3), padding="valid", stride=3),
    dict(in_channels=2, out_channels=3, kernel_size=1),
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kwargs", CONV2D, ids=lambda k: ",".join(f"{a}={b}" for a, b in k.items()))
def test_conv2d_matches_torch(kwargs, dtype):
    rng = np.random.default_rng(0)
    run_both(nn.Conv2d(**kwargs), torch.nn.Conv2d(**kwargs), rng.standard_normal((2, kwargs["in_channels"], 9, 8)),
             dtype, rng)


def test_conv2d_unbatched_input_matches_torch():
    rng = np.random.default_rng(1)
    run_both(nn.Conv2d(3, 4, 3, padding=1), torch.nn.Conv2d(3, 4, 3, padding=1), rng.standard_normal((3, 6, 5)),
             "float64", rng)


CONV1D = [
    dict(in_channels=3, out_channels=4, kernel_size=3),
    dict(in_channels=4, out_channels=6, kernel_size=4, stride=2, padding=2, dilation=2, groups=2),
    dict(in_channels=3, out_channels=3, kernel_size=4, padding="same", bias=False),
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kwargs", CONV1D, ids=lambda k: ",".join(f"{a}={b}" for a, b in k.items()))
def test_conv1d_matches_torch(kwargs, dtype):
    rng = np.random.default_rng(2)
    run_both(nn.Conv1d(**kwargs), torch.nn.Conv1d(**kwargs), rng.standard_normal((2, kwargs["in_channels"], 11)),
             dtype, rng)


TRANSPOSED = [
    dict(in_channels=3, out_channels=4, kernel_size=3),
    dict(in_channels=3, out_channels=4, kernel_size=(3, 2), stride=2, padding=1, output_padding=1),
    dict(in_channels=4, out_channels=6, kernel_size=3, stride=(2, 3), padding=(0, 1), output_padding=(1, 2),
         groups=2, bias=False),
    dict(in_channels=4, out_channels=4, kernel_size=2, stride=1, output_padding=1, dilation=2, groups=4),
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kwargs", TRANSPOSED, ids=lambda k: ",".join(f"{a}={b}" for a, b in k.items()))
def test_conv_transpose2d_matches_torch(kwargs, dtype):
    rng = np.random.default_rng(3)
    run_both(nn.ConvTranspose2d(**kwargs), torch.nn.ConvTranspose2d(**kwargs),
             rng.standard_normal((2, kwargs["in_channels"], 5, 4)), dtype, rng)


def test_conv_transpose2d_output_size_matches_torch():
    rng = np.random.default_rng(4)
    kwargs = dict(in_channels=2, out_channels=3, kernel_size=3, stride=2, padding=1)
    run_both(nn.ConvTranspose2d(**kwargs), torch.nn.ConvTranspose2d(**kwargs), rng.standard_normal((1, 2, 4, 5)),
             "float64", rng, output_size=[8, 10])
    with pytest.raises(ValueError, match="valid sizes range"):
        nn.ConvTranspose2d(**kwargs)(trainer.randn(1, 2, 4, 5), output_size=[12, 10])


def test_functional_forms_match_torch():
    rng = np.random.default_rng(5)
    x, w, b = rng.standard_normal((2, 4, 7, 6)), rng.standard_normal((6, 2, 3, 3)), rng.standard_normal(6)
    ours = F.conv2d(trainer.tensor(x), trainer.tensor(w), trainer.tensor(b), 2, 1, 1, 2)
    theirs = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), torch.tensor(b), 2, 1, 1, 2)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), atol=1e-8)
    wt = rng.standard_normal((4, 3, 3, 3))
    ours = F.conv_transpose2d(trainer.tensor(x), trainer.tensor(wt), None, 2, 1, 1, 1, 1)
    theirs = torch.nn.functional.conv_transpose2d(torch.tensor(x), torch.tensor(wt), None, 2, 1, 1, 1, 1)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), atol=1e-8)
    x1, w1 = rng.standard_normal((2, 4, 9)), rng.standard_normal((3, 4, 2))
    ours = F.conv1d(trainer.tensor(x1), trainer.tensor(w1), stride=2, padding=1)
    theirs = torch.nn.functional.conv1d(torch.tensor(x1), torch.tensor(w1), stride=2, padding=1)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), atol=1e-8)


def test_weight_only_and_input_only_gradients():
    rng = np.random.default_rng(6)
    x = trainer.tensor(rng.standard_normal((2, 3, 6, 6)), requires_grad=True)
    w = trainer.tensor(rng.standard_normal((4, 3, 3, 3)))
    F.conv2d(x, w).sum().backward()
    assert x.grad is not None and w.grad is None
    x2 = trainer.tensor(rng.standard_normal((2, 3, 6, 6)))
    w2 = trainer.tensor(rng.standard_normal((3, 4, 3, 3)), requires_grad=True)
    F.conv_transpose2d(x2, w2, stride=2).sum().backward()
    tw = torch.tensor(w2.detach().numpy(), requires_grad=True)
    torch.nn.functional.conv_transpose2d(torch.tensor(x2.numpy()), tw, stride=2).sum().backward()
    np.testing.assert_allclose(w2.grad.numpy(), tw.grad.numpy(), atol=1e-8)


@pytest.mark.parametrize("make", [
    lambda m: m.Conv2d(1, 32, 3, 1),
    lambda m: m.Conv2d(3, 8, (3, 5), stride=2, padding=(1, 2), dilation=2, groups=1, bias=False),
    lambda m: m.Conv2d(4, 8, 3, padding="same", groups=4),
    lambda m: m.Conv1d(4, 8, 3, padding="valid"),
    lambda m: m.Conv1d(4, 8, 5, stride=2, padding=2),
    lambda m: m.ConvTranspose2d(4, 8, 3, stride=2, output_padding=1, groups=2),
    lambda m: m.ConvTranspose2d(4, 8, 3, dilation=2, bias=False),
])
def test_repr_state_dict_and_shapes_match_torch(make):
    ours, theirs = make(nn), make(torch.nn)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for key, value in theirs.state_dict().items():
        assert tuple(ours.state_dict()[key].shape) == tuple(value.shape)
    assert ours.weight.dtype == trainer.float32


def test_default_init_has_pytorch_bounds():
    layer = nn.Conv2d(16, 32, 3)
    bound = 1 / math.sqrt(16 * 9)  # kaiming_uniform(a=sqrt(5)) and the bias bound coincide for conv
    weight = np.abs(layer.weight.detach().numpy())
    assert bound * 0.9 < weight.max() <= bound
    assert np.abs(layer.bias.detach().numpy()).max() <= bound
    transposed = nn.ConvTranspose2d(16, 8, 3, groups=2)
    assert np.abs(transposed.weight.detach().numpy()).max() <= 1 / math.sqrt(4 * 9)


def test_conv_error_messages():
    with pytest.raises(RuntimeError) as info:
        nn.Conv2d(1, 32, 3)(trainer.randn(64, 3, 28, 28))
    assert ("Given groups=1, weight of size [32, 1, 3, 3], expected input[64, 3, 28, 28] to have 1 channels, "
            "but got 3 channels instead") in str(info.value)
    assert "Conv2d(1, 32" in str(info.value)
    with pytest.raises(RuntimeError, match=r"Calculated padded input size per channel: \(2 x 2\). Kernel size: "
                                           r"\(3 x 3\). Kernel size can't be greater than actual input size"):
        F.conv2d(trainer.randn(1, 1, 2, 2), trainer.randn(4, 1, 3, 3))
    with pytest.raises(RuntimeError, match=r"Expected 3D \(unbatched\) or 4D \(batched\) input to conv2d, but got "
                                           r"input of size: \[28, 28\]"):
        nn.Conv2d(1, 4, 3)(trainer.randn(28, 28))
    with pytest.raises(RuntimeError, match="expected weight to be divisible by 2 at dimension 0"):
        F.conv2d(trainer.randn(1, 4, 5, 5), trainer.randn(3, 2, 3, 3), groups=2)
    with pytest.raises(RuntimeError, match="Given transposed=1, weight of size"):
        F.conv_transpose2d(trainer.randn(1, 3, 4, 4), trainer.randn(4, 2, 3, 3))
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="out_channels must be divisible by groups"):
        nn.Conv2d(4, 3, 3, groups=2)
    with pytest.raises(ValueError, match="not supported for strided convolutions"):
        nn.Conv2d(3, 4, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="Invalid padding string"):
        nn.Conv2d(3, 4, 3, padding="full")
    with pytest.raises(NotImplementedError, match="only 'zeros'"):
        nn.Conv2d(3, 4, 3, padding_mode="reflect")
    with pytest.raises(RuntimeError, match="same dtype"):
        nn.Conv2d(3, 4, 3)(trainer.randn(1, 3, 5, 5, dtype=trainer.float64))


def test_same_padding_puts_the_extra_row_at_the_end():
    assert conv_ops.conv_pads("same", (4, 3), (1, 1), (1, 1)) == (1, 1, 2, 1)
    assert conv_ops.conv_pads("valid", (4, 3), (1, 1), (1, 1)) == (0, 0, 0, 0)
    assert conv_ops.conv_pads((1, 2), (4, 3), (1, 1), (1, 1)) == (1, 2, 1, 2)


@pytest.mark.cuda
def test_conv_layers_on_cuda_match_cpu():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 4, 9, 8)).astype(np.float32)
    g = {}
    layers = [nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2),
              nn.ConvTranspose2d(4, 6, 3, stride=2, output_padding=1),
              nn.Conv1d(4, 6, 3, padding="same")]
    for device in ("cpu", "cuda"):
        for i, layer in enumerate(layers):
            layer.to(device).zero_grad()
            inp = trainer.tensor(x if i < 2 else x[:, :, 0], device=device, requires_grad=True)
            out = layer(inp)
            out.sum().backward()
            g[device, i] = [t.detach().cpu().numpy() for t in (out, inp.grad, layer.weight.grad, layer.bias.grad)]
    for i in range(len(layers)):
        for ours, ref in zip(g["cuda", i], g["cpu", i]):
            np.testing.assert_allclose(ours, ref, atol=1e-4, rtol=1e-4)
