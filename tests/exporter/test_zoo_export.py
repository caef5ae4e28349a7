"""The model zoo that people port from PyTorch (torchvision's classification models, lucidrains' ViT, milesial's
U-Net; the programs of tests/trainer/examples) makes the deploy trip: each model, built on trainer at a small width,
exports with a dynamic batch axis at the default opset, passes onnx's full check, and runs in ONNX Runtime and in
serving at batch sizes 1 and 3 (it was traced at 2) with trainer's eval outputs. The same torch model exported by
``torch.onnx.export`` is the referee: both files, run in ONNX Runtime on the same input, must agree.

Weights are not left at the programs' initialisations: several zero their heads (ViT) or give tiny outputs (1e-8 for
MobileNetV2), against which any graph would match. Every weight is drawn at He scale and BatchNorm's running
statistics are those of a real batch, so that outputs are of order 1 to 100 and depend on the input, and a graph
that skipped a layer or the running statistics would be far off.
"""

from __future__ import annotations

import functools
import io
import math
import warnings

import numpy as np
import onnx
import onnxruntime
import pytest
import torch

import trainer
from exporter import export
from exporter.verify import expected_outputs, max_abs_diff, run_exported
from tests.exporter.conftest import ATOL, assert_clean
from tests.trainer.examples.program_port import load

NUM_CLASSES = 10
IMAGE = (2, 3, 32, 32)
SMALLEST_UNET_IMAGE = (2, 3, 16, 16)  # four 2x downsamplings to 1x1: a quarter of 32x32's work
RUN_BATCHES = (1, 3)


def _small_vgg(lib):
    """VGG's classifier is 120M parameters whatever the features: VGG-11-BN's layer pattern at width 8-32, with the
    classifier's own layers (Linear, ReLU, Dropout, ...) narrowed to 64 units."""
    model = lib.VGG(lib.make_layers([8, "M", 16, "M", 32, 32, "M", 32, 32, "M", 32, 32, "M"], batch_norm=True),
                    num_classes=NUM_CLASSES, init_weights=False)
    nn = lib.nn
    model.classifier = nn.Sequential(nn.Linear(32 * 7 * 7, 64), nn.ReLU(True), nn.Dropout(0.5), nn.Linear(64, 64),
                                     nn.ReLU(True), nn.Dropout(0.5), nn.Linear(64, NUM_CLASSES))
    return model


def _regnet_y(lib):
    params = lib.BlockParams.from_init_params(depth=4, w_0=8, w_a=8.0, w_m=2.0, group_width=8, se_ratio=0.25)
    return lib._regnet(params, stem_width=8, num_classes=NUM_CLASSES)


def _convnext(lib):
    setting = [lib.CNBlockConfig(8, 16, 1), lib.CNBlockConfig(16, 32, 1), lib.CNBlockConfig(32, None, 1)]
    return lib.ConvNeXt(setting, stochastic_depth_prob=0.1, layer_scale=0.5, num_classes=NUM_CLASSES)


def _swin(lib, **version):
    return lib.SwinTransformer(patch_size=[4, 4], embed_dim=8, depths=[2, 2], num_heads=[2, 2], window_size=[4, 4],
                               num_classes=NUM_CLASSES, **version)


