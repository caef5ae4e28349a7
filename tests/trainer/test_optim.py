"""``trainer.optim`` against ``torch.optim``: the same parameters and gradients must give the same updates.

Gradients are assigned directly (``p.grad = ...``) so each check isolates the update rule from autograd.
"""

import tracemalloc

import numpy as np
import pytest
import torch

import trainer
import trainer.optim as optim
from trainer.nn import Parameter

SHAPES = [(4, 3), (5,), ()]
STEPS = 5
TOLERANCE = 1e-8

CASES = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.5}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    ("SGD", {"lr": 0.1, "weight_decay": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.5, "nesterov": True, "weight_decay": 0.05, "maximize": True}),
    ("SGD", {"lr": 0.05, "momentum": 0.8, "dampening": 0.3, "weight_decay": 0.2}),
    ("SGD", {"lr": 0.1, "maximize": True}),
    ("Adam", {}),
    ("Adam", {"lr": 0.01, "amsgrad": True}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.01, "maximize": True}),
    ("Adam", {"lr": 0.02, "betas": (0.3, 0.5), "eps": 1e-3, "weight_decay": 0.1, "amsgrad": True, "maximize": True}),
    ("AdamW", {}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0, "maximize": True}),
    ("RMSprop", {}),
    ("RMSprop", {"lr": 0.01, "centered": True}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.9}),
    ("RMSprop", {"lr": 0.01, "centered": True, "momentum": 0.5, "weight_decay": 0.1}),
    ("RMSprop", {"lr": 0.01, "alpha": 0.3, "centered": True, "maximize": True}),
    ("RMSprop", {"lr": 0.01, "eps": 1e-2, "weight_decay": 0.05}),
]
CASE_IDS = [f"{name}-{options}" for name, options in CASES]


def make_pair(arrays):
    """The same float64 parameters, once in each library."""
    ours = [Parameter(trainer.tensor(a)) for a in arrays]
    theirs = [torch.nn.Parameter(torch.tensor(a)) for a in arrays]
    return ours, theirs


def set_grads(params, grads, lib):
    for p, g in zip(params, grads):
        p.grad = None if g is None else lib.tensor(g)


def max_diff(ours, theirs) -> float:
    return max(float(np.max(np.abs(p.detach().numpy() - tp.detach().numpy()), initial=0)) for p, tp in
               zip(ours, theirs))


def random_grads(rng, steps=STEPS, shapes=SHAPES):
    return [[rng.standard_normal(s) for s in shapes] for _ in range(steps)]


@pytest.mark.parametrize(("name", "options"), CASES, ids=CASE_IDS)
def test_updates_match_pytorch(name, options):
    rng = np.random.default_rng(0)
    ours, theirs = make_pair([rng.standard_normal(s) for s in SHAPES])
    frozen, frozen_torch = make_pair([rng.standard_normal((2, 2))])  # never gets a gradient
    optimizer = getattr(optim, name)(ours + frozen, **options)
    reference = getattr(torch.optim, name)(theirs + frozen_torch, **options)
    for step, grads in enumerate(random_grads(rng)):
        set_grads(ours, grads, trainer)
        set_grads(theirs, grads, torch)
        optimizer.step()
        reference.step()
        assert max_diff(ours, theirs) <= TOLERANCE, f"parameters differ after step {step + 1}"
    assert max_diff(frozen, frozen_torch) == 0
    assert_state_matches(optimizer.state_dict(), reference.state_dict())


def assert_state_matches(ours, theirs):
    """Same layout as PyTorch's state dict: indices, state keys and values, and the options we share."""
    assert ours["state"].keys() == theirs["state"].keys()
    for index, state in ours["state"].items():
        assert list(state) == list(theirs["state"][index])
        for key, value in state.items():
            np.testing.assert_allclose(value.numpy(), theirs["state"][index][key].numpy(), rtol=0, atol=TOLERANCE)
        if "step" in state:
            assert state["step"].dtype == trainer.float32 and state["step"].shape == ()
    for group, their_group in zip(ours["param_groups"], theirs["param_groups"]):
        assert group.items() <= their_group.items()


