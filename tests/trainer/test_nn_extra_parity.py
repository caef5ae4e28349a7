"""The extra activations, padding, distances, losses and layers of ``nn`` against PyTorch: forward values and
the gradients of every input on identical float64 data, plus repr, state_dict keys and bad-input errors.

Each case is ``fn(lib, *inputs)``, run with ``lib = torch`` and ``lib = trainer``.
"""

import zlib

import numpy as np
import pytest
import torch

import trainer

TOL = 1e-8


def _reflect(lib, x):
    return lib.nn.functional.pad(x, (2, 1, 1, 3), mode="reflect")


def _sign_target(lib, n=5):
    return lib.tensor([1.0, -1.0, 1.0, -1.0, -1.0][:n], dtype=lib.float64)


def _prelu_module(lib, x):
    layer = lib.nn.PReLU(3, init=0.1).double()
    return layer(x), layer.weight * 1


def _instance_norm_module(lib, x):
    layer = lib.nn.InstanceNorm2d(3, affine=True, track_running_stats=True).double()
    out = layer(x)
    return out, layer.running_mean * 1, layer.running_var * 1


def _instance_norm_eval(lib, x):
    layer = lib.nn.InstanceNorm1d(3, track_running_stats=True).double()
    layer(x)
    layer.eval()
    return layer(x)


