"""Sliding windows, sampling grids, unpooling and the other layers of part 1 against PyTorch: forward values and the
gradients of every input (images, grids, affine matrices) on identical float64 data, plus reprs, state_dict keys,
warnings and the errors bad arguments raise.

Functional cases are ``fn(lib, *inputs)``, run with ``lib = torch`` and ``lib = trainer``; module cases build the
same layer in both libraries and compare their outputs and input gradients.
"""

import itertools
import warnings
import zlib

import numpy as np
import pytest
import torch

import trainer
from tests.trainer.test_nn_extra_parity import assert_repr_and_state_dict_keys_match_torch
from tests.trainer.test_ops_parity import assert_raises_like_torch

TOL = 1e-8


def _f(lib):
    return lib.nn.functional


def _normal(*shapes):
    return lambda rng: [rng.standard_normal(shape) for shape in shapes]


def _positive(*shapes):
    return lambda rng: [rng.uniform(0.5, 2.0, shape) for shape in shapes]


def _image_and_grid(image, grid, spread=1.5):
    """An image and sampling points, many of them outside [-1, 1] so that every padding mode is exercised."""
    return lambda rng: [rng.standard_normal(image), rng.uniform(-spread, spread, grid)]


def _edge_grid(rng):
    """Points exactly on the corners, the centre (a rounding tie for nearest on an even size), pixel centres and far
    outside (reflection folds several times): where clipping and reflection change their derivative."""
    xs = np.array([-1.0, 1.0, 0.0, -0.5, 0.5, 3.7, -3.7, 1.0 + 1e-3, -7.25, 0.2])
    grid = np.stack(np.meshgrid(xs, xs[::-1], indexing="xy"), axis=-1)[None].repeat(2, axis=0)
    return [rng.standard_normal((2, 3, 4, 6)), grid]


def _unpool(n, output_size=None, **pool_args):
    def run(lib, x):
        values, indices = getattr(_f(lib), f"max_pool{n}d")(x, return_indices=True, **pool_args)
        args = {k: v for k, v in pool_args.items() if k in ("kernel_size", "stride", "padding")}
        return getattr(_f(lib), f"max_unpool{n}d")(values * 2, indices, output_size=output_size, **args), indices

    return run


def _in_place(name, *args):
    def run(lib, x):
        y = x * 1
        result = getattr(_f(lib), name)(y, *args)
        assert result is y
        return y

    return run


