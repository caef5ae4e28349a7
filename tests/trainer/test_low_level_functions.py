"""Low-level ``torch.*`` entry points (recurrent cells, ``convolution``, ``grid_sampler_2d/3d``, ``native_*``
normalisations and dropout) against PyTorch: values, saved statistics, gradients and errors."""

import numpy as np
import pytest
import torch

import trainer
from tests.trainer.test_ops_parity import assert_forward_and_gradients_match_torch, assert_raises_like_torch


def _arrays(*shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape) * 0.5 for shape in shapes]


# ----------------------------------------------------------------- recurrent cells
CELLS = [
    ("lstm_cell", 4, lambda lib, x, h, c, wi, wh, bi, bh: lib.lstm_cell(x, (h, c), wi, wh, bi, bh)),
    ("lstm_cell_no_bias", 4, lambda lib, x, h, c, wi, wh, bi, bh: lib.lstm_cell(x, [h, c], wi, wh)),
    ("gru_cell", 3, lambda lib, x, h, c, wi, wh, bi, bh: lib.gru_cell(x, h, wi, wh, bi, bh)),
    ("gru_cell_input_bias_only", 3, lambda lib, x, h, c, wi, wh, bi, bh: lib.gru_cell(x, h, wi, wh, bi)),
    ("rnn_tanh_cell", 1, lambda lib, x, h, c, wi, wh, bi, bh: lib.rnn_tanh_cell(x, h, wi, wh, bi, bh)),
    ("rnn_relu_cell", 1, lambda lib, x, h, c, wi, wh, bi, bh: lib.rnn_relu_cell(x, h, wi, wh, b_hh=bh)),
]


@pytest.mark.parametrize("name,gates,call", CELLS, ids=[c[0] for c in CELLS])
def test_cells_match_torch(name, gates, call):
    batch, features, hidden = 3, 5, 4
    arrays = _arrays((batch, features), (batch, hidden), (batch, hidden), (gates * hidden, features),
                     (gates * hidden, hidden), (gates * hidden,), (gates * hidden,))
    assert_forward_and_gradients_match_torch(lambda lib, *t: call(lib, *t), arrays)


@pytest.mark.parametrize("call,message", [
    (lambda lib: lib.lstm_cell(lib.ones(2, 5), (lib.ones(2, 4),) * 2, lib.ones(16, 3), lib.ones(16, 4)),
     "input has inconsistent input_size: got 5 expected 3"),
    (lambda lib: lib.lstm_cell(lib.ones(2, 3), (lib.ones(2, 4),), lib.ones(16, 3), lib.ones(16, 4)),
     "lstm_cell expects two hidden states"),
    (lambda lib: lib.gru_cell(lib.ones(2, 3), lib.ones(1, 4), lib.ones(12, 3), lib.ones(12, 4)),
     "Input batch size 2 doesn't match hidden0 batch size 1"),
    (lambda lib: lib.rnn_tanh_cell(lib.ones(2, 3), lib.ones(2, 5), lib.ones(4, 3), lib.ones(4, 4)),
     "hidden0 has inconsistent hidden_size: got 5, expected 4"),
])
def test_cells_reject_mismatched_operands_like_torch(call, message):
    assert_raises_like_torch(call, RuntimeError, message)


# ----------------------------------------------------------------- convolution
CONVOLUTIONS = [
    ("conv1d", (2, 4, 9), (6, 2, 3), dict(stride=[2], padding=[1], dilation=[1], transposed=False,
                                          output_padding=[0], groups=2)),
    ("conv2d", (2, 3, 6, 5), (4, 3, 3, 2), dict(stride=[1, 2], padding=[1, 0], dilation=[2, 1], transposed=False,
                                                output_padding=[0, 0], groups=1)),
    ("conv2d_one_value_lists", (1, 2, 5, 5), (3, 2, 2, 2), dict(stride=[2], padding=[1], dilation=[1],
                                                                transposed=False, output_padding=[0], groups=1)),
    ("conv3d", (1, 2, 4, 4, 3), (2, 2, 2, 2, 2), dict(stride=[1, 1, 1], padding=[0, 1, 0], dilation=[1, 1, 1],
                                                      transposed=False, output_padding=[0, 0, 0], groups=1)),
    ("conv_transpose1d", (2, 4, 5), (4, 3, 3), dict(stride=[2], padding=[1], dilation=[1], transposed=True,
                                                    output_padding=[1], groups=1)),
    ("conv_transpose2d", (1, 4, 3, 4), (4, 1, 2, 3), dict(stride=[2, 1], padding=[0, 1], dilation=[1, 2],
                                                          transposed=True, output_padding=[1, 0], groups=2)),
]


