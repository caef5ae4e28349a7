"""Fractional max pooling, ``nn.init.dirac_``/``sparse_`` and ``utils.data.StackDataset`` against PyTorch.

Given the same ``_random_samples`` the pooled values, their indices and the input gradients are PyTorch's exactly
(windows overlap, so gradients accumulate); ``dirac_`` is compared value for value, ``sparse_`` by its structure.
"""

import math

import numpy as np
import pytest
import torch

import trainer
from tests.trainer.test_ops_parity import assert_forward_and_gradients_match_torch, assert_raises_like_torch

RNG = np.random.default_rng(7)

# (pooled dims, input shape, kernel_size, output_size): windows wider than their spacing, so they overlap
POOL_CASES = [
    (2, (2, 3, 9, 11), (3, 2), (5, 6)),
    (2, (3, 10, 12), 2, (4, 7)),
    (2, (2, 3, 7, 8), 3, 5),
    (3, (2, 2, 7, 8, 9), (2, 3, 2), (3, 4, 5)),
    (3, (3, 6, 7, 8), 2, (3, 5, 4)),
    (3, (1, 2, 5, 5, 5), 3, 1),
]


def _pool(lib, n):
    return lib.nn.functional.fractional_max_pool2d if n == 2 else lib.nn.functional.fractional_max_pool3d


def _samples(shape, n, dtype=np.float64):
    batch = shape[0] if len(shape) == n + 2 else 1
    return RNG.random((batch, shape[-n - 1], n)).astype(dtype)


@pytest.mark.parametrize(("n", "shape", "kernel", "out"), POOL_CASES)
def test_fractional_max_pool_values_indices_and_gradients_match_torch(n, shape, kernel, out):
    samples = _samples(shape, n)

    def fn(lib, x):
        return _pool(lib, n)(x, kernel, output_size=out, return_indices=True, _random_samples=lib.tensor(samples))

    assert_forward_and_gradients_match_torch(fn, [RNG.standard_normal(shape)])


@pytest.mark.parametrize("n", [2, 3])
def test_float32_values_and_indices_are_exactly_torchs(n):
    shape = (2, 3, 13, 17) if n == 2 else (2, 2, 9, 10, 11)
    out = (6, 9) if n == 2 else (4, 5, 6)
    x, samples = RNG.standard_normal(shape).astype(np.float32), _samples(shape, n, np.float32)
    theirs = _pool(torch, n)(torch.tensor(x), 3, out, return_indices=True, _random_samples=torch.tensor(samples))
    ours = _pool(trainer, n)(trainer.tensor(x), 3, out, return_indices=True, _random_samples=trainer.tensor(samples))
    np.testing.assert_array_equal(np.asarray(ours[0]), theirs[0].numpy())
    np.testing.assert_array_equal(np.asarray(ours[1]), theirs[1].numpy())
    assert ours[0].dtype == trainer.float32


def test_nan_takes_over_its_window_and_ties_pick_the_first_maximum():
    x = np.zeros((1, 2, 6, 6))
    x[0, 0, 2, 3] = np.nan
    x[0, 0, 4, 4] = np.nan
    samples = _samples(x.shape, 2)

    def fn(lib, t):
        return lib.nn.functional.fractional_max_pool2d(t, 2, (4, 4), return_indices=True,
                                                       _random_samples=lib.tensor(samples))

    theirs, ours = fn(torch, torch.tensor(x)), fn(trainer, trainer.tensor(x))
    np.testing.assert_array_equal(np.asarray(ours[1]), theirs[1].numpy())
    np.testing.assert_array_equal(np.asarray(ours[0]), theirs[0].numpy())


def test_output_ratio_and_the_with_indices_names():
    x = RNG.standard_normal((2, 3, 10, 9))
    samples = _samples(x.shape, 2)
    theirs = torch.nn.functional.fractional_max_pool2d_with_indices(
        torch.tensor(x), 2, output_ratio=(0.5, 0.7), _random_samples=torch.tensor(samples))
    ours = trainer.nn.functional.fractional_max_pool2d_with_indices(
        trainer.tensor(x), 2, output_ratio=(0.5, 0.7), _random_samples=trainer.tensor(samples))
    assert tuple(ours[0].shape) == tuple(theirs[0].shape) == (2, 3, 5, 6)
    np.testing.assert_array_equal(np.asarray(ours[1]), theirs[1].numpy())
    y = RNG.standard_normal((1, 2, 8, 8, 8))
    samples3 = _samples(y.shape, 3)
    theirs3 = torch.nn.functional.fractional_max_pool3d(torch.tensor(y), 2, output_ratio=0.5,
                                                        _random_samples=torch.tensor(samples3))
    ours3 = trainer.nn.functional.fractional_max_pool3d_with_indices(trainer.tensor(y), 2, output_ratio=0.5,
                                                                     _random_samples=trainer.tensor(samples3))[0]
    np.testing.assert_array_equal(np.asarray(ours3), theirs3.numpy())


