"""The meta device: tensors with a shape and a dtype but no data, compared with PyTorch's."""

from __future__ import annotations

import copy
import re

import numpy as np
import pytest
import torch

import trainer
from tests.trainer.test_ops_parity import assert_raises_like_torch


def same_meta(ours, theirs):
    """Both meta tensors, alike in everything but values."""
    assert ours.is_meta and theirs.is_meta
    assert str(ours.device) == str(theirs.device) == "meta"
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert ours.dtype.name == str(theirs.dtype).removeprefix("torch.")
    assert ours.requires_grad == theirs.requires_grad
    assert ours.stride() == theirs.stride()
    assert ours.is_contiguous() == theirs.is_contiguous()
    assert (ours.element_size(), ours.numel(), ours.nbytes) == (theirs.element_size(), theirs.numel(), theirs.nbytes)


def printed(t) -> str:
    """The repr with the library's name as trainer's and suffixes on one line ("trainer." is longer than "torch.",
    so a line may wrap in one library and not in the other)."""
    return re.sub(r",\n +", ", ", repr(t).replace("torch.", "trainer."))


# ----------------------------------------------------------------- devices and factories
def test_meta_device_object_matches_torch():
    for spec in ("meta", "meta:0"):
        ours, theirs = trainer.device(spec), torch.device(spec)
        assert (repr(ours), str(ours), ours.type, ours.index) == (repr(theirs), str(theirs), theirs.type,
                                                                    theirs.index)
    assert trainer.device("meta", 1).index == torch.device("meta", 1).index == 1
    assert_raises_like_torch(lambda lib: lib.device("metal"), RuntimeError, "Expected one of cpu, cuda, meta")


@pytest.mark.parametrize("make", [
    lambda lib: lib.empty(3, 4, device="meta"),
    lambda lib: lib.zeros(2, 3, dtype=lib.float64, device="meta"),
    lambda lib: lib.ones((5,), dtype=lib.int32, device="meta"),
    lambda lib: lib.full((2, 2), 7.0, device="meta"),
    lambda lib: lib.arange(1, 10, 2, device="meta"),
    lambda lib: lib.arange(0.0, 1.0, 0.3, device="meta"),
    lambda lib: lib.linspace(0, 1, 7, device="meta"),
    lambda lib: lib.eye(3, 5, device="meta"),
    lambda lib: lib.rand(2, 3, device="meta"),
    lambda lib: lib.randn(4, dtype=lib.float64, device="meta", requires_grad=True),
    lambda lib: lib.randint(0, 5, (3, 2), device="meta"),
    lambda lib: lib.randperm(6, device="meta"),
    lambda lib: lib.tensor([[1.0, 2.0, 3.0]], device="meta"),
    lambda lib: lib.tensor(3, device="meta"),
    lambda lib: lib.empty(0, 3, dtype=lib.bfloat16, device="meta"),
    lambda lib: lib.zeros_like(lib.empty(2, 5, device="meta")),
    lambda lib: lib.ones(2, 3).to("meta"),
    lambda lib: lib.ones(2, 3, dtype=lib.float64).to(device="meta", dtype=lib.float32),
    lambda lib: lib.ones(2, 3).new_zeros(4, device="meta"),
])
def test_factories_and_to_meta_match_torch(make):
    ours, theirs = make(trainer), make(torch)
    same_meta(ours, theirs)
    assert printed(ours) == printed(theirs)


def test_default_device_and_with_device_make_meta_tensors():
    with trainer.device("meta") as dev, torch.device("meta"):
        assert dev == trainer.device("meta")
        same_meta(trainer.ones(2, 3), torch.ones(2, 3))
        with trainer.device("cpu"):
            assert trainer.ones(1).device == trainer.device("cpu")
        same_meta(trainer.randn(2), torch.randn(2))
    assert trainer.ones(1).device == trainer.device("cpu")
    trainer.set_default_device("meta")
    try:
        assert trainer.zeros(3).is_meta and trainer.get_default_device() == trainer.device("meta")
    finally:
        trainer.set_default_device(None)
    assert not trainer.zeros(3).is_meta


