"""``torch.autograd.graph`` and hooks on graph nodes, against PyTorch: the order hooks run in, what they see and
replace, which gradients a multi-tensor hook waits for, gradient edges and version bumps."""

import pytest
import torch

import trainer
from tests.trainer.test_ops_parity import assert_raises_like_torch


def _flat(grads) -> list:
    return [v for g in grads if g is not None for v in g.tolist()]


def _hook_log(lib):
    """Tensor hook, two node pre-hooks (the second scales) and a node post-hook on ``y = 3x``, run by one backward;
    returns the log (which hook, the gradient values it saw) and x.grad."""
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    log = []
    y.register_hook(lambda g: log.append(("tensor", g.tolist())))
    y.grad_fn.register_prehook(lambda go: log.append(("pre", _flat(go))))
    y.grad_fn.register_prehook(lambda go: (go[0] * 10,))
    y.grad_fn.register_hook(lambda gi, go: log.append(("post", _flat(gi) + _flat(go))))
    y.sin().sum().backward()
    return log, x.grad.tolist()


def test_node_hooks_run_in_torch_order_and_replace_gradients():
    (ours, our_grad), (theirs, their_grad) = _hook_log(trainer), _hook_log(torch)
    assert [kind for kind, _ in ours] == [kind for kind, _ in theirs] == ["tensor", "pre", "post"]
    for (_, our_values), (_, their_values) in zip(ours, theirs):
        assert our_values == pytest.approx(their_values)
    assert our_grad == pytest.approx(their_grad)


@pytest.mark.parametrize("create_graph", [False, True])
def test_post_hook_replaces_grad_inputs(create_graph):
    grads = []
    for lib in (trainer, torch):
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        w = a * a
        w.grad_fn.register_hook(lambda gi, go: tuple(None if g is None else g + 1 for g in gi))
        (g,) = lib.autograd.grad(w.sum(), a, create_graph=create_graph)
        grads.append(g.tolist())
    assert grads[0] == pytest.approx(grads[1])


def test_removed_node_hook_no_longer_runs_and_metadata_is_kept():
    x = trainer.tensor([1.0], requires_grad=True)
    y = x * 2
    calls = []
    handle = y.grad_fn.register_prehook(lambda go: calls.append(1))
    handle.remove()
    y.grad_fn.metadata["tag"] = "scaled"
    assert y.grad_fn.metadata == {"tag": "scaled"}
    y.sum().backward()
    assert calls == []


def test_hook_returning_the_wrong_number_of_gradients_raises_like_torch():
    def call(lib):
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        w = a * 2
        w.grad_fn.register_hook(lambda gi, go: (gi[0], gi[0], gi[0]))
        w.sum().backward()

    assert_raises_like_torch(call, RuntimeError, "incorrect number of values")


def _multi_hook_runs(lib):
    a = lib.rand(2, 3, requires_grad=True)
    b = lib.rand(2, 3, requires_grad=True)
    c, d = a * b, a * b
    seen = []
    handle = lib.autograd.graph.register_multi_grad_hook((a, b, c, d), lambda gs: seen.append([g is not None
                                                                                              for g in gs]))
    c.sum().backward(retain_graph=True)
    c.sum().backward(inputs=(a,), retain_graph=True)
    (c + d).sum().backward()
    handle.remove()
    (a * b).sum().backward()
    first = []
    lib.autograd.graph.register_multi_grad_hook((a, b), lambda g: first.append(list(g.shape)), mode="any")
    (a * b).sum().backward()
    return seen, first


def test_multi_grad_hook_waits_for_the_gradients_each_pass_computes():
    assert _multi_hook_runs(trainer) == _multi_hook_runs(torch)


def test_gradient_edges_stand_for_their_tensors_in_grad():
    for lib in (trainer, torch):
        a = lib.tensor([1.0, -2.0, 3.0], requires_grad=True)
        c = a.exp()
        loss = (c * c).sum()
        by_edge = lib.autograd.grad(loss, [lib.autograd.graph.get_gradient_edge(c),
                                           lib.autograd.graph.get_gradient_edge(a)], retain_graph=True)
        by_tensor = lib.autograd.grad(loss, [c, a])
        for e, t in zip(by_edge, by_tensor):
            assert e.tolist() == pytest.approx(t.tolist())
        assert isinstance(c.grad_fn, lib.autograd.graph.Node)
        assert isinstance(c.grad_fn.next_functions[0][0], lib.autograd.graph.Node)
    assert_raises_like_torch(lambda lib: lib.autograd.graph.get_gradient_edge(lib.ones(2)), RuntimeError,
                             "does not require gradients")


def test_increment_version_makes_backward_refuse_a_changed_saved_tensor():
    def call(lib):
        v = lib.tensor([1.0, 2.0], requires_grad=True).clone()
        w = v * v
        lib.autograd.graph.increment_version(v)
        w.sum().backward()

    assert_raises_like_torch(call, RuntimeError, "modified by an inplace operation")
