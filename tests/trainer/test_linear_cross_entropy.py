"""``F.linear_cross_entropy``, ``nn.LinearCrossEntropyLoss`` and ``nn.LinearCrossEntropyOptions`` against PyTorch:
values and gradients on both paths (reference and chunked), fallbacks, options, the module, errors, and the chunked
path's memory."""

from __future__ import annotations

import tracemalloc
import warnings

import numpy as np
import pytest
import torch

import trainer
from tests.trainer.test_ops_parity import assert_forward_and_gradients_match_torch, assert_raises_like_torch

F64_TOL, F32_TOL = 1e-10, 1e-5


def _losses_and_grads(lib, fn, arrays, dtype, grad_of, upstream_seed=3):
    """``fn(lib, *tensors)``'s loss and the gradients of the tensors ``grad_of`` marks, after backward with a fixed
    random upstream gradient."""
    tensors = [lib.tensor(a, dtype=getattr(lib, dtype), requires_grad=wants) for a, wants in zip(arrays, grad_of)]
    loss = fn(lib, *tensors)
    upstream = np.random.default_rng(upstream_seed).standard_normal(tuple(loss.shape))
    if any(grad_of):
        loss.backward(lib.tensor(upstream, dtype=loss.dtype))
    grads = [t.grad for t in tensors]
    return loss, [None if g is None else g.detach().float().numpy() for g in grads]


def assert_matches_torch(fn, arrays, dtype="float64", grad_of=None, tol=None):
    """Loss (value, shape, dtype) and gradients agree with PyTorch to ``tol`` relative to each result's largest
    entry (1e-10 in float64, 1e-5 in float32)."""
    grad_of = grad_of or [True] * len(arrays)
    tol = tol or (F64_TOL if dtype == "float64" else F32_TOL)
    theirs, their_grads = _losses_and_grads(torch, fn, arrays, dtype, grad_of)
    ours, our_grads = _losses_and_grads(trainer, fn, arrays, dtype, grad_of)
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert ours.dtype.name == str(theirs.dtype).removeprefix("torch.")
    _assert_close(ours.detach().float().numpy(), theirs.detach().float().numpy(), tol, "loss")
    for i, (o, t) in enumerate(zip(our_grads, their_grads)):
        assert (o is None) == (t is None), f"grad {i}: trainer {o is not None}, torch {t is not None}"
        if t is not None:
            _assert_close(o, t, tol, f"grad {i}")


def _assert_close(ours, theirs, tol, what):
    finite = theirs[np.isfinite(theirs)]
    scale = max(1.0, float(np.abs(finite).max())) if finite.size else 1.0
    np.testing.assert_allclose(ours, theirs, rtol=tol, atol=tol * scale, err_msg=what)


def _case(n=23, d=6, c=13, seed=0):
    rng = np.random.default_rng(seed)
    target = rng.integers(0, c, n)
    target[::5] = -100  # some ignored rows
    return (rng.standard_normal((n, d)), rng.standard_normal((c, d)), rng.standard_normal(c), target,
            rng.random(c) + 0.5)


def _options(lib, **kwargs):
    return lib.nn.LinearCrossEntropyOptions(**kwargs)


# ---------------------------------------------------------------- chunked path

@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("class_weight", [False, True])
def test_chunked_path_matches_torch(reduction, bias, class_weight):
    x, w, b, target, cw = _case()

    def fn(lib, x, w, b):
        return lib.nn.functional.linear_cross_entropy(
            x, w, lib.tensor(target), linear_bias=b if bias else None,
            weight=lib.tensor(cw) if class_weight else None, reduction=reduction,
            options=_options(lib, batch_chunk_size=4))

    assert_matches_torch(fn, [x, w, b], grad_of=[True, True, bias])


@pytest.mark.parametrize("options", [dict(), dict(chunking_method="aspect_ratio"), dict(chunking_method=None),
                                     dict(batch_chunk_size=100), dict(acc_policy="accurate", batch_chunk_size=7)])
