"""In-place random fills, dtype/storage methods and the counting ops (unique, bincount, searchsorted,
bucketize, histc): deterministic results against PyTorch, random fills by their statistics under a fixed seed."""

import numpy as np
import pytest
import torch

import trainer

N = 200_000  # enough samples that a mean is within ~1% of its expectation


def both(fn):
    """``fn(lib)`` for torch and for trainer, as NumPy arrays with their dtype names."""
    out = []
    for lib in (torch, trainer):
        result = fn(lib)
        results = result if isinstance(result, tuple) else (result,)
        out.append([(np.asarray(r.numpy()), str(r.dtype).split(".")[-1]) for r in results])
    return out


def assert_same(fn):
    expected, got = both(fn)
    assert len(expected) == len(got)
    for (e, e_dtype), (g, g_dtype) in zip(expected, got):
        assert g_dtype == e_dtype
        assert g.shape == e.shape
        np.testing.assert_allclose(g, e, rtol=1e-6, atol=0)


# ----------------------------------------------------------------- random fills
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_uniform_bounds_mean_dtype_and_returns_self(dtype):
    trainer.manual_seed(0)
    x = trainer.empty(N, dtype=getattr(trainer, dtype))
    assert x.uniform_(-2, 3) is x
    assert x.dtype == getattr(trainer, dtype)
    a = x.numpy()
    assert a.min() >= -2 and a.max() < 3
    assert abs(a.mean() - 0.5) < 0.03
    assert abs(a.var() - 25 / 12) < 0.05


def test_normal_mean_and_std():
    trainer.manual_seed(1)
    a = trainer.empty(N, dtype=trainer.float64).normal_(3, 2).numpy()
    assert abs(a.mean() - 3) < 0.03
    assert abs(a.std() - 2) < 0.03


def test_log_normal_is_exp_of_a_normal():
    trainer.manual_seed(2)
    a = np.log(trainer.empty(N).log_normal_(1, 0.5).numpy())
    assert abs(a.mean() - 1) < 0.01
    assert abs(a.std() - 0.5) < 0.01


def test_exponential_mean_is_one_over_lambda():
    trainer.manual_seed(3)
    a = trainer.empty(N).exponential_(4).numpy()
    assert a.min() >= 0
    assert abs(a.mean() - 0.25) < 0.005


def test_geometric_counts_trials_to_first_success():
    trainer.manual_seed(4)
    a = trainer.empty(N, dtype=trainer.int64).geometric_(0.25).numpy()
    assert a.dtype == np.int64 and a.min() >= 1
    assert abs(a.mean() - 4) < 0.05


def test_bernoulli_with_a_number_and_a_tensor():
    trainer.manual_seed(5)
    a = trainer.empty(N).bernoulli_(0.3).numpy()
    assert set(np.unique(a)) <= {0.0, 1.0}
    assert abs(a.mean() - 0.3) < 0.01
    p = trainer.tensor([0.0, 1.0]).repeat(4)
    np.testing.assert_array_equal(trainer.empty(8).bernoulli_(p).numpy(), p.numpy())
    b = trainer.empty(100, dtype=trainer.bool).bernoulli_()
    assert b.dtype == trainer.bool


def test_random_ranges():
    trainer.manual_seed(6)
    a = trainer.empty(N).random_(3, 7).numpy()
    assert set(np.unique(a)) == {3.0, 4.0, 5.0, 6.0}
    b = trainer.empty(N, dtype=trainer.int32).random_(5).numpy()
    assert b.dtype == np.int32 and set(np.unique(b)) == set(range(5))
    c = trainer.empty(N).random_().numpy()
    assert c.min() >= 0 and c.max() <= 2**24 and np.all(c == np.round(c)) and c.max() > 2**23
    d = trainer.empty(1000, dtype=trainer.int64).random_().numpy()
    assert d.min() >= 0 and d.max() > 2**62
    assert set(np.unique(trainer.empty(1000, dtype=trainer.bool).random_().numpy())) == {False, True}


def test_fills_follow_the_seed_and_an_explicit_generator():
    trainer.manual_seed(7)
    first = trainer.empty(5).normal_().numpy()
    trainer.manual_seed(7)
    np.testing.assert_array_equal(trainer.empty(5).normal_().numpy(), first)
    gen = trainer.Generator().manual_seed(11)
    a = trainer.empty(5).uniform_(generator=gen).numpy()
    gen.manual_seed(11)
    np.testing.assert_array_equal(trainer.empty(5).uniform_(generator=gen).numpy(), a)


