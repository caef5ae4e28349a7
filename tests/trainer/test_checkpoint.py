"""``trainer.utils.checkpoint`` against ``torch.utils.checkpoint`` (both variants), and ``Tensor.backward(inputs=)``.

Checkpointed gradients must equal the plain ones exactly and PyTorch's on the same weights; the non-reentrant
variant must keep fewer arrays alive after forward, replay dropout masks, and work with ``autograd.grad`` and
``create_graph``."""

import contextlib
import tracemalloc
import warnings

import numpy as np
import pytest
import torch
import torch.utils.checkpoint as torch_checkpoint

import trainer
import trainer.utils.checkpoint as checkpoint_module
from tests.trainer.test_ops_parity import assert_raises_like_torch
from trainer.utils.checkpoint import CheckpointError, checkpoint, checkpoint_sequential

WIDTH, DEPTH = 64, 20


def _mlp_pair(depth=DEPTH, width=WIDTH, dropout=0.0):
    """The same ``depth``-layer MLP (Linear, Tanh[, Dropout]) in PyTorch and trainer, as lists of layers."""
    rng = np.random.default_rng(0)
    weights = [(rng.standard_normal((width, width)) / np.sqrt(width), rng.standard_normal(width) * 0.1)
               for _ in range(depth)]
    pair = []
    for lib in (torch, trainer):
        layers = []
        for w, b in weights:
            linear = lib.nn.Linear(width, width, dtype=lib.float64)
            with lib.no_grad():
                linear.weight.copy_(lib.tensor(w))
                linear.bias.copy_(lib.tensor(b))
            layers += [linear, lib.nn.Tanh()] + ([lib.nn.Dropout(dropout)] if dropout else [])
        pair.append(layers)
    return pair


def _run(layers):
    def block(x):
        for layer in layers:
            x = layer(x)
        return x

    return block


def _param_grads(layers):
    return [p.grad.numpy().copy() for layer in layers for p in layer.parameters()]


def _zero_grads(layers):
    for layer in layers:
        for p in layer.parameters():
            p.grad = None


def test_use_reentrant_not_given_warns_as_torch():
    for fn, args in ((checkpoint, (trainer.tanh, trainer.ones(2, requires_grad=True))),
                     (checkpoint_sequential, ([trainer.nn.Tanh(), trainer.nn.Tanh()], 2,
                                              trainer.ones(2, requires_grad=True)))):
        with pytest.warns(UserWarning, match="the use_reentrant parameter should be passed explicitly"):
            fn(*args)


@pytest.mark.parametrize("use_reentrant", [False, True])
def test_checkpointed_mlp_gradients_equal_plain_and_torch(use_reentrant):
    t_layers, m_layers = _mlp_pair()
    x = np.random.default_rng(1).standard_normal((8, WIDTH))
    m_x = trainer.tensor(x, requires_grad=True)
    _run(m_layers)(m_x).square().sum().backward()
    plain = _param_grads(m_layers) + [m_x.grad.numpy().copy()]
    _zero_grads(m_layers)
    m_x.grad = None
    checkpoint(_run(m_layers), m_x, use_reentrant=use_reentrant).square().sum().backward()
    for got, want in zip(_param_grads(m_layers) + [m_x.grad.numpy()], plain):
        np.testing.assert_array_equal(got, want)
    t_x = torch.tensor(x, requires_grad=True)
    torch_checkpoint.checkpoint(_run(t_layers), t_x, use_reentrant=use_reentrant).square().sum().backward()
    for got, want in zip(_param_grads(m_layers) + [m_x.grad.numpy()], _param_grads(t_layers) + [t_x.grad.numpy()]):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


