"""``trainer.optim.lr_scheduler`` against ``torch.optim.lr_scheduler``: the same schedule must set the same rates.

Each check drives one optimizer per library, built with the same parameter groups, and compares every group's
``lr`` (and momentum, where a schedule cycles it) after every step.
"""

import numpy as np
import pytest
import torch

import trainer
import trainer.optim as optim
from trainer.nn import Parameter
from trainer.optim import lr_scheduler

STEPS = 40
RTOL = 1e-12
GROUP_LRS = (0.1, 0.03)


def make_optimizers(name="SGD", lrs=GROUP_LRS, **options):
    """One optimizer per library over one parameter per group, each group with its own learning rate."""
    ours = getattr(optim, name)([{"params": [Parameter(trainer.zeros(2))], "lr": lr} for lr in lrs], **options)
    theirs = getattr(torch.optim, name)([{"params": [torch.nn.Parameter(torch.zeros(2))], "lr": lr} for lr in lrs],
                                        **options)
    return ours, theirs


def group_values(optimizer, key="lr"):
    return [group[key] for group in optimizer.param_groups]


def assert_same(ours, theirs, what):
    np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=0, err_msg=what)


def advance(optimizer, scheduler):
    optimizer.step()  # no gradients: a no-op, but the order PyTorch expects (and checks)
    scheduler.step()


SCHEDULES = [
    ("StepLR", {"step_size": 7, "gamma": 0.5}),
    ("StepLR", {"step_size": 1}),
    ("MultiStepLR", {"milestones": [5, 12, 12, 25], "gamma": 0.3}),
    ("ExponentialLR", {"gamma": 0.9}),
    ("CosineAnnealingLR", {"T_max": 10, "eta_min": 0.001}),  # 40 steps: down, back up and down again
    ("CosineAnnealingLR", {"T_max": 33}),
    ("LinearLR", {}),
    ("LinearLR", {"start_factor": 0.25, "end_factor": 0.75, "total_iters": 12}),
    ("OneCycleLR", {"max_lr": [1.0, 0.5], "total_steps": STEPS}),
    ("OneCycleLR", {"max_lr": 0.8, "epochs": 4, "steps_per_epoch": 10, "anneal_strategy": "linear"}),
    ("OneCycleLR", {"max_lr": 0.8, "total_steps": STEPS + 5, "three_phase": True, "pct_start": 0.25}),
    ("OneCycleLR", {"max_lr": 0.8, "total_steps": STEPS, "cycle_momentum": False, "div_factor": 5.0,
                    "final_div_factor": 100.0}),
    ("LambdaLR", {"lr_lambda": lambda epoch: 0.95**epoch}),
    ("LambdaLR", {"lr_lambda": [lambda epoch: 1 / (epoch + 1), lambda epoch: min(1.0, (epoch + 1) / 10)]}),
]
SCHEDULE_IDS = [f"{name}-{i}" for i, (name, _) in enumerate(SCHEDULES)]


@pytest.mark.parametrize(("name", "options"), SCHEDULES, ids=SCHEDULE_IDS)
def test_schedule_matches_pytorch(name, options):
    opt, ref_opt = make_optimizers(momentum=0.9)
    scheduler = getattr(lr_scheduler, name)(opt, **options)
    reference = getattr(torch.optim.lr_scheduler, name)(ref_opt, **options)
    assert_same(group_values(opt), group_values(ref_opt), "initial rates")
    assert scheduler.base_lrs == reference.base_lrs
    assert group_values(opt, "initial_lr") == group_values(ref_opt, "initial_lr")
    for step in range(1, STEPS + 1):
        advance(opt, scheduler)
        advance(ref_opt, reference)
        assert scheduler.last_epoch == reference.last_epoch == step
        assert_same(group_values(opt), group_values(ref_opt), f"rates after step {step}")
        assert_same(group_values(opt, "momentum"), group_values(ref_opt, "momentum"), f"momentum after step {step}")
        assert scheduler.get_last_lr() == group_values(opt)


