"""``autograd.graph.saved_tensors_hooks`` against PyTorch: what an op saves for backward goes through pack_hook when
recorded and unpack_hook when backward runs, gradients unchanged when the hooks give the tensors back, and
PyTorch's errors for bad hooks and disabled blocks."""

import numpy as np
import pytest
import torch

import trainer
from tests.trainer.test_ops_parity import assert_raises_like_torch


def _hooked_run(lib, make_loss, pack_transform=lambda t: t):
    calls = {"pack": [], "unpack": 0}

    def pack(t):
        calls["pack"].append(list(t.shape))
        return pack_transform(t.detach().clone())

    def unpack(t):
        calls["unpack"] += 1
        return t

    x = lib.tensor(np.linspace(-1.0, 2.0, 6).reshape(2, 3), requires_grad=True)
    with lib.autograd.graph.saved_tensors_hooks(pack, unpack):
        loss = make_loss(lib, x)
    loss.backward()
    return calls, x.grad.numpy()


@pytest.mark.parametrize("make_loss", [
    lambda lib, x: (x * x).sum(),
    lambda lib, x: x.exp().sum(),
    lambda lib, x: (x.sin() * x.cos()).sum(),
])
def test_each_saved_tensor_is_packed_and_unpacked_like_torch(make_loss):
    (ours, our_grad), (theirs, their_grad) = _hooked_run(trainer, make_loss), _hooked_run(torch, make_loss)
    assert ours["pack"] == theirs["pack"]
    assert ours["unpack"] == theirs["unpack"] == len(theirs["pack"])
    np.testing.assert_allclose(our_grad, their_grad, rtol=1e-12)


@pytest.mark.parametrize("make_loss", [
    lambda lib, x: lib.nn.functional.softmax(x @ x.T, dim=1).log().sum(),
    lambda lib, x: lib.nn.functional.layer_norm(x, (3,)).pow(2).sum(),
    lambda lib, x: lib.nn.functional.conv1d(x.unsqueeze(0), x[:, None, :2].repeat(1, 2, 1)).tanh().sum(),
])
def test_gradients_through_packed_tensors_match_torch(make_loss):
    np.testing.assert_allclose(_hooked_run(trainer, make_loss)[1], _hooked_run(torch, make_loss)[1], rtol=1e-10,
                               atol=1e-12)


def test_a_pack_hook_that_compresses_changes_what_backward_sees():
    halved = _hooked_run(trainer, lambda lib, x: (x * x).sum(), pack_transform=lambda t: t * 0.5)[1]
    np.testing.assert_allclose(halved, np.linspace(-1.0, 2.0, 6).reshape(2, 3))  # x*0.5 + x*0.5


def test_custom_function_saved_tensors_are_packed():
    class Cube(trainer.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            ctx.note = "not a saved tensor"
            return x ** 3

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 3 * x ** 2 * g

    packed = []
    x = trainer.tensor([1.0, 2.0], requires_grad=True)
    with trainer.autograd.graph.saved_tensors_hooks(lambda t: packed.append(t) or ("box", t), lambda p: p[1]):
        y = Cube.apply(x)
    y.sum().backward()
    assert len(packed) == 1 and packed[0].tolist() == [1.0, 2.0]
    assert x.grad.tolist() == [3.0, 12.0]


def test_save_on_cpu_keeps_gradients():
    x = trainer.tensor([0.5, 1.5], requires_grad=True)
    with trainer.autograd.graph.save_on_cpu():
        y = (x.exp() * x).sum()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), np.exp([0.5, 1.5]) * (1 + np.array([0.5, 1.5])))


def test_unpack_hook_must_return_a_tensor_like_torch():
    def call(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        with lib.autograd.graph.saved_tensors_hooks(lambda t: t, lambda p: 5):
            y = (x * x).sum()
        y.backward()

    assert_raises_like_torch(call, TypeError, "unpack_hook expected to be a Tensor but got result of type int")


def test_unpack_hook_returning_another_shape_is_refused():
    x = trainer.tensor([1.0, 2.0, 3.0], requires_grad=True)
    with trainer.autograd.graph.saved_tensors_hooks(lambda t: t, lambda p: p[:2]):
        y = (x * x).sum()
    with pytest.raises(RuntimeError, match="must give back a tensor equal to the one pack_hook received"):
        y.backward()


@pytest.mark.parametrize("order", ["disable_then_hooks", "hooks_then_disable"])
def test_disabled_hooks_raise_the_given_message_like_torch(order):
    def call(lib):
        graph = lib.autograd.graph
        if order == "disable_then_hooks":
            with graph.disable_saved_tensors_hooks("no hooks in here"), graph.saved_tensors_hooks(id, id):
                pass
        else:
            with graph.saved_tensors_hooks(id, id), graph.disable_saved_tensors_hooks("no hooks in here"):
                pass

    assert_raises_like_torch(call, RuntimeError, "no hooks in here")
