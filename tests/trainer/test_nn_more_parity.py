"""Shrinkage activations, Softmax2d, RMSNorm, Bilinear, the channel dropouts and five more losses against
PyTorch: values and gradients on identical float64 data, repr and state_dict keys, bad-input errors."""

import zlib

import numpy as np
import pytest
import torch

import trainer

TOL = 1e-9


def _rms_norm_module(lib, x):
    layer = lib.nn.RMSNorm((3, 4)).double()
    with lib.no_grad():
        layer.weight.mul_(lib.arange(12, dtype=lib.float64).reshape(3, 4) / 10 + 0.5)
    return layer(x)


def _bilinear_module(lib, a, b):
    layer = lib.nn.Bilinear(4, 3, 2).double()
    with lib.no_grad():
        layer.weight.copy_(lib.linspace(-1, 1, 24, dtype=lib.float64).reshape(2, 4, 3))
        layer.bias.copy_(lib.tensor([0.5, -0.25], dtype=lib.float64))
    return layer(a, b)


def _signs(lib, x):
    return (x > 0).to(x.dtype) * 2 - 1


CASES = {
    "shrinks": (lambda lib, x: [lib.nn.Softshrink(0.3)(x), lib.nn.functional.softshrink(x), lib.nn.Hardshrink()(x),
                                lib.nn.functional.hardshrink(x, 1.0), lib.nn.Tanhshrink()(x)], [(3, 5)]),
    "softmax2d": (lambda lib, x: [lib.nn.Softmax2d()(x), lib.nn.Softmax2d()(x[0])], [(2, 3, 4, 2)]),
    "rms_norm": (lambda lib, x: [lib.nn.functional.rms_norm(x, (4,)), lib.nn.functional.rms_norm(x, (3, 4), eps=0.1),
                                 _rms_norm_module(lib, x)], [(2, 3, 4)]),
    "bilinear": (lambda lib, a, b, w: [_bilinear_module(lib, a, b), lib.nn.functional.bilinear(a, b, w)],
                 [(5, 4), (5, 3), (2, 4, 3)]),
    "soft_margin": (lambda lib, x, t: [lib.nn.SoftMarginLoss()(x, _signs(lib, t)),
                                       lib.nn.functional.soft_margin_loss(x * 5, _signs(lib, t), reduction="none")],
                    [(4, 3), (4, 3)]),
    "hinge_embedding": (lambda lib, x, t: [lib.nn.HingeEmbeddingLoss(margin=0.5)(x, _signs(lib, t)),
                                           lib.nn.functional.hinge_embedding_loss(x, _signs(lib, t),
                                                                                  reduction="sum")],
                        [(4, 3), (4, 3)]),
    "poisson_nll": (lambda lib, x, t: [lib.nn.PoissonNLLLoss()(x, t.abs() * 3),
                                       lib.nn.PoissonNLLLoss(log_input=False, full=True, reduction="none")(
                                           x.abs() + 0.1, (t.abs() * 3).round())], [(4, 3), (4, 3)]),
    "gaussian_nll": (lambda lib, x, t, v: [lib.nn.GaussianNLLLoss()(x, t, v.abs() + 0.1),
                                           lib.nn.GaussianNLLLoss(full=True, reduction="sum")(x, t, v[:, 0].abs()),
                                           lib.nn.functional.gaussian_nll_loss(x, t, v[:, :1].abs() * 1e-4,
                                                                               reduction="none")],
                     [(4, 3), (4, 3), (4, 3)]),
    "multilabel_soft_margin": (lambda lib, x, t: [
        lib.nn.MultiLabelSoftMarginLoss()(x, (t > 0).to(x.dtype)),
        lib.nn.MultiLabelSoftMarginLoss(weight=lib.tensor([1.0, 0.5, 2.0], dtype=x.dtype), reduction="none")(
            x, (t > 0).to(x.dtype))], [(4, 3), (4, 3)]),
    "channel_dropout_eval": (lambda lib, x: [lib.nn.Dropout1d().eval()(x[0, :, :, 0, 0]), lib.nn.Dropout3d().eval()(x)],
                             [(2, 3, 4, 2, 2)]),
}