def test_chunk_sizes_and_ignore_index_match_torch(options):
    x, w, _, target, _ = _case(n=40, d=3, c=50, seed=1)
    target = np.where(target == -100, 7, target)

    def fn(lib, x, w):
        return lib.nn.functional.linear_cross_entropy(x, w, lib.tensor(target), ignore_index=7,
                                                      options=_options(lib, **options))

    assert_matches_torch(fn, [x, w])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_chunked_float32_within_1e5_of_torch(reduction):
    x, w, b, target, cw = _case(n=96, d=24, c=300, seed=2)

    def fn(lib, x, w, b):
        return lib.nn.functional.linear_cross_entropy(x, w, lib.tensor(target), linear_bias=b, weight=lib.tensor(cw),
                                                      reduction=reduction, options=_options(lib))

    assert_matches_torch(fn, [x * 3, w, b], dtype="float32")


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_accumulates_in_float32_like_torch(dtype):
    x, w, _, target, _ = _case(n=32, d=8, c=40, seed=3)

    def fn(lib, x, w):
        return lib.nn.functional.linear_cross_entropy(x, w, lib.tensor(target), options=_options(lib))

    assert_matches_torch(fn, [x, w], dtype=dtype, tol=2e-2)


@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_unbatched_input_on_the_chunked_path(reduction):
    rng = np.random.default_rng(4)
    x, w = rng.standard_normal(5), rng.standard_normal((9, 5))

    def fn(lib, x, w):
        return lib.nn.functional.linear_cross_entropy(x, w, lib.tensor(4), reduction=reduction,
                                                      options=_options(lib))

    assert_matches_torch(fn, [x, w])


def test_only_the_gradients_asked_for():
    x, w, b, target, _ = _case(seed=5)

    def fn(lib, x, w, b):
        return lib.nn.functional.linear_cross_entropy(x, w, lib.tensor(target), linear_bias=b,
                                                      options=_options(lib, batch_chunk_size=5))

    assert_matches_torch(fn, [x, w, b], grad_of=[False, True, False])
    assert_matches_torch(fn, [x, w, b], grad_of=[True, False, True])


@pytest.mark.parametrize("n", [0, 6])
def test_mean_over_no_kept_rows_is_nan_like_torch(n):
    rng = np.random.default_rng(6)
    x, w = rng.standard_normal((n, 3)), rng.standard_normal((4, 3))
    for lib in (torch, trainer):
        loss = lib.nn.functional.linear_cross_entropy(lib.tensor(x), lib.tensor(w), lib.full((n,), -100),
                                                      options=_options(lib))
        assert np.isnan(loss.item()), lib.__name__


def test_second_backward_needs_allow_retain_graph():
    x, w, _, target, _ = _case(seed=7)
    for lib in (torch, trainer):
        X = lib.tensor(x, requires_grad=True)
        loss = lib.nn.functional.linear_cross_entropy(X, lib.tensor(w), lib.tensor(target), options=_options(lib))
        loss.backward(retain_graph=True)
        with pytest.raises(RuntimeError, match="backward called twice"):
            loss.backward()
    grads = {}
    for lib in (torch, trainer):
        X = lib.tensor(x, requires_grad=True)
        loss = lib.nn.functional.linear_cross_entropy(X, lib.tensor(w), lib.tensor(target), reduction="sum",
                                                      options=_options(lib, allow_retain_graph=True))
        loss.backward(retain_graph=True)
        loss.backward()
        grads[lib] = X.grad.numpy()
    _assert_close(grads[trainer], grads[torch], F64_TOL, "twice-accumulated grad")


def test_no_grad_gives_the_loss_only():
    x, w, _, target, _ = _case(seed=8)
    with torch.no_grad():
        theirs = torch.nn.functional.linear_cross_entropy(torch.tensor(x), torch.tensor(w), torch.tensor(target),
                                                          options=_options(torch))
    X = trainer.tensor(x, requires_grad=True)
    with trainer.no_grad():
        ours = trainer.nn.functional.linear_cross_entropy(X, trainer.tensor(w), trainer.tensor(target),
                                                          options=_options(trainer))
    assert not ours.requires_grad
    _assert_close(ours.numpy(), theirs.numpy(), F64_TOL, "loss")


