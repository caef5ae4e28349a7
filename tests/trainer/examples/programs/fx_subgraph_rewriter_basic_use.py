# ruff: noqa - a faithful copy of an upstream PyTorch program: its own style is what is being tested
"""pytorch/examples fx/subgraph_rewriter_basic_use.py (the explanatory docstring shortened)."""
import torch
from torch.fx import symbolic_trace, replace_pattern


# Sample module
class M(torch.nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x, w1, w2):
        val1 = torch.neg(w1)
        m1 = torch.cat([val1, w2]).sum()
        val2 = torch.neg(w1)
        m2 = torch.cat([val2, w2]).sum()
        return x + torch.max(m1) + torch.max(m2)


# Symbolically trace an instance of `M`
traced = symbolic_trace(M())

# Define the pattern. The FX Subgraph Rewriter will match all
# non-overlapping instances of the pattern in the larger graph.
def pattern(a1, a2):
    val1 = torch.neg(a1)
    return torch.cat([val1, a2]).sum()


# Define the replacement (same rules as the pattern)
def replacement(w1, w2):
    return torch.stack([w1, w2])


# Replace `pattern` with `replacement` in `traced`
replace_pattern(traced, pattern, replacement)