# name -> (program in tests/trainer/examples/programs, build(program module) -> model[, input shape]); sizes as
# test_model_zoo.py's
ZOO = {
    "resnet_basic_block": ("tv_resnet", lambda lib: lib.ResNet(lib.BasicBlock, [1, 1, 1, 1], num_classes=NUM_CLASSES)),
    "resnext_bottleneck": ("tv_resnet", lambda lib: lib.ResNet(lib.Bottleneck, [1, 1, 1, 1], num_classes=NUM_CLASSES,
                                                               groups=4, width_per_group=16)),
    "mobilenet_v2": ("tv_mobilenetv2", lambda lib: lib.MobileNetV2(num_classes=NUM_CLASSES, width_mult=0.25)),
    "mobilenet_v3_small": ("tv_mobilenetv3", lambda lib: lib.mobilenet_v3_small(num_classes=NUM_CLASSES,
                                                                                width_mult=0.25)),
    "efficientnet_b0": ("tv_efficientnet", lambda lib: lib._efficientnet("efficientnet_b0", 0.25, 0.5, 0.2,
                                                                         num_classes=NUM_CLASSES)),
    "regnet_y": ("tv_regnet", _regnet_y),
    "convnext": ("tv_convnext", _convnext),
    "vision_transformer": ("tv_vision_transformer", lambda lib: lib.VisionTransformer(
        image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=16, mlp_dim=32, num_classes=NUM_CLASSES)),
    "swin_transformer": ("tv_swin_transformer", _swin),
    "swin_transformer_v2": ("tv_swin_transformer", lambda lib: _swin(
        lib, block=lib.SwinTransformerBlockV2, downsample_layer=lib.PatchMergingV2)),
    "vgg11_bn_narrow": ("tv_classic_cnns", _small_vgg),
    "densenet_memory_efficient": ("tv_classic_cnns", lambda lib: lib.DenseNet(
        growth_rate=8, block_config=(2, 2, 2, 2), num_init_features=16, bn_size=2, num_classes=NUM_CLASSES,
        memory_efficient=True)),
    "squeezenet1_1": ("tv_classic_cnns", lambda lib: lib.SqueezeNet("1_1", num_classes=NUM_CLASSES)),
    "shufflenet_v2": ("tv_classic_cnns", lambda lib: lib.ShuffleNetV2([2, 2, 2], [8, 16, 32, 64, 128],
                                                                      num_classes=NUM_CLASSES)),
    "mnasnet": ("tv_classic_cnns", lambda lib: lib.MNASNet(0.25, num_classes=NUM_CLASSES)),
    "googlenet": ("tv_googlenet", lambda lib: lib.GoogLeNet(num_classes=NUM_CLASSES, aux_logits=False,
                                                            init_weights=True)),
    "lucidrains_vit": ("vit_pytorch", lambda lib: lib.ViT(image_size=32, patch_size=8, num_classes=NUM_CLASSES, dim=16,
                                                          depth=2, heads=2, mlp_dim=32, dim_head=8)),
    "unet_bilinear": ("pytorch_unet", lambda lib: lib.UNet(3, 2, bilinear=True), SMALLEST_UNET_IMAGE),
    "unet_transposed_conv": ("pytorch_unet", lambda lib: lib.UNet(3, 2, bilinear=False), SMALLEST_UNET_IMAGE),
}


@functools.cache
def _program(name: str, lib: str):
    return load(name, lib)


def _entry(name: str):
    """(program, build, input shape) of a zoo model."""
    program, build, *shape = ZOO[name]
    return program, build, shape[0] if shape else IMAGE


def _with_informative_weights(model, shape):
    """He-scaled random weights, other parameters (biases, norms' affine terms, tokens, layer scales) moved off their
    constant initial values, and BatchNorm running statistics measured on one random batch."""
    with trainer.no_grad():
        for key, parameter in model.named_parameters():
            if parameter.dim() >= 2 and key.endswith("weight"):
                fan_in = parameter.numel() // parameter.shape[0]
                parameter.copy_(trainer.randn(*parameter.shape) * math.sqrt(2.0 / fan_in))
            else:
                parameter.add_(trainer.randn(*parameter.shape) * 0.1)
        batch_norms = [m for m in model.modules() if isinstance(m, trainer.nn.modules.batchnorm._BatchNorm)]
        for module in batch_norms:
            module.reset_running_stats()
            module.momentum = None  # a cumulative average: after one batch, exactly that batch's statistics
        model.train()
        model(trainer.randn(8, *shape[1:]))
    return model.eval()


