"""interpolate's bicubic, area, nearest-exact and antialiased (bilinear, bicubic, lanczos) modes, nn.Upsample with
them, and second derivatives of every resize and of grid_sample, against PyTorch on the same float64 inputs."""

import itertools

import numpy as np
import pytest
import torch

import trainer
from tests.trainer.test_ops_parity import assert_forward_and_gradients_match_torch, assert_raises_like_torch

IMAGE, LINE, VOLUME = (2, 2, 5, 7), (2, 3, 7), (1, 2, 3, 4, 5)
SIZINGS = [dict(scale_factor=2), dict(scale_factor=0.37), dict(scale_factor=(2.3, 0.6)), dict(size=(3, 11)),
           dict(size=(12, 2)), dict(size=(1, 1)), dict(scale_factor=1.7, recompute_scale_factor=True)]
CASES = [(IMAGE, dict(mode="bicubic", align_corners=corners, **sizing))
         for corners, sizing in itertools.product((False, True), SIZINGS)]
CASES += [(IMAGE, dict(mode=mode, antialias=True, align_corners=corners, **sizing))
          for mode, corners, sizing in itertools.product(("bilinear", "bicubic"), (False, True), SIZINGS)]
CASES += [(IMAGE, dict(mode="lanczos", antialias=True, **sizing)) for sizing in SIZINGS]
CASES += [(shape, dict(mode=mode, **sizing)) for mode, shape, sizing in itertools.product(
    ("nearest-exact", "area"), (LINE, IMAGE, VOLUME),
    (dict(scale_factor=1.7), dict(scale_factor=0.45), dict(scale_factor=3), dict(size=5)))]
CASES += [(IMAGE, dict(mode="area", size=(3, 11))), (IMAGE, dict(mode="nearest-exact", size=(4, 13)))]


def _interpolate(kwargs):
    return lambda lib, x: lib.nn.functional.interpolate(x, **kwargs)


@pytest.mark.parametrize("shape, kwargs", CASES, ids=[f"{len(s) - 2}d-{k}" for s, k in CASES])
def test_interpolate_matches_torch_with_gradients(shape, kwargs):
    assert_forward_and_gradients_match_torch(_interpolate(kwargs), [np.random.default_rng(0).standard_normal(shape)])


def test_antialiased_shrink_to_one_column_is_the_separable_resize_torch_gives_on_two_columns():
    # PyTorch's CPU kernel gives every row the first row's value when the output is one column wide (a bug we do
    # not copy); on two equal columns it resizes each column correctly.
    data = np.random.default_rng(1).standard_normal((1, 2, 9, 1))
    for mode in ("bilinear", "bicubic"):
        ours = trainer.nn.functional.interpolate(trainer.tensor(data), size=(3, 1), mode=mode, antialias=True)
        theirs = torch.nn.functional.interpolate(torch.tensor(data).repeat(1, 1, 1, 2), size=(3, 2), mode=mode,
                                                 antialias=True)[..., :1]
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), atol=1e-12, rtol=0)


SECOND_ORDER = [(IMAGE, dict(mode="bicubic", scale_factor=1.6)), (IMAGE, dict(mode="bicubic", size=(3, 4),
                                                                              align_corners=True)),
                (IMAGE, dict(mode="bilinear", antialias=True, scale_factor=0.45)),
                (IMAGE, dict(mode="bicubic", antialias=True, size=(3, 9))),
                (IMAGE, dict(mode="lanczos", antialias=True, size=(2, 3))),
                (LINE, dict(mode="nearest-exact", scale_factor=1.6)), (VOLUME, dict(mode="nearest-exact", size=2)),
                (IMAGE, dict(mode="area", size=(3, 4)))]


def _second_derivative(lib, data, fn):
    """The gradient of ``sum(g * v)`` where ``g`` is the gradient of ``sum(w * fn(x) ** 2)``: a Hessian-vector
    product, which runs each op's derivative of its backward."""
    x = lib.tensor(data, requires_grad=True)
    out = fn(lib, x)
    w = lib.tensor(np.cos(np.arange(out.numel())).reshape(tuple(out.shape)))
    (g,) = lib.autograd.grad((w * out * out).sum(), x, create_graph=True)
    (h,) = lib.autograd.grad((g * lib.tensor(np.sin(np.arange(g.numel())).reshape(tuple(g.shape)))).sum(), x)
    return g.detach().numpy(), h.numpy()


@pytest.mark.parametrize("shape, kwargs", SECOND_ORDER, ids=[str(k) for _, k in SECOND_ORDER])
def test_second_derivatives_of_the_new_modes_match_torch(shape, kwargs):
    data = np.random.default_rng(2).standard_normal(shape)
    for ours, theirs in zip(_second_derivative(trainer, data, _interpolate(kwargs)),
                            _second_derivative(torch, data, _interpolate(kwargs))):
        np.testing.assert_allclose(ours, theirs, atol=1e-10, rtol=0)