def test_fill_of_a_view_writes_through_and_bumps_the_version():
    base = trainer.zeros(4, 4)
    view = base[1]
    view.uniform_(1, 2)
    assert base._version == 1 and view._version == 1
    assert np.all(base.numpy()[1] >= 1) and np.all(base.numpy()[[0, 2, 3]] == 0)


def test_fill_of_a_leaf_that_requires_grad_raises_outside_no_grad():
    w = trainer.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        w.normal_()
    with trainer.no_grad():
        w.normal_()
    assert w.requires_grad and w.is_leaf


@pytest.mark.parametrize("call, error, match", [
    (lambda t: t.zeros(3, dtype=t.int64).normal_(), NotImplementedError, "normal_kernel_cpu"),
    (lambda t: t.zeros(3, dtype=t.int64).uniform_(), NotImplementedError, "check_uniform_bounds"),
    (lambda t: t.zeros(3, dtype=t.int64).log_normal_(), NotImplementedError, "log_normal_cpu"),
    (lambda t: t.zeros(3, dtype=t.int64).exponential_(), RuntimeError, "dtype must be a floating point"),
    (lambda t: t.zeros(3).uniform_(1, 0), RuntimeError, r"uniform_ expects to return a \[from, to\) range"),
    (lambda t: t.zeros(3).normal_(0, -1), RuntimeError, "normal expects std >= 0.0"),
    (lambda t: t.zeros(3).log_normal_(0, -1), RuntimeError, "log_normal_ expects std > 0.0"),
    (lambda t: t.zeros(3).bernoulli_(2), RuntimeError, r"bernoulli_ expects p to be in \[0, 1\]"),
    (lambda t: t.zeros(3).exponential_(0), RuntimeError, "exponential_ expects lambda > 0.0"),
    (lambda t: t.zeros(3).geometric_(0), RuntimeError, r"geometric_ expects p to be in \(0, 1\)"),
    (lambda t: t.zeros(3).random_(5, 3), RuntimeError, "random_ expects 'from' to be less than 'to'"),
])
def test_fill_errors_match_pytorch(call, error, match):
    for lib in (torch, trainer):
        with pytest.raises(error, match=match):
            call(lib)


# ----------------------------------------------------------------- dtype conversions and storage
def test_byte_char_bool():
    assert_same(lambda t: t.tensor([-1.5, 0.0, 2.7]).char())
    assert_same(lambda t: t.tensor([0.0, 2.7, 200.0]).byte())
    assert_same(lambda t: t.tensor([0.0, 2.7]).bool())


@pytest.mark.parametrize("make", [
    lambda t: t.zeros(3, 4),
    lambda t: t.zeros(3, 4).t(),
    lambda t: t.zeros(3, 4)[:, ::2],
    lambda t: t.zeros(2, 3, 4).permute(2, 0, 1),
    lambda t: t.tensor(1.0),
])
def test_stride_in_elements(make):
    assert make(trainer).stride() == make(torch).stride()
    if make(torch).dim():
        assert make(trainer).stride(-1) == make(torch).stride(-1)


def test_data_ptr_is_shared_by_views_and_offset_by_slicing():
    x = trainer.zeros(3, 4)
    assert x.view(12).data_ptr() == x.data_ptr()
    assert x[1].data_ptr() == x.data_ptr() + 4 * x.element_size()
    assert x.clone().data_ptr() != x.data_ptr()


# ----------------------------------------------------------------- counting
@pytest.mark.parametrize("kwargs", [{}, {"return_inverse": True}, {"return_counts": True},
                                    {"return_inverse": True, "return_counts": True}])
def test_unique_flat(kwargs):
    assert_same(lambda t: t.unique(t.tensor([[3, 1, 2], [1, 3, 7]]), **kwargs))
    assert_same(lambda t: t.tensor([2.5, -1.0, 2.5]).unique(**kwargs))


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_unique_along_a_dim(dim):
    assert_same(lambda t: t.unique(t.tensor([[1, 2, 1], [1, 2, 1], [0, 5, 0]]), dim=dim, return_inverse=True,
                                   return_counts=True))


def test_unique_is_not_differentiable():
    x = trainer.tensor([1.0, 1.0, 2.0], requires_grad=True)
    assert not trainer.unique(x).requires_grad
    assert not trainer.histc(x, bins=3).requires_grad


