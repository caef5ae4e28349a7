"""Fixes found by running torchvision's model code on trainer (tests/trainer/examples/test_model_zoo.py):
``F.relu(input, inplace=...)``, which DenseNet and GoogLeNet call with ``inplace=True``."""

import numpy as np
import pytest
import torch

import trainer
from tests.trainer.test_ops_parity import assert_forward_and_gradients_match_torch, assert_raises_like_torch


@pytest.mark.parametrize("inplace", [False, True])
def test_functional_relu_inplace_values_and_gradients(inplace):
    x = np.random.default_rng(0).standard_normal((3, 4))
    # the in-place form runs on a non-leaf (x * 1), as in a model's forward
    assert_forward_and_gradients_match_torch(lambda lib, t: lib.nn.functional.relu(t * 1, inplace=inplace) * 2, [x])


def test_functional_relu_inplace_writes_into_its_input():
    x = trainer.tensor([-1.0, 0.5, -2.0, 3.0])
    out = trainer.nn.functional.relu(x, inplace=True)
    assert out is x
    np.testing.assert_array_equal(x.numpy(), [0.0, 0.5, 0.0, 3.0])
    y = trainer.tensor([-1.0, 2.0])
    np.testing.assert_array_equal(trainer.nn.functional.relu(y).numpy(), [0.0, 2.0])
    np.testing.assert_array_equal(y.numpy(), [-1.0, 2.0])


def test_functional_relu_inplace_gradient_after_a_view_of_the_graph():
    """DenseNet's ``F.relu(features, inplace=True)`` follows a BatchNorm: the in-place result must backpropagate
    through the op that produced ``features``."""
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((2, 3)), rng.standard_normal((3, 3))
    grads = []
    for lib in (torch, trainer):
        xt, wt = lib.tensor(x, requires_grad=True), lib.tensor(w, requires_grad=True)
        out = lib.nn.functional.relu(xt @ wt, inplace=True)
        out.sum().backward()
        grads.append((xt.grad.numpy(), wt.grad.numpy()))
    for ours, theirs in zip(grads[1], grads[0]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_functional_relu_inplace_on_a_leaf_that_requires_grad_raises_like_torch():
    assert_raises_like_torch(
        lambda lib: lib.nn.functional.relu(lib.ones(2, requires_grad=True), inplace=True),
        RuntimeError, "leaf Variable that requires grad")
