"""LayerNorm and GroupNorm against PyTorch with the same weights: forward and every gradient."""

import numpy as np
import pytest
import torch

import trainer
import trainer.nn as nn
import trainer.nn.functional as F

TOLS = {"float64": 1e-8, "float32": 1e-4}


def assert_close(ours, theirs, tol):
    np.testing.assert_allclose(np.asarray(ours.detach()), theirs.detach().numpy(), atol=tol, rtol=0)


def randomize(module, rng):
    """Non-trivial affine parameters (the defaults are ones and zeros)."""
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.tensor(rng.standard_normal(tuple(p.shape))))


def check_parity(ours, theirs, shape, dtype, rng):
    """Copy ``theirs``'s weights into ``ours``, run both on one input and compare output and all grads."""
    tol = TOLS[dtype]
    theirs = theirs.to(getattr(torch, dtype))
    ours = ours.to(getattr(trainer, dtype))
    randomize(theirs, rng)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    data = (rng.standard_normal(shape) * 3 + 1).astype(dtype)
    x = trainer.tensor(data, requires_grad=True)
    tx = torch.tensor(data, requires_grad=True)
    out, tout = ours(x), theirs(tx)
    assert out.dtype == getattr(trainer, dtype)
    assert_close(out, tout, tol)
    g = rng.standard_normal(tuple(tout.shape)).astype(dtype)
    out.backward(trainer.tensor(g))
    tout.backward(torch.tensor(g))
    assert_close(x.grad, tx.grad, tol)
    theirs_params = dict(theirs.named_parameters())
    assert [n for n, _ in ours.named_parameters()] == list(theirs_params)
    for name, p in ours.named_parameters():
        assert_close(p.grad, theirs_params[name].grad, tol)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("affine, bias", [(True, True), (True, False), (False, False)])
@pytest.mark.parametrize("normalized_shape, shape", [(5, (4, 5)), (5, (2, 3, 5)), ((3, 5), (2, 3, 5)),
                                                     ([2, 3, 5], (2, 3, 5)), (7, (7,))])
def test_layer_norm_matches_torch(normalized_shape, shape, affine, bias, dtype):
    rng = np.random.default_rng(0)
    check_parity(nn.LayerNorm(normalized_shape, eps=1e-5, elementwise_affine=affine, bias=bias),
                 torch.nn.LayerNorm(normalized_shape, elementwise_affine=affine, bias=bias), shape, dtype, rng)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("affine, bias", [(True, True), (True, False), (False, True)])
@pytest.mark.parametrize("groups, channels, shape", [(2, 6, (3, 6, 5, 4)), (1, 4, (2, 4)), (4, 4, (2, 4, 7)),
                                                     (3, 6, (1, 6, 2, 2, 3))])
def test_group_norm_matches_torch(groups, channels, shape, affine, bias, dtype):
    rng = np.random.default_rng(1)
    check_parity(nn.GroupNorm(groups, channels, eps=1e-3, affine=affine, bias=bias),
                 torch.nn.GroupNorm(groups, channels, eps=1e-3, affine=affine, bias=bias), shape, dtype, rng)


@pytest.mark.parametrize("with_weight, with_bias", [(True, False), (False, True)])
def test_functional_norms_with_one_parameter(with_weight, with_bias):
    rng = np.random.default_rng(2)
    x_np, p_np = rng.standard_normal((3, 4, 6)), rng.standard_normal((4, 6))
    c_np = rng.standard_normal(4)
    x, tx = trainer.tensor(x_np, requires_grad=True), torch.tensor(x_np, requires_grad=True)
    p, tp = trainer.tensor(p_np, requires_grad=True), torch.tensor(p_np, requires_grad=True)
    c, tc = trainer.tensor(c_np, requires_grad=True), torch.tensor(c_np, requires_grad=True)

    def pick(a, b):
        return (a if with_weight else None), (b if with_bias else None)

    out = F.layer_norm(x, (4, 6), *pick(p, p), eps=1e-3) + F.group_norm(x, 2, *pick(c, c)).sin()
    # torch's group_norm backward fails with a bias but no weight ("tensor does not have a device"): ones stand in
    t_weight, t_bias = pick(tc, tc)
    tout = (torch.nn.functional.layer_norm(tx, (4, 6), *pick(tp, tp), eps=1e-3)
            + torch.nn.functional.group_norm(tx, 2, torch.ones(4, dtype=tc.dtype) if t_weight is None else t_weight,
                                             t_bias).sin())
    assert_close(out, tout, 1e-8)
    out.sum().backward()
    tout.sum().backward()
    for ours, theirs in ((x, tx), (p, tp), (c, tc)):
        assert_close(ours.grad, theirs.grad, 1e-8)


