"""``trainer.compile`` against ``torch.compile``: what it returns (an ``OptimizedModule`` with ``_orig_mod.`` keys, a
function, a decorator), that the result computes and trains as the original does, and the argument errors."""

import numpy as np
import pytest
import torch

import trainer
from tests.trainer.test_ops_parity import assert_raises_like_torch


def _model(lib):
    lib.manual_seed(0)
    return lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.Tanh(), lib.nn.Linear(4, 2))


def test_a_compiled_module_keeps_pytorchs_keys_and_computes_and_trains_as_the_original():
    ours, theirs = _model(trainer), _model(torch)
    ours.load_state_dict({k: trainer.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
    compiled = {lib.__name__: lib.compile(model, backend="eager") for lib, model in ((trainer, ours), (torch, theirs))}
    assert list(compiled["trainer"].state_dict()) == list(compiled["torch"].state_dict())  # "_orig_mod.0.weight", ...
    assert compiled["trainer"]._orig_mod is ours and getattr(compiled["trainer"], "0") is ours[0]  # the original's
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    for lib in (trainer, torch):
        model = compiled[lib.__name__]
        optimizer = lib.optim.SGD(model.parameters(), lr=0.1)
        for _ in range(3):
            optimizer.zero_grad()
            model(lib.tensor(x)).square().mean().backward()
            optimizer.step()
    np.testing.assert_allclose(ours[0].weight.detach().numpy(), theirs[0].weight.detach().numpy(), rtol=1e-5,
                               atol=1e-6)


def test_functions_decorators_and_disable_as_in_torch():
    @trainer.compile
    def double(x):
        return x * 2

    assert double.__name__ == "double" and double(trainer.tensor(2.0)).item() == 4.0
    assert trainer.compile(mode="max-autotune")(lambda x: x + 1)(trainer.tensor(1.0)).item() == 2.0
    model = trainer.nn.Linear(2, 2)
    assert trainer.compile(model, disable=True) is model


@pytest.mark.parametrize("call, error, message", [
    (lambda lib: lib.compile(lib.nn.Linear(2, 2), mode="fast"), RuntimeError, "Unrecognized mode=fast"),
    (lambda lib: lib.compile(lib.nn.Linear(2, 2), mode="default", options={"a": 1}), RuntimeError,
     "Either mode or options can be specified"),
    (lambda lib: lib.compile(3), AssertionError, "A callable function is expected"),
    (lambda lib: lib.compile(lib.nn.Linear(2, 2), backend="nope"), RuntimeError, "Invalid backend: 'nope'"),
])
def test_bad_arguments_raise_as_in_torch(call, error, message):
    assert_raises_like_torch(call, error, message)