def test_without_samples_windows_come_from_trainers_generator():
    x = trainer.tensor(RNG.standard_normal((2, 3, 12, 12)))
    trainer.manual_seed(3)
    values, indices = trainer.nn.functional.fractional_max_pool2d(x, 3, (6, 5), return_indices=True)
    trainer.manual_seed(3)
    again = trainer.nn.functional.fractional_max_pool2d(x, 3, (6, 5))
    np.testing.assert_array_equal(np.asarray(values), np.asarray(again))
    flat = np.asarray(x).reshape(2, 3, -1)
    np.testing.assert_array_equal(np.take_along_axis(flat, np.asarray(indices).reshape(2, 3, -1), -1).reshape(
        values.shape), np.asarray(values))
    rows = np.asarray(indices) // 12
    assert rows.min() == 0 and rows.max() == 11  # the first window starts at 0, the last ends at the input's end


def test_second_order_gradient_matches_torch():
    x, samples = RNG.standard_normal((1, 2, 7, 7)), _samples((1, 2, 7, 7), 2)
    v, w = RNG.standard_normal((1, 2, 4, 4)), RNG.standard_normal((1, 2, 7, 7))
    results = []
    for lib in (torch, trainer):
        xt, vt = lib.tensor(x, requires_grad=True), lib.tensor(v, requires_grad=True)
        out = lib.nn.functional.fractional_max_pool2d(xt, 3, 4, _random_samples=lib.tensor(samples))
        (gx,) = lib.autograd.grad(out, xt, vt, create_graph=True)
        (gv,) = lib.autograd.grad((gx * lib.tensor(w)).sum(), vt)
        results.append(np.asarray(gv.detach()))
    np.testing.assert_allclose(results[1], results[0], rtol=0, atol=1e-12)


def test_modules_match_torch_and_keep_their_samples():
    x = RNG.standard_normal((2, 3, 9, 9))
    samples = _samples(x.shape, 2)
    theirs = torch.nn.FractionalMaxPool2d(3, output_size=4, return_indices=True,
                                          _random_samples=torch.tensor(samples))
    ours = trainer.nn.FractionalMaxPool2d(3, output_size=4, return_indices=True,
                                          _random_samples=trainer.tensor(samples))
    assert repr(ours) == repr(theirs) == "FractionalMaxPool2d()"
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["_random_samples"]
    for _ in range(2):
        o, t = ours(trainer.tensor(x)), theirs(torch.tensor(x))
        np.testing.assert_array_equal(np.asarray(o[0]), t[0].numpy())
        np.testing.assert_array_equal(np.asarray(o[1]), t[1].numpy())
    y = RNG.standard_normal((2, 2, 8, 8, 8))
    samples3 = _samples(y.shape, 3)
    t3 = torch.nn.FractionalMaxPool3d(2, output_ratio=(0.5, 0.6, 0.7), _random_samples=torch.tensor(samples3))
    o3 = trainer.nn.FractionalMaxPool3d(2, output_ratio=(0.5, 0.6, 0.7), _random_samples=trainer.tensor(samples3))
    np.testing.assert_array_equal(np.asarray(o3(trainer.tensor(y))), t3(torch.tensor(y)).numpy())
    assert list(trainer.nn.FractionalMaxPool3d(2, output_size=3).state_dict()) == []


X4 = RNG.standard_normal((2, 3, 7, 8))
X5 = RNG.standard_normal((2, 3, 5, 6, 7))