def test_only_the_needed_gradients_are_computed():
    x = trainer.randn(2, 3, 4)
    w = trainer.ones(4, requires_grad=True)
    F.layer_norm(x, (4,), w).sum().backward()
    assert x.grad is None and w.grad is not None


def test_reprs_state_dict_keys_and_init_match_torch():
    pairs = [
        (nn.LayerNorm(8), torch.nn.LayerNorm(8)),
        (nn.LayerNorm((2, 3), eps=1e-6, elementwise_affine=False), torch.nn.LayerNorm((2, 3), eps=1e-6,
                                                                                      elementwise_affine=False)),
        (nn.LayerNorm([4], bias=False), torch.nn.LayerNorm([4], bias=False)),
        (nn.GroupNorm(2, 6), torch.nn.GroupNorm(2, 6)),
        (nn.GroupNorm(3, 6, eps=1e-3, affine=False), torch.nn.GroupNorm(3, 6, eps=1e-3, affine=False)),
        (nn.GroupNorm(3, 6, bias=False), torch.nn.GroupNorm(3, 6, bias=False)),
    ]
    for ours, theirs in pairs:
        assert repr(ours) == repr(theirs)
        assert list(ours.state_dict()) == list(theirs.state_dict())
        for key, value in theirs.state_dict().items():
            np.testing.assert_array_equal(ours.state_dict()[key].numpy(), value.numpy())
    assert nn.LayerNorm(8).weight.dtype == trainer.float32


def test_layer_norm_shape_mismatch_message_matches_torch():
    with pytest.raises(RuntimeError) as info:
        nn.LayerNorm(64)(trainer.randn(2, 10, 32))
    assert str(info.value) == ("Given normalized_shape=[64], expected input with shape [*, 64], but got input of "
                               "size[2, 10, 32]")
    with pytest.raises(RuntimeError, match="Expected weight to be of same shape as normalized_shape"):
        F.layer_norm(trainer.randn(2, 4), (4,), trainer.ones(3))
    with pytest.raises(RuntimeError, match="normalized_shape=\\[2, 4\\]"):
        F.layer_norm(trainer.randn(4), (2, 4))


def test_group_norm_errors_match_torch():
    with pytest.raises(ValueError, match=r"num_channels \(6\) must be divisible by num_groups \(4\)"):
        nn.GroupNorm(4, 6)
    with pytest.raises(RuntimeError, match=r"divisible by num_groups, but got input of shape \[2, 6, 4\] and "
                                           r"num_groups=4"):
        F.group_norm(trainer.randn(2, 6, 4), 4)
    with pytest.raises(RuntimeError, match="Expected at least 2 dimensions"):
        F.group_norm(trainer.randn(6), 2)
    with pytest.raises(RuntimeError, match=r"weight of shape \[3\] and input of shape \[2, 6, 4\]"):
        F.group_norm(trainer.randn(2, 6, 4), 2, trainer.ones(3))


def test_dtype_mismatch_is_an_error():
    with pytest.raises(RuntimeError, match="same dtype"):
        nn.LayerNorm(4)(trainer.randn(2, 4, dtype=trainer.float64))