CASES = {
    # sliding blocks
    "unfold": (lambda lib, x: _f(lib).unfold(x, 2), _normal((2, 3, 5, 6))),
    "unfold_all_arguments": (lambda lib, x: _f(lib).unfold(x, (2, 3), dilation=(2, 1), padding=(1, 2), stride=(2, 3)),
                             _normal((2, 3, 7, 8))),
    "unfold_unbatched": (lambda lib, x: _f(lib).unfold(x, 3, padding=1, stride=2), _normal((3, 5, 6))),
    "fold": (lambda lib, x: _f(lib).fold(x, (5, 6), 2), _normal((2, 12, 20))),
    "fold_all_arguments": (lambda lib, x: _f(lib).fold(x, (7, 8), (2, 3), dilation=(2, 1), padding=(1, 2),
                                                       stride=(2, 3)), _normal((2, 18, 16))),
    "fold_unbatched": (lambda lib, x: _f(lib).fold(x, 6, 3, padding=1, stride=2), _normal((27, 9))),
    "fold_of_unfold": (lambda lib, x: _f(lib).fold(_f(lib).unfold(x, 3, padding=1), (4, 5), 3, padding=1),
                       _normal((2, 2, 4, 5))),
    # affine grids
    "affine_grid_2d": (lambda lib, t: _f(lib).affine_grid(t, [2, 3, 4, 5], align_corners=False), _normal((2, 2, 3))),
    "affine_grid_2d_align_corners": (lambda lib, t: _f(lib).affine_grid(t, (2, 1, 3, 6), align_corners=True),
                                     _normal((2, 2, 3))),
    "affine_grid_3d": (lambda lib, t: _f(lib).affine_grid(t, [2, 3, 3, 4, 5], align_corners=False),
                       _normal((2, 3, 4))),
    "affine_grid_3d_align_corners": (lambda lib, t: _f(lib).affine_grid(t, [1, 2, 2, 3, 4], align_corners=True),
                                     _normal((1, 3, 4))),
    "spatial_transformer": (lambda lib, x, t: _f(lib).grid_sample(
        x, _f(lib).affine_grid(t, list(x.shape), align_corners=False), align_corners=False),
        _normal((2, 3, 5, 6), (2, 2, 3))),
    "grid_sample_edges_bilinear_border": (lambda lib, x, g: _f(lib).grid_sample(
        x, g, padding_mode="border", align_corners=True), _edge_grid),
    "grid_sample_edges_bilinear_reflection": (lambda lib, x, g: _f(lib).grid_sample(
        x, g, padding_mode="reflection", align_corners=False), _edge_grid),
    "grid_sample_edges_nearest_zeros": (lambda lib, x, g: _f(lib).grid_sample(
        x, g, mode="nearest", align_corners=False), _edge_grid),
    "grid_sample_edges_bicubic_reflection": (lambda lib, x, g: _f(lib).grid_sample(
        x, g, mode="bicubic", padding_mode="reflection", align_corners=True), _edge_grid),
    "grid_sample_width_one": (lambda lib, x, g: _f(lib).grid_sample(
        x, g, padding_mode="reflection", align_corners=True), _image_and_grid((1, 2, 3, 1), (1, 2, 2, 2))),
    # unpooling
    "max_unpool1d": (_unpool(1, kernel_size=2), _normal((2, 3, 8))),
    "max_unpool1d_unbatched_output_size": (_unpool(1, output_size=[9], kernel_size=3, stride=2, padding=1),
                                           _normal((3, 9))),
    "max_unpool2d": (_unpool(2, kernel_size=2), _normal((2, 3, 4, 6))),
    "max_unpool2d_output_size": (_unpool(2, output_size=(2, 3, 5, 7), kernel_size=(2, 3), stride=(2, 1)),
                                 _normal((2, 3, 5, 7))),
    "max_unpool2d_overlapping": (_unpool(2, kernel_size=3, stride=1, padding=1), _normal((2, 3, 4, 5))),
    "max_unpool3d": (_unpool(3, kernel_size=2, stride=(2, 1, 2)), _normal((2, 2, 4, 3, 6))),
    "max_unpool3d_unbatched": (_unpool(3, output_size=(5, 5, 5), kernel_size=2), _normal((2, 5, 5, 5))),
    # power-average pooling
    "lp_pool1d": (lambda lib, x: _f(lib).lp_pool1d(x, 2, 3, stride=2), _normal((2, 3, 9))),
    "lp_pool1d_fractional_ceil": (lambda lib, x: _f(lib).lp_pool1d(x, 1.5, 2, ceil_mode=True), _positive((2, 3, 7))),
    "lp_pool2d": (lambda lib, x: _f(lib).lp_pool2d(x, 2, (2, 3), stride=(1, 2)), _normal((2, 3, 5, 7))),
    "lp_pool2d_cubic": (lambda lib, x: _f(lib).lp_pool2d(x, 3, 2), _positive((2, 3, 4, 6))),
    "lp_pool2d_inf": (lambda lib, x: _f(lib).lp_pool2d(x, float("inf"), 2, ceil_mode=True), _normal((2, 3, 5, 5))),
    "lp_pool2d_minus_inf": (lambda lib, x: _f(lib).lp_pool2d(x, -float("inf"), 2), _normal((2, 3, 4, 4))),
    "lp_pool3d": (lambda lib, x: _f(lib).lp_pool3d(x, 2, (2, 1, 2), ceil_mode=True), _normal((2, 2, 3, 4, 5))),
    # local response normalisation
    "local_response_norm_3d_even": (lambda lib, x: _f(lib).local_response_norm(x, 2, alpha=0.3, beta=0.6, k=1.2),
                                    _normal((2, 5, 4))),
    "local_response_norm_4d_odd": (lambda lib, x: _f(lib).local_response_norm(x, 3, alpha=0.5), _normal((2, 6, 3, 4))),
    "local_response_norm_5d_wide": (lambda lib, x: _f(lib).local_response_norm(x, 8, 0.4, 0.8, 2.0),
                                    _normal((2, 5, 2, 3, 2))),
    "local_response_norm_6d": (lambda lib, x: _f(lib).local_response_norm(x, 4, 0.4), _normal((2, 4, 2, 2, 3, 2))),
    # shuffles, distances, resizing
    "channel_shuffle": (lambda lib, x: _f(lib).channel_shuffle(x, 3), _normal((2, 6, 3, 2))),
    "channel_shuffle_3d": (lambda lib, x: lib.channel_shuffle(x, 2), _normal((2, 8, 5))),
    "upsample_bilinear_scale": (lambda lib, x: _f(lib).upsample_bilinear(x, scale_factor=2), _normal((2, 3, 4, 5))),
    "upsample_bilinear_size": (lambda lib, x: _f(lib).upsample_bilinear(x, size=(7, 3)), _normal((2, 3, 4, 5))),
    "upsample_bilinear_fractional": (lambda lib, x: _f(lib).upsample_bilinear(x, scale_factor=(1.5, 0.7)),
                                     _normal((2, 3, 4, 5))),
    "upsample_nearest": (lambda lib, x: _f(lib).upsample_nearest(x, scale_factor=2), _normal((2, 3, 4, 5))),
    "upsample_linear": (lambda lib, x: _f(lib).upsample(x, size=9, mode="linear"), _normal((2, 3, 5))),
    "upsample_linear_align_corners": (lambda lib, x: _f(lib).upsample(x, scale_factor=1.7, mode="linear",
                                                                      align_corners=True), _normal((2, 3, 5))),
    "upsample_bilinear_half_pixel": (lambda lib, x: _f(lib).upsample(x, scale_factor=(1.7, 0.6), mode="bilinear"),
                                     _normal((2, 3, 4, 6))),
    "upsample_trilinear": (lambda lib, x: _f(lib).upsample(x, size=(3, 5, 2), mode="trilinear"),
                           _normal((1, 2, 2, 3, 4))),
    # indices aliases and in-place activations
    "max_pool1d_with_indices": (lambda lib, x: _f(lib).max_pool1d_with_indices(x, 3, 2, 1), _normal((2, 3, 8))),
    "max_pool2d_with_indices": (lambda lib, x: _f(lib).max_pool2d_with_indices(x, 2, return_indices=False),
                                _normal((2, 3, 4, 6))),
    "max_pool3d_with_indices": (lambda lib, x: _f(lib).max_pool3d_with_indices(x, (2, 1, 2), ceil_mode=True),
                                _normal((2, 2, 3, 3, 5))),
    "adaptive_max_pool1d_with_indices": (lambda lib, x: _f(lib).adaptive_max_pool1d_with_indices(x, 3),
                                         _normal((2, 3, 7))),
    "adaptive_max_pool2d_with_indices": (lambda lib, x: _f(lib).adaptive_max_pool2d_with_indices(x, (2, 3)),
                                         _normal((2, 3, 5, 7))),
    "adaptive_max_pool3d_with_indices": (lambda lib, x: _f(lib).adaptive_max_pool3d_with_indices(x, 2),
                                         _normal((2, 2, 4, 3, 5))),
    "relu_": (_in_place("relu_"), _normal((3, 4))),
    "elu_": (_in_place("elu_", 0.7), _normal((3, 4))),
    "leaky_relu_": (_in_place("leaky_relu_", 0.2), _normal((3, 4))),
    "hardtanh_": (_in_place("hardtanh_", -0.5, 0.8), _normal((3, 4))),
    "selu_": (_in_place("selu_"), _normal((3, 4))),
    "celu_": (_in_place("celu_", 2.0), _normal((3, 4))),  # alpha whose inverse is exact: see the report
    "threshold_": (_in_place("threshold_", 0.1, -2.0), _normal((3, 4))),
}