def test_param_groups_take_their_own_options():
    rng = np.random.default_rng(1)
    arrays = [rng.standard_normal((3, 2)), rng.standard_normal(4)]
    ours, theirs = make_pair(arrays)
    optimizer = optim.SGD([{"params": [ours[0]]}, {"params": ours[1], "lr": 0.5, "momentum": 0.9}], lr=0.01)
    reference = torch.optim.SGD([{"params": [theirs[0]]}, {"params": theirs[1], "lr": 0.5, "momentum": 0.9}],
                                lr=0.01)
    assert [g["lr"] for g in optimizer.param_groups] == [0.01, 0.5]
    assert [g["momentum"] for g in optimizer.param_groups] == [0, 0.9]
    for grads in random_grads(rng, shapes=[(3, 2), (4,)]):
        set_grads(ours, grads, trainer)
        set_grads(theirs, grads, torch)
        optimizer.step()
        reference.step()
        assert max_diff(ours, theirs) <= TOLERANCE
    assert list(optimizer.state_dict()["state"]) == [1]  # only the group with momentum keeps state


def test_add_param_group_fills_in_defaults():
    first, second = Parameter(trainer.zeros(2)), Parameter(trainer.zeros(3))
    optimizer = optim.Adam([first], lr=0.1, betas=(0.8, 0.9))
    optimizer.add_param_group({"params": second, "lr": 0.2})
    assert len(optimizer.param_groups[1]["params"]) == 1 and optimizer.param_groups[1]["params"][0] is second
    assert optimizer.param_groups[1]["lr"] == 0.2 and optimizer.param_groups[1]["betas"] == (0.8, 0.9)


def test_changing_lr_in_a_group_takes_effect():
    param = Parameter(trainer.tensor([1.0, 2.0]))
    optimizer = optim.SGD([param], lr=0.1)
    optimizer.param_groups[0]["lr"] = 1.0
    param.grad = trainer.tensor([1.0, 1.0])
    optimizer.step()
    np.testing.assert_array_equal(param.detach().numpy(), [0.0, 1.0])


@pytest.mark.parametrize("set_to_none", [True, False])
def test_zero_grad(set_to_none):
    params = [Parameter(trainer.ones(2, 3)), Parameter(trainer.ones(4))]
    params[0].grad = trainer.ones(2, 3)
    optimizer = optim.SGD(params, lr=0.1)
    grad = params[0].grad
    optimizer.zero_grad(set_to_none=set_to_none)
    if set_to_none:
        assert params[0].grad is None
    else:
        assert params[0].grad is grad and not grad.requires_grad
        np.testing.assert_array_equal(grad.numpy(), np.zeros((2, 3), np.float32))
    assert params[1].grad is None


def test_zero_grad_defaults_to_none():
    param = Parameter(trainer.ones(2))
    param.grad = trainer.ones(2)
    optim.Adam([param]).zero_grad()
    assert param.grad is None


@pytest.mark.parametrize(("name", "options"), [
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.01, "amsgrad": True, "weight_decay": 0.1}),
    ("AdamW", {"lr": 0.01, "amsgrad": True}),
    ("RMSprop", {"lr": 0.01, "centered": True, "momentum": 0.9}),
], ids=["SGD", "Adam", "AdamW", "RMSprop"])
@pytest.mark.parametrize("through_file", [False, True], ids=["in-memory", "saved"])
def test_state_dict_round_trip_resumes_exactly(name, options, through_file, tmp_path):
    assert_resumes_exactly(name, options, 6, tmp_path / "optimizer.safetensors" if through_file else None)