def _f(lib, name):
    return getattr(lib.nn.functional, name)


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda lib: _f(lib, "fractional_max_pool2d")(lib.tensor(X4), 2), ValueError,
     "requires specifying either an output_size or an output_ratio"),
    (lambda lib: _f(lib, "fractional_max_pool2d")(lib.tensor(X4), 3, output_size=(6, 7)), RuntimeError,
     "pool height 3 too large relative to input height 7"),
    (lambda lib: _f(lib, "fractional_max_pool3d")(lib.tensor(X5), 2, output_size=(2, 5, 6)), RuntimeError,
     "pool width 2 too large relative to input width 7"),
    (lambda lib: _f(lib, "fractional_max_pool3d")(lib.tensor(X5), 2, output_size=(4, 2, 2)), RuntimeError,
     "pool time 2 too large relative to input time 5"),
    (lambda lib: _f(lib, "fractional_max_pool2d")(lib.tensor(X4), (2, 2, 2), output_size=3), RuntimeError,
     "kernel_size must either be a single Int or tuple of Ints"),
    (lambda lib: _f(lib, "fractional_max_pool3d")(lib.tensor(X5), 2, output_size=(2, 2)), RuntimeError,
     "output_size must either be a single Int or tuple of three Ints"),
    (lambda lib: _f(lib, "fractional_max_pool2d")(lib.tensor(X4), 2, 3, _random_samples=lib.rand(2, 3, 3,
                                                                                                  dtype=lib.float64)),
     RuntimeError, r"Expect _random_samples.size\(2\) equals to 2"),
    (lambda lib: _f(lib, "fractional_max_pool2d")(lib.tensor(X4), 2, 3, _random_samples=lib.rand(1, 3, 2,
                                                                                                  dtype=lib.float64)),
     RuntimeError, r"Expect _random_samples.size\(0\) no less then input batch size"),
    (lambda lib: _f(lib, "fractional_max_pool2d")(lib.tensor(X4), 2, 3, _random_samples=lib.rand(2, 2, 2,
                                                                                                  dtype=lib.float64)),
     RuntimeError, r"Expect _random_samples.size\(1\) equals to input channel size"),
    (lambda lib: _f(lib, "fractional_max_pool2d")(lib.tensor(X4), 2, 3, _random_samples=lib.rand(2, 3, 2)),
     RuntimeError, "Expect _random_samples to have the same dtype as input"),
    (lambda lib: _f(lib, "fractional_max_pool2d")(lib.tensor(X4), 2, 3, _random_samples=lib.rand(1, 2, 3, 2)),
     RuntimeError, "Expect _random_samples to have 3 dimensions, got 4"),
    (lambda lib: _f(lib, "fractional_max_pool2d")(lib.tensor(X4[0, 0]), 2, 3, _random_samples=lib.rand(1, 1, 2)),
     RuntimeError, r"Expected 3D or 4D tensor, but got: \[7, 8\]"),
    (lambda lib: _f(lib, "fractional_max_pool2d")(lib.tensor(X4[:, :, :0]), 2, 1), RuntimeError,
     "Expected input to have non-zero size for non-batch dimensions"),
    (lambda lib: _f(lib, "fractional_max_pool2d")(lib.tensor(X4).long(), 2, 3,
                                                  _random_samples=lib.ones(2, 3, 2).long()), NotImplementedError,
     "not implemented for"),
    (lambda lib: lib.nn.FractionalMaxPool2d(2), ValueError, "requires specifying either an output size"),
    (lambda lib: lib.nn.FractionalMaxPool2d(2, output_size=3, output_ratio=0.5), ValueError,
     "only one of output_size and output_ratio may be specified"),
    (lambda lib: lib.nn.FractionalMaxPool2d(2, output_ratio=1.5), ValueError, "output_ratio must be between 0 and 1"),
    (lambda lib: lib.nn.FractionalMaxPool3d(0, output_ratio=0.5), ValueError, "kernel_size must be greater than 0"),
])
def test_bad_arguments_raise_like_torch(call, error, message):
    assert_raises_like_torch(call, error, message)


# ------------------------------------------------------------------------------------------------ nn.init


@pytest.mark.parametrize(("shape", "groups"), [((4, 3, 5), 1), ((6, 4, 3, 4), 2), ((3, 5, 3), 1),
                                               ((6, 2, 3, 3, 2), 3), ((4, 4, 1, 1), 4)])
def test_dirac_matches_torch(shape, groups):
    theirs = torch.nn.init.dirac_(torch.full(shape, 7.0, dtype=torch.float64), groups)
    ours = trainer.nn.init.dirac_(trainer.full(shape, 7.0, dtype=trainer.float64), groups)
    np.testing.assert_array_equal(np.asarray(ours), theirs.numpy())