for _mode, _padding, _align in itertools.product(("bilinear", "nearest", "bicubic"), ("zeros", "border", "reflection"),
                                                 (False, True)):
    CASES[f"grid_sample_2d_{_mode}_{_padding}_{_align}"] = (
        lambda lib, x, g, m=_mode, p=_padding, a=_align: _f(lib).grid_sample(x, g, mode=m, padding_mode=p,
                                                                              align_corners=a),
        _image_and_grid((2, 3, 4, 5), (2, 3, 4, 2)))
    if _mode != "bicubic":
        CASES[f"grid_sample_3d_{_mode}_{_padding}_{_align}"] = (
            lambda lib, x, g, m=_mode, p=_padding, a=_align: _f(lib).grid_sample(x, g, mode=m, padding_mode=p,
                                                                                  align_corners=a),
            _image_and_grid((2, 2, 3, 4, 5), (2, 2, 3, 2, 3)))

for _p in (0, 0.5, 1, 1.5, 2, 3, float("inf")):
    # two equal rows (distance 0) and a shared coordinate: where PyTorch's gradient has its special cases
    CASES[f"pdist_p{_p}"] = (lambda lib, x, p=_p: _f(lib).pdist(x, p),
                             lambda rng: [np.concatenate([rng.standard_normal((4, 3)), [[0.5, -1.0, 2.0]] * 2])])
