"""Adagrad, Adadelta, Adamax, NAdam and RAdam against ``torch.optim``, and ``parameters_to_vector`` /
``vector_to_parameters`` against ``torch.nn.utils``.

Gradients are assigned directly (``p.grad = ...``) so each check isolates the update rule from autograd.
"""

import numpy as np
import pytest
import torch

import trainer
import trainer.optim as optim
from tests.trainer.test_optim import (
    SHAPES,
    assert_cuda_matches_cpu,
    assert_resumes_exactly,
    make_pair,
    random_grads,
    set_grads,
)
from trainer.nn import Parameter
from trainer.nn.utils import parameters_to_vector, vector_to_parameters

STEPS = 12
TOLERANCE = 1e-12

CASES = [
    ("Adagrad", {}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.05, "initial_accumulator_value": 0.3}),
    ("Adagrad", {"lr": 0.1, "weight_decay": 0.1, "eps": 1e-3, "maximize": True}),
    ("Adadelta", {}),
    ("Adadelta", {"lr": 0.5, "rho": 0.6, "eps": 1e-4, "weight_decay": 0.1}),
    ("Adadelta", {"maximize": True, "weight_decay": 0.05}),
    ("Adamax", {}),
    ("Adamax", {"lr": 0.01, "betas": (0.5, 0.8), "eps": 1e-3, "weight_decay": 0.1}),
    ("Adamax", {"lr": 0.01, "maximize": True}),
    ("NAdam", {}),
    ("NAdam", {"lr": 0.01, "momentum_decay": 0.1, "weight_decay": 0.1}),
    ("NAdam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True, "maximize": True}),
    ("NAdam", {"lr": 0.01, "betas": (0.3, 0.5), "eps": 1e-3}),
    ("RAdam", {}),  # the default beta2 keeps the variance untractable for these steps: momentum SGD throughout
    ("RAdam", {"lr": 0.01, "betas": (0.9, 0.5), "weight_decay": 0.1}),  # rectified from step 4 on
    ("RAdam", {"lr": 0.01, "betas": (0.8, 0.6), "weight_decay": 0.1, "decoupled_weight_decay": True,
               "maximize": True}),
]
CASE_IDS = [f"{name}-{options}" for name, options in CASES]
NAMES = ["Adagrad", "Adadelta", "Adamax", "NAdam", "RAdam"]


def assert_params_match(ours, theirs, what=""):
    for p, tp in zip(ours, theirs):
        np.testing.assert_allclose(p.detach().numpy(), tp.detach().numpy(), rtol=0, atol=TOLERANCE, err_msg=what)


@pytest.mark.parametrize(("name", "options"), CASES, ids=CASE_IDS)
def test_updates_match_pytorch(name, options):
    rng = np.random.default_rng(0)
    ours, theirs = make_pair([rng.standard_normal(s) for s in SHAPES])
    optimizer = getattr(optim, name)(ours, **options)
    reference = getattr(torch.optim, name)(theirs, **options)
    for step, grads in enumerate(random_grads(rng, steps=STEPS), 1):
        grads[1] = None if step % 5 == 0 else grads[1]  # a parameter without a gradient is skipped
        set_grads(ours, grads, trainer)
        set_grads(theirs, grads, torch)
        optimizer.step()
        reference.step()
        assert_params_match(ours, theirs, f"after step {step}")
    for p, tp in zip(ours, theirs):  # the state too, key by key
        assert set(optimizer.state[p]) == set(reference.state[tp])
        for key, value in reference.state[tp].items():
            np.testing.assert_allclose(optimizer.state[p][key].numpy(), value.numpy(), rtol=0, atol=TOLERANCE)
            assert optimizer.state[p][key].dtype.itemsize == value.dtype.itemsize, key


@pytest.mark.parametrize("name", NAMES)
def test_param_groups_take_their_own_options(name):
    rng = np.random.default_rng(1)
    ours, theirs = make_pair([rng.standard_normal(s) for s in SHAPES])
    groups = [{"params": ours[:1], "lr": 0.3, "weight_decay": 0.2}, {"params": ours[1:]}]
    ref_groups = [{"params": theirs[:1], "lr": 0.3, "weight_decay": 0.2}, {"params": theirs[1:]}]
    optimizer = getattr(optim, name)(groups, lr=0.05)
    reference = getattr(torch.optim, name)(ref_groups, lr=0.05)
    for grads in random_grads(rng, steps=4):
        set_grads(ours, grads, trainer)
        set_grads(theirs, grads, torch)
        optimizer.step()
        reference.step()
    assert_params_match(ours, theirs)
    ignored = {"foreach", "differentiable", "capturable", "fused", "params"}
    for group, ref_group in zip(optimizer.param_groups, reference.param_groups):
        assert {k: v for k, v in group.items() if k not in ignored} == \
               {k: v for k, v in ref_group.items() if k not in ignored}