def _memory_after_forward(forward):
    """Bytes still allocated once ``forward()`` returned (its result alive, nothing backpropagated yet)."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        out = forward()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return after - before, out


def test_checkpointed_mlp_keeps_fewer_arrays_alive_during_forward():
    _, layers = _mlp_pair(width=128)
    x = trainer.tensor(np.random.default_rng(2).standard_normal((64, 128)), requires_grad=True)
    activation = 64 * 128 * 8
    plain_bytes, plain_out = _memory_after_forward(lambda: _run(layers)(x))
    del plain_out
    kept_bytes, out = _memory_after_forward(lambda: checkpoint(_run(layers), x, use_reentrant=False))
    assert plain_bytes > DEPTH * activation  # each layer keeps its input (the previous tanh output)
    assert kept_bytes < 3 * activation, kept_bytes  # the output, and no per-layer activations
    out.sum().backward()
    assert layers[0].weight.grad is not None


def test_non_reentrant_frees_saved_arrays_as_it_goes():
    _, layers = _mlp_pair(width=128)
    x = trainer.tensor(np.random.default_rng(3).standard_normal((64, 128)), requires_grad=True)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        out = checkpoint(_run(layers), x, use_reentrant=False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * 64 * 128 * 8  # a few activations at a time, not 2 per layer
    del out


@pytest.mark.parametrize("use_reentrant", [False, True])
def test_dropout_masks_are_replayed_when_preserving_rng_state(use_reentrant):
    _, layers = _mlp_pair(depth=3, width=16, dropout=0.5)
    x = trainer.tensor(np.random.default_rng(4).standard_normal((4, 16)), requires_grad=True)
    trainer.manual_seed(7)
    _run(layers)(x).sum().backward()
    plain = _param_grads(layers)
    after_plain = trainer.rand(3).numpy()
    for preserve, equal in ((True, True), (False, False)):
        _zero_grads(layers)
        trainer.manual_seed(7)
        checkpoint(_run(layers), x, use_reentrant=use_reentrant, preserve_rng_state=preserve).sum().backward()
        same = all(np.array_equal(a, b) for a, b in zip(_param_grads(layers), plain))
        assert same is equal
        if preserve:  # the replay leaves the stream where the forward left it
            np.testing.assert_array_equal(trainer.rand(3).numpy(), after_plain)


def test_non_reentrant_works_with_autograd_grad_create_graph_and_inputs_without_grad():
    t_layers, m_layers = _mlp_pair(depth=3, width=5)
    x = np.random.default_rng(5).standard_normal((2, 5))
    results = []
    for lib, layers, ckpt in ((torch, t_layers, torch_checkpoint.checkpoint), (trainer, m_layers, checkpoint)):
        inp = lib.tensor(x, requires_grad=True)
        out = ckpt(_run(layers), inp, use_reentrant=False)
        (g_x,) = lib.autograd.grad(out.square().sum(), inp, create_graph=True)  # gradient penalty
        penalty = g_x.square().sum()
        weight_grad = lib.autograd.grad(penalty, layers[0].weight)[0]
        frozen = ckpt(_run(layers), lib.tensor(x), use_reentrant=False)  # input needs no grad: params still do
        frozen.sum().backward()
        results.append([g_x.detach().numpy(), weight_grad.numpy(), layers[2].weight.grad.numpy()])
    for got, want in zip(results[1], results[0]):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


def test_non_reentrant_supports_kwargs_several_outputs_and_hooks():
    t_layers, m_layers = _mlp_pair(depth=2, width=4)
    x = np.random.default_rng(6).standard_normal((3, 4))
    grads = []
    for lib, layers, ckpt in ((torch, t_layers, torch_checkpoint.checkpoint), (trainer, m_layers, checkpoint)):
        seen = []

        def block(a, scale=1.0, layers=layers, seen=seen):
            h = layers[0](a) * scale
            h.register_hook(lambda g, seen=seen: seen.append(g.numpy().copy()))
            return layers[1](h), h.sum()

        inp = lib.tensor(x, requires_grad=True)
        out, total = ckpt(block, inp, scale=2.0, use_reentrant=False)
        (out.sum() + total).backward()
        assert len(seen) == 1  # the hook on an intermediate fires once, not again for the re-run
        grads.append([inp.grad.numpy(), seen[0], layers[0].weight.grad.numpy()])
    for got, want in zip(grads[1], grads[0]):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


def test_reentrant_requirements_as_torch():
    def call(lib, **kwargs):
        module = torch_checkpoint if lib is torch else checkpoint_module
        return module.checkpoint(lib.tanh, lib.ones(2, requires_grad=True), use_reentrant=True, **kwargs)

    assert_raises_like_torch(lambda lib: call(lib, scale=2), ValueError, "Unexpected keyword arguments: scale")
    assert_raises_like_torch(lambda lib: call(lib, debug=True), ValueError,
                             "Passing `context_fn` or `debug` is only supported when use_reentrant=False")
    with pytest.warns(UserWarning, match="None of the inputs have requires_grad=True. Gradients will be None"):
        out = checkpoint(trainer.tanh, trainer.ones(2), use_reentrant=True)
    assert not out.requires_grad


def test_bad_determinism_check_and_debug_with_context_fn_raise_like_torch():
    def call(lib, **kwargs):
        module = torch_checkpoint if lib is torch else checkpoint_module
        return module.checkpoint(lib.tanh, lib.ones(2, requires_grad=True), use_reentrant=False, **kwargs)

    assert_raises_like_torch(lambda lib: call(lib, determinism_check="strict"), ValueError,
                             r"determinism_check should be one of \['default', 'none'\], but got strict")
    assert_raises_like_torch(
        lambda lib: call(lib, debug=True, context_fn=lambda: (contextlib.nullcontext(), contextlib.nullcontext())),
        ValueError, "debug=True is incompatible with non-default context_fn")


def test_a_recomputation_that_differs_raises_checkpoint_error():
    calls = []

    def unstable(x):
        calls.append(1)
        return x.exp().sum() if len(calls) == 1 else x.sum(0).exp().sum()

    x = trainer.ones(2, 3, requires_grad=True)
    with pytest.raises(CheckpointError, match="different metadata than during the forward pass"):
        checkpoint(unstable, x, use_reentrant=False).backward()
    calls.clear()
    with pytest.raises(CheckpointError, match="Operations executed during the original forward:\nExp"):
        checkpoint(unstable, x, use_reentrant=False, debug=True).backward()

    def fewer(x):
        calls.append(1)
        return (x * 2).exp().sum() if len(calls) == 1 else x.exp().sum()

    calls.clear()
    with pytest.raises(CheckpointError, match="A different number of ops"):
        checkpoint(fewer, x, use_reentrant=False, determinism_check="none").backward()


def test_context_fn_wraps_forward_and_recomputation():
    entered = []

    class Mark:
        def __init__(self, name):
            self.name = name

        def __enter__(self):
            entered.append(self.name)

        def __exit__(self, *exc):
            return False

    x = trainer.ones(3, requires_grad=True)
    out = checkpoint(lambda t: (t * 3).tanh().sum(), x, use_reentrant=False,
                     context_fn=lambda: (Mark("forward"), Mark("recompute")))
    assert entered == ["forward"]
    out.backward()
    assert entered == ["forward", "recompute"]


def test_checkpoint_sequential_matches_torch():
    t_layers, m_layers = _mlp_pair(depth=5, width=6)
    x = np.random.default_rng(8).standard_normal((2, 6))
    outs = []
    for lib, layers, fn in ((torch, t_layers, torch_checkpoint.checkpoint_sequential),
                            (trainer, m_layers, checkpoint_sequential)):
        inp = lib.tensor(x, requires_grad=True)
        out = fn(lib.nn.Sequential(*layers), 3, inp, use_reentrant=False)
        out.square().sum().backward()
        outs.append([out.detach().numpy(), inp.grad.numpy()] + _param_grads(layers))
    for got, want in zip(outs[1], outs[0]):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    assert_raises_like_torch(
        lambda lib: (torch_checkpoint if lib is torch else checkpoint_module).checkpoint_sequential(
            [lib.nn.Tanh()], 1, lib.ones(2), use_reentrant=False, scale=1), ValueError, "Unexpected keyword")


def test_no_grad_and_nested_checkpoints_run_plainly():
    x = trainer.ones(3, dtype=trainer.float64, requires_grad=True)
    with trainer.no_grad():
        assert not checkpoint(trainer.exp, x, use_reentrant=False).requires_grad
    inner = lambda t: checkpoint(lambda u: (u * 2).exp(), t, use_reentrant=False)  # noqa: E731
    checkpoint(lambda t: inner(t).sin().sum(), x, use_reentrant=False).backward()
    np.testing.assert_allclose(x.grad.numpy(), (np.cos(np.exp(2.0)) * 2 * np.exp(2.0)) * np.ones(3), rtol=1e-12)


def test_tensor_backward_inputs_accumulates_only_into_them_as_torch():
    a0, b0 = np.array([1.0, 2.0]), np.array([3.0, -1.0])
    results = []
    for lib in (torch, trainer):
        a, b = lib.tensor(a0, requires_grad=True), lib.tensor(b0, requires_grad=True)
        h = a * b
        y = (h * a).sum()
        y.backward(inputs=[a], retain_graph=True)
        assert b.grad is None
        y.backward(inputs=a, retain_graph=True)  # accumulates
        y.backward(inputs=[h])  # a non-leaf input gets .grad too
        results.append([a.grad.numpy(), h.grad.numpy()])
    for got, want in zip(results[1], results[0]):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    assert_raises_like_torch(lambda lib: lib.ones(2, requires_grad=True).sum().backward(inputs=[]),
                             RuntimeError, "`inputs` argument to `backward\\(\\)` cannot be empty")


def test_checkpoint_warnings_are_not_raised_with_use_reentrant_given():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        checkpoint(trainer.tanh, trainer.ones(2, requires_grad=True), use_reentrant=False).sum().backward()