CASES["pdist_top_level_single_row"] = (lambda lib, x: lib.pdist(x), _normal((1, 3)))


def _run(lib, name):
    fn, data = CASES[name]
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    inputs = [lib.tensor(a, requires_grad=True) for a in data(rng)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the deprecated upsample names warn; their warnings are tested below
        outs = fn(lib, *inputs)
    outs = outs if isinstance(outs, tuple) else (outs,)
    differentiable = [o for o in outs if o.requires_grad]
    sum((o * o).sum() for o in differentiable).backward()
    return outs, inputs


def _assert_same(ours, theirs, what):
    assert ours.dtype.name == str(theirs.dtype).removeprefix("torch."), what
    assert tuple(ours.shape) == tuple(theirs.shape), what
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=TOL, atol=TOL, err_msg=what)


@pytest.mark.parametrize("name", sorted(CASES))
def test_functional_forward_and_gradients_match_torch(name):
    theirs, theirs_in = _run(torch, name)
    ours, ours_in = _run(trainer, name)
    assert len(ours) == len(theirs)
    for i, (o, t) in enumerate(zip(ours, theirs)):
        _assert_same(o, t, f"output {i}")
    for i, (o, t) in enumerate(zip(ours_in, theirs_in)):
        _assert_same(o.grad, t.grad, f"grad of input {i}")


def test_cross_map_lrn2d_matches_torch_including_its_own_backward():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 7, 3, 4))
    for size in (2, 3, 4, 5, 9):
        results = []
        for lib in (trainer, torch):
            inp = lib.tensor(x, requires_grad=True)
            out = lib.nn.CrossMapLRN2d(size, alpha=0.5, beta=0.6, k=1.3)(inp)
            (out * out * out).sum().backward()
            results.append((out, inp.grad))
        (o_out, o_grad), (t_out, t_grad) = results
        _assert_same(o_out, t_out, f"output, size {size}")
        _assert_same(o_grad, t_grad, f"grad, size {size}")