def _assert_close(expected: np.ndarray, got: np.ndarray, where: str) -> None:
    """Within ATOL of float32 rounding at the output's own scale (outputs here reach ~100: EfficientNet's)."""
    assert got.shape == expected.shape, f"{where}: shape {got.shape}, expected {expected.shape}"
    tolerance = ATOL * max(1.0, float(np.abs(expected).max()))
    diff = max_abs_diff(expected, got)
    assert diff <= tolerance, f"{where}: max abs difference {diff:.3g} > {tolerance:.3g}"


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """``exported(name)`` -> (trainer model, path of its ONNX file, {batch size: input}), made once per model."""
    made = {}

    def get(name: str):
        if name not in made:
            program, build, shape = _entry(name)
            trainer.manual_seed(0)
            model = _with_informative_weights(build(_program(program, "trainer")), shape)
            path = tmp_path_factory.mktemp(name) / "model.onnx"
            proto = export(model, trainer.randn(*shape), path, dynamic_axes={"input": {0: "batch"}})
            onnx.checker.check_model(proto, full_check=True)
            assert_clean(proto)
            assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
            inputs = {batch: trainer.randn(batch, *shape[1:]) for batch in RUN_BATCHES}
            made[name] = model, path, inputs
        return made[name]

    return get


@pytest.mark.parametrize("name", sorted(ZOO))
def test_zoo_model_exports_and_runs_at_other_batch_sizes(name, runtime, exported):
    model, path, inputs = exported(name)
    for batch, x in inputs.items():
        expected = expected_outputs(model, x)
        got = run_exported(runtime, path, {"input": x.numpy()})
        assert len(got) == len(expected) == 1
        _assert_close(expected[0], got[0], f"{name} in {runtime} at batch {batch}")


# torch.onnx.export refuses AdaptiveAvgPool2d((7, 7)) on VGG's 1x1 feature map (an output size that does not divide
# the input's); the exporter lowers it, and its file still meets torch's eager output before the xfail
TORCH_CANNOT_EXPORT = {"vgg11_bn_narrow": torch.onnx.errors.SymbolicValueError}


@pytest.mark.parametrize("name", [
    pytest.param(name, marks=pytest.mark.xfail(raises=TORCH_CANNOT_EXPORT[name], strict=True,
                                               reason="torch.onnx.export: adaptive_avg_pool2d, output size that is "
                                                      "not a factor of the input size"))
    if name in TORCH_CANNOT_EXPORT else name for name in sorted(ZOO)])
def test_zoo_model_agrees_with_torch_onnx_export(name, exported):
    """The same torch model and weights: our file in ONNX Runtime gives torch's eager output, and the file of
    PyTorch's own exporter, in ONNX Runtime too, gives ours."""
    model, path, inputs = exported(name)
    program, build, shape = _entry(name)
    torch_model = build(_program(program, "torch")).eval()
    torch_model.load_state_dict({key: torch.from_numpy(value.numpy(force=True).copy())
                                 for key, value in model.state_dict().items()})
    x = inputs[3].numpy()
    ours = run_exported("onnxruntime", path, {"input": x})[0]
    with torch.no_grad():
        eager = torch_model(torch.from_numpy(x)).numpy()
    _assert_close(eager, ours, f"{name}: ours in ONNX Runtime against torch's eager output")
    buffer = io.BytesIO()
    with warnings.catch_warnings():  # the TorchScript exporter's deprecation and tracer warnings
        warnings.simplefilter("ignore")
        torch.onnx.export(torch_model, (torch.randn(*shape),), buffer, dynamo=False, input_names=["input"],
                          dynamic_axes={"input": {0: "batch"}})
    torch_session = onnxruntime.InferenceSession(buffer.getvalue(), providers=["CPUExecutionProvider"])
    theirs = torch_session.run(None, {"input": x})[0]
    _assert_close(theirs, ours, f"{name}: ours against torch.onnx.export's, both in ONNX Runtime")
