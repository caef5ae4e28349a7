"""``trainer.nn.utils.prune`` against ``torch.nn.utils.prune``: the same masks (ties included) on the same
weights, the same module state (``_orig`` parameter, ``_mask`` buffer, hook, ``state_dict`` keys), iterative
pruning through ``PruningContainer``, ``remove``, and PyTorch's errors."""

import numpy as np
import pytest
import torch
import torch.nn.utils.prune as torch_prune

import trainer
import trainer.nn.utils.prune as prune
from tests.trainer.test_ops_parity import assert_raises_like_torch
from trainer.nn.utils.prune_topk import topk_indices


def _linear_pair(weights, bias=True):
    """A PyTorch and a trainer ``Linear`` holding the same float64 ``weights`` (and bias)."""
    weights = np.asarray(weights, dtype=np.float64)
    out_features, in_features = weights.shape
    pair = []
    for lib in (torch, trainer):
        layer = lib.nn.Linear(in_features, out_features, bias=bias, dtype=lib.float64)
        with lib.no_grad():
            layer.weight.copy_(lib.tensor(weights))
            if bias:
                layer.bias.copy_(lib.tensor(np.linspace(-1.0, 1.0, out_features)))
        pair.append(layer)
    return pair


def _conv_pair(weights):
    weights = np.asarray(weights, dtype=np.float64)
    pair = []
    for lib in (torch, trainer):
        conv = lib.nn.Conv2d(weights.shape[1], weights.shape[0], weights.shape[2:], bias=False, dtype=lib.float64)
        with lib.no_grad():
            conv.weight.copy_(lib.tensor(weights))
        pair.append(conv)
    return pair


def _tied_weights(rng, shape, levels=3):
    """Integer-valued weights: many equal magnitudes, so the masks depend on how topk orders ties."""
    return rng.integers(-levels, levels + 1, shape).astype(np.float64)


def _assert_same_pruned_state(t_mod, m_mod, name="weight"):
    np.testing.assert_array_equal(getattr(m_mod, name + "_mask").numpy(), getattr(t_mod, name + "_mask").numpy())
    np.testing.assert_array_equal(getattr(m_mod, name).detach().numpy(), getattr(t_mod, name).detach().numpy())
    assert list(m_mod.state_dict()) == list(t_mod.state_dict())
    assert [n for n, _ in m_mod.named_parameters()] == [n for n, _ in t_mod.named_parameters()]
    assert [n for n, _ in m_mod.named_buffers()] == [n for n, _ in t_mod.named_buffers()]


def test_topk_tie_order_matches_torch_on_both_selection_algorithms():
    rng = np.random.default_rng(0)
    for n, k in [(7, 3), (40, 17), (300, 4), (300, 150), (1000, 999), (2, 1)]:
        for _ in range(20):
            values = rng.integers(0, 3, n).astype(np.float64)
            for largest in (False, True):
                expected = torch.topk(torch.from_numpy(values), k, largest=largest).indices.numpy()
                np.testing.assert_array_equal(topk_indices(values, k, largest), np.sort(expected))


def test_topk_with_nan_counts_nan_as_largest_as_torch():
    values = np.array([1.0, np.nan, 0.0, 1.0, np.nan, 1.0, 2.0, 1.0])
    for k in range(len(values) + 1):
        for largest in (False, True):
            expected = torch.topk(torch.from_numpy(values), k, largest=largest).indices.numpy()
            np.testing.assert_array_equal(topk_indices(values, k, largest), np.sort(expected))


@pytest.mark.parametrize("amount", [0.3, 7, 0.0, 1.0])
def test_l1_unstructured_on_tied_weights_matches_torch(amount):
    t_lin, m_lin = _linear_pair(_tied_weights(np.random.default_rng(1), (6, 5)))
    assert torch_prune.l1_unstructured(t_lin, "weight", amount=amount) is t_lin
    assert prune.l1_unstructured(m_lin, "weight", amount=amount) is m_lin
    _assert_same_pruned_state(t_lin, m_lin)
    assert list(m_lin.state_dict()) == ["bias", "weight_orig", "weight_mask"]
    assert isinstance(m_lin.weight_orig, trainer.nn.Parameter) and "weight" not in m_lin._parameters
    assert prune.is_pruned(m_lin)


