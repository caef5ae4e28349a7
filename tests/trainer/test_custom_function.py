"""Custom ``autograd.Function`` subclasses against PyTorch's: the same class bodies are built on both libraries,
run on the same inputs, and must give the same values, gradients, ctx contents and error messages."""

import numpy as np
import pytest
import torch

import trainer
from trainer.autograd.function import once_differentiable


def define(lib):
    """The custom Functions of the tests, written once against ``lib`` (torch or trainer), as users write them."""
    fn = lib.autograd.Function

    class MyReLU(fn):  # PyTorch's tutorial
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x.clamp(min=0)

        @staticmethod
        def backward(ctx, grad_output):
            (x,) = ctx.saved_tensors
            grad = grad_output.clone()
            grad[x < 0] = 0
            return grad

    class Legendre3(fn):  # PyTorch's tutorial: P3(x) = (5x^3 - 3x) / 2
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return 0.5 * (5 * x**3 - 3 * x)

        @staticmethod
        def backward(ctx, grad_output):
            (x,) = ctx.saved_tensors
            return grad_output * 1.5 * (5 * x**2 - 1)

    class ScaleShift(fn):  # tensors mixed with a float and a None
        @staticmethod
        def forward(ctx, x, s, y, unused):
            ctx.s, ctx.needs = s, ctx.needs_input_grad
            return x * s + y

        @staticmethod
        def backward(ctx, g):
            return g * ctx.s, None, g.sum(0), None

    class Mul(fn):  # PyTorch 2's form: forward without ctx, then setup_context
        @staticmethod
        def forward(x, y):
            return x * y

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(*inputs)

        @staticmethod
        def backward(ctx, g):
            x, y = ctx.saved_tensors
            return g * y, g * x

    class MaxAndIndex(fn):  # several outputs: a float, integer indices marked non-differentiable, a string
        @staticmethod
        def forward(ctx, x):
            values, index = x.max(dim=1)
            ctx.mark_non_differentiable(index)
            ctx.save_for_backward(x, index)
            return values * 2, index, "tag"

        @staticmethod
        def backward(ctx, g_values, g_index, g_tag):
            ctx.seen = (g_values.clone(), g_index.clone(), g_tag)
            x, index = ctx.saved_tensors
            grad = lib.zeros_like(x)
            grad[lib.arange(x.shape[0]), index] = 2 * g_values
            return grad

    class Passthrough(fn):  # forward returns its input as it is
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, g):
            return 3 * g

    class Modes(fn):  # records whether grad mode is on inside forward and backward
        @staticmethod
        def forward(ctx, x):
            ctx.forward_mode = lib.is_grad_enabled()
            return x * 2

        @staticmethod
        def backward(ctx, g):
            Modes.backward_mode = lib.is_grad_enabled()
            return g * 2

    return {cls.__name__: cls for cls in (MyReLU, Legendre3, ScaleShift, Mul, MaxAndIndex, Passthrough, Modes)}


TORCH, OURS = define(torch), define(trainer)
VALUES = np.array([[-1.5, 0.3, 2.0], [0.7, -0.2, -3.1]])


def pair(values=VALUES, requires_grad=True):
    return (torch.tensor(values, requires_grad=requires_grad),
            trainer.tensor(values, dtype=trainer.float64, requires_grad=requires_grad))


def assert_same(ours, theirs):
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["MyReLU", "Legendre3"])
def test_tutorial_functions_match_pytorch_in_values_and_gradients(name):
    (xt, xo), (gt, go) = pair(), pair(np.arange(6.0).reshape(2, 3), requires_grad=False)
    yt, yo = TORCH[name].apply(xt), OURS[name].apply(xo)
    assert_same(yo, yt)
    yt.backward(gt)
    yo.backward(go)
    assert_same(xo.grad, xt.grad)
    assert type(yo.grad_fn).__name__ == type(yt.grad_fn).__name__ == f"{name}Backward"


def test_non_tensor_arguments_and_needs_input_grad_match_pytorch():
    (xt, xo), (yt_, yo_) = pair(), pair(np.ones(3))
    outs = []
    for lib, x, y in ((TORCH, xt, yt_), (OURS, xo, yo_)):
        out = lib["ScaleShift"].apply(x, 2.5, y, None)
        out.sum().backward()
        outs.append((out, out.grad_fn.needs))
    (ot, needs_t), (oo, needs_o) = outs
    assert_same(oo, ot)
    assert needs_o == needs_t == (True, False, True, False)
    assert_same(xo.grad, xt.grad)
    assert_same(yo_.grad, yt_.grad)


def test_setup_context_form_matches_pytorch():
    (xt, xo), (yt, yo) = pair(), pair(VALUES[::-1].copy())
    (TORCH["Mul"].apply(xt, yt) ** 2).sum().backward()
    (OURS["Mul"].apply(xo, yo) ** 2).sum().backward()
    assert_same(xo.grad, xt.grad)
    assert_same(yo.grad, yt.grad)


