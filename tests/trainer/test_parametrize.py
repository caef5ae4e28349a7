"""``trainer.nn.utils.parametrize`` and ``parametrizations`` against PyTorch: the same module in both libraries with
identical float64 weights gives the same parametrized weights, gradients of the originals, state dicts, removal
behaviour and SGD trajectories (spectral norm's power iteration included)."""

import copy

import numpy as np
import pytest
import torch
import torch.nn.utils.parametrizations as torch_parametrizations
import torch.nn.utils.parametrize as torch_parametrize

import trainer
import trainer.nn.utils.parametrizations as our_parametrizations
import trainer.nn.utils.parametrize as our_parametrize
from tests.trainer.test_ops_parity import assert_raises_like_torch

TOL = 1e-10


def pair(factory):
    """``factory(lib)`` built in both libraries, in float64, with PyTorch's weights copied into ours."""
    theirs = factory(torch).double()
    ours = factory(trainer).double()
    copy_state(theirs, ours)
    return theirs, ours


def copy_state(theirs, ours):
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})


def assert_close(ours, theirs, what="", tol=TOL):
    a = ours.detach().numpy() if isinstance(ours, trainer.Tensor) else np.asarray(ours)
    b = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else np.asarray(theirs)
    assert a.shape == b.shape, f"{what}: shape {a.shape} vs {b.shape}"
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol, err_msg=what)


def assert_same_state(ours, theirs, tol=TOL):
    ours_sd, theirs_sd = ours.state_dict(), theirs.state_dict()
    assert list(ours_sd) == list(theirs_sd)
    for key in theirs_sd:
        assert_close(ours_sd[key], theirs_sd[key], key, tol)


def assert_same_grads(ours, theirs):
    ours_params, theirs_params = dict(ours.named_parameters()), dict(theirs.named_parameters())
    assert list(ours_params) == list(theirs_params)
    for name, p in theirs_params.items():
        assert_close(ours_params[name].grad, p.grad, f"grad of {name}")


def backward_of_cubes(lib_module, x):
    """A loss whose gradient depends on the weight's values, not only on x."""
    (lib_module(x) ** 3).sum().backward()


def inputs(*shape, seed=0):
    data = np.random.default_rng(seed).standard_normal(shape)
    return torch.tensor(data), trainer.tensor(data)


class Symmetric:
    """``Symmetric(lib)``: a parametrization module of either library, with a right inverse."""

    def __new__(cls, lib):
        class _Symmetric(lib.nn.Module):
            def forward(self, X):  # noqa: N803
                return X.triu() + X.triu(1).mT

            def right_inverse(self, A):  # noqa: N803
                return A.triu()

        return _Symmetric()


def scale(lib, factor):
    class _Scale(lib.nn.Module):
        def forward(self, x):
            return x * factor

        def right_inverse(self, y):
            return y / factor

    return _Scale()


# ----------------------------------------------------------------------------------------- parametrize mechanics
def test_register_parametrization_swaps_class_and_keeps_originals_under_torch_keys():
    theirs, ours = pair(lambda lib: lib.nn.Linear(4, 4))
    torch_parametrize.register_parametrization(theirs, "weight", Symmetric(torch))
    our_parametrize.register_parametrization(ours, "weight", Symmetric(trainer))
    assert type(ours).__name__ == type(theirs).__name__ == "ParametrizedLinear"
    assert our_parametrize.type_before_parametrizations(ours) is trainer.nn.Linear
    assert our_parametrize.is_parametrized(ours) and our_parametrize.is_parametrized(ours, "weight")
    assert not our_parametrize.is_parametrized(ours, "bias")
    assert_close(ours.weight, theirs.weight, "weight")
    assert_same_state(ours, theirs)  # parametrizations.weight.original holds triu(W), as right_inverse made it
    assert [n for n, _ in ours.named_parameters()] == ["bias", "parametrizations.weight.original"]
    tx, ox = inputs(3, 4)
    backward_of_cubes(theirs, tx)
    backward_of_cubes(ours, ox)
    assert_same_grads(ours, theirs)


def test_assignment_goes_through_right_inverse_and_keeps_the_original_object():
    theirs, ours = pair(lambda lib: lib.nn.Linear(3, 2))
    torch_parametrize.register_parametrization(theirs, "weight", scale(torch, 2.0))
    our_parametrize.register_parametrization(ours, "weight", scale(trainer, 2.0))
    original = ours.parametrizations.weight.original
    value = np.arange(6.0).reshape(2, 3)
    theirs.weight = torch.tensor(value)
    ours.weight = trainer.tensor(value)
    assert ours.parametrizations.weight.original is original
    assert_same_state(ours, theirs)
    assert_close(ours.weight, theirs.weight)