@pytest.mark.parametrize("name", ["SGD", "Adam"])
def test_one_cycle_cycles_momentum_and_betas(name):
    options = {"momentum": 0.9} if name == "SGD" else {"betas": (0.9, 0.99)}
    key = "momentum" if name == "SGD" else "betas"
    opt, ref_opt = make_optimizers(name, **options)
    schedule = {"max_lr": 0.5, "total_steps": 30, "base_momentum": [0.8, 0.7], "max_momentum": 0.9}
    scheduler = lr_scheduler.OneCycleLR(opt, **schedule)
    reference = torch.optim.lr_scheduler.OneCycleLR(ref_opt, **schedule)
    seen = []
    for step in range(30):
        if step:
            advance(opt, scheduler)
            advance(ref_opt, reference)
        ours, theirs = group_values(opt, key), group_values(ref_opt, key)
        if name == "Adam":
            assert [beta2 for _, beta2 in ours] == [0.99, 0.99]  # only beta1 cycles
            ours, theirs = [beta1 for beta1, _ in ours], [beta1 for beta1, _ in theirs]
        assert_same(ours, theirs, f"{key} after step {step}")
        seen.append(ours)
    seen = np.array(seen)
    assert seen[0].tolist() == [0.9, 0.9]  # the cycle starts at max_momentum ...
    np.testing.assert_allclose(seen.min(axis=0), [0.8, 0.7], rtol=1e-3)  # ... dips to base_momentum at peak lr
    advance(opt, scheduler)  # PyTorch allows one step past the last one ...
    with pytest.raises(ValueError, match="Tried to step 31 times"):  # ... and no more
        advance(opt, scheduler)


def test_one_cycle_needs_a_length():
    opt, _ = make_optimizers(momentum=0.9)
    with pytest.raises(ValueError, match="total_steps OR"):
        lr_scheduler.OneCycleLR(opt, max_lr=0.1)
    with pytest.raises(ValueError, match="max_lr must have the same length"):
        lr_scheduler.OneCycleLR(opt, max_lr=[0.1, 0.2, 0.3], total_steps=10)


CHAINS = [
    (("ExponentialLR", {"gamma": 0.9}), ("StepLR", {"step_size": 5, "gamma": 0.5})),
    (("LinearLR", {"start_factor": 0.1, "total_iters": 8}), ("CosineAnnealingLR", {"T_max": 30, "eta_min": 1e-4})),
    (("MultiStepLR", {"milestones": [10, 20]}), ("LinearLR", {"start_factor": 0.5, "total_iters": 4})),
]


@pytest.mark.parametrize("chain", CHAINS, ids=[f"{a[0]}+{b[0]}" for a, b in CHAINS])
def test_two_schedulers_on_one_optimizer_compose_as_in_pytorch(chain):
    opt, ref_opt = make_optimizers()
    ours = [getattr(lr_scheduler, name)(opt, **options) for name, options in chain]
    theirs = [getattr(torch.optim.lr_scheduler, name)(ref_opt, **options) for name, options in chain]
    for step in range(1, STEPS + 1):
        opt.step()
        ref_opt.step()
        for scheduler, reference in zip(ours, theirs):
            scheduler.step()
            reference.step()
            assert_same(scheduler.get_last_lr(), reference.get_last_lr(), f"rates after step {step}")


def run_schedule(name, options, steps, opt=None):
    opt = opt or make_optimizers(momentum=0.9)[0]
    scheduler = getattr(lr_scheduler, name)(opt, **options)
    rates = []
    for _ in range(steps):
        advance(opt, scheduler)
        rates.append(group_values(opt) + group_values(opt, "momentum"))
    return opt, scheduler, rates


@pytest.mark.parametrize(("name", "options"), SCHEDULES, ids=SCHEDULE_IDS)
def test_resuming_from_state_dicts_continues_the_schedule(name, options, tmp_path):
    _, _, uninterrupted = run_schedule(name, options, 30)

    opt, scheduler, before = run_schedule(name, options, 12)
    path = tmp_path / "checkpoint.safetensors"
    trainer.save({"optimizer": opt.state_dict(), "scheduler": scheduler.state_dict()}, path)
    checkpoint = trainer.load(path)
    assert "optimizer" not in checkpoint["scheduler"]

    resumed_opt = make_optimizers(momentum=0.9)[0]
    resumed = getattr(lr_scheduler, name)(resumed_opt, **options)  # built first: construction resets the rates
    resumed_opt.load_state_dict(checkpoint["optimizer"])
    resumed.load_state_dict(checkpoint["scheduler"])
    after = []
    for _ in range(18):
        advance(resumed_opt, resumed)
        after.append(group_values(resumed_opt) + group_values(resumed_opt, "momentum"))
    assert before + after == uninterrupted