def test_bincount():
    assert_same(lambda t: t.bincount(t.tensor([1, 4, 4, 0])))
    assert_same(lambda t: t.bincount(t.tensor([1, 4]), minlength=8))
    assert_same(lambda t: t.bincount(t.tensor([], dtype=t.int64)))
    assert_same(lambda t: t.tensor([1, 2, 2]).bincount(t.tensor([0.5, 1.0, 2.0])))
    assert_same(lambda t: t.tensor([1, 2, 2]).bincount(t.tensor([0.5, 1.0, 2.0], dtype=t.float64)))
    assert_same(lambda t: t.tensor([1, 2, 2]).bincount(t.tensor([1, 2, 3])))


@pytest.mark.parametrize("call, error, match", [
    (lambda t: t.bincount(t.tensor([-1, 2])), RuntimeError, "1-d non-negative integral"),
    (lambda t: t.bincount(t.tensor([[1, 2]])), RuntimeError, "1-d non-negative integral"),
    (lambda t: t.bincount(t.tensor([1.0, 2.0])), NotImplementedError, "bincount_cpu"),
    (lambda t: t.bincount(t.tensor([1, 2]), t.tensor([1.0])), RuntimeError, "same length as input"),
    (lambda t: t.bincount(t.tensor([1, 2]), minlength=-1), RuntimeError, "minlength should be >= 0"),
    (lambda t: t.histc(t.tensor([1, 2])), NotImplementedError, "histogram_cpu"),
    (lambda t: t.histc(t.tensor([1.0, 2.0]), bins=0), RuntimeError, "bins must be > 0"),
    (lambda t: t.histc(t.tensor([1.0, 2.0]), min=3, max=1), RuntimeError, "max must be larger than min"),
    (lambda t: t.searchsorted(t.tensor([1, 2]), t.tensor([1]), right=True, side="left"), RuntimeError,
     "side and right can't be set to opposites"),
    (lambda t: t.searchsorted(t.tensor([1, 2]), t.tensor([1]), side="x"), RuntimeError, "side can only be"),
    (lambda t: t.searchsorted(t.tensor([[1, 2]]), t.tensor([1, 2, 3])), RuntimeError, "first N-1 dimensions"),
    (lambda t: t.bucketize(t.tensor([1]), t.tensor([[1, 2]])), RuntimeError, "must be 1 dimension"),
    (lambda t: t.unique(t.tensor([1, 2]), dim=3), IndexError, "Dimension out of range"),
])
def test_counting_errors_match_pytorch(call, error, match):
    for lib in (torch, trainer):
        with pytest.raises(error, match=match):
            call(lib)


@pytest.mark.parametrize("kwargs", [{}, {"right": True}, {"side": "right"}, {"side": "left"}, {"out_int32": True}])
def test_searchsorted(kwargs):
    assert_same(lambda t: t.searchsorted(t.tensor([1.0, 3.0, 3.0, 5.0]), t.tensor([[0.0, 3.0], [4.0, 9.0]]), **kwargs))
    assert_same(lambda t: t.searchsorted(t.tensor([[1, 3, 5], [2, 4, 6]]), t.tensor([[3, 6], [1, 4]]), **kwargs))
    assert_same(lambda t: t.searchsorted(t.tensor([1, 3, 5]), 3, **kwargs))


def test_searchsorted_with_a_sorter():
    assert_same(lambda t: t.searchsorted(t.tensor([5, 1, 3]), t.tensor([2, 5]), sorter=t.tensor([1, 2, 0])))


@pytest.mark.parametrize("kwargs", [{}, {"right": True}, {"out_int32": True}])
def test_bucketize(kwargs):
    assert_same(lambda t: t.bucketize(t.tensor([[0.5, 1.0], [3.0, 7.0]]), t.tensor([1.0, 3.0, 5.0]), **kwargs))
    assert_same(lambda t: t.bucketize(3, t.tensor([1, 3, 5]), **kwargs))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_histc(dtype):
    data = [1.0, 2.0, 2.0, 3.0, 5.0, -4.0, 7.5]
    assert_same(lambda t: t.histc(t.tensor(data, dtype=getattr(t, dtype)), bins=4))
    assert_same(lambda t: t.tensor(data, dtype=getattr(t, dtype)).histc(bins=5, min=0, max=5))
    assert_same(lambda t: t.histc(t.tensor([2.0, 2.0], dtype=getattr(t, dtype)), bins=4))
    assert_same(lambda t: t.histc(t.tensor([], dtype=getattr(t, dtype)), bins=3))
