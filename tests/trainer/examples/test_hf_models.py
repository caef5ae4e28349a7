"""Hugging Face transformers-style model code (modeling_bert.py, modeling_gpt2.py, modeling_t5.py, shortened into
programs/hf_*.py) run with ``import trainer as torch`` and with torch itself (the loader is program_port.py).

Each model is built in both libraries at a tiny size and trainer's copy gets torch's state_dict; the two must agree on
eval logits and loss (every attention implementation the file has), one training step's gradients and AdamW update
and the losses of three AdamW steps, and greedy generation through the models' own tuple ``past_key_values`` caches.
BERT (sequence classification, with an attention mask input) and GPT-2 (no cache) also make the deploy trip:
``exporter.export`` with dynamic batch and sequence axes, then ONNX Runtime and serving at two other (batch, sequence)
sizes must give trainer's logits.
"""

import numpy as np
import onnx
import pytest
import torch

import trainer
from exporter import export
from exporter.verify import run_exported
from tests.trainer.examples.program_port import as_numpy, assert_close, copy_weights, pair
from tests.trainer.examples.test_model_zoo import assert_tensor_close
from tests.trainer.examples.test_transformer_era import check_training_step

NO_DROPOUT = 0.0


def from_numpy(lib, array):
    return lib.from_numpy(np.ascontiguousarray(array))


CONFIG_CLASSES = {"hf_bert": "BertConfig", "hf_gpt2": "GPT2Config", "hf_t5": "T5Config"}


def build(name, model_class, **config):
    """The program's ``model_class`` built from its config dataclass in both libraries, torch's weights in both."""
    pt, tr = pair(name)
    model_pt = getattr(pt, model_class)(getattr(pt, CONFIG_CLASSES[name])(**config))
    model_tr = getattr(tr, model_class)(getattr(tr, CONFIG_CLASSES[name])(**config))
    copy_weights(model_pt, model_tr)
    return model_pt, model_tr


def check_fine_tuning(name, model_class, loss_of, **config):
    """One step's loss, every parameter's gradient and AdamW update (test_transformer_era's check), then the losses of
    three AdamW steps from the same start."""
    model_pt, model_tr = build(name, model_class, **config)
    check_training_step(model_pt, model_tr, lambda lib, model: loss_of(lib, model, 0))
    model_pt, model_tr = build(name, model_class, **config)
    assert_close(adamw_losses(trainer, model_tr, loss_of), adamw_losses(torch, model_pt, loss_of))


def adamw_losses(lib, model, loss_of, steps=3):
    """A fine-tuning loop: ``steps`` AdamW updates; returns each step's loss."""
    model.train()
    optimizer = lib.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    losses = []
    for step in range(steps):
        optimizer.zero_grad()
        loss = loss_of(lib, model, step)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def padded_batch(rng, vocab, batch, length, padding):
    """Token ids and an attention mask whose last row has ``padding`` masked positions at its end (left-padded with a
    negative ``padding``)."""
    ids = rng.integers(2, vocab, (batch, length))
    mask = np.ones((batch, length), dtype=np.int64)
    if padding > 0:
        mask[-1, length - padding:] = 0
    elif padding < 0:
        mask[-1, :-padding] = 0
    return ids, mask


# --- BERT -------------------------------------------------------------------------------------------------------

BERT = dict(vocab_size=50, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
            max_position_embeddings=24, num_labels=3)


