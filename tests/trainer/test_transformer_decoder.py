"""TransformerDecoderLayer, TransformerDecoder and the full Transformer against PyTorch with the same weights:
outputs and the gradients of the target, the memory and every parameter, with masks."""

import numpy as np
import pytest
import torch

import trainer
import trainer.nn as nn
from tests.trainer.test_transformer import (
    TOLS,
    assert_close,
    assert_param_grads_close,
    backward_both,
    mask_pair,
    pair,
    same_module,
)


def _padding_mask(rng, batch, seq):
    mask = rng.random((batch, seq)) > 0.7
    mask[:, 0] = False  # every row keeps a key, so no softmax runs over nothing
    return mask_pair(mask)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_decoder_layer_matches_torch(activation, norm_first, batch_first):
    rng = np.random.default_rng(7)
    kwargs = dict(dim_feedforward=16, dropout=0.0, activation=activation, batch_first=batch_first,
                  norm_first=norm_first)
    ours, theirs = same_module(nn.TransformerDecoderLayer(8, 2, **kwargs),
                               torch.nn.TransformerDecoderLayer(8, 2, **kwargs), "float64")
    batch, target_len, source_len = 3, 4, 6
    tgt, ttgt = pair(rng, (batch, target_len, 8) if batch_first else (target_len, batch, 8))
    memory, tmemory = pair(rng, (batch, source_len, 8) if batch_first else (source_len, batch, 8))
    causal, tcausal = mask_pair(np.triu(np.ones((target_len, target_len), bool), 1))
    tgt_kpm, ttgt_kpm = _padding_mask(rng, batch, target_len)
    mem_kpm, tmem_kpm = _padding_mask(rng, batch, source_len)
    out = ours(tgt, memory, tgt_mask=causal, tgt_key_padding_mask=tgt_kpm, memory_key_padding_mask=mem_kpm)
    tout = theirs(ttgt, tmemory, tgt_mask=tcausal, tgt_key_padding_mask=ttgt_kpm, memory_key_padding_mask=tmem_kpm)
    assert_close(out, tout, 1e-8)
    backward_both(out, tout, rng)
    assert_close(tgt.grad, ttgt.grad, 1e-8)
    assert_close(memory.grad, tmemory.grad, 1e-8)
    assert_param_grads_close(ours, theirs, 1e-8)


