"""Gradient hooks against PyTorch: ``Tensor.register_hook`` and ``Module.register_full_backward_hook``. The same
hook code runs on both libraries and must see the same gradients, in the same order, with the same effect."""

import numpy as np
import pytest
import torch

import trainer
from tests.trainer.test_autograd_grad import X, tanh_layer


def build(lib):
    """Leaves x and w, a non-leaf h used twice, a scalar loss."""
    x, w, h = tanh_layer(lib)
    return x, w, h, (h**2).sum() + h.sum()


def both(fn):
    """``fn(lib, *graph)`` on torch and on trainer."""
    return fn(torch, *build(torch)), fn(trainer, *build(trainer))


def recorder(calls, name, scale=None):
    """A hook that records (name, gradient) and, given ``scale``, returns the gradient scaled."""
    def hook(grad):
        calls.append((name, None if grad is None else grad.detach().numpy().copy()))
        return None if scale is None else grad * scale
    return hook


def assert_same(ours, theirs):
    assert len(ours) == len(theirs)
    for o, t in zip(ours, theirs):
        if isinstance(o, tuple):
            assert o[0] == t[0]
            o, t = o[1], t[1]
        if o is None or t is None:
            assert o is None and t is None
        else:
            np.testing.assert_allclose(np.asarray(o), np.asarray(t), rtol=1e-12, atol=1e-12)


def test_hooks_on_a_non_leaf_run_in_order_and_a_returned_tensor_replaces_the_gradient():
    def run(lib, x, w, h, loss):
        calls = []
        h.register_hook(recorder(calls, "first", scale=2.0))
        h.register_hook(recorder(calls, "second"))
        loss.backward()
        return calls, x.grad.numpy(), w.grad.numpy()

    (their_calls, *theirs), (our_calls, *ours) = both(run)
    assert_same(our_calls, their_calls)
    assert_same(ours, theirs)


def test_a_leaf_hook_sees_the_summed_gradient_once_before_it_is_accumulated():
    def run(lib, x, w, h, loss):
        calls, seen_grad = [], []
        w.register_hook(recorder(calls, "w", scale=-1.0))
        w.register_hook(lambda g: seen_grad.append(w.grad))
        loss.backward(retain_graph=True)
        loss.backward()
        return calls, seen_grad[0], seen_grad[1].numpy(), w.grad.numpy(), x.grad.numpy()

    theirs, ours = both(run)
    assert_same(ours[0], theirs[0])
    assert ours[1] is None and theirs[1] is None
    assert_same(ours[2:], theirs[2:])


def test_a_removed_hook_no_longer_runs():
    def run(lib, x, w, h, loss):
        calls = []
        handle = h.register_hook(recorder(calls, "removed", scale=10.0))
        x.register_hook(recorder(calls, "x"))
        handle.remove()
        loss.backward()
        return calls, w.grad.numpy()

    (their_calls, theirs), (our_calls, ours) = both(run)
    assert [name for name, _ in our_calls] == ["x"]
    assert_same(our_calls, their_calls)
    assert_same([ours], [theirs])


def test_hooks_run_under_autograd_grad_before_the_gradient_is_captured():
    def run(lib, x, w, h, loss):
        calls = []
        h.register_hook(recorder(calls, "h", scale=3.0))
        x.register_hook(recorder(calls, "x", scale=0.5))
        w.register_hook(recorder(calls, "w not asked for"))
        found = lib.autograd.grad(loss, [h, x])
        return calls, [g.numpy() for g in found], x.grad

    (their_calls, theirs, their_grad), (our_calls, ours, our_grad) = both(run)
    assert [name for name, _ in our_calls] == ["h", "x"]
    assert_same(our_calls, their_calls)
    assert_same(ours, theirs)
    assert our_grad is None and their_grad is None


def test_an_output_of_a_multi_output_node_that_gets_no_gradient_passes_none_to_its_hook():
    def run(lib, x, w, h, loss):
        calls = []
        first, second = lib.tensor([1.0, 2.0, 3.0, 4.0], dtype=lib.float64, requires_grad=True).chunk(2)
        first.register_hook(recorder(calls, "unused"))
        second.register_hook(recorder(calls, "used"))
        (second * 2).sum().backward()
        return calls

    theirs, ours = both(run)
    assert_same(ours, theirs)


def test_a_hook_on_a_tensor_that_does_not_require_grad_is_refused_like_pytorch():
    for lib in (torch, trainer):
        with pytest.raises(RuntimeError, match="cannot register a hook on a tensor that doesn't require gradient"):
            lib.ones(2).register_hook(lambda g: g)


def test_a_hook_that_returns_the_wrong_shape_or_type_fails_like_pytorch():
    for lib in (torch, trainer):
        x = lib.ones(3, requires_grad=True)
        x.register_hook(lambda g: g.new_ones(4))
        with pytest.raises(RuntimeError, match="has changed the size of value"):
            (x * 2).sum().backward()
        y = lib.ones(3, requires_grad=True)
        y.register_hook(lambda g: 5)
        with pytest.raises(TypeError, match="hook returned 'int'"):
            (y * 2).sum().backward()


def mlp(lib):
    """The same small network on ``lib``, with fixed weights."""
    net = lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.Tanh(), lib.nn.Linear(4, 2)).double()
    for layer in (net[0], net[2]):
        shape = tuple(layer.weight.shape)
        layer.weight.data = lib.tensor(np.linspace(-1, 1, layer.weight.numel()).reshape(shape), dtype=lib.float64)
        layer.bias.data = lib.tensor(np.linspace(0.5, -0.5, layer.bias.numel()), dtype=lib.float64)
    return net


def test_full_backward_hooks_see_grad_input_and_grad_output_and_can_replace_grad_input():
    def run(lib):
        net, calls = mlp(lib), []

        def record(module, grad_input, grad_output):
            calls.append((type(module).__name__, [None if g is None else g.detach().numpy().copy() for g in grad_input],
                          [g.detach().numpy().copy() for g in grad_output]))

        for layer in net:
            layer.register_full_backward_hook(record)
        net[1].register_full_backward_hook(lambda module, grad_input, grad_output: (grad_input[0] * 2,))
        x = lib.tensor(X, dtype=lib.float64, requires_grad=True)
        net(x).pow(2).sum().backward()
        return calls, x.grad.numpy(), net[0].weight.grad.numpy()

    (their_calls, *theirs), (our_calls, *ours) = run(torch), run(trainer)
    assert [c[0] for c in our_calls] == [c[0] for c in their_calls] == ["Linear", "Tanh", "Linear"]
    for (_, our_in, our_out), (_, their_in, their_out) in zip(our_calls, their_calls):
        assert_same(our_in, their_in)
        assert_same(our_out, their_out)
    assert_same(ours, theirs)


def test_a_full_backward_hook_on_a_module_whose_input_needs_no_grad_gets_none_for_grad_input():
    def run(lib):
        net, calls = mlp(lib), []
        handle = net.register_full_backward_hook(lambda module, grad_input, grad_output: calls.append(grad_input))
        net(lib.tensor(X, dtype=lib.float64)).sum().backward()
        handle.remove()
        net(lib.tensor(X, dtype=lib.float64)).sum().backward()
        return calls

    with pytest.warns(UserWarning):
        theirs = run(torch)
    assert run(trainer) == theirs == [(None,)]