MODULES = {
    "Unfold": (lambda nn: nn.Unfold((2, 3), dilation=(1, 2), padding=1, stride=(2, 1)), (2, 3, 6, 7)),
    "Fold": (lambda nn: nn.Fold((4, 5), 2, stride=(1, 2), padding=(0, 1)), (2, 12, 9)),
    "LPPool1d": (lambda nn: nn.LPPool1d(2, 3, stride=2, ceil_mode=True), (2, 3, 8)),
    "LPPool2d": (lambda nn: nn.LPPool2d(2, (2, 3)), (2, 3, 4, 6)),
    "LPPool3d": (lambda nn: nn.LPPool3d(2, 2, stride=(1, 2, 1)), (2, 2, 3, 4, 3)),
    "LocalResponseNorm": (lambda nn: nn.LocalResponseNorm(3, alpha=0.5, beta=0.7, k=1.5), (2, 5, 3, 4)),
    "CrossMapLRN2d": (lambda nn: nn.CrossMapLRN2d(5, alpha=0.5, beta=0.7, k=1.5), (2, 6, 3, 4)),
    "ChannelShuffle": (lambda nn: nn.ChannelShuffle(2), (2, 4, 3, 3)),
    "UpsamplingNearest2d": (lambda nn: nn.UpsamplingNearest2d(scale_factor=2), (2, 3, 3, 4)),
    "UpsamplingNearest2d_size": (lambda nn: nn.UpsamplingNearest2d(size=(5, 7)), (2, 3, 3, 4)),
    "UpsamplingBilinear2d": (lambda nn: nn.UpsamplingBilinear2d(scale_factor=(2, 1.5)), (2, 3, 3, 4)),
    "UpsamplingBilinear2d_size": (lambda nn: nn.UpsamplingBilinear2d(size=6), (2, 3, 3, 4)),
}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_forward_and_gradients_match_torch(name):
    make, shape = MODULES[name]
    x = np.random.default_rng(zlib.crc32(name.encode())).standard_normal(shape)
    results = []
    for lib in (trainer, torch):
        layer = make(lib.nn).double()
        inp = lib.tensor(x, requires_grad=True)
        out = layer(inp)
        (out * out).sum().backward()
        results.append((layer, out, inp.grad))
    (ours, o_out, o_grad), (theirs, t_out, t_grad) = results
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == []
    _assert_same(o_out, t_out, "output")
    _assert_same(o_grad, t_grad, "grad of input")


@pytest.mark.parametrize("n, shape, output_size", [(1, (2, 3, 9), [9]), (2, (3, 4, 6), None),
                                                   (3, (2, 2, 4, 5, 4), (2, 2, 5, 5, 5))])
def test_max_unpool_modules_invert_max_pool_modules_as_torch_does(n, shape, output_size):
    x = np.random.default_rng(n).standard_normal(shape)
    results = []
    for lib in (trainer, torch):
        pool = getattr(lib.nn, f"MaxPool{n}d")(2, stride=2, return_indices=True)
        unpool = getattr(lib.nn, f"MaxUnpool{n}d")(2, stride=2)
        inp = lib.tensor(x, requires_grad=True)
        values, indices = pool(inp)
        out = unpool(values, indices, output_size=output_size)
        (out * out).sum().backward()
        results.append((repr(unpool), list(unpool.state_dict()), out, inp.grad))
    (o_repr, o_keys, o_out, o_grad), (t_repr, t_keys, t_out, t_grad) = results
    assert o_repr == t_repr and o_keys == t_keys
    _assert_same(o_out, t_out, "output")
    _assert_same(o_grad, t_grad, "grad of input")


REPRS = ["Unfold(2)", "Unfold((2, 3), dilation=2, padding=1, stride=(1, 2))", "Fold((4, 5), 2)",
         "Fold(4, (2, 3), dilation=2, padding=1, stride=(1, 2))", "MaxUnpool1d(2)",
         "MaxUnpool2d(2, stride=1, padding=1)", "MaxUnpool2d((2, 3), stride=(1, 2))", "MaxUnpool3d((2, 1, 2))",
         "LPPool1d(2, 3)", "LPPool2d(1.5, (2, 3), stride=1, ceil_mode=True)", "LPPool3d(2, 2)",
         "LocalResponseNorm(2)", "LocalResponseNorm(3, alpha=0.5, beta=0.6, k=2.0)", "CrossMapLRN2d(3)",
         "CrossMapLRN2d(5, alpha=0.001, beta=0.5, k=2)", "ChannelShuffle(2)", "UpsamplingNearest2d(scale_factor=2)",
         "UpsamplingNearest2d(size=(3, 4))", "UpsamplingBilinear2d(size=(3, 4))",
         "UpsamplingBilinear2d(scale_factor=(2, 3))"]


@pytest.mark.parametrize("expr", REPRS)
def test_repr_and_state_dict_keys_match_torch(expr):
    assert_repr_and_state_dict_keys_match_torch(expr)