def test_decoder_with_final_norm_memory_mask_and_causal_hint_matches_torch():
    rng = np.random.default_rng(8)
    layer_kwargs = dict(dim_feedforward=16, dropout=0.0)
    ours, theirs = same_module(
        nn.TransformerDecoder(nn.TransformerDecoderLayer(8, 2, **layer_kwargs), 2, norm=nn.LayerNorm(8)),
        torch.nn.TransformerDecoder(torch.nn.TransformerDecoderLayer(8, 2, **layer_kwargs), 2,
                                    norm=torch.nn.LayerNorm(8)), "float64")
    assert list(ours.state_dict()) == list(theirs.state_dict())
    tgt, ttgt = pair(rng, (5, 2, 8))
    memory, tmemory = pair(rng, (7, 2, 8))
    causal = nn.Transformer.generate_square_subsequent_mask(5, dtype=trainer.float64)
    tcausal = torch.nn.Transformer.generate_square_subsequent_mask(5, dtype=torch.float64)
    memory_mask, tmemory_mask = mask_pair(rng.standard_normal((5, 7)))  # an additive float mask
    out = ours(tgt, memory, tgt_mask=causal, memory_mask=memory_mask, tgt_is_causal=True)
    tout = theirs(ttgt, tmemory, tgt_mask=tcausal, memory_mask=tmemory_mask, tgt_is_causal=True)
    assert_close(out, tout, 1e-8)
    backward_both(out, tout, rng)
    assert_close(tgt.grad, ttgt.grad, 1e-8)
    assert_close(memory.grad, tmemory.grad, 1e-8)
    assert_param_grads_close(ours, theirs, 1e-8)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_transformer_matches_torch_in_train_and_eval_mode(batch_first, dtype):
    rng = np.random.default_rng(9)
    tol = TOLS[dtype]
    kwargs = dict(d_model=8, nhead=2, num_encoder_layers=2, num_decoder_layers=2, dim_feedforward=16, dropout=0.0,
                  batch_first=batch_first, activation="gelu")
    ours, theirs = same_module(nn.Transformer(**kwargs), torch.nn.Transformer(**kwargs), dtype)
    batch, source_len, target_len = 3, 6, 4
    src, tsrc = pair(rng, (batch, source_len, 8) if batch_first else (source_len, batch, 8), dtype)
    tgt, ttgt = pair(rng, (batch, target_len, 8) if batch_first else (target_len, batch, 8), dtype)
    causal = nn.Transformer.generate_square_subsequent_mask(target_len, dtype=getattr(trainer, dtype))
    tcausal = torch.nn.Transformer.generate_square_subsequent_mask(target_len, dtype=getattr(torch, dtype))
    src_kpm, tsrc_kpm = _padding_mask(rng, batch, source_len)
    for train in (True, False):
        ours.train(train)
        theirs.train(train)
        out = ours(src, tgt, tgt_mask=causal, src_key_padding_mask=src_kpm, memory_key_padding_mask=src_kpm)
        tout = theirs(tsrc, ttgt, tgt_mask=tcausal, src_key_padding_mask=tsrc_kpm, memory_key_padding_mask=tsrc_kpm)
        assert_close(out, tout, tol)
    backward_both(out, tout, rng)
    assert_close(src.grad, tsrc.grad, tol)
    assert_close(tgt.grad, ttgt.grad, tol)
    assert_param_grads_close(ours, theirs, tol)


def test_transformer_layout_init_and_masks_match_torch():
    ours = nn.Transformer(16, 2, 2, 1, 32, norm_first=True)
    theirs = torch.nn.Transformer(16, 2, 2, 1, 32, norm_first=True)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for name, p in ours.named_parameters():
        if p.dim() > 1:  # Xavier-uniform: within sqrt(6 / (fan_in + fan_out)), and spread out to near it
            fan_out, fan_in = p.shape[0], int(np.prod(p.shape[1:]))
            bound = (6 / (fan_in + fan_out)) ** 0.5
            values = np.abs(p.detach().numpy())
            assert values.max() <= bound and values.max() > 0.9 * bound, name
    np.testing.assert_array_equal(nn.Transformer.generate_square_subsequent_mask(4).numpy(),
                                  torch.nn.Transformer.generate_square_subsequent_mask(4).numpy())
    decoder_layer = nn.TransformerDecoderLayer(8, 2, 16, activation=nn.GELU(), bias=False)
    assert repr(decoder_layer) == repr(torch.nn.TransformerDecoderLayer(8, 2, 16, activation=torch.nn.GELU(),
                                                                        bias=False))


def test_custom_encoder_and_decoder_are_used_as_given():
    encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16), 1)
    decoder = nn.TransformerDecoder(nn.TransformerDecoderLayer(8, 2, 16), 1)
    model = nn.Transformer(8, 2, custom_encoder=encoder, custom_decoder=decoder)
    assert model.encoder is encoder and model.decoder is decoder
    assert model(trainer.randn(5, 2, 8), trainer.randn(3, 2, 8)).shape == (3, 2, 8)


def test_transformer_refuses_mismatched_inputs_as_torch_does():
    model = nn.Transformer(8, 2, 1, 1, 16)
    with pytest.raises(RuntimeError, match="the batch number of src and tgt must be equal"):
        model(trainer.randn(5, 2, 8), trainer.randn(3, 4, 8))
    with pytest.raises(RuntimeError, match="the feature number of src and tgt must be equal to d_model"):
        model(trainer.randn(5, 2, 8), trainer.randn(3, 2, 6))
    with pytest.raises(RuntimeError, match="activation should be relu/gelu, not tanh"):
        nn.TransformerDecoderLayer(8, 2, activation="tanh")
