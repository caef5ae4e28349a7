"""``trainer.cond``, ``trainer.while_loop`` and ``trainer.vmap`` against PyTorch: the chosen branch runs, loops
carry their values, gradients flow through what ran, and arguments are checked with PyTorch's errors."""

import numpy as np
import pytest
import torch

import trainer
from tests.trainer.test_ops_parity import assert_forward_and_gradients_match_torch, assert_raises_like_torch


@pytest.mark.parametrize("pred", [True, False])
def test_cond_runs_the_chosen_branch_with_gradients(pred):
    def fn(lib, x, y):
        return lib.cond(lib.tensor(pred), lambda a, b: (a * b).sin(), lambda a, b: a - b.exp(), (x, y))

    assert_forward_and_gradients_match_torch(fn, [np.array([0.5, -1.0, 2.0]), np.array([1.5, 0.25, -0.5])])


def test_cond_takes_python_constants_and_float_tensors():
    x = trainer.tensor([1.0, 2.0])
    assert trainer.cond(0, lambda a: a + 1, lambda a: a - 1, (x,)).tolist() == [0.0, 1.0]
    assert trainer.cond(trainer.tensor(0.0), lambda a: a + 1, lambda a: a - 1, [x]).tolist() == [0.0, 1.0]
    assert trainer.cond(trainer.tensor([[True]]), lambda a: a + 1, lambda a: a - 1, (x,)).tolist() == [2.0, 3.0]


@pytest.mark.parametrize(("call", "message"), [
    (lambda lib: lib.cond(lib.tensor([True, False]), lambda a: a, lambda a: a, (lib.ones(2),)),
     "Expected pred to be bool or single-element tensor"),
    (lambda lib: lib.cond("yes", lambda a: a, lambda a: a, (lib.ones(2),)), "Expected pred to be bool or tensor"),
    (lambda lib: lib.cond(lib.tensor(True), 1, lambda a: a, (lib.ones(2),)), "Expect both branches to be callable"),
    (lambda lib: lib.cond(lib.tensor(True), lambda a, b: a, lambda a, b: a, (lib.ones(2), 1)),
     "only consists of tensor leaves"),
    (lambda lib: lib.cond(lib.tensor(True), lambda a: a, lambda a: a, lib.ones(2)), "only consists of tensor leaves"),
    (lambda lib: lib.while_loop(1, lambda a: (a,), (lib.ones(2),)), "Expect cond_fn and body_fn to be callable"),
    (lambda lib: lib.while_loop(lambda a: a.sum() < 10, lambda a: (a * 2,), lib.ones(2)), "tuple or list"),
    (lambda lib: lib.while_loop(lambda a: a.sum(), lambda a: (a * 2,), (lib.ones(2),)),
     "cond_fn must return a boolean scalar tensor or a boolean"),
])
def test_bad_arguments_raise_runtime_error_like_torch(call, message):
    assert_raises_like_torch(call, RuntimeError, message)


def test_while_loop_carries_values_like_torch():
    def run(lib, x):
        return lib.while_loop(lambda i, a: i < 3, lambda i, a: (i + 1, a * 2 + i), (lib.tensor(0), x))

    ours, theirs = run(trainer, trainer.tensor([1.0, 2.0])), run(torch, torch.tensor([1.0, 2.0]))
    assert [t.tolist() for t in ours] == [t.tolist() for t in theirs]
    assert ours[0].dtype == trainer.int64


def test_while_loop_that_never_runs_returns_copies():
    x = trainer.tensor([1.0, 2.0])
    (out, count) = trainer.while_loop(lambda a, n: n > 0, lambda a, n: (a, n - 1), (x, 0))
    assert out.tolist() == [1.0, 2.0] and out is not x and out.data_ptr() != x.data_ptr() and count == 0


def test_while_loop_gradients_flow_through_the_iterations():
    x = trainer.tensor([0.5, 1.5], requires_grad=True)
    _, y = trainer.while_loop(lambda i, a: i < 3, lambda i, a: (i + 1, a * a), (trainer.tensor(0), x))
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 8 * np.array([0.5, 1.5]) ** 7, rtol=1e-6)


def test_while_loop_refuses_non_tensor_leaves_and_bad_bodies():
    assert_raises_like_torch(lambda lib: lib.while_loop(lambda a, b: a.sum() < 10, lambda a, b: (a * 2, b),
                                                        (lib.ones(2), 1.5)), AssertionError, "can only be of")
    with pytest.raises(RuntimeError, match="body_fn should return a tuple with one value per carried input"):
        trainer.while_loop(lambda a: a.sum() < 10, lambda a: a * 2, (trainer.ones(2),))


def test_vmap_is_func_vmap():
    assert trainer.vmap is trainer.func.vmap
    np.testing.assert_allclose(trainer.vmap(lambda r: r.sum())(trainer.ones(3, 2)).numpy(), [2.0, 2.0, 2.0])
