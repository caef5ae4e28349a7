"""Attention and transformer layers against PyTorch with the same weights: forward and every gradient.

PyTorch's modules run with parameters that require grad, which keeps them off their inference fast
path (native MHA kernels, nested tensors), so both sides compute the same maths in train and eval mode.
"""

import numpy as np
import pytest
import torch

import trainer
import trainer.nn as nn
import trainer.nn.functional as F

TOLS = {"float64": 1e-8, "float32": 1e-4}


def assert_close(ours, theirs, tol):
    np.testing.assert_allclose(np.asarray(ours.detach()), theirs.detach().numpy(), atol=tol, rtol=0)


def pair(rng, shape, dtype="float64", requires_grad=True):
    data = rng.standard_normal(shape).astype(dtype)
    return trainer.tensor(data, requires_grad=requires_grad), torch.tensor(data, requires_grad=requires_grad)


def mask_pair(array):
    return trainer.tensor(array), torch.tensor(array)


def backward_both(out, tout, rng):
    g = rng.standard_normal(tuple(tout.shape)).astype(tout.detach().numpy().dtype)
    out.backward(trainer.tensor(g))
    tout.backward(torch.tensor(g))


def same_module(ours, theirs, dtype):
    """``ours`` converted to ``dtype`` and loaded with ``theirs``'s weights (random biases, not zeros)."""
    theirs.to(getattr(torch, dtype))
    with torch.no_grad():
        for p in theirs.parameters():
            p.add_(torch.randn(p.shape, dtype=p.dtype) * 0.1)
    ours.to(getattr(trainer, dtype))
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


def assert_param_grads_close(ours, theirs, tol):
    theirs_params = dict(theirs.named_parameters())
    assert [n for n, _ in ours.named_parameters()] == list(theirs_params)
    for name, p in ours.named_parameters():
        assert_close(p.grad, theirs_params[name].grad, tol)


# ----------------------------------------------------------------- scaled_dot_product_attention
def _bool_mask(rng, shape, fully_masked_row=False):
    mask = rng.random(shape) > 0.4
    mask[..., 0] = True
    if fully_masked_row:
        mask[..., 1, :] = False
    return mask


SDPA_CASES = {
    "plain": {},
    "bool": {"attn_mask": lambda rng: _bool_mask(rng, (5, 7))},
    "bool-broadcast-with-empty-row": {"attn_mask": lambda rng: _bool_mask(rng, (2, 1, 5, 7), fully_masked_row=True)},
    "float": {"attn_mask": lambda rng: rng.standard_normal((2, 3, 5, 7))},
    "causal": {"is_causal": True},
    "scale": {"scale": 0.3, "attn_mask": lambda rng: rng.standard_normal((5, 7))},
}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", list(SDPA_CASES))
def test_sdpa_matches_torch(case, dtype):
    rng = np.random.default_rng(0)
    tol = TOLS[dtype]
    (q, tq), (k, tk), (v, tv) = (pair(rng, s, dtype) for s in ((2, 3, 5, 4), (2, 3, 7, 4), (2, 3, 7, 6)))
    kwargs, tkwargs = {}, {}
    for name, value in SDPA_CASES[case].items():
        if name == "attn_mask":
            array = value(rng)
            array = array.astype(dtype) if array.dtype != bool else array
            kwargs[name], tkwargs[name] = mask_pair(array)
        else:
            kwargs[name] = tkwargs[name] = value
    out = F.scaled_dot_product_attention(q, k, v, **kwargs)
    tout = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, **tkwargs)
    assert_close(out, tout, tol)
    backward_both(out, tout, rng)
    for ours, theirs in ((q, tq), (k, tk), (v, tv)):
        assert_close(ours.grad, theirs.grad, tol)