def test_chained_parametrizations_and_cached():
    theirs, ours = pair(lambda lib: lib.nn.Linear(4, 4))
    for lib, module, parametrize in ((torch, theirs, torch_parametrize), (trainer, ours, our_parametrize)):
        parametrize.register_parametrization(module, "weight", Symmetric(lib))
        parametrize.register_parametrization(module, "weight", scale(lib, 3.0))
    assert len(ours.parametrizations.weight) == 2
    assert_close(ours.weight, theirs.weight)
    assert_same_state(ours, theirs)
    assert ours.weight is not ours.weight
    with our_parametrize.cached():
        first = ours.weight
        assert ours.weight is first
    assert ours.weight is not first


def test_parametrizing_a_buffer_keeps_it_a_buffer():
    theirs, ours = pair(lambda lib: lib.nn.BatchNorm1d(3))
    torch_parametrize.register_parametrization(theirs, "running_var", scale(torch, 2.0))
    our_parametrize.register_parametrization(ours, "running_var", scale(trainer, 2.0))
    assert "parametrizations.running_var.original" in dict(ours.named_buffers())
    assert_same_state(ours, theirs)
    assert_close(ours.running_var, theirs.running_var)


@pytest.mark.parametrize("leave_parametrized", [True, False])
def test_remove_parametrizations(leave_parametrized):
    theirs, ours = pair(lambda lib: lib.nn.Linear(3, 3))
    torch_parametrize.register_parametrization(theirs, "weight", scale(torch, 2.0))
    our_parametrize.register_parametrization(ours, "weight", scale(trainer, 2.0))
    original = ours.parametrizations.weight.original
    torch_parametrize.remove_parametrizations(theirs, "weight", leave_parametrized=leave_parametrized)
    our_parametrize.remove_parametrizations(ours, "weight", leave_parametrized=leave_parametrized)
    assert type(ours) is trainer.nn.Linear and not hasattr(ours, "parametrizations")
    assert ours.weight is original and isinstance(ours.weight, trainer.nn.Parameter)
    assert_same_state(ours, theirs)


def test_remove_a_tuple_parametrization():
    theirs, ours = pair(lambda lib: lib.nn.Linear(3, 2))
    torch_parametrizations.weight_norm(theirs)
    our_parametrizations.weight_norm(ours)
    assert_raises_like_torch(
        lambda lib: (torch_parametrize if lib is torch else our_parametrize).remove_parametrizations(
            theirs if lib is torch else ours, "weight", leave_parametrized=False),
        ValueError, "Cannot leave unparametrized")
    torch_parametrize.remove_parametrizations(theirs, "weight")
    our_parametrize.remove_parametrizations(ours, "weight")
    assert isinstance(ours.weight, trainer.nn.Parameter)
    assert_same_state(ours, theirs)


def test_transfer_parametrizations_and_params():
    theirs, ours = pair(lambda lib: lib.nn.Linear(3, 3))
    torch_parametrize.register_parametrization(theirs, "weight", Symmetric(torch))
    our_parametrize.register_parametrization(ours, "weight", Symmetric(trainer))
    theirs_to, ours_to = pair(lambda lib: lib.nn.Linear(3, 3))
    torch_parametrize.transfer_parametrizations_and_params(theirs, theirs_to)
    our_parametrize.transfer_parametrizations_and_params(ours, ours_to)
    assert ours_to.parametrizations.weight.original is ours.parametrizations.weight.original
    assert_same_state(ours_to, theirs_to)
    assert_close(ours_to.weight, theirs_to.weight)


def test_parametrized_module_deepcopies_and_refuses_pickling():
    ours = trainer.nn.Linear(3, 3)
    our_parametrize.register_parametrization(ours, "weight", scale(trainer, 2.0))
    clone = copy.deepcopy(ours)
    assert type(clone) is type(ours)
    assert clone.parametrizations.weight.original is not ours.parametrizations.weight.original
    np.testing.assert_array_equal(clone.weight.detach().numpy(), ours.weight.detach().numpy())
    with pytest.raises(RuntimeError, match="only supported through state_dict"):
        ours.__getstate__()