@pytest.mark.parametrize("name", NAMES)
def test_step_updates_in_place_and_leaves_grads_alone(name):
    param = Parameter(trainer.tensor(np.linspace(-1, 1, 6)))
    storage, grad = param._data, trainer.tensor(np.full(6, 0.5))
    param.grad = grad
    optimizer = getattr(optim, name)([param], weight_decay=0.1, maximize=True)
    optimizer.step()
    assert param._data is storage
    assert not np.array_equal(param.detach().numpy(), np.linspace(-1, 1, 6))
    np.testing.assert_array_equal(grad.numpy(), np.full(6, 0.5))


def test_adagrad_creates_its_state_up_front_like_pytorch():
    param, ref_param = Parameter(trainer.zeros(3)), torch.nn.Parameter(torch.zeros(3, dtype=torch.float64))
    state = optim.Adagrad([param], initial_accumulator_value=0.25).state_dict()
    ref_state = torch.optim.Adagrad([ref_param], initial_accumulator_value=0.25).state_dict()
    assert list(state["state"]) == list(ref_state["state"]) == [0]
    assert float(state["state"][0]["step"]) == 0.0
    np.testing.assert_array_equal(state["state"][0]["sum"].numpy(), ref_state["state"][0]["sum"].numpy())


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("through_file", [False, True], ids=["in-memory", "saved"])
def test_state_dict_round_trip_resumes_exactly(name, through_file, tmp_path):
    options = {"weight_decay": 0.1, "lr": 0.05}
    assert_resumes_exactly(name, options, 8, tmp_path / "optimizer.safetensors" if through_file else None)


@pytest.mark.parametrize(("name", "options", "message"), [
    ("Adagrad", {"lr": -1}, "Invalid learning rate: -1"),
    ("Adagrad", {"lr_decay": -0.1}, "Invalid lr_decay value: -0.1"),
    ("Adagrad", {"initial_accumulator_value": -1}, "Invalid initial_accumulator_value value: -1"),
    ("Adadelta", {"rho": 1.5}, "Invalid rho value: 1.5"),
    ("Adadelta", {"eps": -1e-3}, "Invalid epsilon value: -0.001"),
    ("Adamax", {"betas": (0.9, 1.0)}, "Invalid beta parameter at index 1: 1.0"),
    ("NAdam", {"momentum_decay": -1}, "Invalid momentum_decay value: -1"),
    ("NAdam", {"weight_decay": -1}, "Invalid weight_decay value: -1"),
    ("RAdam", {"betas": (-0.1, 0.9)}, "Invalid beta parameter at index 0: -0.1"),
])
def test_invalid_hyperparameters_raise_pytorchs_errors(name, options, message):
    for lib in (trainer, torch):
        with pytest.raises(ValueError) as error:
            getattr(lib.optim, name)([lib.nn.Parameter(lib.zeros(2))], **options)
        assert str(error.value) == message, lib.__name__


@pytest.mark.cuda
@pytest.mark.parametrize(("name", "options"), CASES, ids=CASE_IDS)
def test_updates_on_cuda_match_cpu(name, options):
    assert_cuda_matches_cpu(name, options, STEPS)


# ----------------------------------------------------------------------------- parameters_to_vector and back
def test_parameters_to_vector_matches_pytorch_and_is_differentiable():
    rng = np.random.default_rng(4)
    ours, theirs = make_pair([rng.standard_normal(s) for s in SHAPES])
    vector, ref_vector = parameters_to_vector(ours), torch.nn.utils.parameters_to_vector(theirs)
    np.testing.assert_array_equal(vector.detach().numpy(), ref_vector.detach().numpy())
    weights = rng.standard_normal(vector.shape[0])
    (vector * trainer.tensor(weights)).sum().backward()
    (ref_vector * torch.tensor(weights)).sum().backward()
    for p, tp in zip(ours, theirs):
        np.testing.assert_array_equal(p.grad.numpy(), tp.grad.numpy())


def test_vector_to_parameters_round_trips_and_shares_the_vector():
    rng = np.random.default_rng(5)
    ours, theirs = make_pair([rng.standard_normal(s) for s in SHAPES])
    values = rng.standard_normal(sum(int(np.prod(s)) for s in SHAPES))
    vector = trainer.tensor(values)
    vector_to_parameters(vector, ours)
    torch.nn.utils.vector_to_parameters(torch.tensor(values), theirs)
    for p, tp in zip(ours, theirs):
        assert tuple(p.shape) == tuple(tp.shape)
        np.testing.assert_array_equal(p.detach().numpy(), tp.detach().numpy())
        assert p.requires_grad
    np.testing.assert_array_equal(parameters_to_vector(ours).detach().numpy(), values)


def test_vector_to_parameters_rejects_bad_vectors():
    params = [Parameter(trainer.zeros(2, 3))]
    with pytest.raises(TypeError, match="expected torch.Tensor, but got: ndarray"):
        vector_to_parameters(np.zeros(6), params)
    with pytest.raises(RuntimeError, match="vec has 4 elements but the parameters need 6"):
        vector_to_parameters(trainer.zeros(4), params)