def test_printing_matches_torch():
    for lib in (torch, trainer):
        lib.manual_seed(0)
    cases = [
        lambda lib: lib.empty(3, 4, device="meta"),
        lambda lib: lib.zeros(2, dtype=lib.float64, device="meta"),
        lambda lib: lib.tensor(2.0, device="meta"),
        lambda lib: lib.ones(2, device="meta", requires_grad=True),
        lambda lib: lib.arange(5, device="meta"),
        lambda lib: lib.empty(0, 3, device="meta"),
        lambda lib: lib.zeros(2, dtype=lib.bool, device="meta"),
        lambda lib: lib.nn.Parameter(lib.empty(2, 3, device="meta")),
    ]
    for make in cases:
        assert printed(make(trainer)) == printed(make(torch))
    # the cast's node has a name of trainer's own (CastBackward0, ToCopyBackward0 in PyTorch)
    cast = trainer.ones(3, 4, device="meta", requires_grad=True).to(trainer.float64)
    assert repr(cast) == ("tensor(..., device='meta', size=(3, 4), dtype=trainer.float64,\n"
                          "       grad_fn=<CastBackward0>)")


# ----------------------------------------------------------------- what works on meta tensors
@pytest.mark.parametrize("view", [
    lambda t: t.view(6, 4),
    lambda t: t.reshape(-1, 4),
    lambda t: t.flatten(1),
    lambda t: t.transpose(0, 2),
    lambda t: t.permute(1, 2, 0),
    lambda t: t.unsqueeze(1),
    lambda t: t.unsqueeze(-1).squeeze(-1),
    lambda t: t.unsqueeze(0).expand(5, 2, 3, 4),
    lambda t: t.mT,
    lambda t: t.transpose(0, 1).contiguous(),
    lambda t: t.transpose(0, 1).clone(),
    lambda t: t.detach(),
    lambda t: t.double(),
])
def test_shape_ops_answer_from_the_shape_as_torch(view):
    ours, theirs = view(trainer.empty(2, 3, 4, device="meta")), view(torch.empty(2, 3, 4, device="meta"))
    same_meta(ours, theirs)


@pytest.mark.parametrize("fill", [
    lambda lib, t: t.fill_(2.0),
    lambda lib, t: t.zero_(),
    lambda lib, t: t.copy_(lib.ones(3)),
    lambda lib, t: t.uniform_(-1, 1),
    lambda lib, t: t.normal_(),
    lambda lib, t: t.bernoulli_(0.5),
    lambda lib, t: lib.nn.init.kaiming_uniform_(t),
    lambda lib, t: lib.nn.init.xavier_normal_(t),
    lambda lib, t: lib.nn.init.trunc_normal_(t),
    lambda lib, t: lib.nn.init.orthogonal_(t),
    lambda lib, t: lib.nn.init.sparse_(t, 0.5),
    lambda lib, t: lib.nn.init.eye_(t),
    lambda lib, t: lib.nn.init.constant_(t, 3.0),
    lambda lib, t: lib.nn.init.zeros_(t),
])
def test_in_place_fills_and_init_are_no_ops_as_in_torch(fill):
    for lib in (torch, trainer):
        t = lib.empty(4, 3, device="meta")
        with lib.no_grad():
            assert fill(lib, t) is t and t.is_meta and tuple(t.shape) == (4, 3)


def test_dirac_on_meta_is_a_no_op_and_copy_still_checks_shapes():
    for lib in (torch, trainer):
        assert lib.nn.init.dirac_(lib.empty(2, 2, 3, device="meta")).is_meta
    with pytest.raises(ValueError):
        trainer.empty(4, 3, device="meta").copy_(trainer.ones(5))