def test_parametrize_errors_match_torch():
    def register(lib, name="weight", parametrization=None, unsafe=False):
        parametrize = torch_parametrize if lib is torch else our_parametrize
        module = lib.nn.Linear(3, 3)
        return parametrize.register_parametrization(module, name, parametrization or scale(lib, 2.0), unsafe=unsafe)

    def to_float32(lib):
        class _Cast(lib.nn.Module):
            def forward(self, x):
                return x.to(lib.float64)

        return _Cast()

    def to_shape(lib):
        class _Flatten(lib.nn.Module):
            def forward(self, x):
                return x.flatten()

        return _Flatten()

    assert_raises_like_torch(lambda lib: register(lib, "missing"), ValueError,
                             "does not have a parameter, a buffer, or a parametrized element with name 'missing'")
    assert_raises_like_torch(lambda lib: register(lib, parametrization=to_float32(lib)), ValueError,
                             "may not change the dtype of the tensor, unless `unsafe` flag is enabled")
    assert_raises_like_torch(lambda lib: register(lib, parametrization=to_shape(lib)), ValueError,
                             "may not change the shape of the tensor")
    assert register(trainer, parametrization=to_float32(trainer), unsafe=True).weight.dtype == trainer.float64
    assert_raises_like_torch(
        lambda lib: (torch_parametrize if lib is torch else our_parametrize).remove_parametrizations(
            lib.nn.Linear(2, 2), "weight"), ValueError, "does not have a parametrization on weight")

    def assign_without_inverse(lib):
        class _NoInverse(lib.nn.Module):
            def forward(self, x):
                return x * 2

        module = register(lib, parametrization=_NoInverse())
        module.weight = lib.zeros(3, 3)

    assert_raises_like_torch(assign_without_inverse, RuntimeError, "does not implement right_inverse")


# ----------------------------------------------------------------------------------------- orthogonal
@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5)])
@pytest.mark.parametrize("orthogonal_map", [None, "matrix_exp", "cayley", "householder"])
def test_orthogonal_matches_torch(shape, orthogonal_map):
    theirs, ours = pair(lambda lib: lib.nn.Linear(shape[1], shape[0]))
    torch_parametrizations.orthogonal(theirs, orthogonal_map=orthogonal_map)
    our_parametrizations.orthogonal(ours, orthogonal_map=orthogonal_map)
    # the default map: matrix_exp for square matrices, householder for rectangular ones
    chosen = ours.parametrizations.weight[0].orthogonal_map.name
    assert chosen == theirs.parametrizations.weight[0].orthogonal_map.name
    w = ours.weight.detach().numpy()
    gram = w.T @ w if shape[0] >= shape[1] else w @ w.T
    np.testing.assert_allclose(gram, np.eye(min(shape)), atol=1e-12)
    if shape[0] == shape[1]:  # base is the orthogonalised weight itself: no random completion to differ
        assert_same_state(ours, theirs)
    assert_close(ours.weight, theirs.weight, "weight right after registration")
    # from a common state away from the identity, forward, gradients and SGD steps agree
    with torch.no_grad():
        theirs.parametrizations.weight.original.mul_(0.3).add_(torch.tensor(
            np.random.default_rng(1).standard_normal(shape) * 0.2))
    copy_state(theirs, ours)
    assert_close(ours.weight, theirs.weight, "weight from a common original")
    run_sgd_and_compare(theirs, ours, (2, shape[1]))


def test_orthogonal_householder_without_trivialization():
    theirs, ours = pair(lambda lib: lib.nn.Linear(3, 5))
    torch_parametrizations.orthogonal(theirs, orthogonal_map="householder", use_trivialization=False)
    our_parametrizations.orthogonal(ours, orthogonal_map="householder", use_trivialization=False)
    assert "base" not in dict(ours.named_buffers())
    assert_same_state(ours, theirs)
    assert_close(ours.weight, theirs.weight)
    run_sgd_and_compare(theirs, ours, (2, 3))


def test_orthogonal_errors_match_torch():
    def register(lib, module, **kwargs):
        parametrizations = torch_parametrizations if lib is torch else our_parametrizations
        return parametrizations.orthogonal(module, **kwargs)

    assert_raises_like_torch(lambda lib: register(lib, lib.nn.Linear(2, 2), name="nope"), ValueError,
                             "has no parameter or buffer with name 'nope'")
    assert_raises_like_torch(lambda lib: register(lib, lib.nn.BatchNorm1d(2)), ValueError,
                             "Expected a matrix or batch of matrices. Got a tensor of 1 dimensions")
    assert_raises_like_torch(lambda lib: register(lib, lib.nn.Linear(2, 2), orthogonal_map="qr"), ValueError,
                             'orthogonal_map has to be one of "matrix_exp", "cayley", "householder"')

    def assign_to_cayley_without_trivialization(lib):
        module = register(lib, lib.nn.Linear(2, 2), orthogonal_map="cayley", use_trivialization=False)
        module.weight = lib.eye(2)

    assert_raises_like_torch(assign_to_cayley_without_trivialization, NotImplementedError,
                             "not possible to assign to the matrix exponential or the Cayley")