def test_bert_eager_and_sdpa_attention_with_padding_mask():
    ids, mask = padded_batch(np.random.default_rng(0), 50, 2, 9, 3)
    token_types = (np.arange(9) >= 5).astype(np.int64)[None].repeat(2, 0)
    model_pt, _ = build("hf_bert", "BertForSequenceClassification", attn_implementation="eager", **BERT)
    model_pt.eval()
    with torch.no_grad():
        logits_pt = model_pt(from_numpy(torch, ids), from_numpy(torch, mask), from_numpy(torch, token_types))
    assert "bert.embeddings.position_ids" not in model_pt.state_dict()  # a buffer registered persistent=False
    for implementation in ("eager", "sdpa"):
        _, model_tr = build("hf_bert", "BertForSequenceClassification", attn_implementation=implementation, **BERT)
        assert list(model_tr.state_dict()) == list(model_pt.state_dict())
        copy_weights(model_pt, model_tr)
        model_tr.eval()
        with trainer.no_grad():
            logits_tr = model_tr(from_numpy(trainer, ids), from_numpy(trainer, mask),
                                 from_numpy(trainer, token_types))
        assert_tensor_close(logits_tr, logits_pt, f"{implementation} logits")
        with trainer.no_grad():  # padding really is masked: other tokens under the mask leave the logits unchanged
            other_ids = ids.copy()
            other_ids[-1, -3:] = 7
            masked_tr = model_tr(from_numpy(trainer, other_ids), from_numpy(trainer, mask),
                                 from_numpy(trainer, token_types))
        assert_tensor_close(masked_tr, logits_pt, f"{implementation} logits with other padded tokens")


def test_bert_masked_lm_tied_decoder_and_ignore_index():
    model_pt, model_tr = build("hf_bert", "BertForMaskedLM", **BERT)
    assert model_tr.cls.predictions.decoder.weight is model_tr.bert.embeddings.word_embeddings.weight
    assert model_tr.cls.predictions.decoder.bias is model_tr.cls.predictions.bias
    assert len(list(model_tr.parameters())) == len(list(model_pt.parameters()))  # a tied matrix is listed once
    rng = np.random.default_rng(1)
    ids, mask = padded_batch(rng, 50, 2, 8, 2)
    ids[-1, -2:] = 0  # the padding token: Embedding(padding_idx=0) gives its row no gradient
    labels = np.full_like(ids, -100)
    labels[:, [1, 4]] = ids[:, [1, 4]]
    model_pt.eval()
    model_tr.eval()
    loss_pt, scores_pt = model_pt(from_numpy(torch, ids), from_numpy(torch, mask), labels=from_numpy(torch, labels))
    loss_tr, scores_tr = model_tr(from_numpy(trainer, ids), from_numpy(trainer, mask),
                                  labels=from_numpy(trainer, labels))
    assert_tensor_close(scores_tr, scores_pt, "prediction scores")
    assert_tensor_close(loss_tr, loss_pt, "masked-LM loss over the 4 labelled positions")
    loss_pt.backward()
    loss_tr.backward()
    embedding_pt = model_pt.bert.embeddings.word_embeddings.weight
    embedding_tr = model_tr.bert.embeddings.word_embeddings.weight
    assert_tensor_close(embedding_tr.grad, embedding_pt.grad, "tied embedding gradient (input + decoder)")


def test_bert_sequence_classification_fine_tuning():
    rng = np.random.default_rng(2)
    batches = [padded_batch(rng, 50, 4, 7, 2) for _ in range(3)]
    labels = rng.integers(0, 3, (3, 4))

    def loss_of(lib, model, step):
        ids, mask = batches[step]
        return model(from_numpy(lib, ids), from_numpy(lib, mask), labels=from_numpy(lib, labels[step]))[0]

    check_fine_tuning("hf_bert", "BertForSequenceClassification", loss_of, hidden_dropout_prob=NO_DROPOUT,
                      attention_probs_dropout_prob=NO_DROPOUT, attn_implementation="sdpa", **BERT)


# --- GPT-2 ------------------------------------------------------------------------------------------------------

GPT2 = dict(vocab_size=50, n_positions=24, n_embd=32, n_layer=2, n_head=4)


@pytest.mark.parametrize("attention", [dict(attn_implementation="eager"),
                                       dict(attn_implementation="eager", reorder_and_upcast_attn=True,
                                            scale_attn_by_inverse_layer_idx=True),
                                       dict(attn_implementation="sdpa")], ids=["eager", "baddbmm", "sdpa"])
