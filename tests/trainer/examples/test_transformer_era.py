"""Transformer-era model code people copy (Meta's LLaMA, OpenAI's Whisper, mamba-minimal, DiT with timm's layers)
run with ``import trainer as torch`` and with torch itself (the loader is program_port.py).

Each model is built in both libraries at a tiny size, trainer's copy gets torch's state_dict, and the two must agree
on: float32 eval outputs, one training step's loss, every parameter's gradient, every parameter after one AdamW step,
and, for the decoders, the tokens of a greedy generation that runs through the model's own kv cache.
"""

import numpy as np
import torch

import trainer
from tests.trainer.examples.program_port import as_numpy, copy_weights, pair
from tests.trainer.examples.test_model_zoo import assert_tensor_close


def from_numpy(lib, array):
    return lib.from_numpy(np.ascontiguousarray(array))


def check_training_step(model_pt, model_tr, loss_of, rtol=1e-4, atol=1e-4):
    """One step: ``loss_of(lib, model)`` in both libraries, then gradients and AdamW's update of every parameter.

    AdamW's first update is lr * g / (|g| + eps): a gradient entry near 0 turns float32 rounding (1e-7 of the layer's
    largest gradient) into a sign flip of a whole lr-sized step. So, once the gradients are found equal, trainer's
    optimizer steps from torch's exact gradients: the step then checks AdamW itself, not rounding noise."""
    adamw_pt = torch.optim.AdamW(model_pt.parameters(), lr=1e-2, weight_decay=0.1)
    adamw_tr = trainer.optim.AdamW(model_tr.parameters(), lr=1e-2, weight_decay=0.1)
    loss_pt = loss_of(torch, model_pt)
    loss_tr = loss_of(trainer, model_tr)
    assert_tensor_close(loss_tr, loss_pt, "loss", rtol, atol)
    loss_pt.backward()
    loss_tr.backward()
    grads_tr = dict(model_tr.named_parameters())
    for key, p in model_pt.named_parameters():
        if not p.requires_grad:  # DiT's frozen sin-cos pos_embed
            assert grads_tr[key].grad is None, f"{key}: a gradient for a frozen parameter"
            continue
        assert grads_tr[key].grad is not None, f"{key}: no gradient"
        assert_tensor_close(grads_tr[key].grad, p.grad, f"gradient of {key}", rtol, atol)
        grads_tr[key].grad = trainer.tensor(as_numpy(p.grad))
    adamw_pt.step()
    adamw_tr.step()
    for key, p in model_pt.named_parameters():
        assert_tensor_close(grads_tr[key], p, f"{key} after one AdamW step", rtol, atol)


# --- meta-llama/llama -------------------------------------------------------------------------------------------

LLAMA = dict(dim=32, n_layers=2, n_heads=4, n_kv_heads=2, vocab_size=48, multiple_of=16, max_batch_size=2,
             max_seq_len=16)


def build_llama():
    pt, tr = pair("llama")
    model_pt = pt.Transformer(pt.ModelArgs(**LLAMA))
    model_tr = tr.Transformer(tr.ModelArgs(**LLAMA))
    copy_weights(model_pt, model_tr)
    return model_pt, model_tr


def llama_greedy(lib, model, prompt, max_gen_len):
    """llama/generation.py's decoding loop at temperature 0: the prompt fills the kv cache, then one token a step."""
    bsz, prompt_len = prompt.shape
    tokens = lib.zeros((bsz, prompt_len + max_gen_len), dtype=lib.long)
    tokens[:, :prompt_len] = from_numpy(lib, prompt)
    prev_pos = 0
    for cur_pos in range(prompt_len, prompt_len + max_gen_len):
        logits = model.forward(tokens[:, prev_pos:cur_pos], prev_pos)
        next_token = lib.argmax(logits[:, -1], dim=-1)
        tokens[:, cur_pos] = next_token
        prev_pos = cur_pos
    return as_numpy(tokens)


def test_llama_eval_and_greedy_generation_with_kv_cache():
    model_pt, model_tr = build_llama()
    tokens = np.random.default_rng(0).integers(0, LLAMA["vocab_size"], (2, 6))
    assert_tensor_close(model_tr(from_numpy(trainer, tokens), 0), model_pt(from_numpy(torch, tokens), 0), "logits")
    generated_pt = llama_greedy(torch, model_pt, tokens, 6)
    generated_tr = llama_greedy(trainer, model_tr, tokens, 6)
    np.testing.assert_array_equal(generated_tr, generated_pt)


def test_llama_training_step():
    model_pt, model_tr = build_llama()
    tokens = np.random.default_rng(1).integers(0, LLAMA["vocab_size"], (2, 9))

    def loss_of(lib, model):
        # Transformer.forward is @torch.inference_mode(); fine-tuning code calls the undecorated function
        logits = type(model).forward.__wrapped__(model, from_numpy(lib, tokens[:, :-1]), 0)
        return lib.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                               from_numpy(lib, tokens[:, 1:]).reshape(-1))

    check_training_step(model_pt, model_tr, loss_of)


