"""Top-level names PyTorch scripts use: finfo/iinfo, constants, settings, backends, default device, legacy
tensor types, range/rsub/broadcast_shapes, the torch.* functional forms and trainer.testing."""

import math
import warnings

import numpy as np
import pytest
import torch

import trainer
from tests.trainer.test_ops_parity import assert_forward_and_gradients_match_torch, assert_raises_like_torch

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("name", ["float16", "float32", "float64"])
def test_finfo_fields_match_torch(name):
    ours, theirs = trainer.finfo(getattr(trainer, name)), torch.finfo(getattr(torch, name))
    for field in ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution", "dtype"):
        assert getattr(ours, field) == getattr(theirs, field), field
    assert trainer.finfo().dtype == "float32"


@pytest.mark.parametrize("name", ["uint8", "int8", "int16", "int32", "int64"])
def test_iinfo_fields_match_torch(name):
    ours, theirs = trainer.iinfo(getattr(trainer, name)), torch.iinfo(getattr(torch, name))
    assert (ours.bits, ours.min, ours.max, ours.dtype) == (theirs.bits, theirs.min, theirs.max, theirs.dtype)


def test_info_errors_like_torch():
    assert_raises_like_torch(lambda lib: lib.finfo(lib.int32), TypeError, "requires a floating point")
    assert_raises_like_torch(lambda lib: lib.iinfo(lib.float32), TypeError, "requires an integer")
    assert_raises_like_torch(lambda lib: lib.iinfo(lib.bool), TypeError, "not supported")


def test_constants():
    assert (trainer.pi, trainer.e, trainer.inf, trainer.newaxis) == (math.pi, math.e, math.inf, None)
    assert math.isnan(trainer.nan)


def test_deterministic_settings_round_trip_like_torch():
    try:
        for lib in (torch, trainer):
            lib.set_deterministic_debug_mode("warn")
            assert (lib.are_deterministic_algorithms_enabled(), lib.is_deterministic_algorithms_warn_only_enabled(),
                    lib.get_deterministic_debug_mode()) == (True, True, 1)
            lib.use_deterministic_algorithms(True)
            assert lib.get_deterministic_debug_mode() == 2
            lib.use_deterministic_algorithms(False, warn_only=True)
            assert lib.get_deterministic_debug_mode() == 0 and lib.is_deterministic_algorithms_warn_only_enabled()
        assert_raises_like_torch(lambda lib: lib.set_deterministic_debug_mode("x"), RuntimeError, "debug_mode")
        assert_raises_like_torch(lambda lib: lib.set_deterministic_debug_mode(3), RuntimeError, "0, 1, or 2")
        assert_raises_like_torch(lambda lib: lib.use_deterministic_algorithms(1), TypeError, "must be bool")
    finally:
        for lib in (torch, trainer):
            lib.use_deterministic_algorithms(False)


def test_matmul_precision_and_tf32_flag_are_linked():
    try:
        torch.set_float32_matmul_precision("medium")
        trainer.set_float32_matmul_precision("medium")
        assert trainer.backends.cuda.matmul.allow_tf32 == torch.backends.cuda.matmul.allow_tf32 is True
        trainer.backends.cuda.matmul.allow_tf32 = False
        assert trainer.get_float32_matmul_precision() == "highest"
        with pytest.warns(UserWarning, match="has no effect"):
            trainer.set_float32_matmul_precision("low")
        assert trainer.get_float32_matmul_precision() == "highest"
    finally:
        torch.set_float32_matmul_precision("highest")
        trainer.set_float32_matmul_precision("highest")


def test_backend_flags_and_availability():
    cudnn = trainer.backends.cudnn
    assert (cudnn.enabled, cudnn.benchmark, cudnn.deterministic, cudnn.allow_tf32) == (True, False, False, True)
    cudnn.benchmark = True
    try:
        assert trainer.backends.cudnn.benchmark
    finally:
        cudnn.benchmark = False
    assert cudnn.is_available() == (trainer.backend.cupy_available() and cudnn.version() is not None)
    assert trainer.backends.mps.is_available() is False
    trainer.set_warn_always(True)
    assert trainer.is_warn_always_enabled()
    trainer.set_warn_always(False)
    assert trainer.is_storage(trainer.ones(2)) is False and trainer.is_tensor(trainer.ones(2))