def test_several_outputs_non_differentiable_and_non_tensor_ones_match_pytorch():
    (xt, xo) = pair()
    results = []
    for lib, x in ((TORCH, xt), (OURS, xo)):
        values, index, tag = lib["MaxAndIndex"].apply(x)
        assert (values.requires_grad, index.requires_grad, tag) == (True, False, "tag")
        (values * values).sum().backward()
        results.append((values, index, values.grad_fn.seen))
    (vt, it, seen_t), (vo, io, seen_o) = results
    assert_same(vo, vt)
    assert io.tolist() == it.tolist()
    assert_same(xo.grad, xt.grad)
    assert_same(seen_o[0], seen_t[0])
    assert seen_o[1].tolist() == seen_t[1].tolist() == [0, 0]  # an unused output's gradient is zeros
    assert seen_o[1].dtype == trainer.int64
    assert seen_o[2] is seen_t[2] is None  # a non-tensor output's is None


def test_an_input_returned_as_is_gets_a_new_node_and_the_input_stays_a_leaf():
    xt, xo = pair()
    yt, yo = TORCH["Passthrough"].apply(xt), OURS["Passthrough"].apply(xo)
    assert yo is not xo and xo.is_leaf and xo.grad_fn is None
    yo.sum().backward()
    yt.sum().backward()
    assert_same(xo.grad, xt.grad)
    yo.detach()[0, 0] = 9.0  # the result is a view of the input, as in PyTorch
    assert xo[0, 0].item() == 9.0


def test_forward_and_backward_run_without_recording_as_in_pytorch():
    for lib in (TORCH, OURS):
        x = (torch if lib is TORCH else trainer).ones(2, requires_grad=True)
        y = lib["Modes"].apply(x)
        y.sum().backward()
        assert (y.grad_fn.forward_mode, lib["Modes"].backward_mode) == (False, False)


def test_under_no_grad_the_result_needs_no_grad():
    _, xo = pair()
    with trainer.no_grad():
        y = OURS["Legendre3"].apply(xo)
    assert not y.requires_grad and y.grad_fn is None


def test_a_gradient_broadcast_against_the_input_is_summed_back_and_cast_to_its_dtype():
    class Wide(trainer.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, g):
            return g.expand(4, *g.shape).to(trainer.float64)

    x = trainer.ones(2, 3, requires_grad=True)
    Wide.apply(x).sum().backward()
    assert x.grad.dtype == trainer.float32
    assert x.grad.tolist() == [[4.0] * 3] * 2


def _bad_backward(lib, returned):
    class Bad(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x, s):
            return x * s

        @staticmethod
        def backward(ctx, g):
            return returned(g)

    return Bad


@pytest.mark.parametrize("returned", [
    lambda g: g,  # one gradient for two inputs
    lambda g: (g, g),  # a gradient for the float input
    lambda g: (g.sum(0), None),  # the wrong shape
    lambda g: (3.0, None),  # not a tensor
], ids=["too_few", "grad_for_a_float", "wrong_shape", "not_a_tensor"])
def test_a_wrong_backward_is_refused_with_pytorchs_message(returned):
    messages = []
    for lib in (torch, trainer):
        x = lib.ones(2, 3, requires_grad=True)
        y = _bad_backward(lib, returned).apply(x, 2.0)
        with pytest.raises(RuntimeError) as caught:
            y.sum().backward()
        messages.append(str(caught.value))
    assert messages[1] == messages[0]


def test_a_saved_tensor_changed_in_place_is_refused():
    x = trainer.ones(3, requires_grad=True)
    b = x * 1
    y = OURS["Legendre3"].apply(b)
    b.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation.*Legendre3Backward"):
        y.sum().backward()


def test_saved_tensors_are_freed_after_backward_unless_retained():
    _, xo = pair()
    y = OURS["Legendre3"].apply(xo)
    y.sum().backward(retain_graph=True)
    y.sum().backward()
    np.testing.assert_allclose(xo.grad.numpy(), 2 * 1.5 * (5 * VALUES**2 - 1))
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        _ = y.grad_fn.saved_tensors
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.sum().backward()


def test_mark_dirty_is_refused_clearly():
    class Dirty(trainer.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.mark_dirty(x)
            return x

    with pytest.raises(NotImplementedError, match="mark_dirty.*not supported"):
        Dirty.apply(trainer.ones(2, requires_grad=True))


def test_once_differentiable_backward_runs():
    class Square(trainer.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        @once_differentiable
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * x * g

    x = trainer.tensor([1.0, -2.0], requires_grad=True)
    Square.apply(x).sum().backward()
    assert x.grad.tolist() == [2.0, -4.0]


def test_a_custom_function_trains_inside_a_module():
    class ClampedLinear(trainer.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = trainer.nn.Linear(3, 1)

        def forward(self, x):
            return OURS["MyReLU"].apply(self.fc(x))

    trainer.manual_seed(0)
    model = ClampedLinear()
    opt = trainer.optim.SGD(model.parameters(), lr=0.1)
    x, target = trainer.randn(16, 3), trainer.rand(16, 1) + 0.5
    first = None
    for _ in range(50):
        opt.zero_grad()
        loss = ((model(x) - target) ** 2).mean()
        loss.backward()
        opt.step()
        first = loss.item() if first is None else first
    assert loss.item() < 0.5 * first