# --- openai/whisper ---------------------------------------------------------------------------------------------

# n_audio_ctx > n_text_ctx: install_kv_cache_hooks tells cross-attention keys from self-attention ones by length
WHISPER = dict(n_mels=8, n_audio_ctx=12, n_audio_state=32, n_audio_head=4, n_audio_layer=2, n_vocab=40,
               n_text_ctx=10, n_text_state=32, n_text_head=4, n_text_layer=2)


def build_whisper():
    pt, tr = pair("whisper")
    model_pt = pt.Whisper(pt.ModelDimensions(**WHISPER))
    model_tr = tr.Whisper(tr.ModelDimensions(**WHISPER))
    torch.nn.init.normal_(model_pt.decoder.positional_embedding, std=0.1)  # torch.empty until a checkpoint loads
    copy_weights(model_pt, model_tr)
    return (pt, model_pt), (tr, model_tr)


def whisper_greedy(lib, model, mel, prompt, sample_len):
    """whisper/decoding.py's GreedyDecoder through PyTorchInference: audio encoded once, the kv cache hooks keep
    every projected key and value, and after the prompt only the newest token goes through the decoder."""
    with lib.no_grad():
        audio_features = model.embed_audio(from_numpy(lib, mel))
        kv_cache, hooks = model.install_kv_cache_hooks()
        tokens = from_numpy(lib, prompt)
        for _ in range(sample_len):
            step_tokens = tokens if tokens.shape[-1] == prompt.shape[-1] else tokens[:, -1:]
            logits = model.decoder(step_tokens, audio_features, kv_cache=kv_cache)
            next_tokens = logits[:, -1].argmax(dim=-1)
            tokens = lib.cat([tokens, next_tokens[:, None]], dim=-1)
        for hook in hooks:
            hook.remove()
    return as_numpy(tokens), len(kv_cache)


def whisper_inputs(seed):
    rng = np.random.default_rng(seed)
    mel = rng.standard_normal((2, WHISPER["n_mels"], 2 * WHISPER["n_audio_ctx"])).astype(np.float32)
    return mel, rng.integers(0, WHISPER["n_vocab"], (2, 3))


def test_whisper_eval_sdpa_and_manual_attention_and_greedy_decoding():
    (pt, model_pt), (tr, model_tr) = build_whisper()
    model_pt.eval()
    model_tr.eval()
    mel, prompt = whisper_inputs(0)
    with torch.no_grad():
        logits_pt = model_pt(from_numpy(torch, mel), from_numpy(torch, prompt))
    with trainer.no_grad():
        logits_tr = model_tr(from_numpy(trainer, mel), from_numpy(trainer, prompt))
        with tr.disable_sdpa():
            manual_tr = model_tr(from_numpy(trainer, mel), from_numpy(trainer, prompt))
    assert_tensor_close(logits_tr, logits_pt, "logits (SDPA)")
    assert_tensor_close(manual_tr, logits_pt, "logits (manual attention)")
    generated_pt, cached_pt = whisper_greedy(torch, model_pt, mel, prompt, 5)
    generated_tr, cached_tr = whisper_greedy(trainer, model_tr, mel, prompt, 5)
    assert cached_tr == cached_pt == 4 * WHISPER["n_text_layer"]  # key and value of self and cross attention
    np.testing.assert_array_equal(generated_tr, generated_pt)
    assert as_numpy(model_tr.alignment_heads.to_dense()).tolist() == [[False] * 4, [True] * 4]


def test_whisper_training_step():
    (pt, model_pt), (tr, model_tr) = build_whisper()
    mel, _ = whisper_inputs(1)
    tokens = np.random.default_rng(2).integers(0, WHISPER["n_vocab"], (2, 8))

    def loss_of(lib, model):
        logits = model(from_numpy(lib, mel), from_numpy(lib, tokens[:, :-1]))
        return lib.nn.functional.cross_entropy(logits.transpose(1, 2), from_numpy(lib, tokens[:, 1:]))

    check_training_step(model_pt, model_tr, loss_of)


# --- johnma2006/mamba-minimal -----------------------------------------------------------------------------------

MAMBA = dict(d_model=32, n_layer=2, vocab_size=45, d_state=8)  # vocab padded to 48; dt_rank 'auto' = 2


def build_mamba():
    pt, tr = pair("mamba_minimal")
    model_pt = pt.Mamba(pt.ModelArgs(**MAMBA))
    model_tr = tr.Mamba(tr.ModelArgs(**MAMBA))
    copy_weights(model_pt, model_tr)
    assert model_tr.lm_head.weight is model_tr.embedding.weight
    return model_pt, model_tr


def mamba_greedy(lib, model, prompt, new_tokens):
    """The demo notebook's generate() at top_k=1: mamba-minimal has no recurrent cache, each step reruns the scan."""
    tokens = from_numpy(lib, prompt)
    with lib.no_grad():
        for _ in range(new_tokens):
            next_token = model(tokens)[:, -1].argmax(dim=-1, keepdim=True)
            tokens = lib.cat([tokens, next_token], dim=1)
    return as_numpy(tokens)