def test_default_device_reaches_creation_functions():
    assert trainer.get_default_device() == trainer.device("cpu")
    trainer.set_default_device("cpu")
    assert trainer.zeros(2).device == trainer.device("cpu")
    trainer.set_default_device(None)
    if not trainer.backend.cupy_available():
        with pytest.raises(RuntimeError, match="pip install"):
            trainer.set_default_device("cuda")
        assert trainer.get_default_device() == trainer.device("cpu")


def test_set_default_tensor_type_sets_default_dtype():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            trainer.set_default_tensor_type("torch.DoubleTensor")
            assert trainer.get_default_dtype() is trainer.float64 and trainer.tensor([1.0]).dtype is trainer.float64
            trainer.set_default_tensor_type(trainer.FloatTensor)
            assert trainer.get_default_dtype() is trainer.float32
            assert_raises_like_torch(lambda lib: lib.set_default_tensor_type("torch.IntTensor"), TypeError,
                                     "floating-point")
            assert_raises_like_torch(lambda lib: lib.set_default_tensor_type("torch.FooTensor"), AttributeError,
                                     "unknown tensor type")
        finally:
            torch.set_default_dtype(torch.float32)
            trainer.set_default_dtype(trainer.float32)


@pytest.mark.parametrize("name", ["FloatTensor", "DoubleTensor", "HalfTensor", "LongTensor", "IntTensor",
                                  "ShortTensor", "CharTensor", "ByteTensor", "BoolTensor"])
def test_legacy_constructors_match_torch(name):
    ours, theirs = getattr(trainer, name)([1, 0, 2]), getattr(torch, name)([1, 0, 2])
    assert ours.dtype.name == str(theirs.dtype).removeprefix("torch.")
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert getattr(trainer, name)(2, 3).shape == (2, 3) and getattr(trainer, name)().shape == (0,)
    assert isinstance(ours, getattr(trainer, name)) and ours.type() == theirs.type() == f"torch.{name}"
    other = "DoubleTensor" if name != "DoubleTensor" else "FloatTensor"
    assert not isinstance(ours, getattr(trainer, other))


def test_legacy_constructor_errors_and_views():
    x = trainer.ones(3)
    view = trainer.FloatTensor(x)
    view[0] = 5
    assert x[0].item() == 5
    assert_raises_like_torch(lambda lib: lib.FloatTensor(lib.ones(2, dtype=lib.float64)), TypeError, "expected")
    assert_raises_like_torch(lambda lib: lib.LongTensor(2.5), TypeError, "must be a sequence")


def test_tensor_type_converts_like_torch():
    for lib in (torch, trainer):
        x = lib.ones(2)
        assert x.type(lib.LongTensor).dtype == lib.int64
        assert x.type("torch.IntTensor").dtype == lib.int32
        assert x.type(lib.float64).type() == "torch.DoubleTensor"
        assert x.type(lib.FloatTensor) is x
    assert_raises_like_torch(lambda lib: lib.ones(2).type("torch.FooTensor"), ValueError, "invalid type")


def test_range_rsub_broadcast_shapes_like_torch():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for args in [(1, 4), (0, 1, 0.3), (4, 1, -1)]:
            ours, theirs = trainer.range(*args), torch.range(*args)
            assert ours.dtype.name == "float32" == str(theirs.dtype).removeprefix("torch.")
            np.testing.assert_allclose(ours.numpy(), theirs.numpy())
        assert trainer.range(1, 3, dtype=trainer.int64).tolist() == [1, 2, 3]
        assert_raises_like_torch(lambda lib: lib.range(4, 1), RuntimeError, "inconsistent with step sign")
        assert_raises_like_torch(lambda lib: lib.range(1, 4, 0), RuntimeError, "step must be nonzero")
    assert_forward_and_gradients_match_torch(lambda lib, a, b: lib.rsub(a, b, alpha=2), [RNG.random(3), RNG.random(3)])
    assert trainer.rsub(trainer.ones(2), 3).tolist() == [2.0, 2.0]
    assert tuple(trainer.broadcast_shapes((2, 1), (3,), 1)) == tuple(torch.broadcast_shapes((2, 1), (3,), 1))
    assert isinstance(trainer.broadcast_shapes(2), trainer.Size)
    assert_raises_like_torch(lambda lib: lib.broadcast_shapes((2, 1), (3, 2)), RuntimeError, "broadcast")
    assert_raises_like_torch(lambda lib: lib.broadcast_shapes((-1,), (2,)), ValueError, "negative")


