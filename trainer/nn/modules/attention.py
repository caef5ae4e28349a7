"""``MultiheadAttention`` with PyTorch's parameters, masks and sequence-first default layout."""

from __future__ import annotations

from trainer import creation, dtypes
from trainer.nn import init
from trainer.nn.modules.linear import Linear
from trainer.nn.modules.module import Module
from trainer.nn.parameter import Parameter
from trainer.ops.attention import attention
from trainer.ops.join import cat
from trainer.ops.linalg import linear


class NonDynamicallyQuantizableLinear(Linear):
    """``MultiheadAttention.out_proj``: a ``Linear`` under the name PyTorch prints for it."""


def additive_mask(mask, name: str, dtype):
    """A mask as scores to add: boolean True (masked out) becomes ``-inf``, False ``0``; floats pass through."""
    if mask is None:
        return None
    if mask.dtype is dtypes.bool:
        return creation.zeros(*mask.shape, dtype=dtype, device=mask.device).masked_fill(mask, float("-inf"))
    if not mask.dtype.is_floating_point:
        raise RuntimeError(f"only bool and floating types of {name} are supported, got {mask.dtype.name}")
    return mask.to(dtype)


def _pad_last(mask, count: int = 1):
    """``count`` zero columns appended to an additive mask: an extra key that nothing masks out."""
    if mask is None:
        return None
    return cat([mask, creation.zeros(*mask.shape[:-1], count, dtype=mask.dtype, device=mask.device)], dim=-1)