@pytest.mark.parametrize("name,input_shape,weight_shape,options", CONVOLUTIONS, ids=[c[0] for c in CONVOLUTIONS])
def test_convolution_matches_torch(name, input_shape, weight_shape, options):
    channels = weight_shape[1] * options["groups"] if options["transposed"] else weight_shape[0]
    arrays = _arrays(input_shape, weight_shape, (channels,))

    def call(lib, x, w, b):
        return lib.convolution(x, w, b, options["stride"], options["padding"], options["dilation"],
                               options["transposed"], options["output_padding"], options["groups"])

    assert_forward_and_gradients_match_torch(call, arrays)
    assert_forward_and_gradients_match_torch(lambda lib, x, w: call(lib, x, w, None), arrays[:2])


def test_convolution_rejects_a_stride_of_the_wrong_length_like_torch():
    assert_raises_like_torch(
        lambda lib: lib.convolution(lib.ones(1, 1, 4, 4), lib.ones(1, 1, 2, 2), None, [1, 1, 1], [0], [1], False,
                                    [0], 1),
        RuntimeError, r"expected stride to be a single integer value or a list of 2 values to match the convolution "
                      r"dimensions, but got stride=\[1, 1, 1\]")


# ----------------------------------------------------------------- grid sampling
@pytest.mark.parametrize("interpolation,padding,align_corners", [(0, 0, False), (1, 1, True), (2, 2, False),
                                                                 (0, 2, True)])
def test_grid_sampler_2d_matches_torch(interpolation, padding, align_corners):
    x, grid = _arrays((2, 3, 5, 4), (2, 3, 2, 2), seed=1)
    grid = grid * 2.2  # some points fall outside, so the padding mode matters
    assert_forward_and_gradients_match_torch(
        lambda lib, a, g: lib.grid_sampler_2d(a, g, interpolation, padding, align_corners), [x, grid])


@pytest.mark.parametrize("interpolation,padding,align_corners", [(0, 0, False), (0, 1, True), (1, 2, False)])
def test_grid_sampler_3d_matches_torch(interpolation, padding, align_corners):
    x, grid = _arrays((1, 2, 3, 4, 3), (1, 2, 2, 3, 3), seed=2)
    grid = grid * 2.2
    assert_forward_and_gradients_match_torch(
        lambda lib, a, g: lib.grid_sampler_3d(a, g, interpolation, padding, align_corners), [x, grid])


def test_grid_sampler_rejects_the_wrong_rank_like_torch():
    assert_raises_like_torch(lambda lib: lib.grid_sampler_3d(lib.ones(1, 1, 3, 3), lib.ones(1, 2, 2, 2), 0, 0, False),
                             RuntimeError, "grid_sampler\\(\\): expected 5D input and grid with same number of "
                                           "dimensions, but got input with sizes \\[1, 1, 3, 3\\]")


# ----------------------------------------------------------------- normalisation with saved statistics
@pytest.mark.parametrize("normalized_shape,affine", [((4, 5), True), ((5,), False), ((3, 4, 5), True)])
def test_native_layer_norm_matches_torch(normalized_shape, affine):
    x, w, b = _arrays((2, 3, 4, 5), normalized_shape, normalized_shape, seed=3)
    if affine:
        assert_forward_and_gradients_match_torch(
            lambda lib, x, w, b: lib.native_layer_norm(x, normalized_shape, w, b, 1e-5), [x, w, b])
    else:
        assert_forward_and_gradients_match_torch(
            lambda lib, x: lib.native_layer_norm(x, list(normalized_shape), None, None, 1e-3), [x])


def test_native_layer_norm_keeps_the_input_dtype_for_its_statistics():
    for lib in (torch, trainer):
        out, mean, rstd = lib.native_layer_norm(lib.ones(2, 3, dtype=lib.float16), [3], None, None, 1e-5)
        assert out.dtype == mean.dtype == rstd.dtype == lib.float16 and tuple(mean.shape) == (2, 1)