def _conv(lib, x, w):
    return lib.conv1d(x, w, None, 1, 1)


FUNCTIONAL_CASES = [
    ("conv1d", _conv, [(2, 3, 5), (4, 3, 3)]),
    ("layer_norm", lambda lib, x, w, b: lib.layer_norm(x, (4,), w, b, 1e-5, True), [(3, 4), (4,), (4,)]),
    ("group_norm", lambda lib, x: lib.group_norm(x, 2, None, None, 1e-5, True), [(2, 4, 3)]),
    ("batch_norm", lambda lib, x, w, b: lib.batch_norm(x, w, b, None, None, True, 0.1, 1e-5, False),
     [(4, 3), (3,), (3,)]),
    ("instance_norm", lambda lib, x: lib.instance_norm(x, None, None, None, None, True, 0.1, 1e-5, False),
     [(2, 3, 5)]),
    ("embedding", lambda lib, w: lib.embedding(w, lib.tensor([0, 3, 3])), [(5, 2)]),
    ("dropout_eval", lambda lib, x: lib.dropout(x, 0.5, False), [(3, 4)]),
    ("feature_dropout_eval", lambda lib, x: lib.feature_dropout(x, 0.5, False), [(3, 4)]),
    ("selu", lambda lib, x: lib.selu(x), [(5,)]),
    ("celu", lambda lib, x: lib.celu(x, 0.5), [(5,)]),
    ("threshold", lambda lib, x: lib.threshold(x, 0.1, -1.0), [(5,)]),
    ("hardshrink", lambda lib, x: lib.hardshrink(x, 0.3), [(5,)]),
    ("max_pool2d", lambda lib, x: lib.max_pool2d(x, 2), [(1, 2, 4, 4)]),
    ("max_pool1d_with_indices", lambda lib, x: lib.max_pool1d_with_indices(x, 2), [(1, 2, 6)]),
    ("adaptive_max_pool1d", lambda lib, x: lib.adaptive_max_pool1d(x, 3), [(1, 2, 6)]),
    ("kl_div", lambda lib, a, b: lib.kl_div(a, b.exp(), 2), [(3, 4), (3, 4)]),
    ("bce_logits", lambda lib, a: lib.binary_cross_entropy_with_logits(a, a.detach().sigmoid(), None, None, 0),
     [(3,)]),
    ("margin_ranking", lambda lib, a, b: lib.margin_ranking_loss(a, b, lib.tensor([1.0, -1.0, 1.0]), 0.1, 1),
     [(3,), (3,)]),
    ("poisson_nll", lambda lib, a, b: lib.poisson_nll_loss(a, b, True, False, 1e-8, 1), [(3,), (3,)]),
    ("triplet", lambda lib, a, p, n: lib.triplet_margin_loss(a, p, n, 1.0, 2.0, 1e-6, False, 2),
     [(2, 3), (2, 3), (2, 3)]),
    ("constant_pad_nd", lambda lib, x: lib.constant_pad_nd(x, [1, 2], 0.5), [(2, 3)]),
    ("affine_grid_generator", lambda lib, t: lib.affine_grid_generator(t, [1, 1, 2, 3], False), [(1, 2, 3)]),
    ("grid_sampler", lambda lib, x, g: lib.grid_sampler(x, g.tanh(), 0, 1, False), [(1, 1, 3, 3), (1, 2, 2, 2)]),
    ("fill", lambda lib, x: lib.fill(x, 2.5), [(3,)]),
]


@pytest.mark.parametrize("name,fn,shapes", FUNCTIONAL_CASES, ids=[c[0] for c in FUNCTIONAL_CASES])
def test_top_level_functional_forms_match_torch(name, fn, shapes):
    assert_forward_and_gradients_match_torch(fn, [RNG.standard_normal(s) for s in shapes])