def test_chunked_path_peak_memory_stays_far_below_the_logits():
    """N=4096 rows over C=8192 classes: the float32 logits alone would take 128 MiB."""
    n, d, c = 4096, 64, 8192
    rng = np.random.default_rng(9)
    x = trainer.tensor(rng.standard_normal((n, d), dtype=np.float32), requires_grad=True)
    w = trainer.tensor(rng.standard_normal((c, d), dtype=np.float32) * 0.1, requires_grad=True)
    target = trainer.tensor(rng.integers(0, c, n))
    tracemalloc.start()
    try:
        loss = trainer.nn.functional.linear_cross_entropy(x, w, target, options=_options(trainer))
        loss.backward()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    logits_bytes = n * c * 4
    assert peak < logits_bytes / 8, f"peak {peak / 2**20:.1f} MiB"
    assert np.isfinite(loss.item()) and x.grad.shape == (n, d) and w.grad.shape == (c, d)
    # each row of d logits (softmax - onehot) sums to zero over the classes, so W's gradient does too
    assert np.abs(w.grad.numpy().sum(axis=0)).max() < 1e-4


# ---------------------------------------------------------------- reference path and fallbacks

@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
def test_reference_path_matches_torch(reduction, label_smoothing):
    x, w, b, target, cw = _case(seed=10)

    def fn(lib, x, w, b):
        return lib.nn.functional.linear_cross_entropy(x, w, lib.tensor(target), linear_bias=b, weight=lib.tensor(cw),
                                                      reduction=reduction, label_smoothing=label_smoothing)

    assert_matches_torch(fn, [x, w, b])


def test_reference_path_through_the_shared_parity_helper():
    x, w, _, target, _ = _case(seed=11)

    def fn(lib, x, w):
        return lib.nn.functional.linear_cross_entropy(x, w, lib.tensor(target), reduction="sum")

    assert_forward_and_gradients_match_torch(fn, [x, w])


@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_k_dimensional_loss_with_bias_and_probability_targets(reduction):
    rng = np.random.default_rng(12)
    x, w, b = rng.standard_normal((4, 5)), rng.standard_normal((6, 2, 3, 5)), rng.standard_normal((6, 2, 3))
    classes = rng.integers(0, 6, (4, 2, 3))
    probabilities = rng.random((4, 6, 2, 3))
    probabilities /= probabilities.sum(axis=1, keepdims=True)

    def with_classes(lib, x, w, b):
        return lib.nn.functional.linear_cross_entropy(x, w, lib.tensor(classes), linear_bias=b, reduction=reduction)

    def with_probabilities(lib, x, w, b, p):
        return lib.nn.functional.linear_cross_entropy(x, w, p, linear_bias=b, reduction=reduction)

    assert_matches_torch(with_classes, [x, w, b])
    assert_matches_torch(with_probabilities, [x, w, b, probabilities], grad_of=[True, True, True, False])


@pytest.mark.parametrize("case", ["label_smoothing", "probabilities", "k_dim"])
def test_unsupported_options_fall_back_with_torch_warning(case):
    rng = np.random.default_rng(13)
    x = rng.standard_normal((5, 4))
    w = rng.standard_normal((3, 2, 4)) if case == "k_dim" else rng.standard_normal((3, 4))
    target = (rng.random((5, 3)) if case == "probabilities" else
              rng.integers(0, 3, (5, 2)) if case == "k_dim" else rng.integers(0, 3, 5))

    def fn(lib, x, w):
        with pytest.warns(UserWarning, match="``options`` ignored; chunked path needs"):
            return lib.nn.functional.linear_cross_entropy(
                x, w, lib.tensor(target), label_smoothing=0.1 if case == "label_smoothing" else 0.0,
                options=_options(lib))

    assert_matches_torch(fn, [x, w])


