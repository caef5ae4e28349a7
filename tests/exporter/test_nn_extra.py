"""Exporting the extra activations, padding, pixel shuffles, instance norm and adaptive max pooling: each model
round-trips through ONNX Runtime and serving on the example and on other batch sizes."""

import pytest

import trainer
from exporter import MIN_OPSET, newest_opset
from tests.exporter.function_module import Fn
from trainer import nn
from trainer.nn import functional as F

BATCHES = ({0: 1}, {0: 3})


def _prelu_per_channel():
    layer = nn.PReLU(4)
    with trainer.no_grad():
        layer.weight.copy_(trainer.tensor([0.1, -0.2, 0.3, 0.5]))
    return layer


def _bilinear_of_flip():
    layer = nn.Bilinear(6, 6, 3)
    return Fn(lambda x: layer(x, x.flip(-1)))


MODELS = {
    "elu_selu_celu": lambda: Fn(lambda x: F.elu(x, 0.5) + F.selu(x) + F.celu(x, 1.5)),
    "softplus_softsign": lambda: Fn(lambda x: F.softplus(x * 4, beta=2, threshold=3) + F.softplus(x) + F.softsign(x)),
    "hard_activations": lambda: Fn(lambda x: F.relu6(x * 4) + F.hardtanh(x, -0.5, 0.5) + F.hardsigmoid(x * 4)
                                   + F.hardswish(x * 4)),
    "silu_mish_logsigmoid": lambda: Fn(lambda x: F.silu(x) + F.mish(x) + F.logsigmoid(x)),
    "threshold_glu_softmin": lambda: Fn(lambda x: F.threshold(x, 0.1, -2.0)[:, :2] + F.glu(x, 1)
                                        + F.softmin(x, 1)[:, 2:]),
    "prelu_shared": nn.PReLU,
    "prelu_per_channel": _prelu_per_channel,
    "pad_constant": lambda: Fn(lambda x: F.pad(x, (1, 2, 2, 0), value=1.5)),
    "pad_negative_crops": lambda: Fn(lambda x: F.pad(x, (-1, 1, 1, -2))),
    "pad_reflect_replicate": lambda: nn.Sequential(nn.ReflectionPad2d((1, 2, 2, 1)), nn.ReplicationPad2d(1)),
    "pad_1d_modules": lambda: Fn(lambda x: nn.ReflectionPad1d(2)(x.flatten(2))
                                 + nn.ConstantPad1d(2, 0.5)(x.flatten(2))),
    "pad_circular_negative": lambda: Fn(lambda x: F.pad(x, (2, -1, -1, 2), mode="circular")),
    "pad_reflect_negative": lambda: Fn(lambda x: F.pad(x, (4, -2, -1, 2), mode="reflect")),
    "pad_replicate_negative": lambda: Fn(lambda x: F.pad(x, (-3, 2, 2, -1), mode="replicate")),
    "pixel_shuffle_roundtrip": lambda: nn.Sequential(nn.PixelShuffle(2), nn.PixelUnshuffle(2)),
    "pixel_unshuffle": lambda: nn.PixelUnshuffle(2),
    "instance_norm_affine": lambda: nn.InstanceNorm2d(4, affine=True),
    "instance_norm_plain": lambda: nn.InstanceNorm2d(4),
    "adaptive_max_pool_divisible": lambda: nn.AdaptiveMaxPool2d((3, 2)),
    "adaptive_max_pool_global": lambda: nn.AdaptiveMaxPool2d(1),
    "adaptive_max_pool_uneven": lambda: nn.AdaptiveMaxPool2d((4, 5)),
    "adaptive_max_pool_indices": lambda: nn.AdaptiveMaxPool2d((2, 2), return_indices=True),
    "adaptive_max_pool_1d": lambda: Fn(lambda x: F.adaptive_max_pool1d(x.flatten(2), 5)),
    "normalize_cosine": lambda: Fn(lambda x: F.normalize(x, dim=1) + F.cosine_similarity(x, x.flip(1)).unsqueeze(1)),
    "unflatten": lambda: Fn(lambda x: nn.Unflatten(1, (2, 2))(x).sum(2)),
    "shrinks_softmax2d": lambda: Fn(lambda x: nn.Softshrink(0.3)(x) + nn.Hardshrink(0.5)(x) + nn.Tanhshrink()(x)
                                    + nn.Softmax2d()(x)),
    "rms_norm": lambda: nn.RMSNorm([6, 6]),
    "bilinear": lambda: _bilinear_of_flip(),
    "losses": lambda: Fn(lambda x: F.soft_margin_loss(x, x.sign(), reduction="none")
                         + F.hinge_embedding_loss(x, x.sign(), reduction="none")
                         + F.poisson_nll_loss(x, x.abs(), full=True, reduction="none")
                         + F.gaussian_nll_loss(x, x.flip(1), x.abs() + 0.1, reduction="none")
                         + F.multilabel_soft_margin_loss(x, (x > 0).float(), reduction="none")[..., None]),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_layer_exports_and_matches(name, runtime, roundtrip):
    trainer.manual_seed(0)
    roundtrip(MODELS[name](), trainer.randn(2, 4, 6, 6), runtime, dynamic=[0], variants=BATCHES)


OPSET_SENSITIVE = {
    "mish": (nn.Mish, "Mish", 18),
    "hardswish": (nn.Hardswish, "HardSwish", 14),
    "pad_circular": (lambda: Fn(lambda x: F.pad(x, (2, 1, 1, 3), mode="circular")), "Pad", 19),
}


@pytest.mark.parametrize("opset", sorted({MIN_OPSET, 18, 19, newest_opset()}))
@pytest.mark.parametrize("name", sorted(OPSET_SENSITIVE))
def test_lowerings_across_the_opset_range(name, opset, runtime, roundtrip):
    make, onnx_op, since = OPSET_SENSITIVE[name]
    trainer.manual_seed(0)
    proto, _ = roundtrip(make(), trainer.randn(2, 3, 5, 6), runtime, dynamic=[0], variants=BATCHES, opset=opset)
    assert (onnx_op in {n.op_type for n in proto.graph.node}) == (opset >= since)


@pytest.mark.parametrize("model, op", [(nn.InstanceNorm2d(4), "InstanceNormalization"),
                                       (nn.PixelShuffle(2), "DepthToSpace"), (nn.SELU(), "Selu"),
                                       (nn.ReplicationPad2d(1), "Pad"), (nn.AdaptiveMaxPool2d(1), "GlobalMaxPool")])
def test_layers_lower_to_the_standard_onnx_op(model, op, roundtrip):
    proto, _ = roundtrip(model, trainer.randn(1, 4, 4, 4), "onnxruntime", dynamic=[0])
    assert op in {n.op_type for n in proto.graph.node}


def test_uneven_adaptive_max_pool_indices_are_refused_clearly(tmp_path):
    from exporter import export
    from exporter.errors import UnsupportedOpError

    with pytest.raises(UnsupportedOpError, match="return_indices exports only when"):
        export(nn.AdaptiveMaxPool2d((4, 5), return_indices=True).eval(), trainer.randn(1, 2, 6, 6),
               tmp_path / "m.onnx")
