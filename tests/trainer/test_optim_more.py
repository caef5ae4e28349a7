"""Rprop, ASGD and LBFGS against ``torch.optim`` on identical float64 problems.

Rprop and ASGD get their gradients assigned directly, as in test_optim_extra; LBFGS needs a closure, so it
minimises the same functions (Rosenbrock, a least-squares fit, a small network) in both libraries.
"""

import numpy as np
import pytest
import torch

import trainer
import trainer.optim as optim
from tests.trainer.test_optim import SHAPES, assert_resumes_exactly, make_pair, random_grads, set_grads

TOLERANCE = 1e-12

CASES = [
    ("Rprop", {}),
    ("Rprop", {"lr": 0.1, "etas": (0.3, 1.5), "step_sizes": (0.01, 0.2)}),
    ("Rprop", {"lr": 0.05, "maximize": True}),
    ("ASGD", {}),
    ("ASGD", {"lr": 0.1, "lambd": 0.01, "alpha": 0.5, "t0": 3, "weight_decay": 0.1}),
    ("ASGD", {"lr": 0.05, "t0": 0, "maximize": True}),
]


def assert_params_match(ours, theirs, what=""):
    for p, tp in zip(ours, theirs):
        np.testing.assert_allclose(p.detach().numpy(), tp.detach().numpy(), rtol=0, atol=TOLERANCE, err_msg=what)


@pytest.mark.parametrize(("name", "options"), CASES, ids=[f"{n}-{o}" for n, o in CASES])
def test_updates_match_pytorch(name, options):
    rng = np.random.default_rng(0)
    ours, theirs = make_pair([rng.standard_normal(s) for s in SHAPES])
    optimizer = getattr(optim, name)(ours, **options)
    reference = getattr(torch.optim, name)(theirs, **options)
    grads = random_grads(rng, steps=10)
    grads[3][0] = np.zeros(SHAPES[0])  # Rprop: a zero gradient neither grows nor shrinks the step
    for step, step_grads in enumerate(grads):
        set_grads(ours, step_grads, trainer)
        set_grads(theirs, step_grads, torch)
        optimizer.step()
        reference.step()
        assert_params_match(ours, theirs, f"step {step}")
    ours_state, theirs_state = optimizer.state_dict()["state"], reference.state_dict()["state"]
    for index, state in ours_state.items():
        assert sorted(state) == sorted(theirs_state[index])
        for key, value in state.items():
            np.testing.assert_allclose(value.numpy(), theirs_state[index][key].numpy(), rtol=0, atol=TOLERANCE)


@pytest.mark.parametrize("through_file", [False, True], ids=["in-memory", "saved"])
def test_rprop_state_dict_round_trip_resumes_exactly(through_file, tmp_path):
    assert_resumes_exactly("Rprop", {"lr": 0.05}, 8, tmp_path / "optimizer.safetensors" if through_file else None)


def test_asgd_resumes_from_a_state_dict_as_pytorch_does():
    """Loading casts ASGD's float32 ``eta`` and ``mu`` to the parameters' dtype in PyTorch, so a resumed run
    rounds them differently from an uninterrupted one: the resumed runs of both libraries must agree."""
    rng = np.random.default_rng(4)
    options = {"lr": 0.05, "t0": 2}
    grads = random_grads(rng, steps=8)
    resumed = []
    for lib, library_optim in ((trainer, optim), (torch, torch.optim)):
        params = make_pair([np.ones(s) for s in SHAPES])[0 if lib is trainer else 1]
        optimizer = library_optim.ASGD(params, **options)
        for step_grads in grads[:4]:
            set_grads(params, step_grads, lib)
            optimizer.step()
        copies = [type(p)(p.detach().clone()) for p in params]
        again = library_optim.ASGD(copies, **options)
        again.load_state_dict(optimizer.state_dict())
        for step_grads in grads[4:]:
            set_grads(copies, step_grads, lib)
            again.step()
        resumed.append(copies)
    assert_params_match(*resumed)


@pytest.mark.parametrize(("name", "options", "message"), [
    ("Rprop", {"lr": -1}, "Invalid learning rate: -1"),
    ("Rprop", {"etas": (1.1, 1.2)}, "Invalid eta values: 1.1, 1.2"),
    ("ASGD", {"lr": -0.1}, "Invalid learning rate: -0.1"),
    ("ASGD", {"weight_decay": -1}, "Invalid weight_decay value: -1"),
    ("LBFGS", {"lr": -1}, "Invalid learning rate: -1"),
    ("LBFGS", {"line_search_fn": "armijo"}, "only 'strong_wolfe' is supported"),
])
def test_invalid_hyperparameters_raise_pytorchs_errors(name, options, message):
    with pytest.raises(ValueError, match=message):
        getattr(optim, name)([trainer.nn.Parameter(trainer.zeros(2))], **options)


def _rosenbrock(lib, xy):
    x, y = xy[0], xy[1]
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2


LEAST_SQUARES_DATA = np.random.default_rng(3).standard_normal((20, 4))