def test_dirac_weight_makes_a_convolution_the_identity():
    weight = trainer.nn.init.dirac_(trainer.empty(3, 3, 3, 3))
    x = trainer.randn(1, 3, 6, 6)
    np.testing.assert_allclose(np.asarray(trainer.nn.functional.conv2d(x, weight, padding=1)), np.asarray(x))


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda lib: lib.nn.init.dirac_(lib.zeros(3, 3)), ValueError, "Only tensors with 3, 4, or 5 dimensions"),
    (lambda lib: lib.nn.init.dirac_(lib.zeros(5, 2, 3), groups=2), ValueError, "dim 0 must be divisible by groups"),
    (lambda lib: lib.nn.init.sparse_(lib.zeros(3, 3, 3), 0.5), ValueError, "Only tensors with 2 dimensions"),
])
def test_init_errors_match_torch(call, error, message):
    assert_raises_like_torch(call, error, message)


def test_sparse_zeros_a_fixed_count_per_column_and_draws_the_rest_with_std():
    tensor = trainer.empty(200, 60, dtype=trainer.float64)
    generator = trainer.Generator().manual_seed(11)
    trainer.nn.init.sparse_(tensor, 0.3, std=0.5, generator=generator)
    values = np.asarray(tensor)
    assert ((values == 0).sum(axis=0) == math.ceil(0.3 * 200)).all()
    assert abs(values[values != 0].std() / 0.5 - 1) < 0.03
    assert abs(values[values != 0].mean()) < 0.02
    zero_rows = [frozenset(np.flatnonzero(values[:, c] == 0)) for c in range(60)]
    assert len(set(zero_rows)) == 60  # each column picks its own rows
    again = trainer.nn.init.sparse_(trainer.empty(200, 60, dtype=trainer.float64), 0.3, std=0.5,
                                    generator=trainer.Generator().manual_seed(11))
    np.testing.assert_array_equal(np.asarray(again), values)


# ------------------------------------------------------------------------------------------------ StackDataset


def test_stack_dataset_samples_match_torch():
    a, b = RNG.standard_normal((5, 2)), np.arange(5.0)
    theirs = torch.utils.data.StackDataset(torch.utils.data.TensorDataset(torch.tensor(a)), list(b))
    ours = trainer.utils.data.StackDataset(trainer.utils.data.TensorDataset(trainer.tensor(a)), list(b))
    assert len(ours) == len(theirs) == 5
    for i in range(5):
        (o_part, o_number), (t_part, t_number) = ours[i], theirs[i]
        np.testing.assert_array_equal(np.asarray(o_part[0]), t_part[0].numpy())
        assert o_number == t_number
    named = trainer.data.StackDataset(x=["a", "b", "c"], y=[1, 2, 3])
    assert named[2] == {"x": "c", "y": 3} == torch.utils.data.StackDataset(x=["a", "b", "c"], y=[1, 2, 3])[2]
    assert named.__getitems__([2, 0]) == [{"x": "c", "y": 3}, {"x": "a", "y": 1}]
    assert ours.__getitems__([1])[0][1] == theirs.__getitems__([1])[0][1] == 1.0
    assert isinstance(ours.__getitems__([1])[0], tuple)


def test_stack_dataset_batches_through_the_dataloader():
    x, y = np.arange(12.0).reshape(6, 2), np.arange(6)
    data = trainer.utils.data.StackDataset(image=trainer.tensor(x), label=trainer.tensor(y))
    batches = list(trainer.utils.data.DataLoader(data, batch_size=4))
    assert [sorted(b) for b in batches] == [["image", "label"]] * 2
    np.testing.assert_array_equal(np.asarray(batches[0]["image"]), x[:4])
    np.testing.assert_array_equal(np.asarray(batches[1]["label"]), y[4:])


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda lib: lib.utils.data.StackDataset(), ValueError, "At least one dataset should be passed"),
    (lambda lib: lib.utils.data.StackDataset([1, 2], b=[1, 2]), ValueError, "but both types are given"),
    (lambda lib: lib.utils.data.StackDataset([1, 2], [1, 2, 3]), ValueError, "Size mismatch between datasets"),
    (lambda lib: lib.utils.data.StackDataset(a=[1, 2], b=[1]), ValueError, "Size mismatch between datasets"),
])
def test_stack_dataset_errors_match_torch(call, error, message):
    assert_raises_like_torch(call, error, message)