@pytest.mark.parametrize("kwargs", [dict(scale_factor=2, mode="bicubic"), dict(size=(3, 4), mode="area"),
                                    dict(scale_factor=1.5, mode="nearest-exact"),
                                    dict(scale_factor=0.5, mode="bicubic", align_corners=True)])
def test_upsample_module_in_the_new_modes_matches_torch(kwargs):
    data = np.random.default_rng(3).standard_normal(IMAGE)
    ours, theirs = trainer.nn.Upsample(**kwargs), torch.nn.Upsample(**kwargs)
    assert repr(ours) == repr(theirs)
    np.testing.assert_allclose(ours(trainer.tensor(data)).numpy(), theirs(torch.tensor(data)).numpy(), atol=1e-12,
                               rtol=0)


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(scale_factor=2, mode="area", align_corners=True), ValueError, "align_corners option can only be set"),
    (dict(scale_factor=2, mode="nearest-exact", align_corners=False), ValueError, "align_corners option"),
    (dict(scale_factor=2, mode="nearest", antialias=True), ValueError, "Anti-alias option is restricted to bilinear"),
    (dict(scale_factor=2, mode="lanczos"), ValueError, "Lanczos mode requires antialias=True"),
    (dict(scale_factor=2, mode="lanczos", antialias=True, align_corners=True), ValueError,
     "Lanczos mode does not support align_corners=True"),
    (dict(size=3, mode="bicubic", recompute_scale_factor=True), ValueError,
     "recompute_scale_factor is not meaningful with an explicit size"),
])
def test_bad_arguments_raise_like_torch(kwargs, error, message):
    assert_raises_like_torch(lambda lib: lib.nn.functional.interpolate(lib.zeros(IMAGE), **kwargs), error, message)


@pytest.mark.parametrize("shape, kwargs, message", [
    (LINE, dict(scale_factor=2, mode="bilinear", antialias=True), "requires a 4-D tensor"),
    (VOLUME, dict(scale_factor=2, mode="bicubic", antialias=True), "requires a 4-D tensor"),
])
def test_antialias_needs_four_dimensions_like_torch(shape, kwargs, message):
    assert_raises_like_torch(lambda lib: lib.nn.functional.interpolate(lib.zeros(shape), **kwargs), ValueError,
                             message)


@pytest.mark.parametrize("shape", [LINE, VOLUME])
def test_bicubic_needs_four_dimensions_like_torch(shape):
    assert_raises_like_torch(lambda lib: lib.nn.functional.interpolate(lib.zeros(shape), scale_factor=2,
                                                                       mode="bicubic"),
                             NotImplementedError, f"Got {len(shape)}D input, but bicubic mode needs 4D input")


GRID_CASES = [(mode, padding, corners, dims) for mode, padding, corners, dims in itertools.product(
    ("bilinear", "nearest", "bicubic"), ("zeros", "border", "reflection"), (False, True), (2, 3))
    if not (mode == "bicubic" and dims == 3)]


@pytest.mark.parametrize("mode, padding, corners, dims", GRID_CASES)
def test_grid_sample_second_derivatives_match_torch(mode, padding, corners, dims):
    rng = np.random.default_rng(4)
    image = rng.standard_normal((2, 2, 4, 5) if dims == 2 else (1, 2, 3, 4, 5))
    grid = rng.uniform(-1.3, 1.3, (2, 3, 2, 2) if dims == 2 else (1, 2, 3, 2, 3))  # some points outside

    def second(lib):
        x, points = lib.tensor(image, requires_grad=True), lib.tensor(grid, requires_grad=True)
        out = lib.nn.functional.grid_sample(x, points, mode=mode, padding_mode=padding, align_corners=corners)
        w = lib.tensor(np.cos(np.arange(out.numel())).reshape(tuple(out.shape)))
        gx, gpoints = lib.autograd.grad((w * out * out).sum(), (x, points), create_graph=True)
        v = lib.tensor(np.sin(np.arange(gpoints.numel())).reshape(tuple(gpoints.shape)))
        return [t.detach().numpy() for t in (gx, gpoints, *lib.autograd.grad((gx * gx).sum() + (gpoints * v).sum(),
                                                                              (x, points)))]

    for what, ours, theirs in zip(("grad x", "grad grid", "second x", "second grid"), second(trainer), second(torch)):
        np.testing.assert_allclose(ours, theirs, atol=1e-10, rtol=0, err_msg=what)