def _leaf_requiring_grad(lib):
    return lib.ones(3, requires_grad=True)


@pytest.mark.parametrize("name", ["relu_", "elu_", "leaky_relu_", "hardtanh_", "selu_", "celu_"])
def test_in_place_activations_refuse_a_leaf_that_requires_grad(name):
    for lib in (torch, trainer):
        with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
            getattr(_f(lib), name)(_leaf_requiring_grad(lib))


def test_in_place_activation_writes_into_the_tensor_without_grad():
    x = trainer.tensor([-1.0, 0.5, 2.0])
    view = x[1:]
    trainer.nn.functional.threshold_(x, 1.0, -3.0)
    np.testing.assert_array_equal(x.numpy(), [-3.0, -3.0, 2.0])
    np.testing.assert_array_equal(view.numpy(), [-3.0, 2.0])


@pytest.mark.parametrize("call", [
    lambda lib: _f(lib).grid_sample(lib.zeros(1, 1, 2, 2), lib.zeros(1, 1, 1, 2)),
    lambda lib: _f(lib).affine_grid(lib.zeros(1, 2, 3), [1, 1, 2, 2]),
    lambda lib: _f(lib).affine_grid(lib.zeros(1, 2, 3), [1, 1, 1, 2], align_corners=True),
    lambda lib: _f(lib).upsample(lib.zeros(1, 1, 2), scale_factor=2),
    lambda lib: _f(lib).upsample_nearest(lib.zeros(1, 1, 2), scale_factor=2),
    lambda lib: _f(lib).upsample_bilinear(lib.zeros(1, 1, 2, 2), scale_factor=2),
])
def test_warnings_match_torch(call):
    messages = []
    for lib in (torch, trainer):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            call(lib)
        messages.append([(w.category, str(w.message)) for w in caught])
    assert messages[0] == messages[1] and messages[0]


def _pooled(lib, n=2):
    return _f(lib).max_pool2d(lib.arange(48.0).reshape(1, 3, 4, 4), n, return_indices=True)


