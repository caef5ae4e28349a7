"""Complex reductions, scans and products against PyTorch on the same complex128 inputs (values and gradients), and
the optimizers that update a complex parameter as its real view, step for step against PyTorch's."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import trainer
from tests.trainer.test_complex import assert_complex_parity
from tests.trainer.test_ops_parity import assert_raises_like_torch

RNG = np.random.default_rng(5)


def _complex(*shape):
    return RNG.standard_normal(shape) + 1j * RNG.standard_normal(shape)


A, V, W = _complex(3, 4), _complex(4), _complex(4)

CASES = {
    "sum": (lambda lib, a: a.sum(0), [A]),
    "mean": (lambda lib, a: a.mean(), [A]),
    "var": (lambda lib, a: a.var(1), [A]),
    "var_correction_0": (lambda lib, a: lib.var(a, 0, correction=0), [A]),
    "std": (lambda lib, a: a.std(), [A]),
    "std_keepdim": (lambda lib, a: a.std(1, keepdim=True), [A]),
    "var_mean": (lambda lib, a: lib.var_mean(a, 0)[0], [A]),
    "std_mean": (lambda lib, a: lib.std_mean(a, 1)[0], [A]),
    "norm": (lambda lib, a: lib.norm(a), [A]),
    "norm_p1_dim": (lambda lib, a: lib.norm(a, 1, dim=1), [A]),
    "tensor_norm": (lambda lib, a: a.norm(3), [A]),
    "cumsum": (lambda lib, a: a.cumsum(1), [A]),
    "cumprod": (lambda lib, a: a.cumprod(1), [A]),
    "prod": (lambda lib, a: a.prod(0), [A]),
    "dot": (lambda lib, a, b: lib.dot(a, b), [V, W]),
    "vdot_conjugates_first": (lambda lib, a, b: lib.vdot(a, b), [V, W]),
    "inner": (lambda lib, a, b: lib.inner(a, b), [A, _complex(2, 4)]),
    "outer": (lambda lib, a, b: lib.outer(a, b), [V, W]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_complex_reductions_match_torch(case):
    fn, arrays = CASES[case]
    assert_complex_parity(fn, arrays)


def test_cumprod_with_a_zero_matches_torch():
    a = _complex(2, 5)
    a[0, 2] = 0
    assert_complex_parity(lambda lib, x: x.cumprod(1), [a])


def test_var_and_std_of_complex_are_real():
    x = trainer.tensor(A)
    assert x.var().dtype is trainer.float64 and x.std(0).dtype is trainer.float64
    np.testing.assert_allclose(x.var(correction=0).item(), np.mean(np.abs(A - A.mean()) ** 2))


def test_nansum_rejects_complex_as_torch_does():
    assert_raises_like_torch(lambda lib: lib.nansum(lib.tensor(A)), RuntimeError, "nansum does not support complex")


# ------------------------------------------------------------------------------------------ optimizers
OPTIMIZERS = {
    "RMSprop": {},
    "RMSprop_centered_momentum": {"centered": True, "momentum": 0.9},
    "Adagrad": {"initial_accumulator_value": 0.1, "weight_decay": 0.01},
    "Adadelta": {"lr": 0.5},
    "Adamax": {"lr": 0.05},
    "NAdam": {"lr": 0.05},
    "RAdam": {"lr": 0.05},
    "ASGD": {"lr": 0.05, "t0": 2},
    "Rprop": {"lr": 0.05},
}


def _train(lib, name, kwargs, start, target, steps=6):
    param = lib.tensor(start, requires_grad=True)
    opt = getattr(lib.optim, name.split("_")[0])([param], **kwargs)
    goal = lib.tensor(target)
    for _ in range(steps):
        opt.zero_grad()
        loss = ((param - goal).abs() ** 2).sum() + (param * param).real.sum() * 0.1
        loss.backward()
        opt.step()
    return param.detach().numpy() if lib is trainer else param.detach().resolve_conj().numpy()


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizers_update_complex_parameters_as_torch_does(name):
    start, target = _complex(3, 2), _complex(3, 2)
    ours = _train(trainer, name, OPTIMIZERS[name], start, target)
    theirs = _train(torch, name, OPTIMIZERS[name], start, target)
    assert not np.allclose(ours, start)
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("line_search", [None, "strong_wolfe"])
def test_lbfgs_minimises_over_complex_parameters_as_torch_does(line_search):
    start, target = _complex(4), _complex(4)
    mixed = RNG.standard_normal(3)

    def run(lib):
        z = lib.tensor(start, requires_grad=True)
        r = lib.tensor(mixed, requires_grad=True)  # a real parameter beside it: one flat vector of both
        goal = lib.tensor(target)
        opt = lib.optim.LBFGS([z, r], lr=0.5, max_iter=5, line_search_fn=line_search)

        def closure():
            opt.zero_grad()
            loss = ((z - goal).abs() ** 4).sum() + (r ** 2).sum() + (z.real * r[0]).sum()
            loss.backward()
            return loss

        for _ in range(2):
            opt.step(closure)
        return z.detach().resolve_conj().numpy() if lib is torch else z.detach().numpy(), r.detach().numpy()

    (ours_z, ours_r), (theirs_z, theirs_r) = run(trainer), run(torch)
    np.testing.assert_allclose(ours_z, theirs_z, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(ours_r, theirs_r, rtol=1e-8, atol=1e-10)
