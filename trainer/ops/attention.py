"""Scaled dot-product attention, composed from standard differentiable ops.

``softmax(q @ k^T * scale + mask) @ v`` is built from ``matmul``, ``mul``, ``masked_fill``/``add``,
``softmax`` and ``dropout``, so autograd needs no attention-specific backward and a tracer sees the
MatMul/Softmax pattern that ONNX runtimes recognise.
"""

from __future__ import annotations

import math

from trainer import dtypes
from trainer.amp import cast_policy
from trainer.creation import arange
from trainer.ops.activation import dropout, softmax
from trainer.ops.linalg import matmul


def _causal_exclusions(query, key):
    """True above the diagonal of the top-left aligned ``(L, S)`` grid: the keys a query may not attend to."""
    rows = arange(query.shape[-2], device=query.device).unsqueeze(-1)
    return arange(key.shape[-2], device=query.device) > rows


def _repeat_heads(t, times: int):
    """Each head ``times`` times in a row along dim -3 (grouped-query attention's shared key/value heads)."""
    *batch, heads, length, dim = t.shape
    return t.unsqueeze(-3).expand(*batch, heads, times, length, dim).reshape(*batch, heads * times, length, dim)


def attention(query, key, value, attn_mask=None, dropout_p: float = 0.0, is_causal: bool = False, scale=None,
              enable_gqa: bool = False, zero_fully_masked: bool = True):
    """``(output, attention weights)``. ``attn_mask`` is boolean (True = may attend) or added to the scores.

    Rows whose every key is masked give zeros when ``zero_fully_masked`` (``scaled_dot_product_attention``'s
    rule) and NaN otherwise (a plain softmax of ``-inf``s, as ``MultiheadAttention`` with weights returns).
    """
    if is_causal and attn_mask is not None:
        raise RuntimeError("scaled_dot_product_attention: Explicit attn_mask should not be set when is_causal=True; "
                           "fold the causal pattern into attn_mask instead")
    if attn_mask is not None and attn_mask.dtype is not dtypes.bool and not attn_mask.dtype.is_floating_point:
        raise RuntimeError(f"Expected attn_mask dtype to be bool or float or to match query dtype, but got "
                           f"attn_mask.dtype: {attn_mask.dtype.name} and query.dtype: {query.dtype.name} instead.")
    if enable_gqa and query.ndim >= 3 and key.shape[-3] != query.shape[-3]:
        if query.shape[-3] % key.shape[-3]:
            raise RuntimeError(f"scaled_dot_product_attention: with enable_gqa the number of query heads "
                               f"({query.shape[-3]}) must be a multiple of the key/value heads ({key.shape[-3]})")
        times = query.shape[-3] // key.shape[-3]
        key, value = _repeat_heads(key, times), _repeat_heads(value, times)
    if scale is None:
        scale = 1 / math.sqrt(query.shape[-1])
    scores = matmul(query, key.transpose(-2, -1)) * scale
    excluded = _causal_exclusions(query, key) if is_causal else None
    if attn_mask is not None:
        if attn_mask.dtype is dtypes.bool:
            excluded = ~attn_mask
        else:
            scores = scores + attn_mask.to(scores.dtype)
    if excluded is not None:
        scores = scores.masked_fill(excluded, float("-inf"))
    masked = excluded is not None or attn_mask is not None
    if masked and zero_fully_masked:
        # a uniform softmax stands in for the all -inf row (keeping its gradient finite), then is zeroed
        empty = (scores == float("-inf")).all(-1, keepdim=True)
        weights = softmax(scores.masked_fill(empty, 0.0), dim=-1).masked_fill(empty, 0.0)
    else:
        weights = softmax(scores, dim=-1)
    weights = dropout(weights, dropout_p, training=dropout_p > 0)
    return matmul(weights, value), weights


@cast_policy.lower_precision_fp
def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p: float = 0.0, is_causal: bool = False,
                                 scale=None, enable_gqa: bool = False):
    """PyTorch's ``F.scaled_dot_product_attention`` for ``(..., L, E)`` queries and ``(..., S, E)`` keys/values.

    ``dropout_p`` always applies (pass ``0.0`` in evaluation, as with PyTorch); ``is_causal`` excludes ``attn_mask``.
    """
    from trainer.nn.attention import bias, check_a_backend_is_enabled  # nn imports this module: look up at call time

    check_a_backend_is_enabled()
    if isinstance(attn_mask, bias.CausalBias):
        if is_causal:
            raise ValueError("CausalBias should not be used with causal=True")
        attn_mask = attn_mask._materialize(query.device)
    return attention(query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa)[0]