def test_mamba_eval_and_greedy_generation():
    model_pt, model_tr = build_mamba()
    tokens = np.random.default_rng(0).integers(0, 48, (2, 7))
    with torch.no_grad():
        logits_pt = model_pt(from_numpy(torch, tokens))
    with trainer.no_grad():
        logits_tr = model_tr(from_numpy(trainer, tokens))
    assert_tensor_close(logits_tr, logits_pt, "logits")
    np.testing.assert_array_equal(mamba_greedy(trainer, model_tr, tokens, 4), mamba_greedy(torch, model_pt, tokens, 4))


def test_mamba_training_step():
    model_pt, model_tr = build_mamba()
    tokens = np.random.default_rng(1).integers(0, 48, (2, 9))

    def loss_of(lib, model):
        logits = model(from_numpy(lib, tokens[:, :-1]))
        return lib.nn.functional.cross_entropy(logits.flatten(0, 1), from_numpy(lib, tokens[:, 1:]).flatten())

    check_training_step(model_pt, model_tr, loss_of)


# --- facebookresearch/DiT with timm's Attention / Mlp / PatchEmbed / DropPath -------------------------------------

DIT = dict(input_size=8, patch_size=2, in_channels=4, hidden_size=32, depth=2, num_heads=4, num_classes=10)


def build_dit():
    pt, tr = pair("dit")
    model_pt = pt.DiT(**DIT)
    model_tr = tr.DiT(**DIT)
    # adaLN-Zero starts every block and the output at zero, which would make most gradients zero: give them values
    for p in model_pt.parameters():
        if p.requires_grad and not p.detach().abs().sum():
            torch.nn.init.normal_(p, std=0.1)
    copy_weights(model_pt, model_tr)
    return (pt, model_pt), (tr, model_tr)


def dit_inputs(lib, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 4, 8, 8)).astype(np.float32)
    t = np.array([3, 750])
    y = np.array([1, 7])
    return from_numpy(lib, x), from_numpy(lib, t), from_numpy(lib, y)


def test_dit_eval_and_classifier_free_guidance():
    (pt, model_pt), (tr, model_tr) = build_dit()
    assert_tensor_close(model_tr.pos_embed, model_pt.pos_embed, "sin-cos pos_embed")
    assert not model_tr.pos_embed.requires_grad
    model_pt.eval()
    model_tr.eval()
    with torch.no_grad():
        out_pt = model_pt(*dit_inputs(torch, 0))
        cfg_pt = model_pt.forward_with_cfg(*dit_inputs(torch, 0)[:2], torch.tensor([1, 10]), 4.0)
    with trainer.no_grad():
        out_tr = model_tr(*dit_inputs(trainer, 0))
        cfg_tr = model_tr.forward_with_cfg(*dit_inputs(trainer, 0)[:2], trainer.tensor([1, 10]), 4.0)
        tr.Attention.use_fused_attn = False  # timm's switch: the manual attention path
        manual_tr = tr.DiT(**DIT)
        manual_tr.load_state_dict(model_tr.state_dict())
        manual_tr.eval()
        assert not manual_tr.blocks[0].attn.fused_attn
        manual_out_tr = manual_tr(*dit_inputs(trainer, 0))
    assert out_tr.shape == (2, 8, 8, 8)
    assert_tensor_close(out_tr, out_pt, "DiT output (SDPA)")
    assert_tensor_close(manual_out_tr, out_pt, "DiT output (timm's manual attention)")
    assert_tensor_close(cfg_tr, cfg_pt, "forward_with_cfg")


def test_dit_training_step():
    (pt, model_pt), (tr, model_tr) = build_dit()
    noise = np.random.default_rng(3).standard_normal((2, 4, 8, 8)).astype(np.float32)
    for model in (model_pt, model_tr):
        model.y_embedder.dropout_prob = 0.0  # label dropout draws from each library's own generator

    def loss_of(lib, model):
        # DiT's diffusion/ package trains on the mean squared error of the predicted noise (the first 4 channels)
        out = model(*dit_inputs(lib, 1))
        return lib.nn.functional.mse_loss(out[:, :4], from_numpy(lib, noise))

    check_training_step(model_pt, model_tr, loss_of)


def test_timm_drop_path():
    _, tr = pair("dit")
    x = trainer.randn(64, 3, 5, requires_grad=True)
    layer = tr.DropPath(0.5)
    assert layer.extra_repr() == "drop_prob=0.500"
    layer.eval()
    assert layer(x) is x
    layer.train()
    out = layer(x)
    kept = (out.detach() != 0).flatten(1).all(1)
    dropped = (out.detach() == 0).flatten(1).all(1)
    assert bool((kept | dropped).all()) and 0 < int(kept.sum()) < 64  # whole samples, some of each
    np.testing.assert_allclose(as_numpy(out[kept]), 2 * as_numpy(x[kept]), rtol=1e-6)
    out.sum().backward()
    np.testing.assert_allclose(as_numpy(x.grad), np.broadcast_to(2.0 * as_numpy(kept)[:, None, None], x.shape))
