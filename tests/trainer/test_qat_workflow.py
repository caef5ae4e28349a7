"""PyTorch's eager-mode quantization-aware-training workflow on trainer, against PyTorch itself: the tutorial's
model (QuantStub, conv + bn + relu, linear, DeQuantStub) built with the same weights, fused with
``fuse_modules_qat``, prepared with ``prepare_qat`` and trained a few SGD steps (observers disabled and batch norm
frozen midway, as the tutorial does) gives the same losses, outputs, module structure and state_dict; the other
fusions, the eval-mode fusion, the fixed-grid activations and the errors match too.

Both sides ask for ``version=0`` here, the separate observers in ``FakeQuantize``; test_fused_fake_quant.py runs the
tutorial with the default ``version=1`` (the fused ``FusedMovingAvgObsFakeQuantize``)."""

import re
import warnings

import numpy as np
import pytest
import torch

import trainer
from tests.trainer.test_ops_parity import assert_raises_like_torch


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch's deprecation and reduce_range warnings
        yield


def _tutorial_model(lib):
    nn = lib.nn

    class TutorialModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.quant = lib.ao.quantization.QuantStub()
            self.conv = nn.Conv2d(2, 4, 3, padding=1)
            self.bn = nn.BatchNorm2d(4)
            self.relu = nn.ReLU()
            self.fc = nn.Linear(4 * 5 * 5, 3)
            self.dequant = lib.ao.quantization.DeQuantStub()

        def forward(self, x):
            x = self.relu(self.bn(self.conv(self.quant(x))))
            return self.dequant(self.fc(x.flatten(1)))

    return TutorialModel()


def _other_fusions_model(lib):
    """Conv+ReLU, BN+ReLU, Linear+BN, Linear+ReLU and a Tanh (fixed-grid fake quantization) in a Sequential."""
    nn = lib.nn
    return nn.Sequential(lib.ao.quantization.QuantStub(), nn.Conv2d(2, 3, 3), nn.ReLU(), nn.BatchNorm2d(3),
                         nn.ReLU(), nn.Flatten(), nn.Linear(27, 8), nn.BatchNorm1d(8), nn.Linear(8, 4), nn.ReLU(),
                         nn.Tanh(), lib.ao.quantization.DeQuantStub())


def _same_weights(torch_model, trainer_model):
    trainer_model.load_state_dict({k: trainer.tensor(v.detach().numpy()) for k, v in torch_model.state_dict().items()})


def _state(model) -> dict:
    return {k: np.asarray(v.detach().numpy()) for k, v in model.state_dict().items()}


def _structure(model) -> list:
    """``(name): ClassName`` of every line of ``print(model)``."""
    return re.findall(r"\((\w+)\): (\w+)\(", str(model))


def _train_both(make_model, fuse, steps, input_shape, midway=None):
    """Build, fuse, prepare and train the model in both libraries on the same data; the prepared models and the
    losses and outputs of each step."""
    torch.manual_seed(0)
    torch_model = make_model(torch)
    trainer_model = make_model(trainer)
    _same_weights(torch_model, trainer_model)
    results = {}
    for lib, model in ((torch, torch_model), (trainer, trainer_model)):
        q = lib.ao.quantization
        model.train()
        model.qconfig = q.get_default_qat_qconfig("x86", 0)
        prepared = q.prepare_qat(q.fuse_modules_qat(model, fuse).train())
        optimizer = lib.optim.SGD(prepared.parameters(), lr=0.1)
        rng = np.random.default_rng(1)
        losses, outputs = [], []
        for step in range(steps):
            x = lib.tensor(rng.standard_normal(input_shape).astype(np.float32))
            out = prepared(x)
            loss = (out - lib.tensor(rng.standard_normal(tuple(out.shape)).astype(np.float32))).square().mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(float(loss))
            outputs.append(out.detach().numpy())
            if midway is not None and step == steps // 2 - 1:
                midway(lib, prepared)
        results[lib.__name__] = prepared, losses, outputs
    return results["torch"], results["trainer"]


def _assert_same_training(expected, got):
    (torch_model, torch_losses, torch_outputs), (trainer_model, losses, outputs) = expected, got
    np.testing.assert_allclose(losses, torch_losses, rtol=1e-5)
    for out, torch_out in zip(outputs, torch_outputs, strict=True):
        np.testing.assert_allclose(out, torch_out, rtol=1e-5, atol=1e-5)
    assert _structure(trainer_model) == _structure(torch_model)
    state, torch_state = _state(trainer_model), _state(torch_model)
    assert list(state) == list(torch_state)
    for key, value in torch_state.items():
        np.testing.assert_allclose(state[key].astype(np.float64), value.astype(np.float64), rtol=1e-5, atol=1e-5,
                                   err_msg=key)


def _freeze_midway(lib, model):
    model.apply(lib.ao.quantization.disable_observer)
    model.apply(lib.ao.nn.intrinsic.qat.freeze_bn_stats)


def test_tutorial_workflow_matches_torch():
    expected, got = _train_both(_tutorial_model, [["conv", "bn", "relu"]], 6, (6, 2, 5, 5), _freeze_midway)
    _assert_same_training(expected, got)
    model = got[0]
    assert type(model.conv) is trainer.ao.nn.intrinsic.qat.ConvBnReLU2d
    assert type(model.fc) is trainer.ao.nn.qat.Linear and type(model.bn) is trainer.nn.Identity
    assert model.conv.freeze_bn and not model.conv.bn.training
    assert int(model.fc.activation_post_process.observer_enabled[0]) == 0
    model.train()  # a frozen batch norm stays in eval mode
    assert not model.conv.bn.training and model.conv.training
    model.apply(trainer.nn.intrinsic.qat.update_bn_stats)
    assert model.conv.bn.training and not model.conv.freeze_bn


