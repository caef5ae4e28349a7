"""The schedulers added to ``trainer.optim.lr_scheduler`` against ``torch.optim.lr_scheduler``: ReduceLROnPlateau,
CosineAnnealingWarmRestarts, CyclicLR, ConstantLR, PolynomialLR, MultiplicativeLR, SequentialLR, ChainedScheduler,
and ``step(epoch)`` through the closed forms. Each check drives one optimizer per library with the same groups and
compares every group's ``lr`` (and momentum, where a schedule cycles it) after every step.
"""

import warnings

import numpy as np
import pytest
import torch

import trainer
import trainer.optim as optim
from tests.trainer.test_lr_scheduler import assert_same, group_values, make_optimizers
from trainer.nn import Parameter
from trainer.optim import lr_scheduler

STEPS = 60


def halve(epoch):
    return 0.5 if epoch % 4 == 0 else 1.0


# Built from a library's scheduler module and optimizer, so that the same recipe makes both sides.
SCHEDULES = {
    "ConstantLR": lambda s, o: s.ConstantLR(o),
    "ConstantLR-custom": lambda s, o: s.ConstantLR(o, factor=0.5, total_iters=7),
    "PolynomialLR": lambda s, o: s.PolynomialLR(o, total_iters=30, power=2.0),
    "PolynomialLR-linear": lambda s, o: s.PolynomialLR(o),
    "MultiplicativeLR": lambda s, o: s.MultiplicativeLR(o, lr_lambda=lambda epoch: 0.95),
    "MultiplicativeLR-per-group": lambda s, o: s.MultiplicativeLR(o, [halve, lambda epoch: 1.01]),
    "CosineAnnealingWarmRestarts": lambda s, o: s.CosineAnnealingWarmRestarts(o, T_0=7),
    "CosineAnnealingWarmRestarts-mult": lambda s, o: s.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2,
                                                                                   eta_min=0.001),
    "CyclicLR-triangular": lambda s, o: s.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=5),
    "CyclicLR-triangular2": lambda s, o: s.CyclicLR(o, base_lr=[0.01, 0.02], max_lr=[0.1, 0.05], step_size_up=4,
                                                    step_size_down=7, mode="triangular2"),
    "CyclicLR-exp_range": lambda s, o: s.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=6, mode="exp_range",
                                                  gamma=0.97, base_momentum=0.7, max_momentum=0.95),
    "CyclicLR-scale_fn": lambda s, o: s.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=3,
                                                 scale_fn=lambda x: 0.9**x, scale_mode="iterations",
                                                 cycle_momentum=False),
    "SequentialLR": lambda s, o: s.SequentialLR(o, [s.LinearLR(o, start_factor=0.1, total_iters=5),
                                                    s.ExponentialLR(o, gamma=0.9)], milestones=[5]),
    "SequentialLR-three": lambda s, o: s.SequentialLR(o, [s.ConstantLR(o, factor=0.5, total_iters=3),
                                                          s.CosineAnnealingLR(o, T_max=10),
                                                          s.StepLR(o, step_size=4, gamma=0.5)],
                                                      milestones=[8, 30]),
    "ChainedScheduler": lambda s, o: s.ChainedScheduler([s.ConstantLR(o, factor=0.2, total_iters=4),
                                                         s.ExponentialLR(o, gamma=0.95)]),
    "ChainedScheduler-optimizer": lambda s, o: s.ChainedScheduler([s.LinearLR(o, total_iters=10),
                                                                   s.MultiStepLR(o, milestones=[15, 40])],
                                                                  optimizer=o),
}


@pytest.mark.parametrize("name", SCHEDULES)
def test_schedule_matches_pytorch(name):
    opt, ref_opt = make_optimizers(momentum=0.9)
    scheduler = SCHEDULES[name](lr_scheduler, opt)
    reference = SCHEDULES[name](torch.optim.lr_scheduler, ref_opt)
    assert_same(group_values(opt), group_values(ref_opt), "initial rates")
    assert scheduler.get_last_lr() == reference.get_last_lr()
    for step in range(1, STEPS + 1):
        opt.step()
        ref_opt.step()
        scheduler.step()
        reference.step()
        assert getattr(scheduler, "last_epoch", None) == getattr(reference, "last_epoch", None)  # Chained has none
        assert_same(group_values(opt), group_values(ref_opt), f"rates after step {step}")
        assert_same(group_values(opt, "momentum"), group_values(ref_opt, "momentum"), f"momentum after step {step}")
        assert_same(scheduler.get_last_lr(), reference.get_last_lr(), f"get_last_lr after step {step}")


def test_cyclic_lr_cycles_adams_beta1():
    opt, ref_opt = make_optimizers("Adam")
    scheduler = lr_scheduler.CyclicLR(opt, base_lr=0.001, max_lr=0.01, step_size_up=4)
    reference = torch.optim.lr_scheduler.CyclicLR(ref_opt, base_lr=0.001, max_lr=0.01, step_size_up=4)
    for _ in range(12):
        opt.step()
        ref_opt.step()
        scheduler.step()
        reference.step()
        assert_same(group_values(opt), group_values(ref_opt), "rates")
        assert group_values(opt, "betas") == group_values(ref_opt, "betas")