def assert_resumes_exactly(name, options, steps, saved_to=None):
    """An ``optim.<name>`` restored from a state dict halfway through ``steps`` ends where the original does.

    The state dict goes through the file ``saved_to`` when given. Two groups, the second with its own ``lr``.
    """
    rng = np.random.default_rng(2)
    shapes = [(3, 4), (4,)]
    grads = random_grads(rng, steps=steps, shapes=shapes)
    params = [Parameter(trainer.tensor(rng.standard_normal(s))) for s in shapes]
    optimizer = getattr(optim, name)([{"params": params[:1]}, {"params": params[1:], "lr": 0.02}], **options)
    for step_grads in grads[:steps // 2]:
        set_grads(params, step_grads, trainer)
        optimizer.step()

    saved = optimizer.state_dict()
    if saved_to is not None:
        trainer.save(saved, saved_to)
        saved = trainer.load(saved_to)
    resumed_params = [Parameter(p.detach().clone()) for p in params]
    resumed = getattr(optim, name)([{"params": resumed_params[:1]}, {"params": resumed_params[1:]}], **options)
    resumed.load_state_dict(saved)
    assert resumed.param_groups[1]["lr"] == 0.02

    # The uninterrupted run continues first: if loading had aliased its state, it would disturb the resumed run.
    for step_grads in grads[steps // 2:]:
        set_grads(params, step_grads, trainer)
        optimizer.step()
    for step_grads in grads[steps // 2:]:
        set_grads(resumed_params, step_grads, trainer)
        resumed.step()
    for p, q in zip(params, resumed_params):
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())


def test_state_dict_layout():
    params = [Parameter(trainer.zeros(2)), Parameter(trainer.zeros(3)), Parameter(trainer.zeros(1))]
    optimizer = optim.SGD([{"params": params[:2]}, {"params": params[2:], "lr": 0.5}], lr=0.1, momentum=0.9)
    params[1].grad = trainer.ones(3)
    optimizer.step()
    state = optimizer.state_dict()
    assert [g["params"] for g in state["param_groups"]] == [[0, 1], [2]]
    assert state["param_groups"][1]["lr"] == 0.5 and state["param_groups"][1]["momentum"] == 0.9
    assert list(state["state"]) == [1] and list(state["state"][1]) == ["momentum_buffer"]
    assert isinstance(state["state"][1]["momentum_buffer"], trainer.Tensor)


def test_load_state_dict_casts_state_to_the_parameter_dtype():
    source = Parameter(trainer.zeros(3, dtype=trainer.float64))
    source.grad = trainer.ones(3, dtype=trainer.float64)
    adam = optim.Adam([source])
    adam.step()
    target = Parameter(trainer.zeros(3))
    resumed = optim.Adam([target])
    resumed.load_state_dict(adam.state_dict())
    state = resumed.state[target]
    assert state["exp_avg"].dtype == trainer.float32 and state["step"].dtype == trainer.float32
    assert state["exp_avg"]._data is not adam.state[source]["exp_avg"]._data


def test_load_state_dict_accepts_a_step_saved_as_a_number():
    param = Parameter(trainer.zeros(2))
    optimizer = optim.Adam([param])
    optimizer.load_state_dict({"state": {0: {"step": 3, "exp_avg": trainer.zeros(2), "exp_avg_sq": trainer.zeros(2)}},
                               "param_groups": [{"lr": 0.1, "params": [0]}]})
    param.grad = trainer.ones(2)
    optimizer.step()
    assert optimizer.state[param]["step"].item() == 4
    assert optimizer.param_groups[0]["betas"] == (0.9, 0.999)  # options missing from the dict take the defaults


def test_adamw_keeps_decoupled_weight_decay_when_loading_an_adam_state_dict():
    param = Parameter(trainer.zeros(2))
    adamw = optim.AdamW([param])
    adamw.load_state_dict(optim.Adam([Parameter(trainer.zeros(2))]).state_dict())
    assert adamw.param_groups[0]["decoupled_weight_decay"] is True
    assert adamw.param_groups[0]["params"][0] is param


def test_load_state_dict_rejects_mismatched_groups():
    a, b, c = (Parameter(trainer.zeros(2)) for _ in range(3))
    one_group = optim.SGD([a, b], lr=0.1).state_dict()
    two_groups = optim.SGD([{"params": [a]}, {"params": [b]}], lr=0.1)
    with pytest.raises(ValueError, match="different number of parameter groups: it has 1, this optimizer has 2"):
        two_groups.load_state_dict(one_group)
    three_params = optim.SGD([a, b, c], lr=0.1)
    with pytest.raises(ValueError, match="doesn't match the size of optimizer's group: group 0 has 2 parameters"):
        three_params.load_state_dict(one_group)
    with pytest.raises(ValueError, match="'state' and 'param_groups'"):
        three_params.load_state_dict({"state": {}})


@pytest.mark.parametrize(("make", "message"), [
    (lambda p: optim.SGD(p, lr=-1), "Invalid learning rate: -1"),
    (lambda p: optim.Adam(p, lr=-1), "Invalid learning rate: -1"),
    (lambda p: optim.AdamW(p, lr=-1), "Invalid learning rate: -1"),
    (lambda p: optim.RMSprop(p, lr=-1), "Invalid learning rate: -1"),
    (lambda p: optim.SGD([{"params": p, "lr": -0.5}], lr=0.1), "Invalid learning rate: -0.5"),
    (lambda p: optim.SGD(p, momentum=-0.9), "Invalid momentum value: -0.9"),
    (lambda p: optim.SGD(p, weight_decay=-1), "Invalid weight_decay value: -1"),
    (lambda p: optim.SGD(p, nesterov=True), "Nesterov momentum requires a momentum and zero dampening"),
    (lambda p: optim.SGD(p, momentum=0.9, dampening=0.1, nesterov=True), "Nesterov momentum requires"),
    (lambda p: optim.Adam(p, betas=(1.0, 0.999)), "Invalid beta parameter at index 0: 1.0"),
    (lambda p: optim.Adam(p, betas=(0.9, -0.1)), "Invalid beta parameter at index 1: -0.1"),
    (lambda p: optim.Adam(p, eps=-1e-8), "Invalid epsilon value: -1e-08"),
    (lambda p: optim.RMSprop(p, alpha=-1), "Invalid alpha value: -1"),
    (lambda p: optim.RMSprop(p, lr=float("nan")), "Invalid learning rate: nan"),
])
def test_invalid_hyperparameters_raise(make, message):
    with pytest.raises(ValueError, match=message):
        make([Parameter(trainer.zeros(2))])


def test_invalid_params_raise():
    param = Parameter(trainer.zeros(2))
    with pytest.raises(TypeError, match="iterable of Tensors or dicts, but got Parameter"):
        optim.SGD(param)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([])
    with pytest.raises(TypeError, match="can only optimize Tensors, but one of the params is ndarray"):
        optim.SGD([np.zeros(2)])
    with pytest.raises(TypeError, match="Please use a list instead"):
        optim.SGD({param})
    with pytest.raises(ValueError, match="duplicate parameters"):
        optim.SGD([param, param])
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [param]}, {"params": [param]}])
    with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
        optim.SGD([param * 2])