@pytest.mark.parametrize(("name", "options"), SCHEDULES, ids=SCHEDULE_IDS)
def test_state_dict_has_pytorchs_keys_and_loads_pytorchs_state(name, options):
    opt, ref_opt = make_optimizers(momentum=0.9)
    scheduler = getattr(lr_scheduler, name)(opt, **options)
    reference = getattr(torch.optim.lr_scheduler, name)(ref_opt, **options)
    for _ in range(9):
        advance(ref_opt, reference)
    torch_state = reference.state_dict()
    assert set(scheduler.state_dict()) == set(torch_state) - {"_get_lr_called_within_step"}

    opt.load_state_dict({"state": {}, "param_groups": [{k: v for k, v in group.items()} for group in
                                                       ref_opt.state_dict()["param_groups"]]})
    scheduler.load_state_dict(torch_state)
    for step in range(10, 25):
        advance(opt, scheduler)
        advance(ref_opt, reference)
        assert_same(group_values(opt), group_values(ref_opt), f"rates after step {step}")


class Warmup:
    """A callable object: LambdaLR saves its attributes, unlike a plain function's."""

    def __init__(self, steps):
        self.steps = steps

    def __call__(self, epoch):
        return min(1.0, (epoch + 1) / self.steps)


def test_lambda_lr_state_dict_keeps_callable_objects_state_but_no_functions():
    opt, _ = make_optimizers()
    warmup = Warmup(5)
    scheduler = lr_scheduler.LambdaLR(opt, [warmup, lambda epoch: 1.0])
    warmup.steps = 8
    state = scheduler.state_dict()
    assert state["lr_lambdas"] == [{"steps": 8}, None]
    assert "optimizer" not in state

    other = Warmup(5)
    restored = lr_scheduler.LambdaLR(make_optimizers()[0], [other, lambda epoch: 1.0])
    restored.load_state_dict(state)
    assert other.steps == 8
    assert state["lr_lambdas"] == [{"steps": 8}, None]  # loading leaves the given dict as it was


def test_constructing_with_last_epoch_resumes_like_pytorch():
    opt, ref_opt = make_optimizers()
    for optimizer in (opt, ref_opt):
        for group in optimizer.param_groups:
            group["initial_lr"] = group["lr"]
    scheduler = lr_scheduler.CosineAnnealingLR(opt, T_max=10, last_epoch=4)
    reference = torch.optim.lr_scheduler.CosineAnnealingLR(ref_opt, T_max=10, last_epoch=4)
    for step in range(6, 30):
        assert_same(group_values(opt), group_values(ref_opt), f"rates at epoch {step - 1}")
        advance(opt, scheduler)
        advance(ref_opt, reference)

    fresh, _ = make_optimizers()
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.StepLR(fresh, step_size=3, last_epoch=4)


def test_a_custom_scheduler_subclasses_the_base_as_in_pytorch():
    def halving(base):
        class Halving(base):
            def get_lr(self):
                return [base_lr * 0.5 ** (self.last_epoch // 3) for base_lr in self.base_lrs]
        return Halving

    assert issubclass(lr_scheduler._LRScheduler, lr_scheduler.LRScheduler)
    opt, ref_opt = make_optimizers()
    scheduler = halving(lr_scheduler._LRScheduler)(opt)
    reference = halving(torch.optim.lr_scheduler._LRScheduler)(ref_opt)
    for step in range(10):
        advance(opt, scheduler)
        advance(ref_opt, reference)
        assert_same(scheduler.get_last_lr(), reference.get_last_lr(), f"rates after step {step}")


def test_invalid_arguments_raise_actionable_errors():
    opt, _ = make_optimizers()
    with pytest.raises(TypeError, match="is not an Optimizer"):
        lr_scheduler.StepLR(object(), step_size=2)
    with pytest.raises(ValueError, match="Starting multiplicative factor"):
        lr_scheduler.LinearLR(opt, start_factor=0)
    with pytest.raises(ValueError, match="Expected 2 lr_lambdas"):
        lr_scheduler.LambdaLR(opt, [lambda e: 1.0])
    with pytest.raises(ValueError, match="step_size"):
        lr_scheduler.StepLR(opt, step_size=0)
    with pytest.raises(ValueError, match="T_max"):
        lr_scheduler.CosineAnnealingLR(opt, T_max=0)
