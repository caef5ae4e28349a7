# ruff: noqa - a faithful copy of an upstream PyTorch program: its own style is what is being tested
"""pytorch/tutorials intermediate_source/torch_export_tutorial.py (PyTorch 2.6 version): one dimension declared in
terms of another (``dimx + 1``, ``dx * 3 + 1``)."""

import torch
from torch.export import export

errors = {}


class DerivedDimExample1(torch.nn.Module):
    def forward(self, x, y):
        return x + y[1:]

foo = DerivedDimExample1()

x, y = torch.randn(5), torch.randn(6)
dimx = torch.export.Dim("dimx", min=3, max=6)
dimy = dimx + 1
derived_dynamic_shapes1 = ({0: dimx}, {0: dimy})

derived_dim_example1 = export(foo, (x, y), dynamic_shapes=derived_dynamic_shapes1)

derived1_in = (torch.randn(4), torch.randn(5))
derived1_out = derived_dim_example1.module()(*derived1_in)

try:
    derived_dim_example1.module()(torch.randn(4), torch.randn(6))
except Exception as e:
    errors["derived_dim_mismatch"] = e


class DerivedDimExample2(torch.nn.Module):
    def forward(self, z, y):
        return z[1:] + y[1::3]

foo = DerivedDimExample2()

z, y = torch.randn(4), torch.randn(10)
dx = torch.export.Dim("dx", min=3, max=6)
dz = dx + 1
dy = dx * 3 + 1
derived_dynamic_shapes2 = ({0: dz}, {0: dy})

derived_dim_example2 = export(foo, (z, y), dynamic_shapes=derived_dynamic_shapes2)
derived2_in = (torch.randn(7), torch.randn(19))
derived2_out = derived_dim_example2.module()(*derived2_in)
