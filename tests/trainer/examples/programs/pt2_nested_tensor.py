# ruff: noqa - a faithful copy of an upstream PyTorch program: its own style is what is being tested
"""pytorch/tutorials unstable_source/nestedtensor.py ("Getting Started with Nested Tensors"), shortened: a batch
of 8 sentences with embeddings of 16 (the tutorial's 512 and 512), and without the CUDA timing and the
``torch.compile`` runs of the attention module. Its SDPA call passes is_causal=False: PyTorch's CPU build has no
nested-tensor attention kernel for is_causal=True (flash attention is CUDA-only), so the padded result differs
from the nested one by the padding's share of the attention. Results the tutorial prints are kept in variables."""

import numpy as np
import torch
import torch.nn.functional as F

from torch import nn

torch.manual_seed(1)
np.random.seed(1)

device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')

nt = torch.nested.nested_tensor([torch.arange(12).reshape(
    2, 6), torch.arange(18).reshape(3, 6)], dtype=torch.float, device=device)

padded_out_tensor = torch.nested.to_padded_tensor(nt, padding=0.0)

print(f"nt is nested: {nt.is_nested}")
print(f"padded_out_tensor is nested: {padded_out_tensor.is_nested}")

print("First underlying tensor component:", nt[0], sep='\n')
print("last column of 2nd underlying tensor component:", nt[1, :, -1], sep='\n')
print(f"First underlying tensor component is nested: {nt[0].is_nested}")

nt_reshaped = nt.reshape(2, -1, 2, 3)
nt_transposed = nt_reshaped.transpose(1, 2)

nt_mm = torch.nested.nested_tensor([torch.randn((2, 3, 4)), torch.randn((2, 3, 5))], device=device)
nt3 = torch.matmul(nt_transposed, nt_mm)
nt4 = F.dropout(nt3, 0.1)
nt5 = F.softmax(nt4, -1)

padded_sentences = torch.tensor([[1.0, 2.0, 0.0],
                                 [3.0, 4.0, 5.0]])
nested_sentences = torch.nested.nested_tensor([torch.tensor([1.0, 2.0]),
                                               torch.tensor([3.0, 4.0, 5.0])])
padded_sentences_for_softmax = torch.tensor([[1.0, 2.0, float("-inf")],
                                             [3.0, 4.0, 5.0]])
padded_softmax = F.softmax(padded_sentences_for_softmax, -1)
nested_softmax = F.softmax(nested_sentences, -1)

class MultiHeadAttention(nn.Module):
    def __init__(self, E_q: int, E_k: int, E_v: int, E_total: int,
                 nheads: int, dropout_p: float = 0.0):
        super().__init__()
        self.nheads = nheads
        self.dropout_p = dropout_p
        self.query_proj = nn.Linear(E_q, E_total)
        self.key_proj = nn.Linear(E_k, E_total)
        self.value_proj = nn.Linear(E_v, E_total)
        E_out = E_q
        self.out_proj = nn.Linear(E_total, E_out)
        assert E_total % nheads == 0, "Embedding dim is not divisible by nheads"
        self.E_head = E_total // nheads

    def forward(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
        query = self.query_proj(query)
        key = self.key_proj(key)
        value = self.value_proj(value)

        query = query.unflatten(-1, [self.nheads, self.E_head]).transpose(1, 2)
        key = key.unflatten(-1, [self.nheads, self.E_head]).transpose(1, 2)
        value = value.unflatten(-1, [self.nheads, self.E_head]).transpose(1, 2)

        attn_output = F.scaled_dot_product_attention(
            query, key, value, dropout_p=dropout_p, is_causal=False)
        attn_output = attn_output.transpose(1, 2).flatten(-2)

        attn_output = self.out_proj(attn_output)

        return attn_output

N = 8
E_q, E_k, E_v, E_total = 16, 16, 16, 16
E_out = E_q
nheads = 4

dropout_p = 0.0

def zipf_sentence_lengths(alpha: float, batch_size: int) -> torch.Tensor:
    # generate fake corpus by unigram Zipf distribution
    # from wikitext-2 corpus, we get rank "." = 3, "!" = 386, "?" = 858
    sentence_lengths = np.empty(batch_size, dtype=int)
    for ibatch in range(batch_size):
        sentence_lengths[ibatch] = 1
        word = np.random.zipf(alpha)
        while word != 3 and word != 386 and word != 858:
            sentence_lengths[ibatch] += 1
            word = np.random.zipf(alpha)
    return torch.tensor(sentence_lengths)

def gen_batch(N, E_q, E_k, E_v, device):
    sentence_lengths = zipf_sentence_lengths(alpha=1.2, batch_size=N)

    query = torch.nested.nested_tensor([
        torch.randn(l.item(), E_q, device=device)
        for l in sentence_lengths
    ], layout=torch.jagged)

    key = torch.nested.nested_tensor([
        torch.randn(s.item(), E_k, device=device)
        for s in sentence_lengths
    ], layout=torch.jagged)

    value = torch.nested.nested_tensor([
        torch.randn(s.item(), E_v, device=device)
        for s in sentence_lengths
    ], layout=torch.jagged)

    return query, key, value, sentence_lengths

query, key, value, sentence_lengths = gen_batch(N, E_q, E_k, E_v, device)

def jagged_to_padded(jt, padding_val):
    return torch.nested.to_padded_tensor(
        torch.nested.nested_tensor(list(jt.unbind())),
        padding_val)

padded_query, padded_key, padded_value = (
    jagged_to_padded(t, 0.0) for t in (query, key, value)
)

mha = MultiHeadAttention(E_q, E_k, E_v, E_total, nheads, dropout_p).to(device=device)

output_nested = mha(query, key, value)
output_padded = mha(padded_query, padded_key, padded_value)

for i, entry_length in enumerate(sentence_lengths):
    output_padded[i, entry_length:] = 0.0

nested_padded_difference = (jagged_to_padded(output_nested, 0.0) - output_padded).abs().max().item()
print("nested and padded calculations differ by", nested_padded_difference)