def test_forward_and_gradients_go_through_the_mask_as_in_torch():
    rng = np.random.default_rng(2)
    t_lin, m_lin = _linear_pair(rng.standard_normal((4, 3)))
    torch_prune.l1_unstructured(t_lin, "weight", amount=5)
    prune.l1_unstructured(m_lin, "weight", amount=5)
    x = rng.standard_normal((2, 3))
    t_out, m_out = t_lin(torch.tensor(x)), m_lin(trainer.tensor(x))
    np.testing.assert_allclose(m_out.detach().numpy(), t_out.detach().numpy(), rtol=0, atol=1e-12)
    t_out.square().sum().backward()
    m_out.square().sum().backward()
    np.testing.assert_allclose(m_lin.weight_orig.grad.numpy(), t_lin.weight_orig.grad.numpy(), rtol=0, atol=1e-12)
    assert (m_lin.weight_orig.grad.numpy()[m_lin.weight_mask.numpy() == 0] == 0).all()


def test_the_hook_recomputes_weight_after_weight_orig_changes():
    t_lin, m_lin = _linear_pair(np.arange(12.0).reshape(3, 4) - 5)
    for lin, lib, p in ((t_lin, torch, torch_prune), (m_lin, trainer, prune)):
        p.l1_unstructured(lin, "weight", amount=4)
        with lib.no_grad():
            lin.weight_orig.mul_(2)
        lin(lib.ones(1, 4, dtype=lib.float64))
    np.testing.assert_array_equal(m_lin.weight.detach().numpy(), t_lin.weight.detach().numpy())


def test_iterative_pruning_composes_masks_through_a_container_as_torch():
    rng = np.random.default_rng(3)
    t_lin, m_lin = _linear_pair(_tied_weights(rng, (8, 6), levels=4))
    steps = [("l1_unstructured", {"amount": 0.25}),
             ("ln_structured", {"amount": 2, "n": 2, "dim": 0}),
             ("l1_unstructured", {"amount": 5}),
             ("ln_structured", {"amount": 0.34, "n": 1, "dim": -1})]
    for fn, kwargs in steps:
        getattr(torch_prune, fn)(t_lin, "weight", **kwargs)
        getattr(prune, fn)(m_lin, "weight", **kwargs)
        _assert_same_pruned_state(t_lin, m_lin)
    hooks = list(m_lin._forward_pre_hooks.values())
    assert len(hooks) == 1 and isinstance(hooks[0], prune.PruningContainer) and len(hooks[0]) == 4
    assert [type(m).__name__ for m in hooks[0]] == ["L1Unstructured", "LnStructured", "L1Unstructured",
                                                    "LnStructured"]


def test_ln_structured_on_conv_channels_with_ties_matches_torch():
    rng = np.random.default_rng(4)
    weights = np.repeat(_tied_weights(rng, (6, 1, 1, 1), levels=1), 18).reshape(6, 2, 3, 3)
    for dim, n in ((0, 2), (1, 1), (-1, float("inf")), (0, -np.inf)):
        t_conv, m_conv = _conv_pair(weights)
        torch_prune.ln_structured(t_conv, "weight", amount=0.5, n=n, dim=dim)
        prune.ln_structured(m_conv, "weight", amount=0.5, n=n, dim=dim)
        _assert_same_pruned_state(t_conv, m_conv)


def test_importance_scores_choose_what_l1_and_ln_prune():
    rng = np.random.default_rng(5)
    weights, scores = rng.standard_normal((5, 4)), _tied_weights(rng, (5, 4))
    t_lin, m_lin = _linear_pair(weights)
    torch_prune.l1_unstructured(t_lin, "weight", amount=6, importance_scores=torch.tensor(scores))
    prune.l1_unstructured(m_lin, "weight", amount=6, importance_scores=trainer.tensor(scores))
    torch_prune.ln_structured(t_lin, "weight", 1, 2, 0, importance_scores=torch.tensor(scores))
    prune.ln_structured(m_lin, "weight", 1, 2, 0, importance_scores=trainer.tensor(scores))
    _assert_same_pruned_state(t_lin, m_lin)