class MultiheadAttention(Module):
    """Attention over ``num_heads`` heads of ``embed_dim // num_heads`` features, as ``torch.nn.MultiheadAttention``.

    Inputs are ``(L, N, E)`` (``(N, L, E)`` with ``batch_first``) or unbatched ``(L, E)``. A boolean
    ``attn_mask``/``key_padding_mask`` marks with True the positions that may *not* be attended to;
    a floating-point one is added to the scores.
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim=None, vdim=None,
                 batch_first: bool = False, device=None, dtype=None):
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"embed_dim and num_heads must be greater than 0, got embed_dim={embed_dim} and "
                             f"num_heads={num_heads} instead")
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim must be divisible by num_heads, got embed_dim={embed_dim} and "
                             f"num_heads={num_heads}")
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        factory = {"device": device, "dtype": dtype}
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(creation.empty(3 * embed_dim, embed_dim, **factory))
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        else:
            self.q_proj_weight = Parameter(creation.empty(embed_dim, embed_dim, **factory))
            self.k_proj_weight = Parameter(creation.empty(embed_dim, self.kdim, **factory))
            self.v_proj_weight = Parameter(creation.empty(embed_dim, self.vdim, **factory))
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(creation.empty(3 * embed_dim, **factory))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(embed_dim, embed_dim, bias=bias, **factory)
        if add_bias_kv:
            self.bias_k = Parameter(creation.empty(1, 1, embed_dim, **factory))
            self.bias_v = Parameter(creation.empty(1, 1, embed_dim, **factory))
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
            init.xavier_normal_(self.bias_v)

    def forward(self, query, key, value, key_padding_mask=None, need_weights: bool = True, attn_mask=None,
                average_attn_weights: bool = True, is_causal: bool = False):
        """``(attn_output, attn_weights)``; the weights are averaged over heads (``(N, L, S)``) when
        ``average_attn_weights``, per head (``(N, H, L, S)``) otherwise, and ``None`` unless ``need_weights``."""
        if is_causal and attn_mask is None:
            raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the Transformer module "
                               "method `generate_square_subsequent_mask` to create this mask.")
        if query.ndim not in (2, 3):
            raise RuntimeError(f"{self._get_name()}: query should be unbatched 2D or batched 3D tensor but received "
                               f"{query.ndim}-D query tensor")
        self_attention = query is key and key is value
        batched = query.ndim == 3
        if not batched:
            query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
            if key_padding_mask is not None:
                key_padding_mask = key_padding_mask.unsqueeze(0)
        elif self.batch_first:
            query, key, value = query.transpose(0, 1), key.transpose(0, 1), value.transpose(0, 1)
        out, weights = self._attend(query, key, value, key_padding_mask, attn_mask, self_attention, need_weights)
        if not batched:
            out = out.squeeze(1)
        elif self.batch_first:
            out = out.transpose(0, 1)
        if not need_weights:
            return out, None
        if average_attn_weights:
            weights = weights.mean(dim=1)
        return out, weights if batched else weights.squeeze(0)

    def _attend(self, query, key, value, key_padding_mask, attn_mask, self_attention, need_weights):
        """Attention on sequence-first ``(L, N, E)`` inputs: the output and the ``(N, H, L, S)`` weights."""
        tgt_len, batch, embed = query.shape
        if embed != self.embed_dim:
            raise RuntimeError(f"{self._get_name()}: was expecting embedding dimension of {self.embed_dim}, but got "
                               f"{embed} (query of shape {list(query.shape)})")
        if key.shape[:2] != value.shape[:2]:
            raise RuntimeError(f"{self._get_name()}: key shape {list(key.shape)} does not match value shape "
                               f"{list(value.shape)} in their sequence and batch dims")
        src_len = key.shape[0]
        key_padding_mask = additive_mask(key_padding_mask, "key_padding_mask", query.dtype)
        attn_mask = additive_mask(attn_mask, "attn_mask", query.dtype)
        self._check_masks(attn_mask, key_padding_mask, batch, tgt_len, src_len)
        q, k, v = self._project(query, key, value, self_attention)
        if self.bias_k is not None:
            k = cat([k, self.bias_k.expand(1, batch, embed)])
            v = cat([v, self.bias_v.expand(1, batch, embed)])
            attn_mask, key_padding_mask = _pad_last(attn_mask), _pad_last(key_padding_mask)
        q, k, v = (self._split_heads(t, batch) for t in (q, k, v))
        if self.add_zero_attn:
            zeros = creation.zeros(batch, self.num_heads, 1, self.head_dim, dtype=k.dtype, device=k.device)
            k, v = cat([k, zeros], dim=2), cat([v, zeros], dim=2)
            attn_mask, key_padding_mask = _pad_last(attn_mask), _pad_last(key_padding_mask)
        mask = self._merge_masks(attn_mask, key_padding_mask, batch)
        out, weights = attention(q, k, v, mask, dropout_p=self.dropout if self.training else 0.0,
                                 zero_fully_masked=not need_weights)
        out = out.permute(2, 0, 1, 3).reshape(tgt_len, batch, embed)
        return self.out_proj(out), weights

    def _project(self, query, key, value, self_attention):
        if self._qkv_same_embed_dim:
            if self_attention:  # one GEMM for all three
                return linear(query, self.in_proj_weight, self.in_proj_bias).chunk(3, dim=-1)
            w_q, w_k, w_v = self.in_proj_weight.chunk(3)
        else:
            w_q, w_k, w_v = self.q_proj_weight, self.k_proj_weight, self.v_proj_weight
        b_q, b_k, b_v = self.in_proj_bias.chunk(3) if self.in_proj_bias is not None else (None, None, None)
        return linear(query, w_q, b_q), linear(key, w_k, b_k), linear(value, w_v, b_v)

    def _split_heads(self, t, batch):
        """``(S, N, E)`` to ``(N, H, S, head_dim)``."""
        return t.reshape(t.shape[0], batch, self.num_heads, self.head_dim).permute(1, 2, 0, 3)

    def _check_masks(self, attn_mask, key_padding_mask, batch, tgt_len, src_len):
        if attn_mask is not None:
            expected = {2: (tgt_len, src_len), 3: (batch * self.num_heads, tgt_len, src_len)}.get(attn_mask.ndim)
            if expected is None:
                raise RuntimeError(f"attn_mask's dimension {attn_mask.ndim} is not supported")
            if tuple(attn_mask.shape) != expected:
                raise RuntimeError(f"The shape of the {attn_mask.ndim}D attn_mask is {list(attn_mask.shape)}, but "
                                   f"should be {list(expected)}.")
        if key_padding_mask is not None and tuple(key_padding_mask.shape) != (batch, src_len):
            raise RuntimeError(f"expecting key_padding_mask shape of {[batch, src_len]}, but got "
                               f"{list(key_padding_mask.shape)}")

    def _merge_masks(self, attn_mask, key_padding_mask, batch):
        """One additive mask broadcastable to ``(N, H, L, S)``."""
        if attn_mask is not None and attn_mask.ndim == 3:
            attn_mask = attn_mask.reshape(batch, self.num_heads, *attn_mask.shape[1:])
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.reshape(batch, 1, 1, key_padding_mask.shape[-1])
            return key_padding_mask if attn_mask is None else attn_mask + key_padding_mask
        return attn_mask