def test_gpt2_logits_and_loss(attention):
    model_pt, model_tr = build("hf_gpt2", "GPT2LMHeadModel", **attention, **GPT2)
    assert model_tr.lm_head.weight is model_tr.transformer.wte.weight
    assert "transformer.h.0.attn.bias" not in model_tr.state_dict()  # the causal mask buffer is not persistent
    ids, mask = padded_batch(np.random.default_rng(3), 50, 2, 8, -2)
    model_pt.eval()
    model_tr.eval()
    loss_pt, logits_pt, presents_pt = model_pt(from_numpy(torch, ids), attention_mask=from_numpy(torch, mask),
                                               labels=from_numpy(torch, ids))
    loss_tr, logits_tr, presents_tr = model_tr(from_numpy(trainer, ids), attention_mask=from_numpy(trainer, mask),
                                               labels=from_numpy(trainer, ids))
    assert_tensor_close(logits_tr, logits_pt, "logits")
    assert_tensor_close(loss_tr, loss_pt, "shifted LM loss")
    assert len(presents_tr) == 2 and presents_tr[0][0].shape == (2, 4, 8, 8)
    assert_tensor_close(presents_tr[1][1], presents_pt[1][1], "cached values of layer 1")


def gpt2_greedy(lib, model, prompt, mask, new_tokens):
    """GenerationMixin's greedy search as GPT2LMHeadModel.prepare_inputs_for_generation feeds it: the prompt (left
    padded) fills the cache, then each step runs only the newest token, with position ids from the mask's cumsum."""
    input_ids, attention_mask = from_numpy(lib, prompt), from_numpy(lib, mask)
    past_key_values = None
    with lib.no_grad():
        for _ in range(new_tokens):
            position_ids = attention_mask.long().cumsum(-1) - 1
            position_ids.masked_fill_(attention_mask == 0, 1)
            step_ids = input_ids
            if past_key_values:
                step_ids = input_ids[:, -1].unsqueeze(-1)
                position_ids = position_ids[:, -1].unsqueeze(-1)
            logits, past_key_values = model(step_ids, past_key_values=past_key_values, attention_mask=attention_mask,
                                            position_ids=position_ids, use_cache=True)
            next_tokens = lib.argmax(logits[:, -1, :], dim=-1)
            input_ids = lib.cat([input_ids, next_tokens[:, None]], dim=-1)
            attention_mask = lib.cat([attention_mask, attention_mask.new_ones((attention_mask.shape[0], 1))], dim=-1)
    return as_numpy(input_ids), past_key_values


@pytest.mark.parametrize("implementation", ["eager", "sdpa"])
def test_gpt2_greedy_generation_with_kv_cache(implementation):
    model_pt, model_tr = build("hf_gpt2", "GPT2LMHeadModel", attn_implementation=implementation, **GPT2)
    model_pt.eval()
    model_tr.eval()
    prompt, mask = padded_batch(np.random.default_rng(4), 50, 2, 5, -2)
    tokens_pt, _ = gpt2_greedy(torch, model_pt, prompt, mask, 6)
    tokens_tr, cache_tr = gpt2_greedy(trainer, model_tr, prompt, mask, 6)
    np.testing.assert_array_equal(tokens_tr, tokens_pt)
    assert cache_tr[0][0].shape == (2, 4, 10, 8)  # the last token is generated, not yet cached


def test_gpt2_fine_tuning():
    rng = np.random.default_rng(5)
    batches = [rng.integers(0, 50, (2, 9)) for _ in range(3)]

    def loss_of(lib, model, step):
        labels = batches[step].copy()
        labels[0, :3] = -100  # a prompt that is not trained on
        return model(from_numpy(lib, batches[step]), labels=from_numpy(lib, labels))[0]

    check_fine_tuning("hf_gpt2", "GPT2LMHeadModel", loss_of, resid_pdrop=NO_DROPOUT, embd_pdrop=NO_DROPOUT,
                      attn_pdrop=NO_DROPOUT, **GPT2)