BAD_INPUTS = [
    (lambda lib: _f(lib).unfold(lib.zeros(1, 2, 3, 4, 5), 2), RuntimeError, "Expected 3D or 4D"),
    (lambda lib: _f(lib).unfold(lib.zeros(2, 0, 5, 6), 2), RuntimeError, "non-zero dimensions"),
    (lambda lib: _f(lib).unfold(lib.zeros(2, 3, 5, 6), 0), RuntimeError, "kernel size should be greater than zero"),
    (lambda lib: _f(lib).unfold(lib.zeros(2, 3, 5, 6), 2, stride=0), RuntimeError,
     "stride should be greater than zero"),
    (lambda lib: _f(lib).unfold(lib.zeros(2, 3, 5, 6), 2, dilation=0), RuntimeError,
     "dilation should be greater than zero"),
    (lambda lib: _f(lib).unfold(lib.zeros(2, 3, 5, 6), 2, padding=-1), RuntimeError, "padding should be non-negative"),
    (lambda lib: _f(lib).unfold(lib.zeros(2, 3, 5, 6), 7), RuntimeError, "must be at least one"),
    (lambda lib: _f(lib).unfold(lib.zeros(2, 3, 5, 6), (2, 2, 2)), RuntimeError, "expected kernel_size equals to 2"),
    (lambda lib: _f(lib).fold(lib.zeros(1, 12, 20, 1), (5, 6), 2), RuntimeError, "Expected 2D or 3D"),
    (lambda lib: _f(lib).fold(lib.zeros(2, 13, 20), (5, 6), 2), RuntimeError, "divisible by the product of kernel"),
    (lambda lib: _f(lib).fold(lib.zeros(2, 12, 21), (5, 6), 2), RuntimeError, r"number of sliding blocks 4 \* 5 = 20"),
    (lambda lib: _f(lib).fold(lib.zeros(2, 12, 20), (5, 6, 7), 2), RuntimeError, "expected output_size equals to 2"),
    (lambda lib: _f(lib).grid_sample(lib.zeros(1, 1, 3, 3), lib.zeros(1, 2, 2, 2), mode="linear",
                                     align_corners=False), ValueError, "expected mode to be"),
    (lambda lib: _f(lib).grid_sample(lib.zeros(1, 1, 3, 3), lib.zeros(1, 2, 2, 2), padding_mode="circular",
                                     align_corners=False), ValueError, "expected padding_mode to be"),
    (lambda lib: _f(lib).grid_sample(lib.zeros(2, 1, 3, 3), lib.zeros(1, 2, 2, 2), align_corners=False),
     RuntimeError, "same batch size"),
    (lambda lib: _f(lib).grid_sample(lib.zeros(1, 1, 3, 3), lib.zeros(1, 2, 2, 3), align_corners=False),
     RuntimeError, "size 2 in last dimension"),
    (lambda lib: _f(lib).grid_sample(lib.zeros(1, 1, 0, 3), lib.zeros(1, 2, 2, 2), align_corners=False),
     RuntimeError, "non-empty spatial dimensions"),
    (lambda lib: _f(lib).grid_sample(lib.zeros(1, 1, 2, 3, 3), lib.zeros(1, 2, 2, 2, 3), mode="bicubic",
                                     align_corners=False), RuntimeError, "bicubic interpolation only supports 4D"),
    (lambda lib: _f(lib).grid_sample(lib.zeros(1, 1, 3, 3), lib.zeros(1, 2, 2, 2, dtype=lib.float64),
                                     align_corners=False), RuntimeError, "Double|dtype"),
    (lambda lib: _f(lib).affine_grid(lib.zeros(1, 2, 3, dtype=lib.int64), [1, 1, 2, 2], align_corners=False),
     ValueError, "floating point type"),
    (lambda lib: _f(lib).affine_grid(lib.zeros(1, 2, 3), [1, 1, 2, 2, 2], align_corners=False), ValueError,
     "Nx3x4"),
    (lambda lib: _f(lib).affine_grid(lib.zeros(1, 2, 3), [1, 1, 2], align_corners=False), NotImplementedError,
     "only supports 4D and 5D sizes"),
    (lambda lib: _f(lib).affine_grid(lib.zeros(1, 2, 3), [1, 1, 0, 2], align_corners=False), ValueError,
     "non-zero, positive output size"),
    (lambda lib: _f(lib).affine_grid(lib.zeros(2, 2, 3), [3, 1, 2, 2], align_corners=False), RuntimeError,
     "batch of 3, but theta holds 2"),
    (lambda lib: _f(lib).max_unpool2d(*_pooled(lib), 2, output_size=(6, 7)), ValueError,
     r"invalid output_size .* \(dim 0 must be between 2 and 6\)"),
    (lambda lib: _f(lib).max_unpool2d(*_pooled(lib), 2, output_size=(5,)), ValueError, "2 or 4 elements"),
    (lambda lib: _f(lib).max_unpool2d(_pooled(lib)[0], _pooled(lib)[1].int(), 2), RuntimeError,
     "indices should be type int64"),
    (lambda lib: _f(lib).max_unpool2d(_pooled(lib)[0], _pooled(lib)[1][:, :2], 2), RuntimeError,
     "same as that of the input"),
    (lambda lib: _f(lib).max_unpool2d(_pooled(lib)[0], _pooled(lib)[1] + 100, 2), RuntimeError,
     r"Found an invalid max index: 115 \(output volumes are of size 4x4\)"),
    (lambda lib: _f(lib).max_unpool2d(_pooled(lib)[0][0, 0], _pooled(lib)[1][0, 0], 2), RuntimeError,
     "should be a 3d or 4d Tensor"),
    (lambda lib: _f(lib).max_unpool3d(*_f(lib).max_pool3d(lib.zeros(1, 1, 4, 4, 4), 2, return_indices=True), 2,
                                      stride=0), RuntimeError, "strides should be greater than zero"),
    (lambda lib: _f(lib).local_response_norm(lib.zeros(2, 3), 2), ValueError, "Expected 3D or higher"),
    (lambda lib: _f(lib).local_response_norm(lib.zeros(2, 3, 4), 0), RuntimeError, "greater than zero"),
    (lambda lib: lib.nn.CrossMapLRN2d(3)(lib.zeros(2, 3, 4)), ValueError, "Expected input to be 4D, got 3D"),
    (lambda lib: _f(lib).channel_shuffle(lib.zeros(2, 5, 3), 2), RuntimeError,
     "Got 5 channels and 2 groups"),
    (lambda lib: _f(lib).channel_shuffle(lib.zeros(2, 6), 3), RuntimeError, "expects input with > 2 dims"),
    (lambda lib: _f(lib).channel_shuffle(lib.zeros(2, 6, 3), 0), RuntimeError, "must be positive"),
    (lambda lib: _f(lib).pdist(lib.zeros(2, 5, 3)), RuntimeError, "only supports 2D tensors, got: 3D"),
    (lambda lib: _f(lib).pdist(lib.zeros(5, 3), -1), RuntimeError, "non-negative p values"),
    (lambda lib: _f(lib).pdist(lib.zeros(5, 3, dtype=lib.int64)), RuntimeError, "floating-point"),
    (lambda lib: _f(lib).upsample_bilinear(lib.zeros(2, 3, 4), scale_factor=2), NotImplementedError,
     "Got 3D input, but bilinear mode needs 4D input"),
    (lambda lib: _f(lib).upsample_bilinear(lib.zeros(2, 3, 4, 4)), ValueError, "either size or scale_factor"),
    (lambda lib: _f(lib).upsample_bilinear(lib.zeros(2, 3, 4, 4), 3, 2), ValueError, "only one of size"),
    (lambda lib: _f(lib).upsample_bilinear(lib.zeros(2, 3, 4, 4), (3, 7, 2)), ValueError,
     "same number of spatial dimensions"),
    (lambda lib: _f(lib).upsample(lib.zeros(2, 3, 4, 4), scale_factor=2, mode="trilinear"), NotImplementedError,
     "trilinear mode needs 5D input"),
    (lambda lib: _f(lib).upsample_bilinear(lib.zeros(2, 3, 4, 4), scale_factor=0.1), RuntimeError,
     "sizes should be greater than 0"),
]