def test_closure_is_evaluated_with_grad_and_its_loss_returned():
    ours, theirs = make_pair([np.array([1.0, -2.0, 3.0])])
    optimizer = optim.SGD(ours, lr=0.1, momentum=0.9)
    reference = torch.optim.SGD(theirs, lr=0.1, momentum=0.9)

    def closure_for(params, opt):
        def closure():
            opt.zero_grad()
            loss = (params[0] * params[0]).sum()
            loss.backward()
            return loss
        return closure

    for _ in range(3):
        with trainer.no_grad():  # the closure must still record its graph
            loss = optimizer.step(closure_for(ours, optimizer))
        their_loss = reference.step(closure_for(theirs, reference))
        assert loss.item() == pytest.approx(their_loss.item(), abs=TOLERANCE)
        assert max_diff(ours, theirs) <= TOLERANCE
    assert optimizer.step() is None


@pytest.mark.parametrize("make", [
    lambda p: optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.1, maximize=True),
    lambda p: optim.Adam(p, weight_decay=0.1, maximize=True),
    lambda p: optim.AdamW(p, amsgrad=True),
    lambda p: optim.RMSprop(p, centered=True, momentum=0.9, weight_decay=0.1),
], ids=["SGD", "Adam", "AdamW", "RMSprop"])
def test_step_updates_in_place_and_leaves_grads_alone(make):
    param = Parameter(trainer.randn(3, 4))
    grad = trainer.randn(3, 4)
    grad_before = grad.numpy().copy()
    param.grad = grad
    storage, version = param._data, param._version
    optimizer = make([param])
    for _ in range(2):
        optimizer.step()
    assert param._data is storage and param._version == version + 2
    assert param.grad is grad
    np.testing.assert_array_equal(grad.numpy(), grad_before)
    assert not param.grad.requires_grad and param.requires_grad and param.grad_fn is None


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop"])
def test_scalar_parameter_from_a_reduction_is_updated(name):
    param = Parameter(trainer.tensor([1.0, 2.0]).sum())  # its array may be a NumPy scalar, which is immutable
    reference = torch.nn.Parameter(torch.tensor([1.0, 2.0]).sum())
    optimizer, torch_optimizer = getattr(optim, name)([param], lr=0.1), getattr(torch.optim, name)([reference], lr=0.1)
    for _ in range(2):
        param.grad, reference.grad = trainer.tensor(0.5), torch.tensor(0.5)
        optimizer.step()
        torch_optimizer.step()
    assert param.item() == pytest.approx(reference.item(), abs=1e-6)