def test_export_trace_records_the_reference_ops():
    """Under the exporter's size observers (trainer's counterpart of jit tracing) the chunked op is not used, so the
    trace holds ops that ONNX has nodes for."""
    x, w, _, target, _ = _case(seed=14)
    seen = []
    with trainer.autograd.observe_sizes(lambda t, sizes: sizes), trainer.autograd.observe_ops(
            lambda event: seen.append(event.op)):
        with pytest.warns(UserWarning, match="tracing=True"):
            trainer.nn.functional.linear_cross_entropy(trainer.tensor(x), trainer.tensor(w),
                                                       trainer.tensor(target), options=_options(trainer))
    assert "CrossEntropy" in seen and "LinearCrossEntropy" not in seen


# ---------------------------------------------------------------- options

def test_options_repr_defaults_and_adjust_match_torch():
    assert repr(_options(trainer)) == repr(_options(torch))
    assert repr(_options(trainer, batch_chunk_size=8, chunking_method=None, acc_policy="compact")) == repr(
        _options(torch, batch_chunk_size=8, chunking_method=None, acc_policy="compact"))
    shapes = [(4096, 64, 8192), (100, 7, 1000), (5, 10, 3), (1, 1, 1), (0, 4, 9)]
    settings = (dict(), dict(chunking_method="aspect_ratio:3"), dict(batch_chunk_size=12), dict(acc_policy="accurate"))
    for kwargs in settings:
        for dtype in ("float32", "float16", "bfloat16"):
            for n, d, c in shapes:
                theirs = _options(torch, **kwargs)._adjust(n, d, c, getattr(torch, dtype), torch.device("cpu"))
                ours = _options(trainer, **kwargs)._adjust(n, d, c, getattr(trainer, dtype), trainer.device("cpu"))
                assert (ours.batch_chunk_size, ours.acc_policy, ours.chunking_method) == (
                    theirs.batch_chunk_size, theirs.acc_policy, theirs.chunking_method), (kwargs, dtype, n, d, c)
                assert ours.acc_dtype.name == str(theirs.acc_dtype).removeprefix("torch.")


@pytest.mark.parametrize("kwargs, message", [
    (dict(acc_policy="fast"), "invalid acc_policy"),
    (dict(chunking_method="aspect_ratio:0"), "invalid chunking_method"),
    (dict(chunking_method="square"), "invalid chunking_method"),
    (dict(batch_chunk_size=0), "batch_chunk_size must be positive int or None"),
    (dict(batch_chunk_size=2.5), "batch_chunk_size must be positive int or None"),
    (dict(acc_dtype="int64"), "acc_dtype must be one of"),
])
def test_invalid_options_raise_value_error(kwargs, message):
    assert_raises_like_torch(lambda lib: _to(lib, kwargs), ValueError, message)


def test_options_are_frozen():
    with pytest.raises(AttributeError):
        _options(trainer).batch_chunk_size = 3


# ---------------------------------------------------------------- module