@pytest.mark.parametrize("index", range(len(BAD_INPUTS)))
def test_bad_input_raises_the_error_torch_raises(index):
    call, error, message = BAD_INPUTS[index]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_raises_like_torch(call, error, message)


@pytest.mark.cuda
@pytest.mark.filterwarnings("ignore:`nn.functional.upsample_bilinear` is deprecated")
def test_windows_and_grids_on_cuda_match_cpu():
    rng = np.random.default_rng(0)
    image, grid, theta = rng.standard_normal((2, 3, 5, 6)), rng.uniform(-1.3, 1.3, (2, 4, 3, 2)), rng.standard_normal(
        (2, 2, 3))

    def run(device):
        x = trainer.tensor(image, device=device, requires_grad=True)
        g = trainer.tensor(grid, device=device, requires_grad=True)
        t = trainer.tensor(theta, device=device, requires_grad=True)
        F = trainer.nn.functional
        values, indices = F.max_pool2d(x, 2, return_indices=True)
        outs = [F.grid_sample(x, g, mode=m, padding_mode=p, align_corners=True)
                for m in ("bilinear", "nearest", "bicubic") for p in ("zeros", "border", "reflection")]
        outs += [F.grid_sample(x, F.affine_grid(t, list(x.shape), align_corners=False), align_corners=False),
                 F.fold(F.unfold(x, 2, padding=1), (5, 6), 2, padding=1), F.max_unpool2d(values, indices, 2),
                 F.local_response_norm(x, 2), trainer.nn.CrossMapLRN2d(3)(x), F.upsample_bilinear(x, scale_factor=2),
                 F.pdist(x.flatten(1), 3), F.lp_pool2d(x, 2, 2)]
        sum((o * o).sum() for o in outs).backward()
        return [o.detach().cpu().numpy() for o in outs] + [v.grad.cpu().numpy() for v in (x, g, t)]

    for cpu, cuda in zip(run("cpu"), run("cuda")):
        np.testing.assert_allclose(cuda, cpu, rtol=1e-10, atol=1e-10)