CASES = {
    # activations
    "relu6": (lambda lib, x: lib.nn.functional.relu6(x * 4), [(3, 4)]),
    "elu": (lambda lib, x: lib.nn.functional.elu(x * 2, alpha=0.7) + lib.nn.ELU()(x), [(3, 4)]),
    "selu": (lambda lib, x: lib.nn.SELU()(x * 2), [(3, 4)]),
    "celu": (lambda lib, x: lib.nn.functional.celu(x * 2, alpha=1.0), [(3, 4)]),
    "silu": (lambda lib, x: lib.nn.SiLU()(x * 3), [(3, 4)]),
    "mish": (lambda lib, x: lib.nn.Mish()(x * 3), [(3, 4)]),
    "softplus": (lambda lib, x: lib.nn.functional.softplus(x * 3, beta=2, threshold=3) + lib.nn.Softplus()(x),
                 [(3, 4)]),
    "softsign": (lambda lib, x: lib.nn.Softsign()(x * 3), [(3, 4)]),
    "hardtanh": (lambda lib, x: lib.nn.Hardtanh(-0.5, 0.8)(x), [(3, 4)]),
    "hardswish": (lambda lib, x: lib.nn.Hardswish()(x * 4), [(3, 4)]),
    "hardsigmoid": (lambda lib, x: lib.nn.Hardsigmoid()(x * 4), [(3, 4)]),
    "prelu_shared": (lambda lib, x, w: lib.nn.functional.prelu(x, w), [(2, 3, 4), (1,)]),
    "prelu_per_channel": (lambda lib, x, w: lib.nn.functional.prelu(x, w), [(2, 3, 4), (3,)]),
    "prelu_module": (_prelu_module, [(2, 3, 2, 2)]),
    "threshold": (lambda lib, x: lib.nn.Threshold(0.2, -3.0)(x), [(3, 4)]),
    "glu": (lambda lib, x: lib.nn.GLU(dim=1)(x) + lib.nn.functional.glu(x, -1).sum(), [(3, 4)]),
    "logsigmoid": (lambda lib, x: lib.nn.LogSigmoid()(x * 5), [(3, 4)]),
    "softmin": (lambda lib, x: lib.nn.Softmin(dim=1)(x) + lib.nn.functional.softmin(x, 0), [(3, 4)]),
    # padding
    "pad_constant": (lambda lib, x: lib.nn.functional.pad(x, (1, 2, 0, 1), value=0.5), [(2, 3, 4)]),
    "pad_negative_crops": (lambda lib, x: lib.nn.functional.pad(x, (-1, 2, 1, -1)), [(2, 3, 4)]),
    "pad_reflect": (_reflect, [(2, 3, 4, 5)]),
    "pad_replicate": (lambda lib, x: lib.nn.functional.pad(x, (3, 1, 2, 2), mode="replicate"), [(2, 3, 4, 5)]),
    "pad_circular": (lambda lib, x: lib.nn.functional.pad(x, (2, 3), mode="circular"), [(2, 3, 4)]),
    "pad_modules": (lambda lib, x: lib.nn.ZeroPad2d(1)(x).sum() + lib.nn.ConstantPad2d((1, 0, 2, 1), 2.0)(x).sum()
                    + lib.nn.ReflectionPad2d(2)(x).sum() + lib.nn.ReplicationPad2d((0, 1, 2, 0))(x).sum(),
                    [(1, 2, 3, 4)]),
    "pad_modules_1d": (lambda lib, x: (lib.nn.ConstantPad1d(2, -1.0)(x), lib.nn.ReflectionPad1d((2, 1))(x),
                                       lib.nn.ReplicationPad1d(3)(x)), [(2, 3, 4)]),
    # distances
    "normalize": (lambda lib, x: lib.nn.functional.normalize(x) + lib.nn.functional.normalize(x, p=1, dim=0), [(3, 4)]),
    "cosine_similarity": (lambda lib, a, b: lib.nn.CosineSimilarity(dim=1)(a, b), [(3, 4), (3, 4)]),
    "cosine_similarity_broadcast": (lambda lib, a, b: lib.nn.functional.cosine_similarity(a, b, dim=-1),
                                    [(3, 4), (1, 4)]),
    "pairwise_distance": (lambda lib, a, b: lib.nn.PairwiseDistance()(a, b)
                          + lib.nn.functional.pairwise_distance(a, b, p=1, keepdim=True).sum()
                          + lib.nn.functional.pairwise_distance(a, b, p=3).sum(), [(3, 4), (3, 4)]),
    # losses
    "smooth_l1": (lambda lib, x, t: lib.nn.SmoothL1Loss(beta=0.5)(x, t) + lib.nn.functional.smooth_l1_loss(
        x, t, reduction="sum"), [(3, 4), (3, 4)]),
    "smooth_l1_none_beta0": (lambda lib, x, t: lib.nn.functional.smooth_l1_loss(x, t, reduction="none", beta=0.0),
                             [(3, 4), (3, 4)]),
    "huber": (lambda lib, x, t: lib.nn.HuberLoss(delta=0.7)(x, t) + lib.nn.HuberLoss(reduction="none")(x, t).sum(),
              [(3, 4), (3, 4)]),
    "kl_div_batchmean": (lambda lib, x, t: lib.nn.KLDivLoss(reduction="batchmean")(x.log_softmax(1), t.softmax(1)),
                         [(3, 4), (3, 4)]),
    "kl_div_log_target": (lambda lib, x, t: lib.nn.functional.kl_div(x, t, reduction="sum", log_target=True)
                          + lib.nn.functional.kl_div(x, t, reduction="none", log_target=True).sum(), [(3, 4), (3, 4)]),
    "bce_target_gradients": (lambda lib, x, t: lib.nn.functional.binary_cross_entropy(
        x.sigmoid(), t.sigmoid(), lib.tensor([0.5, 1.0, 2.0, 1.5], dtype=lib.float64), reduction="none")
        + lib.nn.functional.binary_cross_entropy_with_logits(
            x, t.sigmoid(), lib.tensor([0.5, 1.0, 2.0, 1.5], dtype=lib.float64),
            pos_weight=lib.tensor([3.0, 0.5, 1.0, 2.0], dtype=lib.float64), reduction="none"),
        [(3, 4), (3, 4)]),
    # zero targets contribute 0, negative ones NaN, as PyTorch's xlogy form; gradients with their NaNs
    "kl_div_zero_and_negative_targets": (lambda lib, x, t: lib.nn.functional.kl_div(x, t * (t.abs() > 0.5),
                                                                                    reduction="none"),
                                         [(3, 4), (3, 4)]),
    "margin_ranking": (lambda lib, a, b: lib.nn.MarginRankingLoss(margin=0.3)(a, b, _sign_target(lib)),
                       [(5,), (5,)]),
    "cosine_embedding": (lambda lib, a, b: lib.nn.CosineEmbeddingLoss(margin=-0.2)(a, b, _sign_target(lib))
                         + lib.nn.functional.cosine_embedding_loss(a, b, _sign_target(lib), reduction="sum"),
                         [(5, 3), (5, 3)]),
    "triplet_margin": (lambda lib, a, p, n: lib.nn.TripletMarginLoss(margin=2.0)(a, p, n)
                       + lib.nn.functional.triplet_margin_loss(a, p, n, p=1, swap=True, reduction="sum"),
                       [(4, 3), (4, 3), (4, 3)]),
    # layers
    "unflatten": (lambda lib, x: lib.nn.Unflatten(1, (2, -1))(x), [(3, 4, 2)]),
    "pixel_shuffle": (lambda lib, x: lib.nn.PixelShuffle(2)(x), [(2, 8, 3, 2)]),
    "pixel_unshuffle": (lambda lib, x: lib.nn.PixelUnshuffle(2)(x), [(2, 3, 4, 6)]),
    "pixel_shuffle_unbatched": (lambda lib, x: lib.nn.functional.pixel_shuffle(x, 3), [(9, 2, 2)]),
    "instance_norm": (lambda lib, x, w, b: lib.nn.functional.instance_norm(x, weight=w, bias=b),
                      [(2, 3, 5), (3,), (3,)]),
    "pad_circular_negative": (lambda lib, x: lib.nn.functional.pad(x, (2, -1, -1, 2), mode="circular"), [(2, 4, 5)]),
    # reflect and replicate mirror or repeat at the edges of the whole input, then crop
    "pad_reflect_negative": (lambda lib, x: lib.nn.functional.pad(x, (4, -2, -1, 2), mode="reflect"), [(2, 4, 5)]),
    "pad_replicate_negative": (lambda lib, x: lib.nn.functional.pad(x, (-3, 2, 2, -1), mode="replicate"),
                               [(2, 4, 5)]),
    "instance_norm_module": (_instance_norm_module, [(2, 3, 4, 3)]),
    "instance_norm_eval_uses_running_stats": (_instance_norm_eval, [(2, 3, 6)]),
    "instance_norm_unbatched": (lambda lib, x: lib.nn.InstanceNorm2d(2)(x), [(2, 3, 4)]),
    "adaptive_max_pool2d": (lambda lib, x: lib.nn.AdaptiveMaxPool2d((2, 3))(x), [(2, 3, 5, 7)]),
    "adaptive_max_pool2d_indices": (lambda lib, x: lib.nn.functional.adaptive_max_pool2d(x, (3, None), True),
                                    [(2, 5, 4)]),
    "adaptive_max_pool1d": (lambda lib, x: lib.nn.AdaptiveMaxPool1d(3, return_indices=True)(x), [(2, 3, 8)]),
}


