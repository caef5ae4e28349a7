# ruff: noqa - a faithful copy of an upstream PyTorch program: its own style is what is being tested
"""pytorch/tutorials intermediate_source/scaled_dot_product_attention_tutorial.py, its CPU parts, shortened: the
math backend only, no timing, no NestedTensor or torch.compile sections; inputs come in as NumPy arrays."""

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.nn.attention.bias import causal_lower_right, causal_upper_left

device = "cpu"


def basic(query, key, value):
    # Example Usage:
    query, key, value = torch.from_numpy(query), torch.from_numpy(key), torch.from_numpy(value)
    out = F.scaled_dot_product_attention(query, key, value)
    with sdpa_kernel(SDPBackend.MATH):
        math_out = F.scaled_dot_product_attention(query, key, value)
    return out, math_out


class CausalSelfAttention(nn.Module):

    def __init__(self, num_heads: int, embed_dimension: int, bias: bool = False, is_causal: bool = False, dropout: float = 0.0):
        super().__init__()
        assert embed_dimension % num_heads == 0
        # key, query, value projections for all heads, but in a batch
        self.c_attn = nn.Linear(embed_dimension, 3 * embed_dimension, bias=bias)
        # output projection
        self.c_proj = nn.Linear(embed_dimension, embed_dimension, bias=bias)
        # regularization
        self.dropout = dropout
        self.resid_dropout = nn.Dropout(dropout)
        self.num_heads = num_heads
        self.embed_dimension = embed_dimension
        # Perform causal masking
        self.is_causal = is_causal

    def forward(self, x):
        # calculate query, key, values for all heads in batch and move head forward to be the batch dim
        query_projected = self.c_attn(x)

        batch_size = query_projected.size(0)
        embed_dim = query_projected.size(2)
        head_dim = embed_dim // (self.num_heads * 3)

        query, key, value = query_projected.chunk(3, -1)
        query = query.view(batch_size, -1, self.num_heads, head_dim).transpose(1, 2)
        key = key.view(batch_size, -1, self.num_heads, head_dim).transpose(1, 2)
        value = value.view(batch_size, -1, self.num_heads, head_dim).transpose(1, 2)

        if self.training:
            dropout = self.dropout
            is_causal = self.is_causal
        else:
            dropout = 0.0
            is_causal = False

        y = F.scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=dropout, is_causal=is_causal)
        y = y.transpose(1, 2).view(batch_size, -1, self.num_heads * head_dim)

        y = self.resid_dropout(self.c_proj(y))
        return y


num_heads = 4
heads_per_dim = 8
embed_dimension = num_heads * heads_per_dim
dtype = torch.float32


def build():
    return CausalSelfAttention(num_heads=num_heads, embed_dimension=embed_dimension, bias=False, is_causal=True, dropout=0.0).to(device).to(dtype)


def run_model(model, x):
    x = torch.from_numpy(x)
    model.train()
    train_out = model(x)
    train_out.pow(2).sum().backward()
    model.eval()
    with torch.no_grad():
        eval_out = model(x)
    return train_out, eval_out, [p.grad for p in model.parameters()]


def causal_biases(query, key, value):
    query = torch.from_numpy(query).requires_grad_()
    key, value = torch.from_numpy(key), torch.from_numpy(value)
    sequence_length_q, sequence_length_kv = query.shape[-2], key.shape[-2]

    upper_left_bias = causal_upper_left(sequence_length_q, sequence_length_kv)
    lower_right_bias = causal_lower_right(sequence_length_q, sequence_length_kv)

    assert type(upper_left_bias) == type(lower_right_bias)
    assert issubclass(type(upper_left_bias), torch.Tensor)

    # As you can see from the previous output, are the same type ``torch.nn.attention.bias.CausalBias``
    # and subclass ``torch.Tensor``

    # Lets see what these tensors look like
    materialized = upper_left_bias._materialize(), lower_right_bias._materialize()

    # These objects can be used with ``scaled_dot_product_attention`` to apply causal masks
    out_upper_left = F.scaled_dot_product_attention(query, key, value, upper_left_bias)
    out_lower_right = F.scaled_dot_product_attention(query, key, value, lower_right_bias)
    out_is_causal = F.scaled_dot_product_attention(query, key, value, is_causal=True)

    assert torch.allclose(out_upper_left, out_is_causal)
    assert not torch.allclose(out_upper_left, out_lower_right)

    # These attention biases should also work with autograd
    out_lower_right.sum().backward()
    return materialized, out_upper_left, out_lower_right, query.grad