@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 5), (2, 3, 2, 2)])
def test_native_batch_norm_in_training_matches_torch_and_updates_running_stats(shape):
    x, w, b = _arrays(shape, (3,), (3,), seed=4)
    running = {}
    for lib in (torch, trainer):
        running[lib] = (lib.zeros(3, dtype=lib.float64), lib.ones(3, dtype=lib.float64))

    def call(lib, x, w, b):
        return lib.native_batch_norm(x, w, b, *running[lib], True, 0.3, 1e-5)

    assert_forward_and_gradients_match_torch(call, [x, w, b])
    for ours, theirs in zip(running[trainer], running[torch]):
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)
    assert_forward_and_gradients_match_torch(lambda lib, x: lib.native_batch_norm(x, None, None, None, None, True,
                                                                                  0.1, 1e-3), [x])


def test_native_batch_norm_in_evaluation_matches_torch_with_empty_statistics():
    x, w, b, mean = _arrays((2, 3, 4), (3,), (3,), (3,), seed=5)
    var = np.abs(mean) + 0.5
    assert_forward_and_gradients_match_torch(
        lambda lib, x, w, b: lib.native_batch_norm(x, w, b, lib.tensor(mean), lib.tensor(var), False, 0.1, 1e-5),
        [x, w, b])


@pytest.mark.parametrize("shape,n,c,hxw,group", [((2, 4, 3), 2, 4, 3, 2), ((2, 6, 2, 2), 2, 6, 4, 3),
                                                 ((3, 4), 3, 4, 1, 4)])
def test_native_group_norm_matches_torch_with_differentiable_statistics(shape, n, c, hxw, group):
    x, w, b = _arrays(shape, (c,), (c,), seed=6)
    assert_forward_and_gradients_match_torch(lambda lib, x, w, b: lib.native_group_norm(x, w, b, n, c, hxw, group,
                                                                                        1e-5), [x, w, b])
    assert_forward_and_gradients_match_torch(lambda lib, x: lib.native_group_norm(x, None, None, n, c, hxw, group,
                                                                                  1e-2), [x])


@pytest.mark.parametrize("call,message", [
    (lambda lib: lib.native_group_norm(lib.ones(2, 3, 4), None, None, 2, 3, 5, 3, 1e-5),
     "Expected X.numel\\(\\) == N \\* C \\* HxW to be true, but got false."),
    (lambda lib: lib.native_group_norm(lib.ones(2, 3, 4), None, None, 2, 3, 4, 2, 1e-5),
     "Expected number of channels in input to be divisible by num_groups, but got input of shape \\[2, 3, 4\\] and "
     "num_groups=2"),
    (lambda lib: lib.native_layer_norm(lib.ones(2, 3), [4], None, None, 1e-5),
     "Given normalized_shape=\\[4\\], expected input with shape \\[\\*, 4\\]"),
])
def test_native_normalisations_reject_bad_shapes_like_torch(call, message):
    assert_raises_like_torch(call, RuntimeError, message)


# ----------------------------------------------------------------- dropout with its mask
def test_native_dropout_outside_training_matches_torch():
    assert_forward_and_gradients_match_torch(lambda lib, x: lib.native_dropout(x, 0.4, False)[0],
                                             _arrays((3, 4), seed=7))
    for lib in (torch, trainer):
        x = lib.ones(3, 4)
        out, mask = lib.native_dropout(x, 0.4, False)
        assert mask.dtype == lib.bool and bool(mask.all()) and out.data_ptr() != x.data_ptr()


@pytest.mark.parametrize("train", [True, None])
@pytest.mark.parametrize("p", [0.0, 0.3, 1.0])
def test_native_dropout_in_training_scales_what_its_mask_keeps(p, train):
    trainer.manual_seed(0)
    x = trainer.tensor(_arrays((50, 40), seed=8)[0], requires_grad=True)
    out, mask = trainer.native_dropout(x, p, train)
    assert mask.dtype == trainer.bool and tuple(mask.shape) == (50, 40) and not mask.requires_grad
    kept = mask.numpy()
    scale = 0.0 if p == 1 else 1 / (1 - p)
    np.testing.assert_allclose(out.detach().numpy(), x.detach().numpy() * kept * scale, rtol=1e-15)
    assert abs(kept.mean() - (1 - p)) < 0.05
    out.backward(trainer.ones_like(out))
    np.testing.assert_allclose(x.grad.numpy(), kept * scale, rtol=1e-15)


@pytest.mark.parametrize("p,shown", [(1.5, "-0.5"), (-0.25, "1.25")])
def test_native_dropout_rejects_a_probability_outside_0_1_like_torch(p, shown):
    assert_raises_like_torch(lambda lib: lib.native_dropout(lib.ones(3), p, True), RuntimeError,
                             f"bernoulli_ expects p to be in \\[0, 1\\], but got p={shown}")