def test_sdpa_float_mask_gets_a_gradient_and_gqa_shares_heads():
    rng = np.random.default_rng(1)
    (q, tq), (k, tk), (v, tv) = (pair(rng, s) for s in ((2, 4, 5, 3), (2, 2, 6, 3), (2, 2, 6, 3)))
    m, tm = pair(rng, (5, 6))
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=m, enable_gqa=True)
    tout = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, attn_mask=tm, enable_gqa=True)
    assert_close(out, tout, 1e-8)
    backward_both(out, tout, rng)
    for ours, theirs in ((q, tq), (k, tk), (v, tv), (m, tm)):
        assert_close(ours.grad, theirs.grad, 1e-8)


def test_sdpa_dropout_zeroes_weights_and_rescales():
    trainer.manual_seed(0)
    q, k = trainer.zeros(1, 200, 8), trainer.zeros(1, 50, 8)  # uniform attention: each weight 1/50
    v = trainer.ones(1, 50, 1)
    out = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    # each output is (kept weights / 50) / 0.5: about 1 on average, varying with the mask
    values = out.numpy().ravel()
    assert abs(values.mean() - 1) < 0.05 and values.std() > 0.05


def test_sdpa_rejects_integer_masks_and_a_mask_with_is_causal():
    q = trainer.randn(2, 3, 4)
    with pytest.raises(RuntimeError, match="Explicit attn_mask should not be set when is_causal=True"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=trainer.ones(3, 3, dtype=trainer.bool), is_causal=True)
    with pytest.raises(RuntimeError, match="Expected attn_mask dtype to be bool or float"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=trainer.ones(3, 3, dtype=trainer.int64))


# ----------------------------------------------------------------- MultiheadAttention
MHA_CASES = {
    "self": dict(),
    "self-batch-first": dict(batch_first=True),
    "cross-kdim-vdim": dict(module=dict(kdim=3, vdim=5), self_attention=False),
    "cross-batch-first-kdim": dict(module=dict(kdim=3, batch_first=True), self_attention=False),
    "key-padding-bool": dict(key_padding_mask="bool"),
    "key-padding-float-and-3d-mask": dict(key_padding_mask="float", attn_mask="float3d", batch_first=True),
    "attn-mask-bool-per-head-weights": dict(attn_mask="bool", forward=dict(average_attn_weights=False)),
    "no-weights-masks": dict(attn_mask="bool", key_padding_mask="bool", forward=dict(need_weights=False)),
    "causal-hint": dict(attn_mask="causal", forward=dict(is_causal=True, need_weights=False)),
    "no-bias": dict(module=dict(bias=False), self_attention=False),
    "bias-kv-zero-attn": dict(module=dict(add_bias_kv=True, add_zero_attn=True), attn_mask="bool",
                              key_padding_mask="bool"),
    "unbatched": dict(unbatched=True, key_padding_mask="bool"),
}