def test_deepcopy_and_pickle_keep_meta_tensors():
    p = trainer.nn.Parameter(trainer.empty(3, 2, device="meta"))
    copied = copy.deepcopy(p)
    assert copied is not p and copied.is_meta and copied.requires_grad and isinstance(copied, trainer.nn.Parameter)
    assert tuple(copy.deepcopy(trainer.empty(5, device="meta")).shape) == (5,)


# ----------------------------------------------------------------- modules
class Net:
    """The same small network in both libraries."""

    @staticmethod
    def build(lib):
        return lib.nn.Sequential(lib.nn.Conv2d(2, 4, 3), lib.nn.BatchNorm2d(4), lib.nn.ReLU(), lib.nn.Flatten(),
                                 lib.nn.Linear(4 * 3 * 3, 5))


def test_model_built_under_meta_device_has_meta_parameters_and_state_dict():
    with trainer.device("meta"):
        ours = Net.build(trainer)
    with torch.device("meta"):
        theirs = Net.build(torch)
    for (name, p), (their_name, q) in zip(ours.named_parameters(), theirs.named_parameters(), strict=True):
        assert name == their_name and isinstance(p, trainer.nn.Parameter)
        same_meta(p, q)
        assert printed(p) == printed(q)
    ours_sd, theirs_sd = ours.state_dict(), theirs.state_dict()
    assert list(ours_sd) == list(theirs_sd)
    for key in ours_sd:
        same_meta(ours_sd[key], theirs_sd[key])


def test_module_to_meta_keeps_parameters_and_requires_grad():
    ours, theirs = Net.build(trainer), Net.build(torch)
    weight = ours[0].weight
    assert ours.to("meta") is ours and ours[0].weight is weight
    theirs.to("meta")
    for p, q in zip(ours.state_dict(keep_vars=True).values(), theirs.state_dict(keep_vars=True).values(),
                    strict=True):
        same_meta(p, q)


def test_to_empty_then_reset_parameters_gives_a_usable_model():
    with trainer.device("meta"):
        model = Net.build(trainer)
    assert model.to_empty(device="cpu") is model
    for module in model.modules():
        if hasattr(module, "reset_parameters"):
            module.reset_parameters()
    for p in model.parameters():
        assert p.device == trainer.device("cpu") and p.requires_grad and bool(trainer.isfinite(p).all())
    assert model[1].running_var.tolist() == [1.0] * 4
    out = model(trainer.randn(2, 2, 5, 5))
    out.sum().backward()
    assert tuple(out.shape) == (2, 5) and model[4].weight.grad is not None


def test_to_empty_without_recursion_converts_only_the_module_itself():
    with trainer.device("meta"):
        ours = trainer.nn.Linear(2, 3)
        ours.inner = trainer.nn.Linear(3, 1)
    with torch.device("meta"):
        theirs = torch.nn.Linear(2, 3)
        theirs.inner = torch.nn.Linear(3, 1)
    ours.to_empty(device="cpu", recurse=False)
    theirs.to_empty(device="cpu", recurse=False)
    for p, q in zip(ours.parameters(), theirs.parameters(), strict=True):
        assert p.is_meta == q.is_meta and tuple(p.shape) == tuple(q.shape)
    assert not ours.weight.is_meta and ours.inner.weight.is_meta


