"""Model code people copy into their projects (torchvision's classification models, lucidrains' ViT, milesial's
U-Net, the DQN tutorial) run with ``import trainer as torch`` and with torch itself (the loader is program_port.py).

Each model is built in both libraries at a small width, trainer's copy gets torch's state_dict, and the two must
agree on: float32 eval-mode outputs, then (in float64) train-mode outputs and loss, the gradient of every parameter,
and every parameter and buffer (BatchNorm running statistics included) after one SGD-with-momentum step. Dropout and
stochastic depth draw from each library's own generator, so the train-mode comparison sets their probabilities to 0.

Why float64 for the training step: train-mode BatchNorm over a batch of 2 is ill-conditioned, and float32 gradients
of the first layers differ by ~1e-3 between any two implementations (torch's own float32 gradient of ResNet's conv1
is 2e-2 away from its float64 one); in float64 trainer and torch agree to ~1e-10, so a wrong formula cannot hide.
"""

import random

import numpy as np
import pytest
import torch

import trainer
from tests.trainer.examples.program_port import as_numpy, copy_weights, pair, without_dropout

NUM_CLASSES = 10


def assert_tensor_close(ours, theirs, where, rtol=1e-4, atol=1e-4):
    """Float32 values through a deep network: the tolerance scales with the tensor's largest entry, so that tiny
    gradients of a layer are compared at that layer's own scale."""
    theirs, ours = as_numpy(theirs), as_numpy(ours)
    assert ours.shape == theirs.shape, f"{where}: shape {ours.shape} != {theirs.shape}"
    scale = float(np.abs(theirs).max()) if theirs.size and theirs.dtype.kind == "f" else 1.0
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol * max(scale, 1e-3), err_msg=where)


def without_stochastic_depth(model):
    """torchvision's StochasticDepth draws a per-row Bernoulli mask; p = 0 makes a train step deterministic."""
    for module in model.modules():
        if type(module).__name__ == "StochasticDepth":
            module.p = 0.0
    return model


def classification_loss(lib, output, target):
    return lib.nn.functional.cross_entropy(output, target)


def check_model(name, build, input_shape, prepare=None, target_shape=None, train_dtype=np.float64, rtol=1e-4,
                atol=1e-4):
    """Builds ``build(program)`` in both libraries and compares eval, train, gradients and one SGD step."""
    pt, tr = pair(name)
    model_pt = build(pt)
    model_tr = build(tr)
    if prepare is not None:
        prepare(model_pt)
    copy_weights(model_pt, model_tr)
    rng = np.random.default_rng(0)
    x = rng.standard_normal(input_shape).astype(np.float32)
    target = rng.integers(0, NUM_CLASSES if target_shape is None else 2, target_shape or input_shape[:1])

    model_pt.eval()
    model_tr.eval()
    with torch.no_grad():
        eval_pt = model_pt(torch.from_numpy(x))
    with trainer.no_grad():
        eval_tr = model_tr(trainer.from_numpy(x))
    assert_tensor_close(eval_tr, eval_pt, "eval output", rtol, atol)

    if train_dtype == np.float64:
        model_pt.double()
        model_tr.double()
        x = x.astype(np.float64)
        rtol, atol = 1e-7, 1e-7

    for model in (model_pt, model_tr):
        without_stochastic_depth(without_dropout(model)).train()
    sgd_pt = torch.optim.SGD(model_pt.parameters(), lr=0.1, momentum=0.9)
    sgd_tr = trainer.optim.SGD(model_tr.parameters(), lr=0.1, momentum=0.9)
    out_pt = model_pt(torch.from_numpy(x))
    out_tr = model_tr(trainer.from_numpy(x))
    assert_tensor_close(out_tr, out_pt, "train output", rtol, atol)
    loss_pt = classification_loss(torch, out_pt, torch.from_numpy(target))
    loss_tr = classification_loss(trainer, out_tr, trainer.from_numpy(target))
    assert_tensor_close(loss_tr, loss_pt, "loss", rtol, atol)
    loss_pt.backward()
    loss_tr.backward()
    grads_tr = {key: p.grad for key, p in model_tr.named_parameters()}
    for key, p in model_pt.named_parameters():
        assert grads_tr[key] is not None, f"{key}: no gradient"
        assert_tensor_close(grads_tr[key], p.grad, f"gradient of {key}", rtol, atol)
    sgd_pt.step()
    sgd_tr.step()
    state_tr = model_tr.state_dict()
    state_pt = model_pt.state_dict()
    assert list(state_tr) == list(state_pt)
    for key, value in state_pt.items():
        assert_tensor_close(state_tr[key], value, f"{key} after one SGD step", rtol, atol)
    return model_pt, model_tr


IMAGE = (2, 3, 64, 64)  # a 32x downsampling CNN ends on 2x2: its last BatchNorm then sees 8 values, not a degenerate 2
SMALL_IMAGE = (2, 3, 32, 32)


def test_resnet_basic_block():
    check_model("tv_resnet", lambda lib: lib.ResNet(lib.BasicBlock, [1, 1, 1, 1], num_classes=NUM_CLASSES), IMAGE)


def test_resnext_bottleneck_grouped():
    check_model("tv_resnet", lambda lib: lib.ResNet(lib.Bottleneck, [1, 1, 1, 1], num_classes=NUM_CLASSES,
                                                    groups=4, width_per_group=16), IMAGE)


def test_mobilenet_v2():
    check_model("tv_mobilenetv2", lambda lib: lib.MobileNetV2(num_classes=NUM_CLASSES, width_mult=0.25), IMAGE)


