"""What running pytorch/tutorials on trainer turned up (tests/trainer/examples/test_pytorch_tutorials.py), each
against PyTorch itself: the ``out=`` keyword, ``torch.accelerator``, and ``Module._forward_pre_hooks`` holding the
hooks themselves (the pruning tutorial walks it)."""

import warnings

import numpy as np
import pytest
import torch
import torch.nn.utils.prune

import trainer
import trainer.nn.utils.prune
from tests.trainer.test_ops_parity import assert_raises_like_torch


def _same(ours, theirs):
    assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)


@pytest.mark.parametrize("name, args, kwargs, shape", [
    ("matmul", ([[1.0, 2.0], [3.0, 4.0]], [[0.5, -1.0], [2.0, 0.25]]), {}, (2, 2)),
    ("mul", ([[1.0, 2.0], [3.0, 4.0]], [[0.5, -1.0], [2.0, 0.25]]), {}, (2, 2)),
    ("add", ([1.0, 2.0, 3.0], [0.5, 0.5, 0.5]), {"alpha": 2}, (3,)),
    ("sin", ([0.0, 0.5, 1.0],), {}, (3,)),
    ("clamp", ([-2.0, 0.5, 3.0],), {"min": -1.0, "max": 1.0}, (3,)),
])
def test_out_receives_the_result_and_is_returned(name, args, kwargs, shape):
    results = []
    for lib in (torch, trainer):
        out = lib.zeros(shape)
        returned = getattr(lib, name)(*(lib.tensor(a) for a in args), **kwargs, out=out)
        assert returned is out
        results.append(out)
    _same(results[1], results[0])


def test_out_keeps_its_dtype_when_the_result_casts_to_it():
    results = []
    for lib in (torch, trainer):
        out = lib.zeros(2, dtype=lib.float64)
        lib.mul(lib.ones(2), lib.tensor([2.0, 3.0]), out=out)
        results.append(out)
    _same(results[1], results[0])


def test_out_of_a_view_writes_through_to_its_base():
    results = []
    for lib in (torch, trainer):
        base = lib.zeros(2, 3)
        lib.add(lib.ones(3), lib.ones(3), out=base[1])
        results.append(base)
    _same(results[1], results[0])


@pytest.mark.parametrize("factory, args", [("rand", (2, 2)), ("zeros", (3,)), ("ones", (2, 3)), ("arange", (4,)),
                                           ("full", ((2,), 7))])
def test_factories_fill_out_in_its_dtype(factory, args):
    results = []
    for lib in (torch, trainer):
        out = lib.empty(0, dtype=lib.float64)
        returned = getattr(lib, factory)(*args, out=out)
        assert returned is out
        results.append(out)
    theirs, ours = results
    assert ours.shape == tuple(theirs.shape) and ours.dtype == trainer.float64
    if factory != "rand":
        _same(ours, theirs)
    else:
        assert bool(((ours >= 0) & (ours < 1)).all())


def test_out_of_another_shape_is_resized_with_pytorchs_warning():
    for lib in (torch, trainer):
        out = lib.zeros(3)
        with pytest.warns(UserWarning, match="An output with one or more elements was resized"):
            lib.mul(lib.ones(2), lib.ones(2), out=out)
        assert tuple(out.shape) == (2,)
        empty = lib.zeros(0)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            lib.mul(lib.ones(2), lib.ones(2), out=empty)  # an empty out resizes silently
        assert tuple(empty.shape) == (2,)


def test_out_refuses_a_result_it_cannot_hold():
    assert_raises_like_torch(lambda lib: lib.mul(lib.ones(2), lib.ones(2), out=lib.zeros(2, dtype=lib.long)),
                             RuntimeError, "result type Float can't be cast to the desired output type Long")


def test_out_refuses_arguments_that_require_grad():
    assert_raises_like_torch(
        lambda lib: lib.mul(lib.ones(2, requires_grad=True), lib.ones(2), out=lib.zeros(2)), RuntimeError,
        r"mul\(\): functions with out=\.\.\. arguments don't support automatic differentiation")
    assert_raises_like_torch(
        lambda lib: lib.matmul(lib.ones(2, 2), lib.ones(2, 2), out=lib.zeros(2, 2, requires_grad=True)),
        RuntimeError, "don't support automatic differentiation")
    for lib in (torch, trainer):  # without grad mode there is no graph to lose
        with lib.no_grad():
            out = lib.mul(lib.ones(2, requires_grad=True), lib.ones(2), out=lib.zeros(2))
        assert not out.requires_grad


def test_out_must_be_a_tensor():
    assert_raises_like_torch(lambda lib: lib.add(lib.ones(2), lib.ones(2), out=[0.0, 0.0]), TypeError,
                             "argument 'out' must be Tensor, not list")


def test_accelerator_on_a_machine_without_cuda_answers_as_pytorch_does():
    if trainer.cuda.is_available():
        assert trainer.accelerator.is_available()
        assert trainer.accelerator.current_accelerator() == trainer.device("cuda")
        assert trainer.accelerator.device_count() == trainer.cuda.device_count()
        assert trainer.accelerator.current_device_index() == trainer.cuda.current_device()
        return
    for lib in (torch, trainer):
        assert lib.accelerator.is_available() is False
        assert lib.accelerator.current_accelerator() is None
        assert lib.accelerator.device_count() == 0
    # the quickstart's device choice
    assert (trainer.accelerator.current_accelerator().type if trainer.accelerator.is_available() else "cpu") == "cpu"
    assert_raises_like_torch(lambda lib: lib.accelerator.current_device_index(), RuntimeError,
                             "Cannot access accelerator device when none is available")
    assert_raises_like_torch(lambda lib: lib.accelerator.synchronize(), RuntimeError,
                             "Cannot access accelerator device when none is available")


def test_forward_pre_hooks_hold_the_hooks_as_in_pytorch():
    pruned = []
    for lib in (torch, trainer):
        module = lib.nn.Linear(4, 3)
        lib.nn.utils.prune.l1_unstructured(module, "weight", amount=0.5)
        lib.nn.utils.prune.random_unstructured(module, "weight", amount=0.25)
        # the pruning tutorial finds the PruningContainer by walking the hooks
        hook = next(h for h in module._forward_pre_hooks.values() if h._tensor_name == "weight")
        pruned.append((type(hook).__name__, [type(method).__name__ for method in hook]))
    assert pruned[1] == pruned[0] == ("PruningContainer", ["L1Unstructured", "RandomUnstructured"])


def test_forward_hooks_with_kwargs_still_see_the_keyword_arguments():
    seen = []
    module = trainer.nn.Linear(2, 2)
    module.register_forward_pre_hook(lambda m, args, kwargs: seen.append(("pre", sorted(kwargs))), with_kwargs=True)
    module.register_forward_pre_hook(lambda m, args: seen.append(("pre", len(args))))
    handle = module.register_forward_hook(lambda m, args, kwargs, out: seen.append(("post", sorted(kwargs))),
                                          with_kwargs=True)
    module.register_forward_hook(lambda m, args, out: seen.append(("post", tuple(out.shape))))
    module(input=trainer.ones(1, 2))
    assert seen == [("pre", ["input"]), ("pre", 0), ("post", ["input"]), ("post", (1, 2))]
    handle.remove()
    seen.clear()
    module(trainer.ones(1, 2))
    assert seen == [("pre", []), ("pre", 1), ("post", (1, 2))]
