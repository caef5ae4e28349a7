"""``nn.attention`` against PyTorch: ``SDPBackend``'s members, ``sdpa_kernel``'s validation and recorded choice
(trainer has one attention implementation, so only "no backend enabled" changes what SDPA does), and the causal
biases of ``nn.attention.bias`` as ``attn_mask`` of ``F.scaled_dot_product_attention``."""

import warnings

import numpy as np
import pytest
import torch
import torch.nn.attention  # noqa: F401  (makes torch.nn.attention reachable as an attribute)
import torch.nn.attention.bias  # noqa: F401

import trainer
from tests.trainer.test_ops_parity import assert_forward_and_gradients_match_torch, assert_raises_like_torch

RNG = np.random.default_rng(3)


def test_sdp_backend_members_match_torch():
    ours = {name: int(member) for name, member in trainer.nn.attention.SDPBackend.__members__.items()}
    theirs = {name: int(member) for name, member in torch.nn.attention.SDPBackend.__members__.items()}
    assert ours == theirs
    assert trainer.nn.attention.SDPBackend.MATH.name == "MATH"


def _names(backends):
    return [b.name for b in backends]


def _recorded(lib, with_priority=False):
    return _names(lib.nn.attention._cur_sdpa_kernel_backends(with_priority))


@pytest.mark.parametrize("choice, set_priority", [
    ("MATH", False),
    (["FLASH_ATTENTION", "MATH", "FLASH_ATTENTION"], False),
    (["CUDNN_ATTENTION", "MATH"], True),
    (["OVERRIDEABLE", "EFFICIENT_ATTENTION"], True),
    (["ERROR", "MATH"], False),
    ([], False),
])
def test_sdpa_kernel_records_the_choice_like_torch(choice, set_priority):
    def backends(lib):
        members = lib.nn.attention.SDPBackend
        return getattr(members, choice) if isinstance(choice, str) else [getattr(members, c) for c in choice]

    states = {}
    for lib in (torch, trainer):
        before = (_recorded(lib), _recorded(lib, True))
        with lib.nn.attention.sdpa_kernel(backends(lib), set_priority=set_priority) as entered:
            assert entered == {}
            states[lib] = (_recorded(lib), _recorded(lib, True))
        assert (_recorded(lib), _recorded(lib, True)) == before
    assert states[trainer] == states[torch]
    if choice:
        assert states[trainer][0] != _recorded(trainer)


def test_sdpa_kernel_works_as_a_decorator():
    @trainer.nn.attention.sdpa_kernel(trainer.nn.attention.SDPBackend.MATH)
    def inside():
        return _recorded(trainer)

    assert inside() == ["MATH"]
    assert len(_recorded(trainer)) == 5


@pytest.mark.parametrize("backends", [(0,), "MATH", None])
def test_sdpa_kernel_refuses_other_than_a_backend_or_a_list_like_torch(backends):
    def enter(lib):
        with lib.nn.attention.sdpa_kernel(backends):
            pass

    assert_raises_like_torch(enter, AssertionError, "Backend must be an instance of SDPBackend or a list of "
                                                    f"SDPBackend instances, got {type(backends).__name__}")


def test_no_enabled_backend_refuses_to_run_like_torch():
    q = RNG.standard_normal((1, 2, 3, 4))

    def run(lib):
        query = lib.tensor(q)
        with lib.nn.attention.sdpa_kernel([]):
            lib.nn.functional.scaled_dot_product_attention(query, query, query)

    assert_raises_like_torch(run, RuntimeError, "No viable backend for scaled_dot_product_attention")


def test_any_enabled_backend_runs_trainers_implementation():
    q = RNG.standard_normal((1, 2, 3, 4))
    expected = torch.nn.functional.scaled_dot_product_attention(*[torch.tensor(q)] * 3).numpy()
    backends = trainer.nn.attention.SDPBackend
    for chosen in (backends.MATH, backends.FLASH_ATTENTION, [backends.CUDNN_ATTENTION]):
        with trainer.nn.attention.sdpa_kernel(chosen):
            out = trainer.nn.functional.scaled_dot_product_attention(*[trainer.tensor(q)] * 3)
        np.testing.assert_allclose(np.asarray(out), expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("variant", ["causal_upper_left", "causal_lower_right"])
@pytest.mark.parametrize("size", [(3, 5), (4, 4), (5, 3)])
def test_causal_bias_materialises_like_torch(variant, size):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = getattr(torch.nn.attention.bias, variant)(*size)
        ours = getattr(trainer.nn.attention.bias, variant)(*size)
    assert (ours.variant.name, ours.seq_len_q, ours.seq_len_kv) == (theirs.variant.name, *size)
    mask = ours._materialize()
    assert mask.dtype == trainer.bool
    # a Tensor subclass in both; PyTorch's own storage is an artefact of Tensor.__new__ seeing the constructor's
    # arguments as sizes, so trainer's holds the mask itself
    assert isinstance(ours, trainer.Tensor) and isinstance(theirs, torch.Tensor)
    assert (ours.dtype, list(ours.shape)) == (trainer.bool, list(size))
    np.testing.assert_array_equal(np.asarray(mask), theirs._materialize().numpy())
    assert repr(ours) == repr(theirs)


@pytest.mark.parametrize("variant", ["causal_upper_left", "causal_lower_right"])
@pytest.mark.parametrize("lengths", [(3, 5), (4, 4), (5, 3)])
def test_causal_bias_as_sdpa_mask_matches_torch(variant, lengths):
    length_q, length_kv = lengths
    arrays = [RNG.standard_normal((2, 2, length_q, 4)), RNG.standard_normal((2, 2, length_kv, 4)),
              RNG.standard_normal((2, 2, length_kv, 3))]

    def fn(lib, q, k, v):
        return lib.nn.functional.scaled_dot_product_attention(
            q, k, v, attn_mask=getattr(lib.nn.attention.bias, variant)(length_q, length_kv))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_forward_and_gradients_match_torch(fn, arrays)


def test_lower_right_with_more_queries_than_keys_warns_like_torch():
    for lib in (torch, trainer):
        with pytest.warns(UserWarning, match="Lower right causal bias will produce NaNs"):
            lib.nn.attention.bias.causal_lower_right(5, 3)


def test_causal_bias_errors_like_torch():
    assert_raises_like_torch(lambda lib: lib.nn.attention.bias.causal_upper_left(2, 3, 4), AssertionError,
                             "causal_upper_left only supports 2D tensors")
    assert_raises_like_torch(lambda lib: lib.nn.attention.bias.causal_lower_right(2), AssertionError,
                             "causal_lower_right only supports 2D tensors")
    assert_raises_like_torch(lambda lib: lib.nn.attention.bias.CausalBias(1, 2, 2), AssertionError,
                             "variant must be a CausalVariant, got int")
    q = RNG.standard_normal((1, 3, 4))

    def causal_twice(lib):
        query = lib.tensor(q)
        lib.nn.functional.scaled_dot_product_attention(query, query, query, is_causal=True,
                                                       attn_mask=lib.nn.attention.bias.causal_upper_left(3, 3))

    assert_raises_like_torch(causal_twice, ValueError, "CausalBias should not be used with causal=True")