# --- T5 ---------------------------------------------------------------------------------------------------------

# 8 buckets over distances up to 16: sequences of 11 reach T5's logarithmic buckets
T5 = dict(vocab_size=40, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4, relative_attention_num_buckets=8,
          relative_attention_max_distance=16)


def t5_batch(seed):
    rng = np.random.default_rng(seed)
    ids, mask = padded_batch(rng, 40, 2, 11, 3)
    labels = rng.integers(2, 40, (2, 7))
    labels[-1, 5:] = -100
    return ids, mask, labels


@pytest.mark.parametrize("feed_forward_proj", ["relu", "gated-gelu"])
def test_t5_logits_and_loss(feed_forward_proj):
    model_pt, model_tr = build("hf_t5", "T5ForConditionalGeneration", feed_forward_proj=feed_forward_proj, **T5)
    assert model_tr.lm_head.weight is model_tr.shared.weight is model_tr.decoder.embed_tokens.weight
    ids, mask, labels = t5_batch(6)
    model_pt.eval()
    model_tr.eval()
    loss_pt, logits_pt, *_ = model_pt(from_numpy(torch, ids), from_numpy(torch, mask), labels=from_numpy(torch, labels))
    loss_tr, logits_tr, *_ = model_tr(from_numpy(trainer, ids), from_numpy(trainer, mask),
                                      labels=from_numpy(trainer, labels))
    assert_tensor_close(logits_tr, logits_pt, "logits")
    assert_tensor_close(loss_tr, loss_pt, "loss (ignore_index=-100)")
    buckets = model_tr.encoder.block[0].layer[0].SelfAttention._relative_position_bucket(
        trainer.arange(-12, 13), bidirectional=True, num_buckets=8, max_distance=16)
    expected = model_pt.encoder.block[0].layer[0].SelfAttention._relative_position_bucket(
        torch.arange(-12, 13), bidirectional=True, num_buckets=8, max_distance=16)
    assert as_numpy(buckets).tolist() == as_numpy(expected).tolist()


def t5_greedy(lib, model, ids, mask, new_tokens):
    """GenerationMixin's greedy search for an encoder-decoder: encode once, then one decoder token a step with the
    self- and cross-attention keys and values cached in ``past_key_values``."""
    with lib.no_grad():
        attention_mask = from_numpy(lib, mask)
        encoder_outputs = model.encoder(input_ids=from_numpy(lib, ids), attention_mask=attention_mask)
        decoder_input_ids = lib.full((ids.shape[0], 1), model.config.decoder_start_token_id, dtype=lib.long)
        past_key_values = None
        for _ in range(new_tokens):
            step_ids = decoder_input_ids if past_key_values is None else decoder_input_ids[:, -1:]
            logits, past_key_values, *_ = model(attention_mask=attention_mask, decoder_input_ids=step_ids,
                                                encoder_outputs=encoder_outputs, past_key_values=past_key_values,
                                                use_cache=True)
            next_tokens = logits[:, -1, :].argmax(-1)
            decoder_input_ids = lib.cat([decoder_input_ids, next_tokens[:, None]], dim=-1)
    return as_numpy(decoder_input_ids), past_key_values


def test_t5_greedy_decoding_with_kv_cache():
    model_pt, model_tr = build("hf_t5", "T5ForConditionalGeneration", feed_forward_proj="gated-gelu", **T5)
    model_pt.eval()
    model_tr.eval()
    ids, mask, _ = t5_batch(7)
    tokens_pt, _ = t5_greedy(torch, model_pt, ids, mask, 6)
    tokens_tr, cache_tr = t5_greedy(trainer, model_tr, ids, mask, 6)
    np.testing.assert_array_equal(tokens_tr, tokens_pt)
    assert [tuple(t.shape) for t in cache_tr[0]] == [(2, 4, 6, 8)] * 2 + [(2, 4, 11, 8)] * 2