def _arrays(name, shapes):
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    return [rng.standard_normal(shape) for shape in shapes]


def _run(lib, name):
    fn, shapes = CASES[name]
    inputs = [lib.tensor(a, requires_grad=True) for a in _arrays(name, shapes)]
    outs = fn(lib, *inputs)
    outs = outs if isinstance(outs, tuple) else (outs,)
    differentiable = [o for o in outs if o.requires_grad]
    if differentiable:
        sum(((o * o).sum() if o.ndim else o) for o in differentiable).backward()
    return outs, inputs


@pytest.mark.parametrize("name", sorted(CASES))
def test_forward_and_gradients_match_torch(name):
    theirs, theirs_in = _run(torch, name)
    ours, ours_in = _run(trainer, name)
    assert len(ours) == len(theirs)
    for o, t in zip(ours, theirs):
        assert o.dtype.name == str(t.dtype).removeprefix("torch."), name
        assert tuple(o.shape) == tuple(t.shape)
        np.testing.assert_allclose(o.detach().numpy(), t.detach().numpy(), rtol=TOL, atol=TOL)
    # PyTorch's celu and hardsigmoid backward use float32 constants (1/alpha, 1/6): a float32 relative error
    tol = 1e-7 if name in ("celu", "hardsigmoid") else TOL
    for i, (o, t) in enumerate(zip(ours_in, theirs_in)):
        assert (o.grad is None) == (t.grad is None), f"input {i}"
        if t.grad is not None:
            np.testing.assert_allclose(o.grad.numpy(), t.grad.numpy(), rtol=tol, atol=tol, err_msg=f"input {i}")


def test_inplace_activation_writes_into_its_input():
    x = trainer.tensor([-2.0, 0.5, 7.0])
    out = trainer.nn.functional.relu6(x, inplace=True)
    assert out is x
    np.testing.assert_array_equal(x.numpy(), [0.0, 0.5, 6.0])
    y = trainer.tensor([-1.0, 2.0])
    trainer.nn.ELU(inplace=True)(y)
    np.testing.assert_allclose(y.numpy(), [np.expm1(-1.0), 2.0])


REPRS = ["ReLU6(inplace=True)", "ELU(alpha=0.5)", "CELU()", "SELU()", "Softplus(beta=2, threshold=10)",
         "Hardtanh(-2.0, 2.0)", "Threshold(0.1, 20)", "PReLU(4)", "GLU()", "Softmin(dim=1)", "Hardswish()",
         "ZeroPad2d(2)", "ConstantPad1d((1, 2), 3.5)", "ReflectionPad2d((1, 0, 2, 1))", "ReplicationPad1d(2)",
         "CosineSimilarity()", "PairwiseDistance()", "Unflatten(1, (2, 2))", "PixelShuffle(2)", "PixelUnshuffle(3)",
         "InstanceNorm1d(3)", "InstanceNorm2d(4, affine=True, track_running_stats=True)",
         "AdaptiveMaxPool2d((2, None))", "AdaptiveMaxPool1d(3)", "SmoothL1Loss(beta=0.5)", "HuberLoss()",
         "KLDivLoss(reduction='batchmean')", "MarginRankingLoss()", "CosineEmbeddingLoss()", "TripletMarginLoss()"]


def assert_repr_and_state_dict_keys_match_torch(expr):
    """``expr`` (a layer's constructor call) built from both libraries' nn prints and keys its state alike."""
    ours, theirs = eval(f"trainer.nn.{expr}"), eval(f"torch.nn.{expr}")
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())


