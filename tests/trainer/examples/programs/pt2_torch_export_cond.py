# ruff: noqa - a faithful copy of an upstream PyTorch program: its own style is what is being tested
"""pytorch/tutorials intermediate_source/torch_export_tutorial.py (PyTorch 2.6 version): its "Control Flow Ops"
section, exporting data-dependent control flow written with ``torch.cond``."""

import torch
from torch.export import export

class Bad1Fixed(torch.nn.Module):
    def forward(self, x):
        def true_fn(x):
            return torch.sin(x)
        def false_fn(x):
            return torch.cos(x)
        return torch.cond(x.sum() > 0, true_fn, false_fn, [x])

exported_bad1_fixed = export(Bad1Fixed(), (torch.randn(3, 3),))
bad1_fixed_pos = exported_bad1_fixed.module()(torch.ones(3, 3))
bad1_fixed_neg = exported_bad1_fixed.module()(-torch.ones(3, 3))