def test_t5_fine_tuning():
    batches = [t5_batch(8 + step) for step in range(3)]

    def loss_of(lib, model, step):
        ids, mask, labels = batches[step]
        return model(from_numpy(lib, ids), from_numpy(lib, mask), labels=from_numpy(lib, labels))[0]

    check_fine_tuning("hf_t5", "T5ForConditionalGeneration", loss_of, dropout_rate=NO_DROPOUT,
                      feed_forward_proj="gated-gelu", **T5)


# --- the deploy path ----------------------------------------------------------------------------------------------

RUNTIMES = ("onnxruntime", "serving")
EXPORT_ATOL = 1e-4


@pytest.mark.parametrize("implementation", ["eager", "sdpa"])
def test_bert_sequence_classification_exports_with_dynamic_batch_and_sequence(tmp_path, implementation):
    _, model_tr = build("hf_bert", "BertForSequenceClassification", attn_implementation=implementation, **BERT)
    model_tr.eval()
    ids, mask = padded_batch(np.random.default_rng(9), 50, 2, 7, 2)
    path = tmp_path / "bert.onnx"
    axes = {0: "batch", 1: "sequence"}
    proto = export(model_tr, (from_numpy(trainer, ids), from_numpy(trainer, mask)), path,
                   input_names=["input_ids", "attention_mask"], output_names=["logits"],
                   dynamic_axes={"input_ids": axes, "attention_mask": axes, "logits": {0: "batch"}})
    onnx.checker.check_model(proto, full_check=True)
    assert [i.name for i in proto.graph.input] == ["input_ids", "attention_mask"]

    for batch, length in ((3, 5), (1, 12)):
        ids, mask = padded_batch(np.random.default_rng(length), 50, batch, length, 2)
        with trainer.no_grad():
            expected = as_numpy(model_tr(from_numpy(trainer, ids), from_numpy(trainer, mask)))
        for runtime in RUNTIMES:
            (logits,) = run_exported(runtime, path, {"input_ids": ids, "attention_mask": mask})
            assert logits.shape == (batch, 3)
            np.testing.assert_allclose(logits, expected, rtol=0, atol=EXPORT_ATOL,
                                       err_msg=f"{runtime} {batch}x{length}")


@pytest.mark.parametrize("implementation", ["eager", "sdpa"])
def test_gpt2_exports_without_cache(tmp_path, implementation):
    _, model_tr = build("hf_gpt2", "GPT2LMHeadModel", attn_implementation=implementation, use_cache=False, **GPT2)
    model_tr.eval()
    ids, mask = padded_batch(np.random.default_rng(10), 50, 2, 7, -2)
    path = tmp_path / "gpt2.onnx"
    axes = {0: "batch", 1: "sequence"}
    proto = export(model_tr, (from_numpy(trainer, ids), {"attention_mask": from_numpy(trainer, mask)}), path,
                   input_names=["input_ids", "attention_mask"], output_names=["logits"],
                   dynamic_axes={"input_ids": axes, "attention_mask": axes, "logits": axes})
    onnx.checker.check_model(proto, full_check=True)
    assert [o.name for o in proto.graph.output] == ["logits"]  # use_cache=False: no presents
    for batch, length in ((3, 5), (1, 12)):
        ids, mask = padded_batch(np.random.default_rng(length), 50, batch, length, -2)
        with trainer.no_grad():
            (expected,) = model_tr(from_numpy(trainer, ids), attention_mask=from_numpy(trainer, mask))
        for runtime in RUNTIMES:
            (logits,) = run_exported(runtime, path, {"input_ids": ids, "attention_mask": mask})
            assert logits.shape == (batch, length, 50)
            np.testing.assert_allclose(logits, as_numpy(expected), rtol=0, atol=EXPORT_ATOL,
                                       err_msg=f"{runtime} {batch}x{length}")