@pytest.mark.parametrize("expr", REPRS)
def test_repr_and_state_dict_keys_match_torch(expr):
    assert_repr_and_state_dict_keys_match_torch(expr)


def test_torch_weights_load_into_prelu_and_instance_norm():
    theirs = torch.nn.Sequential(torch.nn.PReLU(3, init=0.3), torch.nn.InstanceNorm2d(3, affine=True,
                                                                                     track_running_stats=True))
    theirs(torch.randn(2, 3, 4, 4))
    ours = trainer.nn.Sequential(trainer.nn.PReLU(3), trainer.nn.InstanceNorm2d(3, affine=True,
                                                                                track_running_stats=True))
    ours.load_state_dict({k: trainer.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
    theirs.eval()
    ours.eval()
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 4)).astype(np.float32)
    np.testing.assert_allclose(ours(trainer.tensor(x)).detach().numpy(), theirs(torch.tensor(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-5)


F = trainer.nn.functional

BAD_INPUTS = [
    (lambda: F.pad(trainer.zeros(2, 3), (1, 2, 3)), RuntimeError, "divisible by 2"),
    (lambda: F.pad(trainer.zeros(2, 3), (3, 3), mode="reflect"), RuntimeError, "less than the corresponding"),
    (lambda: F.pad(trainer.zeros(2, 3), (1, 1), mode="wrap"), NotImplementedError, "padding mode"),
    (lambda: F.pad(trainer.zeros(1, 2, 3), (1, 1), mode="replicate", value=2.0), NotImplementedError, "value"),
    (lambda: F.glu(trainer.zeros(2, 3)), RuntimeError, "Halving dimension must be even"),
    (lambda: F.prelu(trainer.zeros(2, 3), trainer.zeros(2)), RuntimeError, "Mismatch of parameter numbers"),
    (lambda: F.pixel_shuffle(trainer.zeros(1, 3, 2, 2), 2), RuntimeError, "divisible by the square"),
    (lambda: F.pixel_unshuffle(trainer.zeros(1, 1, 3, 4), 2), RuntimeError, "height to be divisible"),
    (lambda: F.huber_loss(trainer.zeros(2), trainer.zeros(2), delta=0.0), RuntimeError, "delta"),
    (lambda: F.cross_entropy(trainer.zeros(2, 3), trainer.tensor([0, 1]), label_smoothing=1.5), RuntimeError,
     "label_smoothing must be between 0.0 and 1.0"),
    (lambda: F.kl_div(trainer.zeros(2), trainer.zeros(2), reduction="avg"), ValueError, "batchmean"),
    (lambda: F.binary_cross_entropy(trainer.zeros(2), trainer.zeros(2), trainer.ones(2, requires_grad=True)),
     RuntimeError, "not differentiable with respect to argument 'weight'"),
    (lambda: F.binary_cross_entropy_with_logits(trainer.zeros(2), trainer.zeros(2),
                                                pos_weight=trainer.ones(2, requires_grad=True)),
     RuntimeError, "not differentiable with respect to argument 'pos_weight'"),
    (lambda: F.triplet_margin_loss(trainer.zeros(2, 3), trainer.zeros(2, 3), trainer.zeros(3)), RuntimeError,
     "same number of dimensions"),
    (lambda: F.adaptive_max_pool2d(trainer.zeros(5), 2), RuntimeError, "Expected 3D or 4D"),
    (lambda: trainer.nn.InstanceNorm2d(3)(trainer.zeros(2, 3)), ValueError, "expected 3D or 4D input"),
    (lambda: trainer.nn.InstanceNorm1d(3, affine=True)(trainer.zeros(2, 4, 5)), ValueError, "num_features"),
    (lambda: trainer.nn.Unflatten(1, (2, 3))(trainer.zeros(2, 4)), RuntimeError, "don't multiply up"),
    (lambda: trainer.nn.Hardtanh(1.0, -1.0), ValueError, "min_val"),
]


@pytest.mark.parametrize("index", range(len(BAD_INPUTS)))
def test_bad_input_raises_a_clear_error(index):
    call, error, message = BAD_INPUTS[index]
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_pad_gradient_of_a_long_signal_matches_torch(mode):
    # 60,000 samples: a dense (padded x input) 0/1 matrix in backward would need about 29 GB
    x = np.random.default_rng(3).standard_normal((2, 1, 60_000))
    g = np.random.default_rng(4).standard_normal((2, 1, 60_000 + 512 + 300))
    grads = []
    for lib in (torch, trainer):
        t = lib.tensor(x, requires_grad=True)
        out = lib.nn.functional.pad(t, (512, 300), mode=mode)
        (grad,) = lib.autograd.grad(out, t, lib.tensor(g))
        grads.append(np.asarray(grad))
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-12, atol=1e-12)