def test_load_state_dict_assign_replaces_meta_parameters_as_torch():
    torch.manual_seed(0)
    source = Net.build(torch).eval()
    state = {k: v.detach().numpy().copy() for k, v in source.state_dict().items()}
    with trainer.device("meta"):
        ours = Net.build(trainer)
    result = ours.load_state_dict({k: trainer.tensor(v) for k, v in state.items()}, assign=True)
    assert list(result.missing_keys) == list(result.unexpected_keys) == []
    assert not any(t.is_meta for t in ours.state_dict().values())
    assert all(isinstance(p, trainer.nn.Parameter) and p.requires_grad for p in ours.parameters())
    x = np.random.default_rng(0).standard_normal((2, 2, 5, 5)).astype(np.float32)
    np.testing.assert_allclose(ours.eval()(trainer.tensor(x)).detach().numpy(),
                               source(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_load_state_dict_without_assign_leaves_meta_parameters():
    with trainer.device("meta"):
        ours = trainer.nn.Linear(2, 3)
    ours.load_state_dict(trainer.nn.Linear(2, 3).state_dict())
    assert ours.weight.is_meta


def test_functional_call_with_real_parameters_on_a_meta_module():
    ours = trainer.nn.Linear(3, 2)
    params = {k: v.detach().clone() for k, v in ours.named_parameters()}
    x = trainer.randn(4, 3)
    expected = ours(x)
    ours.to("meta")
    out = trainer.func.functional_call(ours, params, (x,))
    assert trainer.allclose(out, expected) and ours.weight.is_meta


# ----------------------------------------------------------------- errors
def test_copying_values_out_raises_as_torch():
    assert_raises_like_torch(lambda lib: lib.empty(2, device="meta").to("cpu"), NotImplementedError,
                             "Cannot copy out of meta tensor; no data!")
    assert_raises_like_torch(lambda lib: lib.empty(2, device="meta").cpu(), NotImplementedError,
                             "Cannot copy out of meta tensor; no data!")
    assert_raises_like_torch(lambda lib: lib.empty(2, device="meta").tolist(), NotImplementedError,
                             "Cannot copy out of meta tensor; no data!")
    assert_raises_like_torch(lambda lib: lib.empty(1, device="meta").item(), RuntimeError,
                             r"Tensor.item\(\) cannot be called on meta tensors")
    assert_raises_like_torch(lambda lib: float(lib.empty(1, device="meta")), RuntimeError, "meta tensors")
    assert_raises_like_torch(lambda lib: bool(lib.empty(1, device="meta")), RuntimeError, "meta tensors")
    assert_raises_like_torch(lambda lib: lib.empty(2, device="meta").numpy(), TypeError,
                             "can't convert meta tensor to numpy")
    with pytest.raises(NotImplementedError, match="no data"):
        np.asarray(trainer.empty(2, device="meta"))


@pytest.mark.parametrize(("call", "op"), [
    (lambda t: t + 1, "Add"),
    (lambda t: t @ t.T, "MatMul"),
    (lambda t: t.sum(), "Sum"),
    (lambda t: trainer.nn.functional.relu(t), "Relu"),
    (lambda t: t[0], "Index"),
    (lambda t: t.transpose(0, 1).reshape(-1), "Reshape"),
])
def test_computing_ops_raise_naming_the_op(call, op):
    t = trainer.empty(3, 4, device="meta")
    with pytest.raises(NotImplementedError, match=f"{op}.*cannot run on the meta device.*to_empty"):
        call(t)


def test_running_a_meta_model_raises_and_names_the_op():
    with trainer.device("meta"):
        model = trainer.nn.Linear(3, 2)
    with pytest.raises(NotImplementedError, match="meta device"):
        model(trainer.randn(1, 3))


def test_meta_generator_state_round_trips_for_fork_rng_and_vmap():
    trainer.randn(3, device="meta")  # creates the meta device's default generator
    generator = trainer.random.device_generator(trainer.device("meta"))
    state = generator.get_state()
    trainer.randn(3, device="meta")
    assert np.array_equal(generator.get_state().numpy(), state.numpy())  # meta draws draw nothing
    generator.set_state(state)
    with trainer.random.fork_rng(devices=[0], device_type="meta"):
        trainer.rand(2, device="meta")
    out = trainer.func.vmap(lambda x: x * 2)(trainer.ones(3, 2))  # vmap's draw check reads every generator
    assert out.tolist() == [[2.0, 2.0]] * 3