def test_custom_from_mask_and_identity_match_torch():
    mask = np.array([[1, 0, 1], [0, 0, 1]], dtype=np.float64)
    t_lin, m_lin = _linear_pair(np.arange(6.0).reshape(2, 3) + 1)
    torch_prune.identity(t_lin, "bias")
    prune.identity(m_lin, "bias")
    torch_prune.custom_from_mask(t_lin, "weight", torch.tensor(mask))
    prune.custom_from_mask(m_lin, "weight", trainer.tensor(mask))
    _assert_same_pruned_state(t_lin, m_lin)
    _assert_same_pruned_state(t_lin, m_lin, "bias")
    assert list(m_lin.state_dict()) == ["bias_orig", "weight_orig", "bias_mask", "weight_mask"]


def test_global_unstructured_matches_torch():
    rng = np.random.default_rng(6)
    w1, w2 = _tied_weights(rng, (4, 5)), _tied_weights(rng, (3, 4), levels=2)
    t1, m1 = _linear_pair(w1)
    t2, m2 = _linear_pair(w2)
    torch_prune.l1_unstructured(t2, "weight", amount=3)  # an existing mask is respected
    prune.l1_unstructured(m2, "weight", amount=3)
    bias_scores = np.array([0.0, 2.0, 0.0, 1.0])  # the biases compete through these, not their values
    torch_prune.global_unstructured([(t1, "weight"), (t2, "weight"), (t1, "bias")], torch_prune.L1Unstructured,
                                    importance_scores={(t1, "bias"): torch.tensor(bias_scores)}, amount=0.4)
    prune.global_unstructured([(m1, "weight"), (m2, "weight"), (m1, "bias")], prune.L1Unstructured,
                              importance_scores={(m1, "bias"): trainer.tensor(bias_scores)}, amount=0.4)
    _assert_same_pruned_state(t1, m1)
    _assert_same_pruned_state(t2, m2)
    _assert_same_pruned_state(t1, m1, "bias")


def test_random_unstructured_prunes_the_right_count():
    trainer.manual_seed(0)
    lin = trainer.nn.Linear(10, 8)
    prune.random_unstructured(lin, "weight", amount=0.35)
    assert int((lin.weight_mask == 0).sum()) == round(0.35 * 80)
    prune.random_unstructured(lin, "weight", amount=10)  # 10 more among those still kept
    assert int((lin.weight_mask == 0).sum()) == round(0.35 * 80) + 10
    trainer.manual_seed(0)
    again = trainer.nn.Linear(10, 8)
    prune.random_unstructured(again, "weight", amount=0.35)
    prune.random_unstructured(again, "weight", amount=10)
    np.testing.assert_array_equal(again.weight_mask.numpy(), lin.weight_mask.numpy())


def test_random_structured_prunes_whole_channels():
    trainer.manual_seed(1)
    conv = trainer.nn.Conv2d(3, 8, 3)
    prune.random_structured(conv, "weight", amount=3, dim=0)
    per_channel = conv.weight_mask.numpy().reshape(8, -1)
    assert set(per_channel.min(axis=1)) <= {0.0, 1.0} and (per_channel.min(axis=1) == per_channel.max(axis=1)).all()
    assert int((per_channel[:, 0] == 0).sum()) == 3
    prune.random_structured(conv, "weight", amount=0.5, dim=1)  # channels of another dim, on what is kept
    per_in = conv.weight_mask.numpy()[per_channel[:, 0] == 1].transpose(1, 0, 2, 3).reshape(3, -1)
    assert int((per_in.max(axis=1) == 0).sum()) == round(0.5 * 3)