def _mha_masks(case, rng, batch, heads, tgt, src, dtype):
    kwargs, tkwargs = {}, {}
    kpm = case.get("key_padding_mask")
    if kpm:
        array = rng.random((batch, src)) > 0.7
        array[:, 0] = False
        if kpm == "float":
            array = np.where(array, -1e4, rng.standard_normal((batch, src))).astype(dtype)
        if case.get("unbatched"):
            array = array[0]
        kwargs["key_padding_mask"], tkwargs["key_padding_mask"] = mask_pair(array)
    attn = case.get("attn_mask")
    if attn:
        if attn == "bool":
            array = rng.random((tgt, src)) > 0.6
            array[:, 0] = False
        elif attn == "causal":
            array = np.triu(np.ones((tgt, src), bool), 1)
        else:
            array = rng.standard_normal((batch * heads, tgt, src)).astype(dtype)
        kwargs["attn_mask"], tkwargs["attn_mask"] = mask_pair(array)
    return kwargs, tkwargs


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", list(MHA_CASES))
def test_multihead_attention_matches_torch(name, dtype):
    case = MHA_CASES[name]
    rng = np.random.default_rng(2)
    tol = TOLS[dtype]
    module_kwargs = dict(case.get("module", {}))
    batch_first = module_kwargs.pop("batch_first", case.get("batch_first", False))
    embed, heads, batch, tgt, src = 8, 2, 3, 4, 6
    ours, theirs = same_module(nn.MultiheadAttention(embed, heads, batch_first=batch_first, **module_kwargs),
                               torch.nn.MultiheadAttention(embed, heads, batch_first=batch_first, **module_kwargs),
                               dtype)

    def shape(length, features):
        if case.get("unbatched"):
            return (length, features)
        return (batch, length, features) if batch_first else (length, batch, features)

    if case.get("self_attention", True):
        (x, tx), = [pair(rng, shape(tgt, embed), dtype)]
        inputs, tinputs = (x, x, x), (tx, tx, tx)
        src = tgt
    else:
        kdim, vdim = module_kwargs.get("kdim", embed), module_kwargs.get("vdim", embed)
        pairs = [pair(rng, shape(tgt, embed), dtype), pair(rng, shape(src, kdim), dtype),
                 pair(rng, shape(src, vdim), dtype)]
        inputs, tinputs = tuple(p[0] for p in pairs), tuple(p[1] for p in pairs)
    kwargs, tkwargs = _mha_masks(case, rng, batch, heads, tgt, src, dtype)
    forward = case.get("forward", {})
    out, weights = ours(*inputs, **kwargs, **forward)
    tout, tweights = theirs(*tinputs, **tkwargs, **forward)
    assert_close(out, tout, tol)
    if tweights is None:
        assert weights is None
        loss, tloss = out, tout
    else:
        assert_close(weights, tweights, tol)
        loss, tloss = out.sum() + (weights * weights).sum(), tout.sum() + (tweights * tweights).sum()
    backward_both(loss, tloss, rng)
    for x, tx in zip(dict.fromkeys(inputs), dict.fromkeys(tinputs)):
        assert_close(x.grad, tx.grad, tol)
    assert_param_grads_close(ours, theirs, tol)


def test_multihead_attention_repr_keys_and_init_match_torch():
    for kwargs in ({}, {"kdim": 3, "vdim": 5, "bias": False}, {"add_bias_kv": True}):
        ours, theirs = nn.MultiheadAttention(8, 2, **kwargs), torch.nn.MultiheadAttention(8, 2, **kwargs)
        assert repr(ours) == repr(theirs)
        assert list(ours.state_dict()) == list(theirs.state_dict())
    layer = nn.MultiheadAttention(8, 2)
    assert not layer.in_proj_bias.detach().numpy().any() and not layer.out_proj.bias.detach().numpy().any()
    bound = np.sqrt(6 / (8 + 24))  # xavier-uniform over the packed (24, 8) weight
    assert 0.8 * bound < np.abs(layer.in_proj_weight.detach().numpy()).max() <= bound


def test_multihead_attention_errors():
    with pytest.raises(ValueError, match="embed_dim must be divisible by num_heads"):
        nn.MultiheadAttention(10, 3)
    layer = nn.MultiheadAttention(8, 2)
    x = trainer.randn(4, 3, 8)
    with pytest.raises(RuntimeError, match="Need attn_mask if specifying the is_causal hint"):
        layer(x, x, x, is_causal=True)
    with pytest.raises(RuntimeError, match=r"expecting key_padding_mask shape of \[3, 4\]"):
        layer(x, x, x, key_padding_mask=trainer.zeros(4, 3, dtype=trainer.bool))
    with pytest.raises(RuntimeError, match="The shape of the 2D attn_mask"):
        layer(x, x, x, attn_mask=trainer.zeros(3, 4, dtype=trainer.bool))
    with pytest.raises(RuntimeError, match="expecting embedding dimension of 8"):
        layer(trainer.randn(4, 3, 6), x, x)