def test_in_place_top_level_forms_like_torch():
    data = RNG.standard_normal(5)
    for name, args in [("selu_", ()), ("celu_", (0.7,)), ("threshold_", (0.0, 2.0)), ("dropout_", (0.5, False)),
                       ("fill_", (3.0,)), ("zero_", ())]:
        ours, theirs = trainer.tensor(data), torch.tensor(data)
        assert getattr(trainer, name)(ours, *args) is ours
        getattr(torch, name)(theirs, *args)
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), err_msg=name)
    x = trainer.ones(2, requires_grad=True) * 2
    assert trainer.detach_(x) is x and not x.requires_grad
    assert_raises_like_torch(lambda lib: lib.feature_dropout(lib.ones(3), 0.5, True), RuntimeError, "2 dimensions")


def _both_fail(actual, expected, **options):
    with pytest.raises(AssertionError) as ours:
        trainer.testing.assert_close(actual(trainer), expected(trainer), **options)
    with pytest.raises(AssertionError) as theirs:
        torch.testing.assert_close(actual(torch), expected(torch), **options)
    return str(ours.value), str(theirs.value)


def test_assert_close_messages_match_torch():
    ours, theirs = _both_fail(lambda lib: lib.tensor([1.0, 2.0, 3.0, 4.0]),
                              lambda lib: lib.tensor([1.0, 3.0, 3.0, 4.0]))
    assert ours == theirs
    ours, theirs = _both_fail(lambda lib: lib.tensor([[1, 2], [3, 4]]), lambda lib: lib.tensor([[1, 2], [3, 5]]))
    assert ours == theirs
    ours, theirs = _both_fail(lambda lib: [lib.ones(2), {"a": lib.ones(2)}],
                              lambda lib: [lib.ones(2), {"a": lib.zeros(2)}])
    assert ours == theirs
    assert _both_fail(lambda lib: 1.0, lambda lib: 2.0)[0] == _both_fail(lambda lib: 1.0, lambda lib: 2.0)[1]
    assert _both_fail(lambda lib: [1, 2], lambda lib: [1, 2, 3])[0] == "The length of the sequences mismatch: 2 != 3"
    ours, _ = _both_fail(lambda lib: lib.ones(2), lambda lib: lib.ones(2, dtype=lib.float64))
    assert ours == "The values for attribute 'dtype' do not match: trainer.float32 != trainer.float64."


def test_assert_close_tolerances_and_options():
    close = trainer.testing.assert_close
    close(trainer.tensor([1.0]), trainer.tensor([1.0 + 1e-6]))
    close(trainer.ones(2), trainer.ones(2, dtype=trainer.float64), check_dtype=False)
    close(trainer.tensor([float("nan")]), trainer.tensor([float("nan")]), equal_nan=True)
    close({"w": [trainer.ones(2), 3]}, {"w": [trainer.ones(2), 3]})
    with pytest.raises(AssertionError, match="^custom$"):
        close(trainer.ones(2), trainer.zeros(2), msg="custom")
    with pytest.raises(AssertionError, match="stride"):
        close(trainer.ones(2, 3), trainer.ones(3, 2).t(), check_stride=True)
    assert_raises_like_torch(lambda lib: lib.testing.assert_close(lib.ones(2), lib.ones(2), rtol=1e-3), ValueError,
                             "no atol")
    assert_raises_like_torch(lambda lib: lib.testing.assert_close(lib.ones(2), 1.0), TypeError, "No comparison pair")


def test_make_tensor_ranges_and_options():
    x = trainer.testing.make_tensor(200, dtype=trainer.float32, device="cpu", low=-2, high=3)
    assert x.dtype is trainer.float32 and x.shape == (200,) and -2 <= x.min().item() and x.max().item() < 3
    n = trainer.testing.make_tensor((4, 50), dtype=trainer.int64, device="cpu", exclude_zero=True)
    assert n.dtype is trainer.int64 and (n != 0).all() and -9 <= n.min().item() and n.max().item() < 10
    assert (trainer.testing.make_tensor(100, dtype=trainer.uint8, device="cpu") >= 0).all()
    v = trainer.testing.make_tensor(3, 4, dtype=trainer.float64, device="cpu", noncontiguous=True, requires_grad=True)
    assert not v.is_contiguous() and v.requires_grad and v.shape == (3, 4)
