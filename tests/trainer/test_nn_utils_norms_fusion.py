"""The rest of ``torch.nn.utils`` against PyTorch: the legacy ``weight_norm``/``spectral_norm`` hooks (state-dict
keys, values, SGD steps), conv/linear + batch-norm fusion, ``functional_call`` and ``skip_init``; and a model using
weight and spectral norm exported to ONNX and run by ONNX Runtime."""

import warnings

import numpy as np
import onnxruntime
import pytest
import torch

import trainer
from exporter import export
from tests.trainer.test_ops_parity import assert_raises_like_torch
from tests.trainer.test_parametrize import assert_close, assert_same_state, inputs, pair, run_sgd_and_compare

LIBS = {torch: torch.nn.utils, trainer: trainer.nn.utils}


def quietly(fn, *args, **kwargs):
    """Call a deprecated API (both libraries warn with FutureWarning)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return fn(*args, **kwargs)


# ----------------------------------------------------------------------------------------- legacy hooks
@pytest.mark.parametrize("dim", [0, 1, None])
def test_legacy_weight_norm_keys_values_and_training(dim):
    theirs, ours = pair(lambda lib: lib.nn.Linear(4, 3))
    quietly(torch.nn.utils.weight_norm, theirs, dim=dim)
    with pytest.warns(FutureWarning, match="parametrizations.weight_norm"):
        trainer.nn.utils.weight_norm(ours, dim=dim)
    assert list(ours.state_dict()) == ["bias", "weight_g", "weight_v"]
    assert_same_state(ours, theirs)
    assert_close(ours.weight, theirs.weight)
    run_sgd_and_compare(theirs, ours, (2, 4))
    torch.nn.utils.remove_weight_norm(theirs)
    trainer.nn.utils.remove_weight_norm(ours)
    assert list(ours.state_dict()) == ["bias", "weight"]
    assert_same_state(ours, theirs)


def test_legacy_weight_norm_errors():
    def twice(lib):
        module = quietly(LIBS[lib].weight_norm, lib.nn.Linear(2, 2))
        quietly(LIBS[lib].weight_norm, module)

    assert_raises_like_torch(twice, RuntimeError, "Cannot register two weight_norm hooks on the same parameter weight")
    assert_raises_like_torch(lambda lib: LIBS[lib].remove_weight_norm(lib.nn.Linear(2, 2)), ValueError,
                             "weight_norm of 'weight' not found")


@pytest.mark.parametrize("layer", ["linear", "conv_transpose"])
def test_legacy_spectral_norm_keys_power_iteration_and_removal(layer):
    factory, input_shape = {"linear": (lambda lib: lib.nn.Linear(5, 4), (2, 5)),
                            "conv_transpose": (lambda lib: lib.nn.ConvTranspose1d(2, 3, 3), (1, 2, 6))}[layer]
    theirs, ours = pair(factory)
    torch.nn.utils.spectral_norm(theirs, n_power_iterations=2)
    trainer.nn.utils.spectral_norm(ours, n_power_iterations=2)
    assert list(ours.state_dict()) == list(theirs.state_dict())  # bias, weight_orig, weight_u, weight_v
    copy_state_from(theirs, ours)
    run_sgd_and_compare(theirs, ours, input_shape)  # the hook steps u and v on each training forward
    theirs.eval()
    ours.eval()
    tx, ox = inputs(*input_shape)
    assert_close(ours(ox), theirs(tx), "eval output")
    assert_same_state(ours, theirs, tol=1e-9)
    torch.nn.utils.remove_spectral_norm(theirs)
    trainer.nn.utils.remove_spectral_norm(ours)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert_same_state(ours, theirs, tol=1e-9)


def copy_state_from(theirs, ours):
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})


def test_legacy_spectral_norm_errors():
    def twice(lib):
        LIBS[lib].spectral_norm(LIBS[lib].spectral_norm(lib.nn.Linear(2, 2)))

    assert_raises_like_torch(twice, RuntimeError, "Cannot register two spectral_norm hooks")
    assert_raises_like_torch(lambda lib: LIBS[lib].spectral_norm(lib.nn.Linear(2, 2), n_power_iterations=0),
                             ValueError, "Expected n_power_iterations to be positive")
    assert_raises_like_torch(lambda lib: LIBS[lib].remove_spectral_norm(lib.nn.Linear(2, 2)), ValueError,
                             "spectral_norm of 'weight' not found")


# ----------------------------------------------------------------------------------------- fusion
def trained_bn(lib, bn, channels_shape):
    """``bn`` with non-trivial running statistics and affine parameters, then in eval mode."""
    data = np.random.default_rng(3).standard_normal(channels_shape) * 2 + 1
    bn(lib.tensor(data))
    with lib.no_grad():
        bn.weight.mul_(1.5)
        bn.bias.add_(0.25)
    return bn.eval()


@pytest.mark.parametrize("transpose", [False, True])
def test_fuse_conv_bn_eval(transpose):
    def make(lib):
        conv = (lib.nn.ConvTranspose2d if transpose else lib.nn.Conv2d)(2, 3, 3)
        return lib.nn.Sequential(conv, lib.nn.BatchNorm2d(3))

    theirs, ours = pair(make)
    for lib, model in ((torch, theirs), (trainer, ours)):
        trained_bn(lib, model[1], (4, 3, 5, 5))
        model.eval()
    copy_state_from(theirs, ours)
    theirs_fused = torch.nn.utils.fuse_conv_bn_eval(theirs[0], theirs[1], transpose=transpose)
    ours_fused = trainer.nn.utils.fuse_conv_bn_eval(ours[0], ours[1], transpose=transpose)
    assert ours_fused is not ours[0] and isinstance(ours_fused.weight, trainer.nn.Parameter)
    assert_same_state(ours_fused, theirs_fused)
    tx, ox = inputs(2, 2, 6, 6)
    assert_close(ours_fused(ox), ours(ox).detach().numpy(), "fused vs unfused", tol=1e-9)
    assert_close(ours_fused(ox), theirs_fused(tx), "fused output")


def test_fuse_linear_bn_eval_and_weights_without_bias():
    theirs, ours = pair(lambda lib: lib.nn.Sequential(lib.nn.Linear(4, 3, bias=False), lib.nn.BatchNorm1d(3)))
    for lib, model in ((torch, theirs), (trainer, ours)):
        trained_bn(lib, model[1], (6, 3))
        model.eval()
    copy_state_from(theirs, ours)
    theirs_fused = torch.nn.utils.fuse_linear_bn_eval(theirs[0], theirs[1])
    ours_fused = trainer.nn.utils.fuse_linear_bn_eval(ours[0], ours[1])
    assert_same_state(ours_fused, theirs_fused)
    tx, ox = inputs(5, 4)
    assert_close(ours_fused(ox), ours(ox).detach().numpy(), "fused vs unfused", tol=1e-9)
    w, b = trainer.nn.utils.fuse_linear_bn_weights(ours[0].weight, None, ours[1].running_mean, ours[1].running_var,
                                                   ours[1].eps, ours[1].weight, ours[1].bias)
    assert w.requires_grad and not b.requires_grad  # as PyTorch: the bias made from zeros does not


def test_fusion_refuses_training_mode():
    assert_raises_like_torch(lambda lib: LIBS[lib].fuse_conv_bn_eval(lib.nn.Conv2d(1, 2, 1), lib.nn.BatchNorm2d(2)),
                             AssertionError, "Fusion only for eval!")
    assert_raises_like_torch(
        lambda lib: LIBS[lib].fuse_linear_bn_eval(lib.nn.Linear(2, 3).eval(), lib.nn.BatchNorm1d(2).eval()),
        AssertionError, "linear.out_features == bn.num_features or bn.num_features == 1")


# ----------------------------------------------------------------------------------------- functional_call
def test_functional_call_uses_given_tensors_and_grads_reach_them():
    theirs, ours = pair(lambda lib: lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.Tanh(), lib.nn.Linear(4, 2)))
    rng = np.random.default_rng(5)
    given = {"0.weight": rng.standard_normal((4, 3)), "2.bias": rng.standard_normal(2)}
    theirs_given = {k: torch.tensor(v, requires_grad=True) for k, v in given.items()}
    ours_given = {k: trainer.tensor(v, requires_grad=True) for k, v in given.items()}
    tx, ox = inputs(5, 3)
    theirs_out = torch.func.functional_call(theirs, theirs_given, (tx,))
    ours_out = trainer.func.functional_call(ours, ours_given, (ox,))
    assert_close(ours_out, theirs_out, "output")
    (theirs_out ** 2).sum().backward()
    (ours_out ** 2).sum().backward()
    for key in given:
        assert_close(ours_given[key].grad, theirs_given[key].grad, f"grad of {key}")
    assert ours[0].weight.grad is None  # the module's own weight took no part
    assert_same_state(ours, theirs)  # and is back in place
    assert trainer.nn.utils.stateless.functional_call is trainer.func.functional_call
    split = trainer.func.functional_call(ours, ({"0.weight": ours_given["0.weight"]}, {"2.bias": ours_given["2.bias"]}),
                                         ox)
    assert_close(split, theirs_out, "output from a tuple of dicts")


def test_functional_call_ties_weights():
    def tied(lib):
        model = lib.nn.Sequential(lib.nn.Linear(3, 3, bias=False), lib.nn.Linear(3, 3, bias=False))
        model[1].weight = model[0].weight
        return model

    theirs, ours = pair(tied)
    w = np.eye(3) * 2
    tx, ox = inputs(2, 3)
    assert_close(trainer.func.functional_call(ours, {"0.weight": trainer.tensor(w)}, ox),
                 torch.func.functional_call(theirs, {"0.weight": torch.tensor(w)}, tx), "tied")
    assert_close(trainer.func.functional_call(ours, {"0.weight": trainer.tensor(w)}, ox, tie_weights=False),
                 torch.func.functional_call(theirs, {"0.weight": torch.tensor(w)}, tx, tie_weights=False), "untied")
    both = {"0.weight": np.eye(3), "1.weight": w}
    assert_raises_like_torch(
        lambda lib: lib.func.functional_call(theirs if lib is torch else ours,
                                             {k: lib.tensor(v) for k, v in both.items()}, lib.ones(1, 3)),
        ValueError, "which are tied. Consider using tie_weights=False")


def test_functional_call_strict():
    def call(lib):
        module = lib.nn.Linear(2, 2)
        return lib.func.functional_call(module, {"weight": lib.ones(2, 2), "extra": lib.ones(1)}, lib.ones(1, 2),
                                        strict=True)

    assert_raises_like_torch(call, RuntimeError, r"Unexpected key\(s\): 'extra'.\n\tMissing key\(s\): 'bias'.")


# ----------------------------------------------------------------------------------------- skip_init
def test_skip_init():
    module = trainer.nn.utils.skip_init(trainer.nn.Linear, 4, 3, dtype=trainer.float64)
    assert type(module) is trainer.nn.Linear and module.weight.shape == (3, 4)
    assert module.weight.dtype == trainer.float64 and module.weight.requires_grad

    def without_device(lib):
        class NoDevice(lib.nn.Module):
            def __init__(self):
                super().__init__()

        return LIBS[lib].skip_init(NoDevice)

    assert_raises_like_torch(without_device, RuntimeError, "Module must support a 'device' arg")
    assert_raises_like_torch(lambda lib: LIBS[lib].skip_init(int), RuntimeError, "Expected a Module")


# ----------------------------------------------------------------------------------------- ONNX export
class NormedNet(trainer.nn.Module):
    def __init__(self):
        super().__init__()
        self.a = trainer.nn.utils.parametrizations.weight_norm(trainer.nn.Linear(4, 5))
        self.b = trainer.nn.utils.parametrizations.spectral_norm(trainer.nn.Linear(5, 3))
        self.c = quietly(trainer.nn.utils.weight_norm, trainer.nn.Linear(3, 3), dim=None)
        self.d = trainer.nn.utils.spectral_norm(trainer.nn.Conv1d(1, 2, 2))

    def forward(self, x):
        h = self.c(self.b(self.a(x).tanh()))
        return self.d(h.unsqueeze(1)).flatten(1)


def test_weight_and_spectral_norm_export_to_onnx(tmp_path):
    trainer.manual_seed(0)
    model = NormedNet()
    model(trainer.randn(2, 4))  # one training step of the power iterations
    model.eval()
    x = trainer.randn(2, 4)
    expected = model(x).detach().numpy()
    path = tmp_path / "normed.onnx"
    export(model, (x,), path)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
