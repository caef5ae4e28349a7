"""In-place changes through a view of a tensor that records gradients, against PyTorch: the base sees the new values,
and the gradients of everything upstream are PyTorch's (its ``CopySlices``)."""

import copy
import pickle

import numpy as np
import pytest

import trainer
from tests.trainer.test_higher_order import assert_higher_order_matches_torch
from tests.trainer.test_ops_parity import assert_forward_and_gradients_match_torch, assert_raises_like_torch

RNG = np.random.default_rng(5)
W = RNG.uniform(0.5, 1.5, (3, 4))
V = RNG.uniform(0.5, 1.5, (2,))


def _row_scaled(lib, w, v):
    x = w * 2
    x[0].mul_(3)
    x[1, 1:3].add_(v)
    return x


def _transposed_and_strided(lib, w, v):
    x = w * 3
    x.t()[1:3].mul_(v.unsqueeze(1))  # a view of a view: rows 1-2 of the transpose are columns of x
    x.reshape(12)[::5].zero_()
    return x * 1


def _copied_and_filled(lib, w, v):
    x = lib.zeros(3, 4, dtype=w.dtype)
    x[1:, 2:].copy_(w[:2, :2] * v)  # the base needed no gradient until the copy
    x.narrow(1, 0, 1).fill_(2.0)
    x.select(0, 0).clamp_(max=0.5)
    return x


def _set_through_view(lib, w, v):
    x = w + 0
    row = x[2]
    row[1:3] = v * 10  # __setitem__ on a view
    row.sigmoid_()
    return x.sum(0)


def _slices_and_diagonal(lib, w, v):
    x = w * 1
    x[:, 2:].mul_(v[0])
    x.diagonal().add_(v[1])
    x[:, :2].select(0, 2).div_(v[1])
    return x


CASES = {"row_scaled": _row_scaled, "transposed_and_strided": _transposed_and_strided,
         "copied_and_filled": _copied_and_filled, "set_through_view": _set_through_view,
         "slices_and_diagonal": _slices_and_diagonal}


@pytest.mark.parametrize("name", CASES)
def test_values_and_gradients_match_torch(name):
    assert_forward_and_gradients_match_torch(CASES[name], [W, V])


@pytest.mark.parametrize("name", ["row_scaled", "transposed_and_strided", "slices_and_diagonal"])
def test_second_derivatives_match_torch(name):
    assert_higher_order_matches_torch(lambda lib, w, v: (CASES[name](lib, w, v) ** 2).sum(), [W, V])


def _views_taken_before_the_base_changes(lib, w, v):
    x = w * 1
    row, column = x[0], x[:, 1]
    x.mul_(v)  # the whole base, recorded: the views see it
    row.add_(10)  # and a change through one of them reaches the base and the other
    x[1, 1] = v[0] * 7
    return x, row, column * 2


def _a_view_of_a_base_changed_through_another_view(lib, w, v):
    x = w.t() * 1
    first, rest = x[:, :1], x[1:]
    rest.mul_(v[1])
    return first.sum() + (x * x).sum()


@pytest.mark.parametrize("case", [_views_taken_before_the_base_changes, _a_view_of_a_base_changed_through_another_view])
def test_views_taken_before_a_change_see_it_with_pytorchs_gradients(case):
    assert_forward_and_gradients_match_torch(case, [W[:2, :3], np.array([0.5, 2.0, 1.5])])


def test_a_view_of_a_leaf_and_an_expanded_view_are_refused_as_in_torch():
    assert_raises_like_torch(lambda lib: lib.ones(3, requires_grad=True)[:2].add_(1), RuntimeError,
                             "a view of a leaf Variable that requires grad is being used in an in-place operation")
    assert_raises_like_torch(lambda lib: (lib.ones(1, 3, requires_grad=True) * 1).expand(2, 3).mul_(2),
                             RuntimeError, "more than one element of the written-to tensor refers to a single memory")


def test_without_recording_the_view_writes_straight_into_the_storage():
    x = trainer.ones(2, 3)
    storage = x.numpy()
    with trainer.no_grad():
        (trainer.ones(2, 3, requires_grad=True) * 1)[0].mul_(2)  # nothing recorded: nothing to rewrite
    x[1].mul_(5)
    x.diagonal(1).add_(1)  # diagonal is a view too, as in PyTorch
    np.testing.assert_array_equal(storage, [[1.0, 2.0, 1.0], [5.0, 5.0, 6.0]])


def test_a_tensor_with_views_still_pickles_and_deep_copies():
    x = trainer.zeros(2, 3)
    view = x[1:]  # recorded on x, through a weak reference
    restored, copied = pickle.loads(pickle.dumps(x)), copy.deepcopy(x)
    view.fill_(4.0)  # the copies own their arrays
    for other in (restored, copied):
        np.testing.assert_array_equal(other.numpy(), np.zeros((2, 3)))
