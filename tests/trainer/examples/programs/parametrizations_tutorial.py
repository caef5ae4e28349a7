# ruff: noqa - a faithful copy of an upstream PyTorch program: its own style is what is being tested
"""pytorch/tutorials intermediate_source/parametrizations.py (torch.nn.utils.parametrize: symmetric and skew
matrices, inspecting parametrizations, caching, chaining with the Cayley map and the matrix exponential,
right_inverse, removing), as a function that returns what the tutorial prints (values that depend on the random
initial weights as checks that hold for any weights)."""

import torch
import torch.nn as nn
import torch.nn.utils.parametrize as parametrize


def symmetric(X):
    return X.triu() + X.triu(1).transpose(-1, -2)


class Symmetric(nn.Module):
    def forward(self, X):
        return X.triu() + X.triu(1).transpose(-1, -2)


class Skew(nn.Module):
    def forward(self, X):
        A = X.triu(1)
        return A - A.transpose(-1, -2)


class NoisyParametrization(nn.Module):
    calls = 0

    def forward(self, X):
        print("Computing the Parametrization")
        NoisyParametrization.calls += 1
        return X


class CayleyMap(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.register_buffer("Id", torch.eye(n))

    def forward(self, X):
        # (I + X)(I - X)^{-1}
        return torch.linalg.solve(self.Id - X, self.Id + X)


class MatrixExponential(nn.Module):
    def forward(self, X):
        return torch.matrix_exp(X)


class SkewWithInverse(nn.Module):
    def forward(self, X):
        A = X.triu(1)
        return A - A.transpose(-1, -2)

    def right_inverse(self, A):
        # We assume that A is skew-symmetric
        # We take the upper-triangular elements, as these are those used in the forward
        return A.triu(1)


def run():
    seen = {}
    X = torch.rand(3, 3)
    A = symmetric(X)
    assert torch.allclose(A, A.T)  # A is symmetric
    print(A)                       # Quick visual check

    layer = nn.Linear(3, 3)
    parametrize.register_parametrization(layer, "weight", Symmetric())
    A = layer.weight
    assert torch.allclose(A, A.T)  # A is symmetric
    print(A)                       # Quick visual check

    cnn = nn.Conv2d(in_channels=5, out_channels=8, kernel_size=3)
    parametrize.register_parametrization(cnn, "weight", Skew())
    # Print a few kernels
    print(cnn.weight[0, 1])
    print(cnn.weight[2, 2])
    seen['skew_conv'] = (bool(torch.allclose(cnn.weight, -cnn.weight.transpose(-1, -2))), float(torch.diagonal(cnn.weight, dim1=-2, dim2=-1).abs().sum()))

    layer = nn.Linear(3, 3)
    print(f"Unparametrized:\n{layer}")
    unparametrized = f"{layer}"
    parametrize.register_parametrization(layer, "weight", Symmetric())
    print(f"\nParametrized:\n{layer}")
    seen['repr'] = (unparametrized, f"{layer}")

    print(layer.parametrizations)
    print(layer.parametrizations.weight)
    print(layer.parametrizations.weight[0])
    seen['inspect'] = (type(layer.parametrizations).__name__, type(layer.parametrizations.weight).__name__,
                       type(layer.parametrizations.weight[0]).__name__, list(dict(layer.named_parameters())))
    print(dict(layer.named_parameters()))
    print(layer.parametrizations.weight.original)

    symmetric_module = Symmetric()
    weight_orig = layer.parametrizations.weight.original
    print(torch.dist(layer.weight, symmetric_module(weight_orig)))
    seen['dist'] = float(torch.dist(layer.weight, symmetric_module(weight_orig)))

    layer = nn.Linear(4, 4)
    parametrize.register_parametrization(layer, "weight", NoisyParametrization())
    NoisyParametrization.calls = 0
    print("Here, layer.weight is recomputed every time we call it")
    foo = layer.weight + layer.weight.T
    bar = layer.weight.sum()
    uncached = NoisyParametrization.calls
    with parametrize.cached():
        print("Here, it is computed just the first time layer.weight is called")
        foo = layer.weight + layer.weight.T
        bar = layer.weight.sum()
    seen['cached_calls'] = (uncached, NoisyParametrization.calls - uncached)

    layer = nn.Linear(3, 3)
    parametrize.register_parametrization(layer, "weight", Skew())
    parametrize.register_parametrization(layer, "weight", CayleyMap(3))
    X = layer.weight
    print(torch.dist(X.T @ X, torch.eye(3)))  # X is orthogonal
    seen['cayley_orthogonal'] = float(torch.dist(X.T @ X, torch.eye(3))) < 1e-5

    layer_orthogonal = nn.Linear(3, 3)
    parametrize.register_parametrization(layer_orthogonal, "weight", Skew())
    parametrize.register_parametrization(layer_orthogonal, "weight", MatrixExponential())
    X = layer_orthogonal.weight
    print(torch.dist(X.T @ X, torch.eye(3)))         # X is orthogonal
    seen['exp_orthogonal'] = float(torch.dist(X.T @ X, torch.eye(3))) < 1e-5

    layer_spd = nn.Linear(3, 3)
    parametrize.register_parametrization(layer_spd, "weight", Symmetric())
    parametrize.register_parametrization(layer_spd, "weight", MatrixExponential())
    X = layer_spd.weight
    print(torch.dist(X, X.T))                        # X is symmetric
    print((torch.linalg.eigvalsh(X) > 0.).all())  # X is positive definite
    seen['spd'] = (float(torch.dist(X, X.T)) < 1e-6, bool((torch.linalg.eigvalsh(X) > 0.).all()))

    layer = nn.Linear(3, 3)
    parametrize.register_parametrization(layer, "weight", SkewWithInverse())
    X = torch.rand(3, 3)
    X = X - X.T                             # X is now skew-symmetric
    layer.weight = X                        # Initialize layer.weight to be X
    print(torch.dist(layer.weight, X))      # layer.weight == X
    seen['right_inverse'] = float(torch.dist(layer.weight, X)) < 1e-6

    layer = nn.Linear(3, 3)
    print("Before:")
    print(layer)
    print(layer.weight)
    parametrize.register_parametrization(layer, "weight", Skew())
    print("\nParametrized:")
    print(layer)
    print(layer.weight)
    skew_weight = layer.weight.detach().clone()
    parametrize.remove_parametrizations(layer, "weight")
    print("\nAfter. Weight has skew-symmetric values but it is unconstrained:")
    print(layer)
    print(layer.weight)
    seen['removed'] = (f"{layer}", bool(torch.equal(layer.weight, skew_weight)), type(layer.weight).__name__)

    layer = nn.Linear(3, 3)
    print("Before:")
    print(layer)
    print(layer.weight)
    original = layer.weight.detach().clone()
    parametrize.register_parametrization(layer, "weight", Skew())
    print("\nParametrized:")
    print(layer)
    print(layer.weight)
    parametrize.remove_parametrizations(layer, "weight", leave_parametrized=False)
    print("\nAfter. Same as Before:")
    print(layer)
    print(layer.weight)
    seen['removed_unparametrized'] = bool(torch.equal(layer.weight, original))
    return seen
