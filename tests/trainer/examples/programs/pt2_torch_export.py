# ruff: noqa - a faithful copy of an upstream PyTorch program: its own style is what is being tested
"""pytorch/tutorials intermediate_source/torch_export_tutorial.py (PyTorch 2.6 version), shortened: the parts that
run eagerly on the CPU. Left out: the IR/Decompositions section (torch.ops.aten schemas, export_for_training, run_decompositions'
ATen graphs), torch._logging, the
higher-order ``map`` (torch._higher_order_ops) and the CUDA/inductor section; the ``torch.cond`` section is
pt2_torch_export_cond.py, the derived-``Dim`` one pt2_torch_export_derived_dims.py. Errors the tutorial prints with
``tb.print_exc()`` are kept in ``errors`` so that a test can read them."""

import torch
from torch.export import export

errors = {}


class MyModule(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(100, 10)

    def forward(self, x, y):
        return torch.nn.functional.relu(self.lin(x + y), inplace=True)

mod = MyModule()
exported_mod = export(mod, (torch.randn(8, 100), torch.randn(8, 100)))
print(type(exported_mod))
print(exported_mod.module()(torch.randn(8, 100), torch.randn(8, 100)))
print(exported_mod.graph_signature)

# Graph Breaks: data-dependent control flow


class Bad1(torch.nn.Module):
    def forward(self, x):
        if x.sum() > 0:
            return torch.sin(x)
        return torch.cos(x)

try:
    export(Bad1(), (torch.randn(3, 3),))
except Exception as e:
    errors["bad1"] = e

# Non-Strict Export: id(x) becomes a constant


class Bad3(torch.nn.Module):
    def forward(self, x):
        x = x + 1
        return x + id(x)

bad3_nonstrict = export(Bad3(), (torch.randn(3, 3),), strict=False)
bad3_out = bad3_nonstrict.module()(torch.ones(3, 3))

# Constraints/Dynamic Shapes


class MyModule2(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(100, 10)

    def forward(self, x, y):
        return torch.nn.functional.relu(self.lin(x + y), inplace=True)

mod2 = MyModule2()
exported_mod2 = export(mod2, (torch.randn(8, 100), torch.randn(8, 100)))

try:
    exported_mod2.module()(torch.randn(10, 100), torch.randn(10, 100))
except Exception as e:
    errors["mod2_shape"] = e

from torch.export.dynamic_shapes import Dim

inp1 = torch.randn(10, 10, 2)


class DynamicShapesExample1(torch.nn.Module):
    def forward(self, x):
        x = x[:, 2:]
        return torch.relu(x)

inp1_dim0 = Dim("inp1_dim0", max=50)
inp1_dim1 = Dim("inp1_dim1", min=4, max=18)
dynamic_shapes1 = {
    "x": {0: inp1_dim0, 1: inp1_dim1},
}

exported_dynamic_shapes_example1 = export(DynamicShapesExample1(), (inp1,), dynamic_shapes=dynamic_shapes1)

example1_out = exported_dynamic_shapes_example1.module()(torch.randn(5, 5, 2))

for name, shape in (("dim1_below", (8, 1, 2)), ("dim1_above", (8, 20, 2)), ("dim2_static", (8, 8, 3))):
    try:
        exported_dynamic_shapes_example1.module()(torch.randn(*shape))
    except Exception as e:
        errors[name] = e

inp1_dim1_bad = Dim("inp1_dim1_bad", min=11, max=18)
dynamic_shapes1_bad = {
    "x": {0: inp1_dim0, 1: inp1_dim1_bad},
}

try:
    export(DynamicShapesExample1(), (inp1,), dynamic_shapes=dynamic_shapes1_bad)
except Exception as e:
    errors["example_outside_range"] = e

inp2 = torch.randn(4, 8)
inp3 = torch.randn(8, 2)


class DynamicShapesExample2(torch.nn.Module):
    def forward(self, x, y):
        return x @ y

inp2_dim0 = Dim("inp2_dim0")
inner_dim = Dim("inner_dim")
inp3_dim1 = Dim("inp3_dim1")

dynamic_shapes2 = {
    "x": {0: inp2_dim0, 1: inner_dim},
    "y": {0: inner_dim, 1: inp3_dim1},
}

exported_dynamic_shapes_example2 = export(DynamicShapesExample2(), (inp2, inp3), dynamic_shapes=dynamic_shapes2)

example2_in = (torch.randn(2, 16), torch.randn(16, 4))
example2_out = exported_dynamic_shapes_example2.module()(*example2_in)

try:
    exported_dynamic_shapes_example2.module()(torch.randn(4, 8), torch.randn(4, 2))
except Exception as e:
    errors["inner_dim_unequal"] = e


inp4 = torch.randn(8, 16)
inp5 = torch.randn(16, 32)


class DynamicShapesExample3(torch.nn.Module):
    def forward(self, x, y):
        if x.shape[0] <= 16:
            return x @ y[:, :16]
        return y

dynamic_shapes3 = {
    "x": {i: Dim(f"inp4_dim{i}") for i in range(inp4.dim())},
    "y": {i: Dim(f"inp5_dim{i}") for i in range(inp5.dim())},
}

try:
    export(DynamicShapesExample3(), (inp4, inp5), dynamic_shapes=dynamic_shapes3)
except Exception as e:
    errors["needs_suggested_fixes"] = e


def suggested_fixes():
    inp4_dim1 = Dim('shared_dim')
    # suggested fixes below
    inp4_dim0 = Dim('inp4_dim0', max=16)
    inp5_dim1 = Dim('inp5_dim1', min=17)
    inp5_dim0 = inp4_dim1
    # end of suggested fixes
    return {
        "x": {0: inp4_dim0, 1: inp4_dim1},
        "y": {0: inp5_dim0, 1: inp5_dim1},
    }

dynamic_shapes3_fixed = suggested_fixes()
exported_dynamic_shapes_example3 = export(DynamicShapesExample3(), (inp4, inp5), dynamic_shapes=dynamic_shapes3_fixed)
example3_in = (torch.randn(4, 32), torch.randn(32, 64))
example3_out = exported_dynamic_shapes_example3.module()(*example3_in)

# Custom Ops


@torch.library.custom_op("my_custom_library::custom_op", mutates_args={})
def custom_op(x: torch.Tensor) -> torch.Tensor:
    print("custom_op called!")
    return torch.relu(x)

@custom_op.register_fake
def custom_op_meta(x):
    # Returns an empty tensor with the same shape as the expected output
    return torch.empty_like(x)


class CustomOpExample(torch.nn.Module):
    def forward(self, x):
        x = torch.sin(x)
        x = torch.ops.my_custom_library.custom_op(x)
        x = torch.cos(x)
        return x

exported_custom_op_example = export(CustomOpExample(), (torch.randn(3, 3),))
custom_op_in = torch.randn(3, 3)
custom_op_out = exported_custom_op_example.module()(custom_op_in)

# Running the Exported Program (on the CPU)


class M(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(3, 3)

    def forward(self, x):
        x = self.linear(x)
        return x

inp = torch.randn(2, 3)
m = M()
ep = torch.export.export(m, (inp,))

# Run it eagerly
res = ep.module()(inp)
print(res)