def test_sgd_momentum_does_not_grow_memory():
    param = Parameter(trainer.randn(512, 784))
    param.grad = trainer.randn(512, 784)
    optimizer = optim.SGD([param], lr=0.01, momentum=0.9)
    optimizer.step()
    buffer = optimizer.state[param]["momentum_buffer"]._data
    param_bytes = param._data.nbytes

    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        for _ in range(199):
            optimizer.step()
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert optimizer.state[param]["momentum_buffer"]._data is buffer
    assert current - baseline < param_bytes // 10  # nothing kept between steps
    assert peak - baseline <= 2 * param_bytes  # at most a transient temporary or two per step


def test_repr_lists_each_group_like_pytorch():
    reprs = []
    for lib in (torch, trainer):
        params = [lib.nn.Parameter(lib.zeros(2)), lib.nn.Parameter(lib.zeros(2))]
        reprs.append(repr(lib.optim.SGD([{"params": params[:1]}, {"params": params[1:], "lr": 0.5}], lr=0.1)))
    assert reprs[1] == reprs[0]
    assert "Parameter Group 1\n    dampening: 0\n    differentiable: False\n    foreach: None" in reprs[1]


@pytest.mark.cuda
@pytest.mark.parametrize(("name", "options"), CASES, ids=CASE_IDS)
def test_updates_on_cuda_match_cpu(name, options):
    assert_cuda_matches_cpu(name, options, STEPS)


def assert_cuda_matches_cpu(name, options, steps):
    """``steps`` updates of ``optim.<name>(**options)`` on the GPU end where the same updates on the CPU do."""
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal(s) for s in SHAPES]
    grads = random_grads(rng, steps=steps)
    results = {}
    for device in ("cpu", "cuda"):
        params = [Parameter(trainer.tensor(a, device=device)) for a in arrays]
        optimizer = getattr(optim, name)(params, **options)
        for step_grads in grads:
            for p, g in zip(params, step_grads):
                p.grad = trainer.tensor(g, device=device)
            optimizer.step()
        results[device] = [p.detach().cpu().numpy() for p in params]
        assert all(p.device.type == device for p in params)
    for on_cpu, on_cuda in zip(results["cpu"], results["cuda"]):
        np.testing.assert_allclose(on_cuda, on_cpu, rtol=0, atol=1e-10)