def run_sgd_and_compare(theirs, ours, input_shape, steps=3):
    """``steps`` SGD steps on a cubic loss in both libraries, then the same state and weights."""
    theirs_opt = torch.optim.SGD(theirs.parameters(), lr=0.05)
    ours_opt = trainer.optim.SGD(ours.parameters(), lr=0.05)
    for step in range(steps):
        tx, ox = inputs(*input_shape, seed=step)
        theirs_opt.zero_grad()
        ours_opt.zero_grad()
        backward_of_cubes(theirs, tx)
        backward_of_cubes(ours, ox)
        assert_same_grads(ours, theirs)
        theirs_opt.step()
        ours_opt.step()
    assert_same_state(ours, theirs, tol=1e-9)
    with torch.no_grad():
        assert_close(ours.weight, theirs.weight, "weight after SGD", tol=1e-9)


# ----------------------------------------------------------------------------------------- weight norm, spectral norm
@pytest.mark.parametrize("dim", [0, 1, None, -1])
def test_weight_norm_parametrization(dim):
    theirs, ours = pair(lambda lib: lib.nn.Linear(4, 3))
    torch_parametrizations.weight_norm(theirs, dim=dim)
    our_parametrizations.weight_norm(ours, dim=dim)
    assert list(ours.state_dict()) == ["bias", "parametrizations.weight.original0",
                                       "parametrizations.weight.original1"]
    assert_same_state(ours, theirs)
    assert_close(ours.weight, theirs.weight)
    run_sgd_and_compare(theirs, ours, (2, 4))


def test_weight_norm_parametrization_on_conv():
    theirs, ours = pair(lambda lib: lib.nn.Conv2d(2, 3, 3))
    torch_parametrizations.weight_norm(theirs)
    our_parametrizations.weight_norm(ours)
    assert_same_state(ours, theirs)
    run_sgd_and_compare(theirs, ours, (1, 2, 5, 5))


@pytest.mark.parametrize("layer", ["linear", "conv", "conv_transpose"])
def test_spectral_norm_parametrization_power_iteration_matches_torch(layer):
    factories = {"linear": (lambda lib: lib.nn.Linear(5, 4), (2, 5)),
                 "conv": (lambda lib: lib.nn.Conv2d(2, 3, 3), (1, 2, 5, 5)),
                 "conv_transpose": (lambda lib: lib.nn.ConvTranspose2d(2, 3, 3), (1, 2, 4, 4))}
    factory, input_shape = factories[layer]
    theirs, ours = pair(factory)
    torch_parametrizations.spectral_norm(theirs, n_power_iterations=2)
    our_parametrizations.spectral_norm(ours, n_power_iterations=2)
    assert ours.parametrizations.weight[0].dim == theirs.parametrizations.weight[0].dim  # 1 for ConvTranspose
    assert list(ours.state_dict()) == list(theirs.state_dict())
    copy_state(theirs, ours)  # the random starting vectors of the power iteration
    run_sgd_and_compare(theirs, ours, input_shape)  # each training-mode access steps u and v
    theirs.eval()
    ours.eval()
    u_before = ours.parametrizations.weight[0]._u.numpy().copy()
    tx, ox = inputs(*input_shape)
    assert_close(ours(ox), theirs(tx), "eval output")
    np.testing.assert_array_equal(ours.parametrizations.weight[0]._u.numpy(), u_before)


def test_spectral_norm_parametrization_on_a_vector_and_errors():
    theirs, ours = pair(lambda lib: lib.nn.BatchNorm1d(4))
    torch_parametrizations.spectral_norm(theirs)
    our_parametrizations.spectral_norm(ours)
    assert_close(ours.weight, theirs.weight)

    def register(lib, **kwargs):
        parametrizations = torch_parametrizations if lib is torch else our_parametrizations
        return parametrizations.spectral_norm(lib.nn.Linear(3, 2), **kwargs)

    assert_raises_like_torch(lambda lib: register(lib, dim=2), IndexError, "Dimension out of range")
    assert_raises_like_torch(lambda lib: register(lib, n_power_iterations=0), ValueError,
                             "Expected n_power_iterations to be positive")
    assert_raises_like_torch(lambda lib: register(lib, name="nope"), ValueError, "no parameter or buffer")