PLATEAU_CASES = [
    {},
    {"patience": 2, "factor": 0.5},
    {"mode": "max", "patience": 1, "threshold": 0.05},
    {"patience": 0, "threshold_mode": "abs", "threshold": 0.1, "cooldown": 3},
    {"mode": "max", "threshold_mode": "abs", "patience": 1, "min_lr": [0.01, 0.02]},
    {"patience": 1, "factor": 0.5, "min_lr": 0.02, "eps": 1e-3},
]


def plateau_metrics(steps=STEPS):
    """A loss that improves, stalls, wobbles and improves again."""
    rng = np.random.default_rng(0)
    return np.concatenate([np.linspace(1.0, 0.5, steps // 4), np.full(steps // 4, 0.5),
                           0.5 + 0.05 * rng.standard_normal(steps // 4), np.linspace(0.5, 0.1, steps // 4)])


@pytest.mark.parametrize("options", PLATEAU_CASES, ids=[str(o) for o in PLATEAU_CASES])
def test_reduce_lr_on_plateau_matches_pytorch(options):
    opt, ref_opt = make_optimizers()
    scheduler = lr_scheduler.ReduceLROnPlateau(opt, **options)
    reference = torch.optim.lr_scheduler.ReduceLROnPlateau(ref_opt, **options)
    assert isinstance(scheduler, lr_scheduler.LRScheduler)
    reductions = 0
    for step, metric in enumerate(plateau_metrics(), 1):
        before = group_values(opt)
        scheduler.step(trainer.tensor(metric))  # a 0-d tensor works, as a loss would be passed
        reference.step(torch.tensor(metric))
        reductions += group_values(opt) != before
        assert_same(group_values(opt), group_values(ref_opt), f"rates after step {step}")
        assert scheduler.get_last_lr() == group_values(opt)
        assert (scheduler.best, scheduler.num_bad_epochs, scheduler.cooldown_counter, scheduler.last_epoch) == \
               (reference.best, reference.num_bad_epochs, reference.cooldown_counter, reference.last_epoch)
    assert reductions > 0


def test_cosine_warm_restarts_with_fractional_epochs_matches_pytorch():
    for options in ({"T_0": 5}, {"T_0": 2, "T_mult": 3, "eta_min": 0.01}):
        opt, ref_opt = make_optimizers()
        scheduler = lr_scheduler.CosineAnnealingWarmRestarts(opt, **options)
        reference = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(ref_opt, **options)
        batches = 7
        for epoch in range(20):
            for batch in range(batches):
                scheduler.step(epoch + batch / batches)
                reference.step(epoch + batch / batches)
                assert_same(group_values(opt), group_values(ref_opt), f"rates at {epoch} + {batch}/{batches}")
                assert (scheduler.T_cur, scheduler.T_i, scheduler.last_epoch) == \
                       (reference.T_cur, reference.T_i, reference.last_epoch)
        with pytest.raises(ValueError, match="Expected non-negative epoch, but got -1"):
            scheduler.step(-1)


CLOSED_FORMS = {
    "StepLR": lambda s, o: s.StepLR(o, step_size=3, gamma=0.5),
    "MultiStepLR": lambda s, o: s.MultiStepLR(o, milestones=[2, 5, 5], gamma=0.5),
    "ExponentialLR": lambda s, o: s.ExponentialLR(o, gamma=0.9),
    "LinearLR": lambda s, o: s.LinearLR(o, start_factor=0.2, total_iters=6),
    "CosineAnnealingLR": lambda s, o: s.CosineAnnealingLR(o, T_max=8, eta_min=0.001),
    "ConstantLR": lambda s, o: s.ConstantLR(o, factor=0.5, total_iters=4),
    "PolynomialLR": lambda s, o: s.PolynomialLR(o, total_iters=8, power=1.5),
}


@pytest.mark.parametrize("name", CLOSED_FORMS)
def test_step_with_an_epoch_jumps_there_through_the_closed_form_and_warns(name):
    opt, ref_opt = make_optimizers()
    scheduler = CLOSED_FORMS[name](lr_scheduler, opt)
    reference = CLOSED_FORMS[name](torch.optim.lr_scheduler, ref_opt)
    for epoch in [3, 7, 1, 10, 0, 5]:
        with pytest.warns(UserWarning, match="The epoch parameter in `scheduler.step\\(\\)` was not necessary"):
            scheduler.step(epoch)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reference.step(epoch)
        assert scheduler.last_epoch == epoch
        assert_same(group_values(opt), group_values(ref_opt), f"rates at epoch {epoch}")


def advance(opt, scheduler, name, step):
    opt.step()
    if name == "ReduceLROnPlateau":
        scheduler.step(plateau_metrics()[step])
    else:
        scheduler.step()


RESUMABLE = {**SCHEDULES, "ReduceLROnPlateau": lambda s, o: s.ReduceLROnPlateau(o, patience=1, cooldown=2)}
RESUMABLE.pop("CyclicLR-scale_fn")  # a lambda scale_fn is left out of the state dict, as in PyTorch


@pytest.mark.parametrize("name", RESUMABLE)
def test_resuming_from_state_dicts_continues_the_schedule(name, tmp_path):
    def fresh():
        opt = make_optimizers(momentum=0.9)[0]
        return opt, RESUMABLE[name](lr_scheduler, opt)

    opt, scheduler = fresh()
    uninterrupted = []
    for step in range(40):
        advance(opt, scheduler, name, step)
        uninterrupted.append(group_values(opt) + group_values(opt, "momentum"))

    opt, scheduler = fresh()
    for step in range(15):
        advance(opt, scheduler, name, step)
    path = tmp_path / "checkpoint.safetensors"
    trainer.save({"optimizer": opt.state_dict(), "scheduler": scheduler.state_dict()}, path)
    checkpoint = trainer.load(path)
    resumed_opt, resumed = fresh()  # built first: construction resets the rates
    resumed_opt.load_state_dict(checkpoint["optimizer"])
    resumed.load_state_dict(checkpoint["scheduler"])
    after = []
    for step in range(15, 40):
        advance(resumed_opt, resumed, name, step)
        after.append(group_values(resumed_opt) + group_values(resumed_opt, "momentum"))
    assert after == uninterrupted[15:]


def comparable_keys(state):
    """A state dict's keys, nested schedulers' included."""
    keys = set(state) - {"_get_lr_called_within_step"}
    nested = [comparable_keys(inner) for inner in state.get("_schedulers", [])]
    return keys, nested


@pytest.mark.parametrize("name", RESUMABLE)
def test_state_dict_has_pytorchs_keys(name):
    opt, ref_opt = make_optimizers(momentum=0.9)
    scheduler = RESUMABLE[name](lr_scheduler, opt)
    reference = RESUMABLE[name](torch.optim.lr_scheduler, ref_opt)
    assert comparable_keys(scheduler.state_dict()) == comparable_keys(reference.state_dict())


def test_invalid_arguments_raise_pytorch_like_errors():
    opt = make_optimizers()[0]
    with pytest.raises(ValueError, match="Factor should be < 1.0"):
        lr_scheduler.ReduceLROnPlateau(opt, factor=1.0)
    with pytest.raises(ValueError, match="mode sideways is unknown"):
        lr_scheduler.ReduceLROnPlateau(opt, mode="sideways")
    with pytest.raises(ValueError, match="threshold mode percent is unknown"):
        lr_scheduler.ReduceLROnPlateau(opt, threshold_mode="percent")
    with pytest.raises(ValueError, match="expected 2 min_lrs, got 3"):
        lr_scheduler.ReduceLROnPlateau(opt, min_lr=[0, 0, 0])
    with pytest.raises(ValueError, match="Expected positive integer T_0, but got 0"):
        lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=0)
    with pytest.raises(ValueError, match="Expected integer T_mult >= 1, but got 1.5"):
        lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=1.5)
    with pytest.raises(ValueError, match="mode is invalid and scale_fn is None"):
        lr_scheduler.CyclicLR(opt, base_lr=0.1, max_lr=1.0, mode="square")
    with pytest.raises(ValueError, match="max_lr must have the same length as optimizer.param_groups"):
        lr_scheduler.CyclicLR(opt, base_lr=0.1, max_lr=[1.0])
    with pytest.raises(ValueError, match="optimizer must support momentum or beta1"):
        lr_scheduler.CyclicLR(optim.Adagrad([Parameter(trainer.zeros(1))]), base_lr=0.1, max_lr=1.0)
    with pytest.raises(ValueError, match="Constant multiplicative factor expected to be between 0 and 1"):
        lr_scheduler.ConstantLR(opt, factor=2)
    with pytest.raises(TypeError, match="lr_lambda should be a function, but got float"):
        lr_scheduler.MultiplicativeLR(opt, lr_lambda=0.9)
    with pytest.raises(ValueError, match="expects number of schedulers provided to be one more"):
        lr_scheduler.SequentialLR(opt, [lr_scheduler.ConstantLR(opt)], milestones=[3])
    with pytest.raises(ValueError, match="does not support `ReduceLROnPlateau`"):
        lr_scheduler.ChainedScheduler([lr_scheduler.ReduceLROnPlateau(opt)])
    with pytest.raises(ValueError, match="expects at least one scheduler to be chained"):
        lr_scheduler.ChainedScheduler([])
    other = make_optimizers()[0]
    with pytest.raises(ValueError, match="expects all schedulers to belong to the same optimizer"):
        lr_scheduler.SequentialLR(opt, [lr_scheduler.ConstantLR(opt), lr_scheduler.ConstantLR(other)], [2])