def _least_squares(lib, w):
    a = lib.tensor(LEAST_SQUARES_DATA)
    target = lib.tensor(np.arange(20.0) / 10)
    return ((a @ w - target) ** 2).mean() + 0.01 * (w * w).sum()


def _run_lbfgs(lib, loss_fn, start, steps, **options):
    param = (trainer.nn.Parameter if lib is trainer else torch.nn.Parameter)(lib.tensor(start))
    optimizer = (optim.LBFGS if lib is trainer else torch.optim.LBFGS)([param], **options)
    losses = []

    def closure():
        optimizer.zero_grad()
        loss = loss_fn(lib, param)
        loss.backward()
        return loss

    for _ in range(steps):
        losses.append(float(optimizer.step(closure).detach()))
    state = optimizer.state[param]
    return param.detach().numpy(), losses, state["func_evals"], state["n_iter"]


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
@pytest.mark.parametrize(("loss_fn", "start", "options"), [
    (_rosenbrock, [-1.5, 2.0], {"lr": 1, "max_iter": 10}),
    (_rosenbrock, [1.2, 0.7], {"lr": 0.5, "max_iter": 4, "history_size": 2}),
    (_least_squares, np.zeros(4), {"lr": 1, "max_iter": 6, "tolerance_change": 1e-12}),
], ids=["rosenbrock", "rosenbrock-short-history", "least-squares"])
def test_lbfgs_follows_pytorchs_iterates(loss_fn, start, options, line_search_fn):
    ours = _run_lbfgs(trainer, loss_fn, np.asarray(start, np.float64), 3, line_search_fn=line_search_fn, **options)
    theirs = _run_lbfgs(torch, loss_fn, np.asarray(start, np.float64), 3, line_search_fn=line_search_fn, **options)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-9, atol=1e-12)
    assert ours[2:] == theirs[2:]  # the same number of evaluations and iterations


@pytest.mark.parametrize("lr", [5, 30])
def test_lbfgs_line_search_extrapolates_and_zooms_as_pytorch_does(lr):
    """Large first steps make the strong-Wolfe search extrapolate, then zoom into the bracket it found."""
    start = np.array([-1.5, 2.0])
    ours = _run_lbfgs(trainer, _rosenbrock, start, 3, lr=lr, max_iter=10, line_search_fn="strong_wolfe")
    theirs = _run_lbfgs(torch, _rosenbrock, start, 3, lr=lr, max_iter=10, line_search_fn="strong_wolfe")
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-9, atol=1e-12)
    assert ours[2:] == theirs[2:]


def test_lbfgs_trains_a_network_over_several_parameters():
    trainer.manual_seed(0)
    model = trainer.nn.Sequential(trainer.nn.Linear(3, 8), trainer.nn.Tanh(), trainer.nn.Linear(8, 1))
    x = trainer.randn(32, 3)
    y = (x[:, :1] * 2 - x[:, 1:2]).tanh()
    optimizer = optim.LBFGS(model.parameters(), line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = trainer.nn.functional.mse_loss(model(x), y)
        loss.backward()
        return loss

    first = float(optimizer.step(closure))
    for _ in range(4):
        optimizer.step(closure)
    assert float(closure()) < first / 20


def test_lbfgs_resumes_from_its_state_dict():
    start = np.array([-1.5, 2.0])
    straight = _run_lbfgs(trainer, _rosenbrock, start, 4, max_iter=3)[0]
    param = trainer.nn.Parameter(trainer.tensor(start))
    optimizer = optim.LBFGS([param], max_iter=3)

    def closure(optimizer_, param_):
        optimizer_.zero_grad()
        loss = _rosenbrock(trainer, param_)
        loss.backward()
        return loss

    for _ in range(2):
        optimizer.step(lambda: closure(optimizer, param))
    resumed_param = trainer.nn.Parameter(param.detach().clone())
    resumed = optim.LBFGS([resumed_param], max_iter=3)
    resumed.load_state_dict(optimizer.state_dict())
    for _ in range(2):
        resumed.step(lambda: closure(resumed, resumed_param))
    np.testing.assert_allclose(resumed_param.detach().numpy(), straight, rtol=0, atol=1e-12)


def test_lbfgs_refuses_groups_and_a_missing_closure():
    a, b = trainer.nn.Parameter(trainer.zeros(2)), trainer.nn.Parameter(trainer.zeros(3))
    with pytest.raises(ValueError, match="doesn't support per-parameter options"):
        optim.LBFGS([{"params": [a]}, {"params": [b]}])
    with pytest.raises(RuntimeError, match="needs a closure"):
        optim.LBFGS([a]).step(None)


def test_lbfgs_stops_at_once_when_the_gradient_is_already_zero():
    param = trainer.nn.Parameter(trainer.tensor([1.0, 1.0], dtype=trainer.float64))
    optimizer = optim.LBFGS([param])

    def closure():
        optimizer.zero_grad()
        loss = _rosenbrock(trainer, param)
        loss.backward()
        return loss

    optimizer.step(closure)
    np.testing.assert_array_equal(param.detach().numpy(), [1.0, 1.0])
    assert optimizer.state[param]["func_evals"] == 1 and optimizer.state[param]["n_iter"] == 0