def _outputs(result):
    return [o for r in result for o in _outputs(r)] if isinstance(result, (list, tuple)) else [result]


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_torch(name):
    fn, shapes = CASES[name]
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    arrays = [rng.standard_normal(s) for s in shapes]
    ours = [trainer.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, tout = _outputs(fn(trainer, *ours)), _outputs(fn(torch, *theirs))
    assert len(out) == len(tout)
    for o, t in zip(out, tout):
        assert tuple(o.shape) == tuple(t.shape)
        np.testing.assert_allclose(o.detach().numpy(), t.detach().numpy(), rtol=TOL, atol=TOL)
    weights = [rng.standard_normal(tuple(t.shape)) for t in tout]
    sum((o * trainer.tensor(w)).sum() for o, w in zip(out, weights)).backward()
    sum((t * torch.tensor(w)).sum() for t, w in zip(tout, weights)).backward()
    for ours_input, theirs_input in zip(ours, theirs):
        if theirs_input.grad is not None:
            got = np.zeros(ours_input.shape) if ours_input.grad is None else ours_input.grad.numpy()
            np.testing.assert_allclose(got, theirs_input.grad.numpy(), rtol=1e-8, atol=1e-9)


@pytest.mark.parametrize("make", [
    lambda lib: lib.nn.RMSNorm([3, 4], eps=1e-3), lambda lib: lib.nn.RMSNorm(4, elementwise_affine=False),
    lambda lib: lib.nn.Bilinear(4, 3, 2), lambda lib: lib.nn.Bilinear(4, 3, 2, bias=False),
    lambda lib: lib.nn.Softshrink(0.2), lambda lib: lib.nn.Hardshrink(), lambda lib: lib.nn.Tanhshrink(),
    lambda lib: lib.nn.Softmax2d(), lambda lib: lib.nn.Dropout1d(0.3), lambda lib: lib.nn.Dropout3d(),
    lambda lib: lib.nn.HingeEmbeddingLoss(), lambda lib: lib.nn.GaussianNLLLoss(full=True),
    lambda lib: lib.nn.PoissonNLLLoss(), lambda lib: lib.nn.MultiLabelSoftMarginLoss(),
])
def test_repr_and_state_dict_keys_match_torch(make):
    ours, theirs = make(trainer), make(torch)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())


def test_bilinear_starts_uniform_within_its_bound():
    layer = trainer.nn.Bilinear(16, 5, 400)
    values = layer.weight.detach().numpy()
    assert np.abs(values).max() <= 0.25 and np.abs(values).max() > 0.24


def test_channel_dropouts_drop_whole_channels_in_training():
    trainer.manual_seed(0)
    out = trainer.nn.Dropout3d(0.5)(trainer.ones(4, 6, 2, 3, 3)).numpy()
    per_channel = out.reshape(4, 6, -1)
    assert set(np.unique(per_channel)) <= {0.0, 2.0}
    assert (per_channel.min(-1) == per_channel.max(-1)).all() and 0 < (per_channel[..., 0] == 0).mean() < 1
    one_d = trainer.nn.Dropout1d(0.5)(trainer.ones(6, 8)).numpy()  # unbatched (C, L)
    assert (one_d.min(-1) == one_d.max(-1)).all()


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda: trainer.nn.functional.softshrink(trainer.randn(3), -1.0), RuntimeError, "lambda must be greater or equal"),
    (lambda: trainer.nn.Softmax2d()(trainer.randn(3, 4)), ValueError, "expected input to be 3D or 4D"),
    (lambda: trainer.nn.functional.rms_norm(trainer.randn(2, 3), (4,)), RuntimeError, "Given normalized_shape"),
    (lambda: trainer.nn.Bilinear(4, 3, 2)(trainer.randn(5, 4), trainer.randn(4, 3)), RuntimeError,
     "input batch dimensions do not match"),
    (lambda: trainer.nn.GaussianNLLLoss()(trainer.randn(4, 3), trainer.randn(4, 3), trainer.rand(2, 3)), ValueError,
     "var is of incorrect size"),
    (lambda: trainer.nn.GaussianNLLLoss()(trainer.randn(4, 3), trainer.randn(4, 3), -trainer.rand(4, 3)),
     ValueError, "var has negative entry"),
    (lambda: trainer.nn.Dropout1d()(trainer.randn(2, 3, 4, 5)), RuntimeError, "dropout1d: Expected 2D or 3D input"),
    (lambda: trainer.nn.Dropout3d()(trainer.randn(2, 3, 4)), RuntimeError, "dropout3d: Expected 4D or 5D input"),
])
def test_bad_input_raises_torchs_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()
