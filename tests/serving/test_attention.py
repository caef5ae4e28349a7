"""Attention kernels: grouped-query attention without repeating K/V against the repeated form, the
3-D packing, a KV cache filled step by step against one prefill, and LinearAttention's recurrence against
its closed form for the plain linear rule."""

import numpy as np
import pytest

from serving.kernels import attention
from serving.kernels.registry import KernelContext

RNG = np.random.default_rng(3)


def ctx(n_outputs=1, opset=24):
    return KernelContext(np, opset, n_outputs, (True,) * n_outputs, None)


def qkv(batch=2, hq=4, hkv=2, sq=5, skv=7, head=8, dv=6):
    return (
        RNG.standard_normal((batch, hq, sq, head), dtype=np.float32),
        RNG.standard_normal((batch, hkv, skv, head), dtype=np.float32),
        RNG.standard_normal((batch, hkv, skv, dv), dtype=np.float32),
    )


@pytest.mark.parametrize("extra", [{}, {"is_causal": 1}, {"softcap": 2.0, "scale": 0.3}])
def test_grouped_query_attention_equals_attention_over_repeated_heads(extra):
    q, k, v = qkv()
    mask = RNG.standard_normal((5, 7), dtype=np.float32)
    grouped = attention.Attention(ctx(), q, k, v, mask, **extra)
    repeated = attention.Attention(ctx(), q, np.repeat(k, 2, axis=1), np.repeat(v, 2, axis=1), mask, **extra)
    np.testing.assert_allclose(grouped, repeated, rtol=1e-5, atol=1e-6)


def test_three_dimensional_inputs_pack_heads_into_the_last_axis():
    q, k, v = qkv()
    packed = attention.Attention(
        ctx(),
        q.transpose(0, 2, 1, 3).reshape(2, 5, 32),
        k.transpose(0, 2, 1, 3).reshape(2, 7, 16),
        v.transpose(0, 2, 1, 3).reshape(2, 7, 12),
        q_num_heads=4,
        kv_num_heads=2,
    )
    unpacked = attention.Attention(ctx(), q, k, v)
    np.testing.assert_allclose(packed, unpacked.transpose(0, 2, 1, 3).reshape(2, 5, 24), rtol=1e-6)


def test_causal_decode_with_a_cache_matches_one_causal_prefill():
    q, k, v = qkv(sq=6, skv=6)
    prefill = attention.Attention(ctx(), q, k, v, is_causal=1)
    past_k, past_v = k[:, :, :3], v[:, :, :3]
    first = attention.Attention(ctx(), q[:, :, :3], past_k, past_v, is_causal=1)
    steps = [first]
    for t in range(3, 6):
        y, past_k, past_v = attention.Attention(
            ctx(3), q[:, :, t : t + 1], k[:, :, t : t + 1], v[:, :, t : t + 1], None, past_k, past_v, is_causal=1
        )
        steps.append(y)
    np.testing.assert_allclose(np.concatenate(steps, axis=2), prefill, rtol=1e-5, atol=1e-6)


def test_a_fully_masked_query_row_outputs_zeros():
    q, k, v = qkv(hq=2, hkv=2)
    mask = np.ones((5, 7), dtype=bool)
    mask[2] = False
    y = attention.Attention(ctx(), q, k, v, mask)
    assert np.all(y[:, :, 2] == 0) and np.all(np.isfinite(y))


def test_linear_attention_linear_rule_is_causal_unnormalised_attention():
    b, t, h, d = 2, 6, 2, 4
    q, k, v = (RNG.standard_normal((b, t, h * d), dtype=np.float32) for _ in range(3))
    y, state = attention.LinearAttention(ctx(2, 27), q, k, v, q_num_heads=h, kv_num_heads=h, update_rule="linear")
    heads = [a.reshape(b, t, h, d).transpose(0, 2, 1, 3) for a in (q, k, v)]
    scores = np.tril(heads[0] @ heads[1].swapaxes(-1, -2)) / np.sqrt(d)
    expected = (scores @ heads[2]).transpose(0, 2, 1, 3).reshape(b, t, h * d)
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(state, heads[1].swapaxes(-1, -2) @ heads[2], rtol=1e-4, atol=1e-5)


def test_rotary_embedding_rotates_pairs_by_their_position_angle():
    x = RNG.standard_normal((1, 3, 2, 4), dtype=np.float32)  # (batch, heads, seq, head)
    angles = RNG.uniform(0, np.pi, (2, 2)).astype(np.float32)
    position_ids = np.array([[1, 0]])
    y = attention.RotaryEmbedding(ctx(), x, np.cos(angles), np.sin(angles), position_ids, interleaved=1)
    theta = angles[position_ids[0]][None, None]  # (1, 1, seq, pairs)
    re, im = x[..., 0::2], x[..., 1::2]
    np.testing.assert_allclose(y[..., 0::2], re * np.cos(theta) - im * np.sin(theta), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(y[..., 1::2], re * np.sin(theta) + im * np.cos(theta), rtol=1e-5, atol=1e-6)


@pytest.mark.cuda
def test_cupy_matches_numpy():
    import cupy

    q, k, v = qkv()
    mask = RNG.standard_normal((5, 7), dtype=np.float32)
    attrs = {"is_causal": 1, "softcap": 3.0, "qk_matmul_output_mode": 2}
    host = attention.Attention(ctx(4), q, k, v, mask, **attrs)
    device_ctx = KernelContext(cupy, 24, 4, (True,) * 4, None)
    device = attention.Attention(device_ctx, *(cupy.asarray(a) for a in (q, k, v, mask)), **attrs)
    for h, d in zip(host, device):
        np.testing.assert_allclose(cupy.asnumpy(d), h, rtol=1e-4, atol=1e-5)
