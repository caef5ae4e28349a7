"""Attention: Attention (opset 23+), RotaryEmbedding, LinearAttention and the preview FlexAttention.

Grouped-query attention never repeats K/V: query heads are viewed as ``(kv_heads, group)`` and
broadcast against their shared K/V head inside the matmul.
"""

from __future__ import annotations

import math

import numpy as np
from onnx import helper

from serving.kernels.registry import kernel


def _wide(xp, dtype):
    """The dtype arithmetic runs in: float32 for 16-bit floats (float16, bfloat16), else the dtype itself."""
    return xp.float32 if dtype.itemsize < 4 else dtype


def _heads_first(x, num_heads, what):
    """``(B, S, H*D)`` -> ``(B, H, S, D)``."""
    if num_heads is None or x.shape[2] % num_heads:
        raise ValueError(f"{what} of shape {tuple(x.shape)} needs a head count dividing its last axis, got {num_heads}")
    b, s, hidden = x.shape
    return x.reshape(b, s, num_heads, hidden // num_heads).transpose(0, 2, 1, 3)


def _grouped(xp, a, b, kv_heads):
    """``a @ b`` where ``a`` has ``Hq`` heads and ``b`` has ``kv_heads``; query head h uses b's head h // group."""
    batch, hq = a.shape[:2]
    if hq == kv_heads:
        return xp.matmul(a, b)
    if hq % kv_heads:
        raise ValueError(f"the {hq} query heads must be a multiple of the {kv_heads} key/value heads")
    a = a.reshape(batch, kv_heads, hq // kv_heads, *a.shape[2:])
    return xp.matmul(a, b[:, :, None]).reshape(batch, hq, a.shape[-2], b.shape[-1])


def _softmax(xp, scores):
    """Softmax over the last axis; a row that is entirely -inf becomes all zeros instead of NaN."""
    peak = xp.max(scores, axis=-1, keepdims=True)
    peak = xp.where(peak == -np.inf, 0, peak)
    e = xp.exp(scores - peak)
    total = xp.sum(e, axis=-1, keepdims=True)
    e /= xp.where(total == 0, 1, total)
    return e


def _additive(xp, allowed, dtype):
    return xp.where(allowed, dtype.type(0), dtype.type(-np.inf))


def _attention_bias(xp, dtype, sq, skv, batch, attn_mask, offset, is_causal, left, right, nonpad_kv_seqlen):
    """The additive mask (0 or -inf, or the float mask's values) added to the scores, or None for none."""
    bias = None
    if attn_mask is not None:
        bias = _additive(xp, attn_mask, dtype) if attn_mask.dtype == bool else attn_mask.astype(dtype)
        pad = skv - bias.shape[-1]
        if pad > 0:
            bias = xp.pad(bias, [(0, 0)] * (bias.ndim - 1) + [(0, pad)], constant_values=-np.inf)
    if is_causal or left >= 0 or right >= 0:
        # Offset-aligned (bottom-right) frontier: query i sits at absolute position i + offset.
        rows = xp.arange(sq).reshape(sq, 1)
        cols = xp.arange(skv).reshape(1, skv)
        if isinstance(offset, int):
            diff = rows + offset - cols
        else:
            diff = (rows + offset.reshape(-1, 1, 1).astype(xp.int64) - cols).reshape(-1, 1, sq, skv)
        allowed = diff >= 0 if is_causal else xp.ones(diff.shape, dtype=bool)
        if left >= 0:
            allowed &= diff <= left
        if right >= 0:
            allowed &= -diff <= right
        rule = _additive(xp, allowed, dtype)
        bias = rule if bias is None else bias + rule
    if nonpad_kv_seqlen is not None:
        valid = xp.arange(skv) < nonpad_kv_seqlen.reshape(-1, 1)
        rule = _additive(xp, valid, dtype).reshape(batch, 1, 1, skv)
        bias = rule if bias is None else bias + rule
    return bias


@kernel("Attention", since=23)
def Attention(
    ctx,
    q,
    k,
    v,
    attn_mask=None,
    past_key=None,
    past_value=None,
    nonpad_kv_seqlen=None,
    *,
    is_causal=0,
    kv_num_heads=None,
    left_window_size=-1,
    q_num_heads=None,
    qk_matmul_output_mode=0,
    right_window_size=-1,
    scale=None,
    softcap=0.0,
    softmax_precision=None,
):
    xp = ctx.xp
    rank = q.ndim
    if not (rank == k.ndim == v.ndim and rank in (3, 4)):
        raise ValueError(f"Attention expects Q, K, V all of rank 3 or all of rank 4, got {q.ndim}, {k.ndim}, {v.ndim}")
    if (past_key is None) != (past_value is None):
        raise ValueError("Attention needs past_key and past_value together")
    if rank == 3:
        q = _heads_first(q, q_num_heads, "Q")
        k = _heads_first(k, kv_num_heads, "K")
        v = _heads_first(v, kv_num_heads, "V")
    dtype = q.dtype
    wide = np.dtype(_wide(xp, dtype))
    present_key = k if past_key is None else xp.concatenate([past_key, k], axis=2)
    present_value = v if past_value is None else xp.concatenate([past_value, v], axis=2)
    batch, hq, sq, head = q.shape
    kv_heads, skv = present_key.shape[1], present_key.shape[2]

    # sqrt(scale) on both sides, rounded to the input dtype, keeps large logits in range as the spec does.
    root = dtype.type(math.sqrt(1 / math.sqrt(head) if scale is None else scale))
    qs = (q * root).astype(wide, copy=False)
    ks = (present_key * root).astype(wide, copy=False)
    # The logits are rounded to the input dtype, as a matmul in that dtype would leave them.
    scores = _grouped(xp, qs, ks.swapaxes(-1, -2), kv_heads).astype(dtype).astype(wide, copy=False)
    if softcap > 0:
        scores = xp.tanh(scores / softcap) * softcap
    qk_out = scores

    if past_key is None and nonpad_kv_seqlen is not None:
        offset = nonpad_kv_seqlen.reshape(-1) - sq
    else:
        offset = 0 if past_key is None else past_key.shape[2]
    bias = _attention_bias(
        xp,
        wide,
        sq,
        skv,
        batch,
        attn_mask,
        offset,
        is_causal,
        left_window_size,
        right_window_size,
        nonpad_kv_seqlen,
    )
    if bias is not None:
        scores = scores + bias
    if qk_matmul_output_mode == 2:
        qk_out = scores
    # Without softmax_precision the spec runs the softmax in the inputs' own precision.
    soft_dtype = dtype if softmax_precision is None else helper.tensor_dtype_to_np_dtype(softmax_precision)
    probs = _softmax(xp, scores.astype(soft_dtype, copy=False))
    if bias is not None:
        # A query with no attendable key outputs zeros, decided on the mask so NaN logits cannot leak through.
        blocked = xp.max(bias, axis=-1, keepdims=True) == -np.inf
        probs = xp.where(blocked, probs.dtype.type(0), probs)
    if qk_matmul_output_mode == 3:
        qk_out = probs
    probs = probs.astype(dtype).astype(wide, copy=False)
    y = _grouped(xp, probs, present_value.astype(wide, copy=False), kv_heads).astype(dtype)
    if rank == 3:
        y = y.transpose(0, 2, 1, 3).reshape(batch, sq, -1)
    outputs = (y, present_key, present_value, qk_out.astype(dtype))
    return outputs[: ctx.n_outputs] if ctx.n_outputs > 1 else y


@kernel("RotaryEmbedding", since=23)
def RotaryEmbedding(
    ctx, x, cos_cache, sin_cache, position_ids=None, *, interleaved=0, num_heads=None, rotary_embedding_dim=0
):
    xp = ctx.xp
    if x.ndim == 4:
        seq_first = x.transpose(0, 2, 1, 3)
    elif x.ndim == 3:
        if not num_heads or x.shape[2] % num_heads:
            raise ValueError(
                f"RotaryEmbedding on a rank-3 input {tuple(x.shape)} needs num_heads dividing its last axis"
            )
        seq_first = x.reshape(x.shape[0], x.shape[1], num_heads, -1)
    else:
        raise ValueError(f"RotaryEmbedding expects a rank-3 or rank-4 input, got shape {tuple(x.shape)}")
    head = seq_first.shape[3]
    dim = rotary_embedding_dim or head
    if position_ids is not None:
        cos_cache, sin_cache = cos_cache[position_ids], sin_cache[position_ids]
    if cos_cache.shape[-1] != dim // 2 or sin_cache.shape[-1] != dim // 2:
        raise ValueError(
            f"RotaryEmbedding caches must end in rotary_embedding_dim/2 = {dim // 2}, "
            f"got {tuple(cos_cache.shape)} and {tuple(sin_cache.shape)}"
        )
    cos, sin = cos_cache[:, :, None, :], sin_cache[:, :, None, :]
    rotated = seq_first[..., :dim]
    if interleaved:
        x1, x2 = rotated[..., 0::2], rotated[..., 1::2]
    else:
        x1, x2 = rotated[..., : dim // 2], rotated[..., dim // 2 :]
    real = cos * x1 - sin * x2
    imag = sin * x1 + cos * x2
    if interleaved:
        turned = xp.stack([real, imag], axis=-1).reshape(rotated.shape)
    else:
        turned = xp.concatenate([real, imag], axis=-1)
    out = xp.concatenate([turned.astype(x.dtype, copy=False), seq_first[..., dim:]], axis=-1)
    return out.reshape(x.shape) if x.ndim == 3 else out.transpose(0, 2, 1, 3)


_UPDATE_RULES = ("linear", "gated", "delta", "gated_delta")


@kernel("LinearAttention", since=27)
def LinearAttention(
    ctx,
    query,
    key,
    value,
    past_state=None,
    decay=None,
    beta=None,
    *,
    chunk_size=64,
    kv_num_heads=None,
    q_num_heads=None,
    scale=0.0,
    update_rule="gated_delta",
):
    xp = ctx.xp
    if update_rule not in _UPDATE_RULES:
        raise ValueError(f"LinearAttention update_rule must be one of {_UPDATE_RULES}, got {update_rule!r}")
    if not q_num_heads or not kv_num_heads or q_num_heads % kv_num_heads:
        raise ValueError(f"q_num_heads ({q_num_heads}) must be a positive multiple of kv_num_heads ({kv_num_heads})")
    gating = update_rule in ("gated", "gated_delta")
    delta = update_rule in ("delta", "gated_delta")
    if gating != (decay is not None) or delta != (beta is not None):
        raise ValueError(
            f"LinearAttention update_rule {update_rule!r} takes decay: {gating}, beta: {delta}; "
            f"got decay: {decay is not None}, beta: {beta is not None}"
        )
    f32 = xp.float32
    b, t, _ = query.shape
    q4 = _heads_first(query, q_num_heads, "query").astype(f32)
    k4 = _heads_first(key, kv_num_heads, "key").astype(f32)
    v4 = _heads_first(value, kv_num_heads, "value").astype(f32)
    d_k, d_v = q4.shape[3], v4.shape[3]
    group = q_num_heads // kv_num_heads
    if gating:
        if decay.shape[-1] == kv_num_heads:
            decay4 = decay.reshape(b, t, kv_num_heads, 1).transpose(0, 2, 1, 3)
        elif decay.shape[-1] == kv_num_heads * d_k:
            decay4 = _heads_first(decay, kv_num_heads, "decay")
        else:
            raise ValueError(f"decay must end in kv_num_heads or kv_num_heads*d_k, got shape {tuple(decay.shape)}")
        gates = xp.exp(decay4.astype(f32))[..., None]  # (B, H, T, 1 or d_k, 1)
    if delta:
        if beta.shape[-1] not in (kv_num_heads, 1):
            raise ValueError(f"beta must end in kv_num_heads or 1, got shape {tuple(beta.shape)}")
        beta4 = beta.reshape(b, t, beta.shape[-1], 1).transpose(0, 2, 1, 3).astype(f32)
    if past_state is not None:
        if past_state.shape != (b, kv_num_heads, d_k, d_v):
            raise ValueError(f"past_state shape {tuple(past_state.shape)} must be {(b, kv_num_heads, d_k, d_v)}")
        state_dtype, state = past_state.dtype, past_state.astype(f32)
    else:
        state_dtype, state = query.dtype, xp.zeros((b, kv_num_heads, d_k, d_v), dtype=f32)
    scale = scale if scale else 1 / math.sqrt(d_k)
    out = xp.empty((b, kv_num_heads, group, t, d_v), dtype=f32)
    queries = q4.reshape(b, kv_num_heads, group, t, d_k)
    # A recurrence over time: each step is vectorised over batch and heads.
    for i in range(t):
        k_t = k4[:, :, i, :]
        v_t = v4[:, :, i, :]
        if gating:
            state = state * gates[:, :, i]
        if delta:
            retrieved = xp.matmul(k_t[:, :, None, :], state)[:, :, 0, :]
            v_t = beta4[:, :, i, :] * (v_t - retrieved)
        state = state + k_t[..., :, None] * v_t[..., None, :]
        out[:, :, :, i, :] = xp.matmul(queries[:, :, :, i, :], state)
    out *= scale
    y = out.reshape(b, q_num_heads, t, d_v).transpose(0, 2, 1, 3).reshape(b, t, q_num_heads * d_v)
    return y.astype(query.dtype), state.astype(state_dtype)


@kernel("FlexAttention", domain="ai.onnx.preview")
def FlexAttention(ctx, q, k, v, *, prob_mod=None, scale=None, score_mod=None, softmax_precision=None):
    xp = ctx.xp
    if not q.ndim == k.ndim == v.ndim == 4:
        raise ValueError(f"FlexAttention needs rank-4 Q, K, V, got shapes {q.shape}, {k.shape}, {v.shape}")
    if k.shape[1] != v.shape[1] or k.shape[2] != v.shape[2] or q.shape[3] != k.shape[3]:
        raise ValueError(
            f"FlexAttention K {tuple(k.shape)} and V {tuple(v.shape)} must share heads and length, "
            f"and K the head size of Q {tuple(q.shape)}"
        )
    dtype = q.dtype
    if softmax_precision is not None:
        compute = np.dtype(helper.tensor_dtype_to_np_dtype(softmax_precision))
    else:
        compute = np.dtype(_wide(xp, dtype))
    root = np.asarray(math.sqrt(np.float32(1 / math.sqrt(q.shape[3]) if scale is None else scale)), dtype=dtype)
    qs = (q * root).astype(compute, copy=False)
    ks = (k * root).astype(compute, copy=False)
    scores = _grouped(xp, qs, ks.swapaxes(-1, -2), k.shape[1]).astype(compute, copy=False)
    if score_mod is not None:
        scores = xp.asarray(score_mod(scores)[0]).astype(compute, copy=False)
    peak = xp.max(scores, axis=-1, keepdims=True)
    probs = xp.exp(scores - peak)
    probs /= xp.sum(probs, axis=-1, keepdims=True)
    if prob_mod is not None:
        probs = xp.asarray(prob_mod(probs)[0]).astype(compute, copy=False)
    return _grouped(xp, probs, v.astype(compute, copy=False), k.shape[1]).astype(v.dtype)
