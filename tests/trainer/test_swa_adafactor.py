"""``optim.swa_utils`` (AveragedModel, the averaging functions, SWALR, update_bn) and ``optim.Adafactor`` against
PyTorch: the same weights and the same sequence of updates give the same averaged weights, learning rates,
BatchNorm statistics and Adafactor steps."""

import numpy as np
import pytest
import torch

import trainer
from tests.trainer.test_ops_parity import assert_raises_like_torch

RNG = np.random.default_rng(5)


def _models():
    """The same small network (with a BatchNorm) in both libraries, with equal float64 weights."""
    torch.manual_seed(0)

    def build(lib):
        return lib.nn.Sequential(lib.nn.Linear(4, 6), lib.nn.BatchNorm1d(6), lib.nn.ReLU(), lib.nn.Linear(6, 3))

    theirs = build(torch).double()
    ours = build(trainer).double()
    ours.load_state_dict({k: trainer.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
    return ours, theirs


def _perturb(ours, theirs):
    """One "training step": the same random change to both models' parameters and BatchNorm statistics."""
    with torch.no_grad():
        for (name, t), o in zip(theirs.state_dict().items(), ours.state_dict().values()):
            if t.is_floating_point():
                delta = RNG.standard_normal(tuple(t.shape))
                if name.endswith("running_var"):  # variances stay positive
                    delta = np.abs(delta)
                t += torch.tensor(delta)
                o += trainer.tensor(delta)
            else:
                t += 1
                o += 1


def _assert_same_state(ours, theirs, atol=0.0):
    ours_state, theirs_state = ours.state_dict(), theirs.state_dict()
    assert list(ours_state) == list(theirs_state)
    for key, t in theirs_state.items():
        np.testing.assert_allclose(np.asarray(ours_state[key]), t.numpy(), rtol=0, atol=atol, err_msg=key)


@pytest.mark.parametrize("averaging", ["swa", "swa_multi", "ema_multi_buffers", "ema", "swa_buffers"])
def test_averaged_model_follows_torch_update_by_update(averaging):
    ours, theirs = _models()
    make = {
        "swa": lambda lib: {},
        "swa_multi": lambda lib: {"multi_avg_fn": lib.optim.swa_utils.get_swa_multi_avg_fn()},
        "ema_multi_buffers": lambda lib: {"multi_avg_fn": lib.optim.swa_utils.get_ema_multi_avg_fn(0.9),
                                          "use_buffers": True},
        "ema": lambda lib: {"avg_fn": lib.optim.swa_utils.get_ema_avg_fn(0.8)},
        "swa_buffers": lambda lib: {"avg_fn": lib.optim.swa_utils.get_swa_avg_fn(), "use_buffers": True},
    }[averaging]
    ours_avg = trainer.optim.swa_utils.AveragedModel(ours, **make(trainer))
    theirs_avg = torch.optim.swa_utils.AveragedModel(theirs, **make(torch))
    for _ in range(4):
        _perturb(ours, theirs)
        ours_avg.update_parameters(ours)
        theirs_avg.update_parameters(theirs)
        # PyTorch's vectorised lerp rounds once through a fused multiply-add, so lerp-based averages may differ in
        # the last bit; the others are exact
        _assert_same_state(ours_avg, theirs_avg, atol=1e-15 if "multi" in averaging else 0.0)
    assert int(ours_avg.n_averaged.item()) == 4 and ours_avg.n_averaged.dtype == trainer.int64
    x = RNG.standard_normal((5, 4))
    ours_avg.eval()
    theirs_avg.eval()
    outputs = np.asarray(ours_avg(trainer.tensor(x)).detach())
    assert np.isfinite(outputs).all()
    np.testing.assert_allclose(outputs, theirs_avg(torch.tensor(x)).detach().numpy(), rtol=0, atol=1e-12)


def test_averaged_model_state_dict_keys_and_round_trip():
    ours, theirs = _models()
    averaged = trainer.optim.swa_utils.AveragedModel(ours)
    assert list(averaged.state_dict()) == list(torch.optim.swa_utils.AveragedModel(theirs).state_dict())
    assert list(averaged.state_dict())[0] == "n_averaged"
    averaged.update_parameters(ours)
    averaged.update_parameters(ours)
    restored = trainer.optim.swa_utils.AveragedModel(ours)
    restored.load_state_dict(averaged.state_dict())
    assert int(restored.n_averaged.item()) == 2
    assert averaged.module is not ours  # a copy: averaging never writes into the model being trained


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda lib: lib.optim.swa_utils.get_ema_avg_fn(1.5), ValueError, "Invalid decay value 1.5"),
    (lambda lib: lib.optim.swa_utils.get_ema_multi_avg_fn(-0.1), ValueError, r"in \[0,1\] range"),
    (lambda lib: lib.optim.swa_utils.AveragedModel(lib.nn.Linear(2, 2), avg_fn=lib.optim.swa_utils.get_swa_avg_fn(),
                                                   multi_avg_fn=lib.optim.swa_utils.get_swa_multi_avg_fn()),
     AssertionError, "Only one of avg_fn and multi_avg_fn should be provided"),
])
def test_averaging_errors_match_torch(call, error, message):
    assert_raises_like_torch(call, error, message)


