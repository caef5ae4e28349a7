"""``trainer.autograd.grad`` against ``torch.autograd.grad``: the same graphs built on both libraries give the
same gradients, leave ``.grad`` alone, run only the nodes that lead to the inputs, and fail alike."""

import numpy as np
import pytest
import torch

import trainer

X = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])
W = np.array([[0.3, -0.2], [0.1, 0.4], [-0.5, 0.6]])


def tanh_layer(lib):
    """Leaves x and w on ``lib`` and the non-leaf h = tanh(x @ w)."""
    x = lib.tensor(X, dtype=lib.float64, requires_grad=True)
    w = lib.tensor(W, dtype=lib.float64, requires_grad=True)
    return x, w, (x @ w).tanh()


def build(lib):
    """A small graph on ``lib``: leaves x and w, a non-leaf h, two outputs."""
    x, w, h = tanh_layer(lib)
    return x, w, h, (h**2).sum(), (h * 3).mean(dim=0)


def both(fn):
    """``fn(lib, *graph)`` on torch and on trainer."""
    return fn(torch, *build(torch)), fn(trainer, *build(trainer))


def close(ours, theirs):
    for o, t in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(o.numpy(), t.numpy(), rtol=1e-12, atol=1e-12)


def test_gradients_for_leaves_and_a_non_leaf_match_pytorch_and_leave_grad_alone():
    def run(lib, x, w, h, loss, _):
        found = lib.autograd.grad(loss, (x, h, w))
        assert x.grad is None and w.grad is None
        return found

    theirs, ours = both(run)
    close(ours, theirs)


def test_several_outputs_weighted_by_grad_outputs_match_pytorch():
    def run(lib, x, w, h, loss, per_column):
        weight = lib.tensor([1.0, -2.0], dtype=lib.float64)
        return lib.autograd.grad([loss, per_column], [w], grad_outputs=[None, weight])

    theirs, ours = both(run)
    close(ours, theirs)


def test_an_unused_input_is_refused_unless_allowed_or_materialized():
    messages = []
    for lib in (torch, trainer):
        x, w, h, loss, _ = build(lib)
        unused = lib.ones(2, requires_grad=True)
        with pytest.raises(RuntimeError) as caught:
            lib.autograd.grad(loss, [x, unused], retain_graph=True)
        messages.append(str(caught.value))
        assert lib.autograd.grad(loss, [unused], allow_unused=True, retain_graph=True) == (None,)
        (zeros,) = lib.autograd.grad(loss, [unused], materialize_grads=True)
        assert zeros.tolist() == [0.0, 0.0]
    assert messages[1] == messages[0]


def test_errors_match_pytorch():
    cases = [
        lambda lib, x, w, h, loss, col: lib.autograd.grad(loss, [lib.ones(2)]),  # input without grad
        lambda lib, x, w, h, loss, col: lib.autograd.grad(col, [x]),  # a vector output needs grad_outputs
        lambda lib, x, w, h, loss, col: lib.autograd.grad(lib.ones(1), [x]),  # an output without grad
    ]
    for case in cases:
        messages = []
        for lib in (torch, trainer):
            with pytest.raises(RuntimeError) as caught:
                case(lib, *build(lib))
            messages.append(str(caught.value).split(";")[0])
        assert messages[1] == messages[0]


def test_the_graph_is_freed_unless_retained():
    x, w, h, loss, _ = build(trainer)
    first = trainer.autograd.grad(loss, [w], retain_graph=True)
    close(trainer.autograd.grad(loss, [w]), first)
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        trainer.autograd.grad(loss, [w])


def _counting(lib, calls):
    class Counted(lib.autograd.Function):
        @staticmethod
        def forward(ctx, t, label):
            ctx.label = label
            return t * 1

        @staticmethod
        def backward(ctx, g):
            calls.append(ctx.label)
            return g, None

    return Counted


def test_only_the_nodes_that_lead_to_the_inputs_run_as_in_pytorch():
    calls = {}
    for lib in (torch, trainer):
        seen = calls[lib.__name__] = []
        counted = _counting(lib, seen)
        a = lib.ones(3, requires_grad=True)
        b = lib.ones(3, requires_grad=True)
        out = (counted.apply(a, "a") * counted.apply(b, "b")).sum()
        (ga,) = lib.autograd.grad(out, [a])
        assert ga.tolist() == [1.0, 1.0, 1.0]
    assert calls["trainer"] == calls["torch"] == ["a"]


def test_input_saliency_of_a_model_matches_pytorch():
    torch.manual_seed(0)
    theirs = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(),
                                 torch.nn.Linear(4 * 6 * 6, 3)).double()
    ours = trainer.nn.Sequential(trainer.nn.Conv2d(1, 4, 3), trainer.nn.ReLU(), trainer.nn.Flatten(),
                                 trainer.nn.Linear(4 * 6 * 6, 3)).double()
    ours.load_state_dict({k: trainer.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    image = np.random.default_rng(0).normal(size=(2, 1, 8, 8))
    found = []
    for lib, model in ((torch, theirs), (trainer, ours)):
        x = lib.tensor(image, dtype=lib.float64, requires_grad=True)
        scores = model(x)
        found.append(lib.autograd.grad(scores[:, 1].sum(), x))
        assert all(p.grad is None for p in model.parameters())
    close(found[1], found[0])


@pytest.mark.parametrize("alias", [lambda x: x.view_as(x), lambda x: x.reshape(2, 3), lambda x: x.expand(2, 3),
                                   lambda x: x.squeeze(0)])
def test_a_view_with_an_unchanged_shape_is_a_new_tensor_with_its_own_gradient(alias):
    grads = []
    for lib in (torch, trainer):
        x = lib.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
        y = alias(x)
        assert y is not x
        (grad,) = lib.autograd.grad((x * y).sum(), y)  # x's own use is not y's
        grads.append(grad.numpy())
    np.testing.assert_array_equal(grads[1], grads[0])