# ----------------------------------------------------------------- TransformerEncoderLayer / TransformerEncoder
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_encoder_layer_matches_torch(activation, norm_first, batch_first, training):
    rng = np.random.default_rng(3)
    kwargs = dict(dim_feedforward=16, dropout=0.0, activation=activation, batch_first=batch_first,
                  norm_first=norm_first)
    ours, theirs = same_module(nn.TransformerEncoderLayer(8, 2, **kwargs),
                               torch.nn.TransformerEncoderLayer(8, 2, **kwargs), "float64")
    ours.train(training)
    theirs.train(training)
    x, tx = pair(rng, (3, 5, 8))
    batch, seq = (3, 5) if batch_first else (5, 3)
    kpm = rng.random((batch, seq)) > 0.7
    kpm[:, 0] = False
    kpm_ours, kpm_theirs = mask_pair(kpm)
    out, tout = ours(x, src_key_padding_mask=kpm_ours), theirs(tx, src_key_padding_mask=kpm_theirs)
    assert_close(out, tout, 1e-8)
    backward_both(out, tout, rng)
    assert_close(x.grad, tx.grad, 1e-8)
    assert_param_grads_close(ours, theirs, 1e-8)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_encoder_with_final_norm_and_masks_matches_torch(batch_first, dtype):
    rng = np.random.default_rng(4)
    tol = TOLS[dtype]
    layer_kwargs = dict(dim_feedforward=16, dropout=0.0, batch_first=batch_first, activation="gelu")
    ours, theirs = same_module(
        nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, **layer_kwargs), 2, norm=nn.LayerNorm(8)),
        torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(8, 2, **layer_kwargs), 2,
                                    norm=torch.nn.LayerNorm(8), enable_nested_tensor=False), dtype)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    batch, seq = 3, 5
    x, tx = pair(rng, (batch, seq, 8) if batch_first else (seq, batch, 8), dtype)
    kpm = rng.random((batch, seq)) > 0.7
    kpm[:, 0] = False
    kpm_ours, kpm_theirs = mask_pair(kpm)
    causal, tcausal = mask_pair(np.triu(np.ones((seq, seq), bool), 1))
    for train in (True, False):
        ours.train(train)
        theirs.train(train)
        out = ours(x, mask=causal, src_key_padding_mask=kpm_ours)
        tout = theirs(tx, mask=tcausal, src_key_padding_mask=kpm_theirs)
        assert_close(out, tout, tol)
    backward_both(out, tout, rng)
    assert_close(x.grad, tx.grad, tol)
    assert_param_grads_close(ours, theirs, tol)


def test_encoder_layers_are_independent_copies():
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16)
    encoder = nn.TransformerEncoder(layer, 2)
    first, second = encoder.layers
    assert first is not layer and first.linear1.weight is not second.linear1.weight
    np.testing.assert_array_equal(first.linear1.weight.detach().numpy(), second.linear1.weight.detach().numpy())
    assert len(list(encoder.parameters())) == 2 * len(list(layer.parameters()))


def test_encoder_reprs_and_activations_match_torch():
    for kwargs in ({}, {"activation": "gelu", "norm_first": True, "bias": False}):
        ours = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, **kwargs)
        theirs = torch.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, **kwargs)
        assert repr(ours) == repr(theirs)
        assert list(ours.state_dict()) == list(theirs.state_dict())
    ours = nn.TransformerEncoderLayer(8, 2, 16, activation=nn.GELU())
    theirs = torch.nn.TransformerEncoderLayer(8, 2, 16, activation=torch.nn.GELU())
    assert repr(ours) == repr(theirs)
    ours = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16), 2, norm=nn.LayerNorm(8))
    theirs = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(8, 2, 16), 2, norm=torch.nn.LayerNorm(8),
                                         enable_nested_tensor=False)
    assert repr(ours) == repr(theirs)
    with pytest.raises(RuntimeError, match="activation should be relu/gelu, not tanh"):
        nn.TransformerEncoderLayer(8, 2, activation="tanh")


def test_encoder_layer_with_callable_activation_matches_torch():
    rng = np.random.default_rng(5)
    kwargs = dict(dim_feedforward=16, dropout=0.0)
    ours, theirs = same_module(nn.TransformerEncoderLayer(8, 2, activation=trainer.tanh, **kwargs),
                               torch.nn.TransformerEncoderLayer(8, 2, activation=torch.tanh, **kwargs), "float64")
    x, tx = pair(rng, (4, 2, 8))
    out, tout = ours(x), theirs(tx)
    assert_close(out, tout, 1e-8)
    backward_both(out, tout, rng)
    assert_close(x.grad, tx.grad, 1e-8)