def _optimizer(lib, lrs=(0.5, 0.1)):
    params = [lib.nn.Parameter(lib.zeros(2)), lib.nn.Parameter(lib.zeros(3))]
    return lib.optim.SGD([{"params": [params[0]], "lr": lrs[0]}, {"params": [params[1]], "lr": lrs[1]}])


@pytest.mark.parametrize(("swa_lr", "anneal_epochs", "strategy"), [(0.05, 10, "cos"), ([0.05, 0.2], 3, "linear"),
                                                                    (0.02, 0, "cos"), (0.3, 1, "linear")])
def test_swalr_learning_rates_match_torch(swa_lr, anneal_epochs, strategy):
    ours_opt, theirs_opt = _optimizer(trainer), _optimizer(torch)
    ours = trainer.optim.swa_utils.SWALR(ours_opt, swa_lr, anneal_epochs=anneal_epochs, anneal_strategy=strategy)
    theirs = torch.optim.swa_utils.SWALR(theirs_opt, swa_lr, anneal_epochs=anneal_epochs, anneal_strategy=strategy)
    for step in range(14):
        np.testing.assert_allclose(ours.get_last_lr(), theirs.get_last_lr(), rtol=1e-13, err_msg=f"step {step}")
        assert [g["swa_lr"] for g in ours_opt.param_groups] == [g["swa_lr"] for g in theirs_opt.param_groups]
        ours_opt.step()
        theirs_opt.step()
        ours.step()
        theirs.step()


def test_swalr_state_dict_round_trip_resumes_the_schedule():
    optimizer = _optimizer(trainer)
    scheduler = trainer.optim.swa_utils.SWALR(optimizer, 0.05, anneal_epochs=5)
    for _ in range(2):
        scheduler.step()
    state = scheduler.state_dict()
    assert "anneal_func" not in state and state["_anneal_strategy"] == "cos"
    expected = []
    for _ in range(3):
        scheduler.step()
        expected.append(scheduler.get_last_lr())
    resumed_optimizer = _optimizer(trainer)
    for group, lr in zip(resumed_optimizer.param_groups, state["_last_lr"]):
        group["lr"] = lr
    resumed = trainer.optim.swa_utils.SWALR(resumed_optimizer, 0.05, anneal_epochs=5, anneal_strategy="linear")
    resumed.load_state_dict(state)
    assert resumed.anneal_func(0.5) == pytest.approx(0.5) and resumed.anneal_func(0.25) != pytest.approx(0.25)
    for lrs in expected:
        resumed.step()
        assert resumed.get_last_lr() == pytest.approx(lrs, rel=1e-13)


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda lib: lib.optim.swa_utils.SWALR(_optimizer(lib), 0.1, anneal_strategy="exp"), ValueError,
     "anneal_strategy must be one of 'cos' or 'linear', instead got exp"),
    (lambda lib: lib.optim.swa_utils.SWALR(_optimizer(lib), 0.1, anneal_epochs=-1), ValueError,
     "anneal_epochs must be equal or greater than 0, got -1"),
    (lambda lib: lib.optim.swa_utils.SWALR(_optimizer(lib), 0.1, anneal_epochs=2.5), ValueError,
     "anneal_epochs must be equal or greater than 0"),
    (lambda lib: lib.optim.swa_utils.SWALR(_optimizer(lib), [0.1, 0.2, 0.3]), ValueError,
     "swa_lr must have the same length as optimizer.param_groups"),
])
def test_swalr_errors_match_torch(call, error, message):
    assert_raises_like_torch(call, error, message)