def test_other_fusions_and_fixed_grid_activation_match_torch():
    fuse = [["1", "2"], ["3", "4"], ["6", "7"], ["8", "9"]]
    expected, got = _train_both(_other_fusions_model, fuse, 4, (5, 2, 5, 5))
    _assert_same_training(expected, got)
    kinds = [type(m).__name__ for m in got[0]]
    assert kinds[1:5] == ["ConvReLU2d", "Identity", "BNReLU2d", "Identity"]
    assert kinds[6:10] == ["LinearBn1d", "Identity", "LinearReLU", "Identity"]
    fixed = got[0][10].activation_post_process
    assert type(fixed) is trainer.ao.quantization.FixedQParamsFakeQuantize
    assert float(fixed.scale) == 2.0 / 256.0 and int(fixed.zero_point) == 128


def test_eval_fusion_folds_batch_norm_like_torch():
    torch.manual_seed(0)
    torch_model, trainer_model = _tutorial_model(torch), _tutorial_model(trainer)
    torch_model.bn.running_mean.uniform_(-1, 1)
    torch_model.bn.running_var.uniform_(0.5, 2)
    _same_weights(torch_model, trainer_model)
    x = np.random.default_rng(2).standard_normal((3, 2, 5, 5)).astype(np.float32)
    outs = []
    for lib, model in ((torch, torch_model), (trainer, trainer_model)):
        fused = lib.ao.quantization.fuse_modules(model.eval(), ["conv", "bn", "relu"])
        assert type(fused.conv).__name__ == "ConvReLU2d" and type(fused.conv[0]) is lib.nn.Conv2d
        outs.append((fused(lib.tensor(x)).detach().numpy(), model(lib.tensor(x)).detach().numpy()))
    np.testing.assert_allclose(outs[1][0], outs[0][0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(outs[1][0], outs[1][1], rtol=1e-5, atol=1e-6)  # the same function as unfused


def test_to_float_folds_the_trained_batch_norm_like_torch():
    expected, got = _train_both(_tutorial_model, [["conv", "bn", "relu"]], 2, (4, 2, 5, 5))
    torch_float, trainer_float = expected[0].conv.to_float(), got[0].conv.to_float()
    assert type(trainer_float) is trainer.ao.nn.intrinsic.ConvReLU2d
    for key, value in torch_float.state_dict().items():
        np.testing.assert_allclose(trainer_float.state_dict()[key].numpy(), value.numpy(), rtol=1e-5, atol=1e-6)
    linear = got[0].fc.to_float()
    assert type(linear) is trainer.nn.Linear and linear.weight is not got[0].fc.weight
    np.testing.assert_array_equal(linear.weight.detach().numpy(), got[0].fc.weight.detach().numpy())


def test_quant_wrapper_and_memoryless_activation_observe_the_input():
    for lib in (torch, trainer):
        q = lib.ao.quantization
        layer = lib.nn.Linear(3, 2)
        layer.qconfig = q.QConfig(activation=q.FakeQuantize.with_args(
            observer=q.MovingAverageMinMaxObserver.with_args(averaging_constant=1)), weight=q.default_weight_fake_quant)
        wrapped = q.prepare_qat(q.QuantWrapper(layer))
        assert [type(m).__name__ for m in wrapped.children()] == ["QuantStub", "DeQuantStub", "Linear"]
        assert len(wrapped.module._forward_pre_hooks) == 1 and not wrapped.module._forward_hooks


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda lib: lib.ao.quantization.prepare_qat(lib.nn.Linear(2, 2).eval()), AssertionError,
     "only works on models in training mode"),
    (lambda lib: lib.ao.quantization.fuse_modules_qat(lib.nn.Sequential(lib.nn.Linear(2, 2), lib.nn.Tanh()),
                                                      ["0", "1"]), AssertionError, "did not find fuser method for"),
    (lambda lib: lib.ao.quantization.fuse_modules_qat(
        lib.nn.Sequential(lib.nn.Conv2d(2, 2, 1), lib.nn.BatchNorm2d(2).eval()), ["0", "1"]), AssertionError,
     "same mode"),
    (lambda lib: lib.ao.quantization.fuse_modules_qat(
        lib.nn.Sequential(lib.nn.Conv2d(2, 2, 1), lib.nn.BatchNorm2d(2, affine=False)), ["0", "1"]), AssertionError,
     "affine set to True"),
    (lambda lib: lib.ao.nn.qat.Linear(2, 2), AssertionError, "qconfig must be provided"),
    (lambda lib: lib.ao.nn.intrinsic.ConvReLU2d(lib.nn.Conv1d(1, 1, 1), lib.nn.ReLU()), AssertionError,
     "Incorrect types for input modules: Conv1d and ReLU"),
    (lambda lib: lib.ao.nn.qat.Conv2d.from_float(lib.nn.Conv2d(1, 1, 1)), AssertionError,
     "must have qconfig defined"),
])
def test_bad_arguments_raise_like_torch(call, error, message):
    assert_raises_like_torch(call, error, message)