def _module_pair(**kwargs):
    theirs = torch.nn.LinearCrossEntropyLoss(5, 6, dtype=torch.float64,
                                             **{k: _to(torch, v) for k, v in kwargs.items()})
    ours = trainer.nn.LinearCrossEntropyLoss(5, 6, dtype=trainer.float64,
                                             **{k: _to(trainer, v) for k, v in kwargs.items()})
    ours.load_state_dict({k: trainer.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    return ours, theirs


def _to(lib, value):
    if isinstance(value, np.ndarray):
        return lib.tensor(value)
    if isinstance(value, dict):  # options, a dtype given by name
        return _options(lib, **{k: getattr(lib, v) if k == "acc_dtype" else v for k, v in value.items()})
    return value


@pytest.mark.parametrize("kwargs", [
    dict(),
    dict(bias=True, weight=np.linspace(0.5, 2, 6), reduction="sum", ignore_index=2),
    dict(out_features=(2, 3), bias=True, label_smoothing=0.1),
    dict(bias=True, reduction="none", options=dict(batch_chunk_size=3)),
])
def test_module_matches_torch(kwargs):
    ours, theirs = _module_pair(**kwargs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [(k, tuple(p.shape)) for k, p in ours.named_parameters()] == [
        (k, tuple(p.shape)) for k, p in theirs.named_parameters()]
    assert repr(ours) == repr(theirs)
    rng = np.random.default_rng(15)
    x = rng.standard_normal((7, 5))
    target = rng.integers(0, 6, (7, *kwargs.get("out_features", ())))
    losses = {}
    for lib, module in ((torch, theirs), (trainer, ours)):
        X = lib.tensor(x, requires_grad=True)
        loss = module(X, lib.tensor(target))
        loss.sum().backward()
        losses[lib] = [loss.detach().numpy(), X.grad.numpy(), module.linear.weight.grad.numpy()]
    for i, (o, t) in enumerate(zip(losses[trainer], losses[torch])):
        _assert_close(o, t, F64_TOL, f"result {i}")


def test_module_init_follows_linear():
    module = trainer.nn.LinearCrossEntropyLoss(16, 4, out_features=(3,), bias=True)
    assert module.linear.weight.shape == (12, 16) and module.linear.bias.shape == (12,)
    assert float(module.linear.weight.abs().max()) <= 0.25 and float(module.linear.bias.abs().max()) <= 0.25
    assert module.weight is None and module.ignore_index is None and module.options is None


@pytest.mark.parametrize("kwargs, message", [
    (dict(weight=np.ones(5)), r"expected weight shape to be \(6,\), got \(5,\)"),
    (dict(label_smoothing=1.5), r"expected label_smoothing to be in range \[0, 1\]"),
])
def test_module_rejects_bad_arguments(kwargs, message):
    assert_raises_like_torch(lambda lib: lib.nn.LinearCrossEntropyLoss(
        3, 6, **{k: _to(lib, v) for k, v in kwargs.items()}), RuntimeError, message)


# ---------------------------------------------------------------- errors

_X, _W = np.ones((4, 3)), np.ones((5, 3))
_T = np.array([0, 1, 2, 3])


def _call(x=_X, w=_W, target=_T, bias=None, options=None, **kwargs):
    def call(lib):
        return lib.nn.functional.linear_cross_entropy(
            lib.tensor(x), lib.tensor(w), lib.tensor(target),
            linear_bias=None if bias is None else lib.tensor(bias),
            options=None if options is None else _to(lib, options), **kwargs)
    return call


@pytest.mark.parametrize("call, error, message", [
    (_call(x=np.ones((2, 4, 3))), RuntimeError, "expected input with dimensionality 1 or 2, got 3"),
    (_call(w=np.ones(3)), RuntimeError, "expected linear_weight with dimensionality at least 2, got 1"),
    (_call(w=np.ones((5, 4))), RuntimeError, "expected equal input and linear_weight last dimensions"),
    (_call(bias=np.ones(4)), RuntimeError, r"expected linear_bias shape \(5,\), got \(4,\)"),
    (_call(x=np.ones(3), w=np.ones((5, 2, 3)), target=np.array(1)), RuntimeError, "requires batched input"),
    (_call(target=np.full((4, 5), 0.2), ignore_index=1), RuntimeError, "ignore_index cannot be specified"),
    (_call(target=np.array([0, 1, 5, 3])), IndexError, "Target 5 is out of bounds"),
    (_call(target=np.array([0, 1, 5, 3]), options={}), RuntimeError, "target 5 is out of bounds"),
    (_call(target=np.array([0, -1, 2, 3]), options={}), RuntimeError, "target -1 is out of bounds"),
    (_call(target=_T[:3], options={}), RuntimeError, r"expected a target of class indices with shape \[4\]"),
    (_call(w=np.ones((5, 3), np.float32), options={}), RuntimeError, "same dtype"),
    (_call(options={"acc_dtype": "float16"}), RuntimeError, "supports float32 acc_dtype"),
    (_call(reduction="average"), ValueError, "average is not a valid value for reduction"),
    (_call(label_smoothing=1.5), RuntimeError, "label_smoothing must be between 0.0 and 1.0"),
    (_call(options={"batch_chunk_size": 3, "chunking_method": "aspect_ratio"}), ValueError,
     "give different chunk sizes"),
])
def test_bad_arguments_raise_like_torch(call, error, message):
    def quiet(lib):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return call(lib)

    assert_raises_like_torch(quiet, error, message)