def test_update_bn_gives_torchs_running_statistics():
    ours, theirs = _models()
    batches = [RNG.standard_normal((8, 4)) * 3 + 1 for _ in range(3)]
    ours.eval()
    theirs.eval()
    trainer.optim.swa_utils.update_bn([(trainer.tensor(b), 0) for b in batches], ours)
    torch.optim.swa_utils.update_bn([(torch.tensor(b), 0) for b in batches], theirs)
    _assert_same_state(ours, theirs, atol=1e-12)
    assert not ours.training and ours[1].momentum == 0.1
    # the statistics are the plain average over the pass, whatever they were before
    trainer.optim.swa_utils.update_bn([trainer.tensor(b) for b in batches], ours)
    _assert_same_state(ours, theirs, atol=1e-12)
    assert int(ours[1].num_batches_tracked.item()) == 3


def test_update_bn_leaves_a_model_without_batchnorm_alone():
    model = trainer.nn.Linear(3, 2)
    model.eval()
    trainer.optim.swa_utils.update_bn([trainer.ones(2, 3)], model)
    assert not model.training


# ------------------------------------------------------------------------------------------------ Adafactor

SHAPES = [(5,), (4, 3), (2, 3, 4), ()]


def _adafactor_run(lib, options, steps, grads, start, state=None, split=None):
    params = [lib.nn.Parameter(lib.tensor(a)) for a in start]
    optimizer = lib.optim.Adafactor(params, **options)
    history = []
    for step in range(steps):
        for p, g in zip(params, grads[step]):
            p.grad = lib.tensor(g)
        optimizer.step()
        history.append([np.asarray(p.detach()).copy() for p in params])
        if split is not None and step == split:
            saved = optimizer.state_dict()
            optimizer = lib.optim.Adafactor(params, **options)
            optimizer.load_state_dict(saved)
    return history, optimizer


@pytest.mark.parametrize("options", [{}, {"lr": 0.5, "weight_decay": 0.1, "maximize": True},
                                     {"eps": (1e-20, 1e-2), "d": 2.0, "beta2_decay": -0.5},
                                     {"lr": 0.05, "foreach": False}])
def test_adafactor_steps_match_torch(options):
    start = [RNG.standard_normal(s) for s in SHAPES]
    grads = [[RNG.standard_normal(s) * (step + 1) for s in SHAPES] for step in range(6)]
    ours, _ = _adafactor_run(trainer, options, 6, grads, start)
    theirs, _ = _adafactor_run(torch, options, 6, grads, start)
    for step, (o_params, t_params) in enumerate(zip(ours, theirs)):
        for i, (o, t) in enumerate(zip(o_params, t_params)):
            np.testing.assert_allclose(o, t, rtol=1e-12, atol=1e-14, err_msg=f"step {step}, param {i}")


def test_adafactor_state_matches_torch_and_round_trips():
    start = [RNG.standard_normal(s) for s in SHAPES]
    grads = [[RNG.standard_normal(s) for s in SHAPES] for _ in range(5)]
    straight, ours = _adafactor_run(trainer, {"lr": 0.1}, 5, grads, start)
    resumed, _ = _adafactor_run(trainer, {"lr": 0.1}, 5, grads, start, split=1)
    for o_params, r_params in zip(straight, resumed):
        for o, r in zip(o_params, r_params):
            np.testing.assert_array_equal(o, r)
    _, theirs = _adafactor_run(torch, {"lr": 0.1}, 5, grads, start)
    ours_state, theirs_state = ours.state_dict(), theirs.state_dict()
    assert ours_state["param_groups"] == theirs_state["param_groups"]
    for index, t_state in theirs_state["state"].items():
        assert list(ours_state["state"][index]) == list(t_state)
        for key, value in t_state.items():
            np.testing.assert_allclose(np.asarray(ours_state["state"][index][key]), value.numpy(), rtol=1e-12)
    assert ours_state["state"][0]["step"].dtype == trainer.float32


@pytest.mark.parametrize(("options", "message"), [
    ({"lr": -1.0}, "Learning rate should be >= 0 but is: -1.0"),
    ({"beta2_decay": 0.5}, "beta2_decay should be <= 0 but is: 0.5"),
    ({"eps": (-1.0, 1e-3)}, "epsilon1 should be >= 0 but is: -1.0"),
    ({"eps": (None, -1.0)}, "epsilon2 should be >= 0 but is: -1.0"),
    ({"d": 0.5}, "Clipping threshold d should be >= 1 but is: 0.5"),
    ({"weight_decay": -0.1}, "weight_decay should be >= 0 but is: -0.1"),
])
def test_adafactor_bad_options_raise_like_torch(options, message):
    assert_raises_like_torch(lambda lib: lib.optim.Adafactor([lib.nn.Parameter(lib.zeros(2))], **options),
                             ValueError, message)