def test_mobilenet_v3_small():
    check_model("tv_mobilenetv3", lambda lib: lib.mobilenet_v3_small(num_classes=NUM_CLASSES, width_mult=0.25), IMAGE)


def test_efficientnet():
    check_model("tv_efficientnet", lambda lib: lib._efficientnet("efficientnet_b0", 0.25, 0.5, 0.2,
                                                                 num_classes=NUM_CLASSES), IMAGE)


def test_regnet_y():
    def build(lib):
        params = lib.BlockParams.from_init_params(depth=4, w_0=8, w_a=8.0, w_m=2.0, group_width=8, se_ratio=0.25)
        return lib._regnet(params, stem_width=8, num_classes=NUM_CLASSES)

    model_pt, model_tr = check_model("tv_regnet", build, IMAGE)
    assert [type(m).__name__ for m in model_tr.trunk_output] == ["AnyStage"] * 3


def test_convnext():
    def build(lib):
        setting = [lib.CNBlockConfig(8, 16, 1), lib.CNBlockConfig(16, 32, 1), lib.CNBlockConfig(32, None, 1)]
        return lib.ConvNeXt(setting, stochastic_depth_prob=0.1, layer_scale=0.5, num_classes=NUM_CLASSES)

    check_model("tv_convnext", build, IMAGE)


def _random_head(model):
    """torchvision zero-initialises the ViT head, which would make every other gradient zero."""
    torch.nn.init.normal_(model.heads.head.weight, std=0.5)


def test_vision_transformer():
    check_model("tv_vision_transformer", lambda lib: lib.VisionTransformer(
        image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=16, mlp_dim=32, num_classes=NUM_CLASSES),
        SMALL_IMAGE, prepare=_random_head)


def test_swin_transformer():
    check_model("tv_swin_transformer", lambda lib: lib.SwinTransformer(
        patch_size=[4, 4], embed_dim=8, depths=[2, 2], num_heads=[2, 2], window_size=[4, 4],
        num_classes=NUM_CLASSES), SMALL_IMAGE)


def test_swin_transformer_v2():
    check_model("tv_swin_transformer", lambda lib: lib.SwinTransformer(
        patch_size=[4, 4], embed_dim=8, depths=[2, 2], num_heads=[2, 2], window_size=[4, 4],
        num_classes=NUM_CLASSES, block=lib.SwinTransformerBlockV2, downsample_layer=lib.PatchMergingV2), SMALL_IMAGE)


def test_vgg11_bn():
    # VGG's classifier is 120M parameters at any input size: its step is compared in float32, at float32's tolerance
    check_model("tv_classic_cnns", lambda lib: lib.VGG(lib.make_layers(lib.cfgs["A"], batch_norm=True),
                                                       num_classes=NUM_CLASSES), SMALL_IMAGE,
                train_dtype=np.float32, rtol=1e-3, atol=1e-3)


def test_densenet_memory_efficient():
    check_model("tv_classic_cnns", lambda lib: lib.DenseNet(
        growth_rate=8, block_config=(2, 2, 2, 2), num_init_features=16, bn_size=2, num_classes=NUM_CLASSES,
        memory_efficient=True), IMAGE)


def test_squeezenet():
    check_model("tv_classic_cnns", lambda lib: lib.SqueezeNet("1_1", num_classes=NUM_CLASSES), IMAGE)


def test_shufflenet_v2():
    check_model("tv_classic_cnns", lambda lib: lib.ShuffleNetV2([2, 2, 2], [8, 16, 32, 64, 128],
                                                                num_classes=NUM_CLASSES), IMAGE)


def test_mnasnet():
    check_model("tv_classic_cnns", lambda lib: lib.MNASNet(0.25, num_classes=NUM_CLASSES), IMAGE)


def test_googlenet():
    # its class body runs @torch.jit.unused and forward torch.jit.is_scripting(); without the auxiliary heads a
    # training step returns the logits alone, as the other models' do
    check_model("tv_googlenet", lambda lib: lib.GoogLeNet(num_classes=NUM_CLASSES, aux_logits=False,
                                                          init_weights=True), IMAGE)


def test_lucidrains_vit():
    check_model("vit_pytorch", lambda lib: lib.ViT(image_size=32, patch_size=8, num_classes=NUM_CLASSES, dim=16,
                                                   depth=2, heads=2, mlp_dim=32, dim_head=8), SMALL_IMAGE)


@pytest.mark.parametrize("bilinear", [True, False])
def test_unet(bilinear):
    check_model("pytorch_unet", lambda lib: lib.UNet(3, 2, bilinear=bilinear), (2, 3, 32, 32),
                target_shape=(2, 32, 32))


def test_dqn_tutorial():
    pt, tr = pair("reinforcement_q_learning")
    copy_weights(pt.policy_net, tr.policy_net)
    for program in (pt, tr):
        program.target_net.load_state_dict(program.policy_net.state_dict())
        random.seed(0)
        program.train(num_episodes=12)
    assert tr.episode_durations == pt.episode_durations
    assert len(pt.losses) > 10
    np.testing.assert_allclose(tr.losses, pt.losses, rtol=1e-4, atol=1e-6)
    for net in ("policy_net", "target_net"):
        ours, theirs = getattr(tr, net).state_dict(), getattr(pt, net).state_dict()
        for key, value in theirs.items():
            assert_tensor_close(ours[key], value, f"{net}.{key}")
