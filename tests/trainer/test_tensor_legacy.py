"""Tensor methods about storage, legacy forms and tensor kinds, compared with PyTorch."""

import numpy as np
import pytest
import torch

import trainer
from tests.trainer.test_ops_parity import assert_forward_and_gradients_match_torch, assert_raises_like_torch

RNG = np.random.default_rng(1)

AS_STRIDED_CASES = [
    ("windows", lambda lib, x: x.as_strided((3, 2), (1, 1)), (6,)),
    ("transpose_like", lambda lib, x: lib.as_strided(x, (2, 2), (1, 2), 1), (6,)),
    ("of_a_view", lambda lib, x: x[2:].as_strided((2, 2), (1, 1)), (6,)),
    ("of_a_transpose", lambda lib, x: x.t().as_strided((2, 3), (1, 2)), (2, 3)),
    ("of_an_expanded_input", lambda lib, x: x.expand(2, 3).as_strided((3,), (1,)), (3,)),
]


@pytest.mark.parametrize("name,fn,shape", AS_STRIDED_CASES, ids=[c[0] for c in AS_STRIDED_CASES])
def test_as_strided_values_and_gradients_match_torch(name, fn, shape):
    assert_forward_and_gradients_match_torch(fn, [RNG.standard_normal(shape)])


def test_as_strided_is_a_view_and_checks_bounds_like_torch():
    x = trainer.arange(6.0)
    y = x.as_strided((2, 2), (2, 1), 1)
    y[0, 0] = 100
    assert x[1].item() == 100 and y.stride() == (2, 1) and y.storage_offset() == 1
    assert x[2:].storage_offset() == torch.arange(6.0)[2:].storage_offset() == 2
    assert_raises_like_torch(lambda lib: lib.arange(6.0).as_strided((4, 2), (2, 1)), RuntimeError, "out of bounds")
    assert_raises_like_torch(lambda lib: lib.arange(6.0).as_strided((2, 2), (1, -1)), RuntimeError, "Negative")
    assert_raises_like_torch(lambda lib: lib.arange(6.0).as_strided((2,), (1,), -1), RuntimeError, "storage offset")


def test_as_strided_second_order_gradient_matches_torch():
    data = RNG.standard_normal(5)
    grads = []
    for lib in (torch, trainer):
        x = lib.tensor(data, requires_grad=True)
        (g,) = lib.autograd.grad((x.as_strided((2, 3), (1, 1)) ** 3).sum(), x, create_graph=True)
        (h,) = lib.autograd.grad(g.sum(), x)
        grads.append(h.detach().numpy())
    np.testing.assert_allclose(grads[1], grads[0], atol=1e-12)


def test_empty_strided_like_torch():
    ours = trainer.empty_strided((2, 3), (1, 2), dtype=trainer.float64)
    assert ours.stride() == torch.empty_strided((2, 3), (1, 2)).stride() and ours.dtype is trainer.float64
    assert_raises_like_torch(lambda lib: lib.empty_strided((2, 3), (1,)), RuntimeError, "dimensionality")


def test_new_and_short_like_torch():
    for lib in (torch, trainer):
        x = lib.ones(2, dtype=lib.float64)
        assert x.new(2, 3).shape == (2, 3) and x.new(2, 3).dtype == lib.float64
        assert x.new([1, 2]).tolist() == [1.0, 2.0] and x.new().shape == (0,)
        assert x.short().dtype == lib.int16


def test_resize_like_torch():
    ours, theirs = trainer.arange(6.0), torch.arange(6.0)
    np.testing.assert_array_equal(ours.resize_(2, 2).numpy(), theirs.resize_(2, 2).numpy())
    assert ours.resize_(3, 3).shape == (3, 3)  # grows the storage (PyTorch's arange storage is not resizable)
    np.testing.assert_array_equal(ours.numpy().ravel()[:6], np.arange(6.0))
    assert trainer.zeros(5).resize_as_(trainer.ones(2, 2)).shape == (2, 2)
    assert_raises_like_torch(lambda lib: lib.ones(2, requires_grad=True).resize_(3), RuntimeError, "require grad")


def test_apply_and_map_like_torch():
    for lib in (torch, trainer):
        assert lib.ones(3).apply_(lambda v: v * 2).tolist() == [2.0, 2.0, 2.0]
        assert lib.ones(2, 3).map_(lib.arange(3.0), lambda a, b: a + b).tolist() == [[1.0, 2.0, 3.0]] * 2
        assert lib.ones(3).map2_(lib.arange(3.0), lib.arange(3.0), lambda a, b, c: a + b * c).tolist() == [1, 2, 5]
    assert_raises_like_torch(lambda lib: lib.ones(3, requires_grad=True).apply_(abs), RuntimeError, "requires grad")
    assert_raises_like_torch(lambda lib: lib.ones(3).apply_(3), TypeError, "not callable")


def test_kind_flags_layout_and_real_tensor_identities_like_torch():
    for lib in (torch, trainer):
        x = lib.ones(2)
        assert not (x.is_meta or x.is_sparse or x.is_quantized or x.is_mkldnn or x.is_nested)
        assert x.layout is lib.strided
        assert x.real is x and x.conj() is x and x.resolve_conj() is x and x.resolve_neg() is x
        assert not x.is_conj() and not x.is_neg() and x.conj_physical().tolist() == [1.0, 1.0]
        assert x.share_memory_() is x and not x.is_pinned() and x.output_nr == 0
    assert not trainer.ones(2).is_shared()
    if not trainer.backend.cupy_available():
        assert_raises_like_torch(lambda lib: lib.ones(2).pin_memory(), RuntimeError, "accelerator")


def test_prelu_and_hardshrink_methods_match_torch():
    assert_forward_and_gradients_match_torch(lambda lib, x, w: x.prelu(w), [RNG.standard_normal((2, 3)),
                                                                             RNG.random(3)])
    assert_forward_and_gradients_match_torch(lambda lib, x: x.hardshrink(0.4), [RNG.standard_normal(6)])


def test_post_accumulate_grad_hook_sees_accumulated_grad_like_torch():
    seen = {}
    for lib in (torch, trainer):
        w = lib.ones(3, requires_grad=True)
        calls = []
        handle = w.register_post_accumulate_grad_hook(lambda p, calls=calls: calls.append(p.grad.clone().tolist()))
        other = lib.ones(3, requires_grad=True)
        (w * 2).sum().backward()
        (w * 3 * other).sum().backward(inputs=[w])  # accumulated through backward(inputs=) too
        (w * other).sum().backward(inputs=[other])  # not into w: no call
        handle.remove()
        (w * 4).sum().backward()
        seen[lib.__name__] = calls
    assert seen["trainer"] == seen["torch"] == [[2.0] * 3, [5.0] * 3]
    assert_raises_like_torch(lambda lib: (lib.ones(2, requires_grad=True) * 2).register_post_accumulate_grad_hook(
        print), RuntimeError, "non-leaf")
    assert_raises_like_torch(lambda lib: lib.ones(2).register_post_accumulate_grad_hook(print), RuntimeError,
                             "doesn't require gradient")