def test_remove_makes_pruning_permanent_as_torch():
    rng = np.random.default_rng(7)
    t_lin, m_lin = _linear_pair(_tied_weights(rng, (4, 4)))
    torch_prune.l1_unstructured(t_lin, "weight", amount=6)
    prune.l1_unstructured(m_lin, "weight", amount=6)
    torch_prune.random_unstructured(t_lin, "bias", amount=0)
    prune.random_unstructured(m_lin, "bias", amount=0)
    assert prune.remove(m_lin, "weight") is m_lin
    torch_prune.remove(t_lin, "weight")
    assert list(m_lin.state_dict()) == list(t_lin.state_dict()) == ["bias_orig", "weight", "bias_mask"]
    assert isinstance(m_lin.weight, trainer.nn.Parameter) and m_lin.weight.requires_grad
    np.testing.assert_array_equal(m_lin.weight.detach().numpy(), t_lin.weight.detach().numpy())
    assert prune.is_pruned(m_lin)
    prune.remove(m_lin, "bias")
    assert not prune.is_pruned(m_lin) and not m_lin._forward_pre_hooks
    assert not prune.is_pruned(trainer.nn.Sequential(trainer.nn.ReLU(), m_lin))


def test_prune_method_on_a_plain_tensor():
    values = np.array([[0.5, -2.0, 1.0], [-0.1, 3.0, 0.0]])
    t_out = torch_prune.L1Unstructured(amount=2).prune(torch.tensor(values))
    m_out = prune.L1Unstructured(amount=2).prune(trainer.tensor(values))
    np.testing.assert_array_equal(m_out.numpy(), t_out.numpy())


def test_container_refuses_methods_for_another_parameter():
    first = prune.L1Unstructured(amount=1)
    first._tensor_name = "weight"
    other = prune.Identity()
    other._tensor_name = "bias"
    container = prune.PruningContainer(first)
    with pytest.raises(ValueError, match="parameter named 'weight'.*Found 'bias'"):
        container.add_pruning_method(other)
    with pytest.raises(TypeError, match="is not a BasePruningMethod subclass"):
        container.add_pruning_method("l1")


def test_bad_arguments_raise_like_torch():
    def lib_prune(lib):
        return torch_prune if lib is torch else prune

    def linear(lib):
        return lib.nn.Linear(3, 2)

    assert_raises_like_torch(lambda lib: lib_prune(lib).l1_unstructured(linear(lib), "weight", amount=1.5),
                             ValueError, r"amount=1.5 should either be a float in the range \[0, 1\]")
    assert_raises_like_torch(lambda lib: lib_prune(lib).l1_unstructured(linear(lib), "weight", amount="half"),
                             TypeError, "Invalid type for amount")
    assert_raises_like_torch(lambda lib: lib_prune(lib).l1_unstructured(linear(lib), "weight", amount=7),
                             ValueError, "amount=7 should be smaller than the number of parameters to prune=6")
    assert_raises_like_torch(lambda lib: lib_prune(lib).ln_structured(linear(lib), "bias", 1, 2, 0),
                             ValueError, "Structured pruning can only be applied to multidimensional tensors")
    assert_raises_like_torch(lambda lib: lib_prune(lib).random_structured(linear(lib), "weight", 1, 2),
                             IndexError, "Invalid index 2")
    assert_raises_like_torch(lambda lib: lib_prune(lib).remove(linear(lib), "weight"),
                             ValueError, "has to be pruned before pruning can be removed")
    assert_raises_like_torch(lambda lib: lib_prune(lib).global_unstructured([(linear(lib), "weight")],
                                                                            lib_prune(lib).LnStructured,
                                                                            amount=1, n=2),
                             TypeError, 'Only "unstructured" PRUNING_TYPE supported')


def test_a_failed_pruning_leaves_the_parameter_in_place():
    lin = trainer.nn.Linear(3, 2)
    with pytest.raises(ValueError):
        prune.l1_unstructured(lin, "weight", amount=10)
    assert "weight" in lin._parameters and "weight_orig" not in lin._parameters and not lin._forward_pre_hooks
