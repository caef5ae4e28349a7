"""``optim.Muon`` against ``torch.optim.Muon``: the same float64 parameters after several steps, state dicts that
resume a run, and PyTorch's errors.

PyTorch runs Newton-Schulz in bfloat16, which trainer lacks; the exact comparisons make PyTorch's cast a no-op so
both run the same algorithm in float64, and one comparison against unpatched PyTorch checks agreement to bfloat16's
precision."""

import numpy as np
import pytest
import torch

import trainer
from tests.trainer.test_ops_parity import assert_raises_like_torch

SHAPES = [(5, 3), (3, 6), (4, 4)]


@pytest.fixture
def torch_newton_schulz_in_float64(monkeypatch):
    monkeypatch.setattr(torch.Tensor, "bfloat16", lambda self: self.clone())


def _initial_arrays():
    rng = np.random.default_rng(0)
    return [rng.standard_normal(shape) for shape in SHAPES]


def _params(lib):
    return [lib.tensor(array, requires_grad=True) for array in _initial_arrays()]


def _gradients(step):
    rng = np.random.default_rng(100 + step)
    return [rng.standard_normal(shape) for shape in SHAPES]


def _run(lib, options, steps, params=None, optimizer=None, first_step=0):
    params = _params(lib) if params is None else params
    optimizer = lib.optim.Muon(params, **options) if optimizer is None else optimizer
    for step in range(first_step, first_step + steps):
        for param, grad in zip(params, _gradients(step)):
            param.grad = lib.tensor(grad)
        optimizer.step()
    return params, optimizer


def _assert_same_params(ours, theirs, rtol=1e-10, atol=1e-12):
    for o, t in zip(ours, theirs):
        np.testing.assert_allclose(np.asarray(o.detach()), t.detach().numpy(), rtol=rtol, atol=atol)


OPTIONS = [
    {},
    {"lr": 0.02, "momentum": 0.9, "nesterov": False},
    {"lr": 0.05, "weight_decay": 0.0, "adjust_lr_fn": "match_rms_adamw"},
    {"lr": 0.01, "weight_decay": 0.3, "adjust_lr_fn": "original", "ns_steps": 3, "eps": 1e-5,
     "ns_coefficients": (2.0, -1.5, 0.5)},
]


@pytest.mark.parametrize("options", OPTIONS, ids=range(len(OPTIONS)))
def test_five_steps_match_torch(options, torch_newton_schulz_in_float64):
    ours, _ = _run(trainer, options, 5)
    theirs, _ = _run(torch, options, 5)
    for o, start in zip(ours, _initial_arrays()):  # the parameters did move
        assert np.abs(np.asarray(o.detach()) - start).max() > 1e-4
    _assert_same_params(ours, theirs)


def test_close_to_torchs_bfloat16_iterations():
    options = {"lr": 0.1}
    ours, _ = _run(trainer, options, 3)
    theirs, _ = _run(torch, options, 3)
    _assert_same_params(ours, theirs, rtol=0, atol=0.1 * 3 * 0.02)  # bfloat16 keeps ~3 digits of each update


def test_newton_schulz_nearly_orthogonalises():
    rng = np.random.default_rng(1)
    matrix = rng.standard_normal((6, 4))
    singular = np.linalg.svd(trainer.optim.muon.zeropower_via_newton_schulz(matrix, (3.4445, -4.7750, 2.0315), 5,
                                                                              1e-7), compute_uv=False)
    assert singular.min() > 0.5 and singular.max() < 1.5


def test_state_dict_round_trip_resumes_the_run(torch_newton_schulz_in_float64):
    options = {"lr": 0.03, "momentum": 0.8}
    theirs, _ = _run(torch, options, 5)
    ours, optimizer = _run(trainer, options, 2)
    saved = optimizer.state_dict()
    assert set(saved["state"]) == {0, 1, 2}
    assert set(saved["state"][0]) == {"momentum_buffer"}
    group = saved["param_groups"][0]
    torch_group = torch.optim.Muon(_params(torch), **options).state_dict()["param_groups"][0]
    assert set(group) == set(torch_group)
    resumed = trainer.optim.Muon(ours, lr=1.0)
    resumed.load_state_dict(saved)
    assert resumed.param_groups[0]["lr"] == 0.03
    _run(trainer, options, 3, params=ours, optimizer=resumed, first_step=2)
    _assert_same_params(ours, theirs)


def test_params_without_grad_are_skipped():
    params = _params(trainer)
    before = np.asarray(params[1].detach()).copy()
    optimizer = trainer.optim.Muon(params)
    params[0].grad = trainer.ones(SHAPES[0], dtype=trainer.float64)
    optimizer.step()
    np.testing.assert_array_equal(np.asarray(params[1].detach()), before)
    assert set(optimizer.state) == {params[0]}


@pytest.mark.parametrize("options, message", [
    ({"lr": -1.0}, "Learning rate should be >= 0 but is: -1.0"),
    ({"momentum": -0.1}, "momentum should be >= 0 but is: -0.1"),
    ({"weight_decay": -0.1}, "weight decay should be >= 0 but is: -0.1"),
    ({"adjust_lr_fn": "spectral"}, "Adjust learning rate function spectral is not supported"),
])
def test_bad_options_raise_like_torch(options, message):
    assert_raises_like_torch(lambda lib: lib.optim.Muon(_params(lib), **options), ValueError, message)


def test_non_matrix_parameter_is_refused():
    assert_raises_like_torch(lambda lib: lib.optim.Muon([lib.zeros(3, requires_grad=True)]), ValueError,
                             "Muon only supports 2D parameters")


@pytest.mark.parametrize("options, message", [
    ({"ns_steps": 100}, "Number of steps must be less than 100"),
    ({"ns_coefficients": (1.0, 2.0)}, "Coefficients must be a tuple of exactly 3 values"),
])
def test_bad_newton_schulz_options_raise_at_step_like_torch(options, message):
    def step(lib):
        params = _params(lib)
        optimizer = lib.optim.Muon(params, **options)  # accepted here, as in PyTorch
        params[0].grad = lib.ones(SHAPES[0], dtype=lib.float64)
        optimizer.step()

    assert_raises_like_torch(step, ValueError, message)


def test_non_matrix_parameter_added_later_fails_at_step_like_torch():
    def step(lib):
        optimizer = lib.optim.Muon(_params(lib))
        vector = lib.zeros(4, dtype=lib.float64, requires_grad=True)
        optimizer.add_param_group({"params": [vector]})
        vector.grad = lib.ones(4, dtype=lib.float64)
        optimizer.step()

    assert_raises_like_torch(step, ValueError, "Param gradient must be a 2D matrix")
