"""trainer.fx and FX graph mode quantization fixed where PyTorch's FX examples showed them differ from torch.fx: each
test runs the same code on both libraries."""

import re
import typing

import numpy as np
import pytest
import torch
import torch.fx
from torch.ao.quantization import get_default_qconfig as torch_get_default_qconfig
from torch.ao.quantization.quantize_fx import convert_fx as torch_convert_fx
from torch.ao.quantization.quantize_fx import fuse_fx as torch_fuse_fx
from torch.ao.quantization.quantize_fx import prepare_fx as torch_prepare_fx

import trainer
import trainer.fx
from trainer.ao.quantization import get_default_qconfig
from trainer.ao.quantization.quantize_fx import convert_fx, fuse_fx, prepare_fx

LIBS = (torch, trainer)
QUANTIZE_FX = {torch: (torch_get_default_qconfig, torch_prepare_fx, torch_convert_fx, torch_fuse_fx),
               trainer: (get_default_qconfig, prepare_fx, convert_fx, fuse_fx)}


def fx_of(lib):
    return torch.fx if lib is torch else trainer.fx


def as_torch(text: str) -> str:
    return re.sub(r" at 0x[0-9a-f]+>", ">", text.replace("trainer", "torch"))


def test_print_tabular_prints_raw_targets_and_arguments_like_torch(capsys):
    pytest.importorskip("tabulate")  # torch.fx's print_tabular requires it

    def f(x, y):
        return (x + y).sum(dim=0, keepdim=True)

    tables = []
    for lib in LIBS:
        fx_of(lib).symbolic_trace(f).graph.print_tabular()
        tables.append([line.split() for line in as_torch(capsys.readouterr().out).splitlines()])
    assert tables[1] == tables[0]
    assert tables[1][4][:6] == ["call_function", "add", "<built-in", "function", "add>", "(x,"]


def make_sigmoid(lib):
    class Sigmoid(lib.nn.Module):
        def forward(self, x):
            return lib.sigmoid(x)

    return Sigmoid()


def double(x):
    return x * 2


def test_module_and_function_calls_on_proxies_are_inlined_at_an_insertion_point():
    """pytorch/examples fx/inline_function.py's idiom: inside ``inserting_before``, a module, a function and an
    operator applied to ``Proxy(node)`` add their nodes there (torch.fx gets this from ``__torch_function__``)."""
    modules = []
    for lib in LIBS:
        gm = fx_of(lib).symbolic_trace(double)
        mul = next(n for n in gm.graph.nodes if n.op == "call_function")
        with gm.graph.inserting_before(mul):
            x = fx_of(lib).Proxy(mul.args[0])
            result = lib.tanh(make_sigmoid(lib)(x)) - x
        mul.args = (result.node, *mul.args[1:])
        gm.recompile()
        modules.append(gm)
    gm_pt, gm_tr = modules
    assert as_torch(gm_tr.code) == gm_pt.code
    assert [n.target for n in gm_tr.graph.nodes if n.op == "call_function"][1] is trainer.tanh
    assert not hasattr(trainer.tanh, "__fx_original__")  # outside the insertion point the functions are themselves
    x = np.linspace(-1, 1, 5)
    np.testing.assert_allclose(gm_tr(trainer.tensor(x)).numpy(), gm_pt(torch.tensor(x)).numpy())
    np.testing.assert_allclose(gm_tr(trainer.tensor(x)).numpy(), (np.tanh(1 / (1 + np.exp(-x))) - x) * 2)


def test_a_function_read_at_an_insertion_point_is_recorded_as_itself():
    """``graph.call_function(torch.bitwise_and, ...)`` inside ``inserting_after`` (fx/replace_op.py): the node calls
    trainer.bitwise_and, not the recording stand-in that the name reads as there."""
    codes = []
    for lib in LIBS:
        gm = fx_of(lib).symbolic_trace(lambda x, y: x + y)
        add = next(n for n in gm.graph.nodes if n.op == "call_function")
        with gm.graph.inserting_after(add):
            new = gm.graph.call_function(lib.bitwise_and, add.args, add.kwargs)
        add.replace_all_uses_with(new)
        gm.graph.erase_node(add)
        gm.recompile()
        codes.append(gm.code)
        if lib is trainer:
            assert new.target is trainer.bitwise_and
    assert as_torch(codes[1]) == codes[0]


def test_node_type_names():
    """``torch.fx.node.Target``/``Argument``, which custom tracers and interpreters use in annotations."""
    for lib in LIBS:
        assert str in typing.get_args(fx_of(lib).node.Target)
        assert slice in typing.get_args(fx_of(lib).node.Argument)


def two_matches(x, w1, w2):
    m1 = torch_or_trainer.cat([torch_or_trainer.neg(w1), w2]).sum()
    m2 = torch_or_trainer.cat([torch_or_trainer.neg(w1), w2]).sum()
    return x + torch_or_trainer.max(m1) + torch_or_trainer.max(m2)


def pattern(a1, a2):
    return torch_or_trainer.cat([torch_or_trainer.neg(a1), a2]).sum()


def replacement(w1, w2):
    return torch_or_trainer.stack([w1, w2])


torch_or_trainer = torch  # the library the functions above call: set by the test


def test_replace_pattern_inserts_each_replacement_before_the_first_reader():
    global torch_or_trainer
    codes = []
    for lib in LIBS:
        torch_or_trainer = lib
        gm = fx_of(lib).symbolic_trace(two_matches)
        fx_of(lib).replace_pattern(gm, pattern, replacement)
        codes.append(gm.code)
    torch_or_trainer = torch
    assert as_torch(codes[1]) == codes[0]
    lines = [line.split(" = ")[0].strip() for line in codes[1].splitlines() if " = " in line]
    assert lines == ["stack", "max_1", "add", "stack_1", "max_2", "add_1"]


def make_residual_model(lib):
    """A ReLU module called twice (torchvision's BasicBlock): fused into the conv, then called again after the add."""
    nn = lib.nn

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(2, 2, 3, padding=1)
            self.relu = nn.ReLU()

        def forward(self, x):
            return self.relu(self.relu(self.conv(x)) + x)

    return Block().eval()


def test_prepare_and_convert_a_fused_module_called_again():
    rng = np.random.default_rng(0)
    images = rng.standard_normal((4, 2, 5, 5)).astype(np.float32)
    results = []
    for lib in LIBS:
        get_qconfig, prepare, convert, fuse = QUANTIZE_FX[lib]
        model = make_residual_model(lib)
        model.conv.weight.data = lib.tensor(np.linspace(-0.5, 0.5, 36, dtype=np.float32).reshape(2, 2, 3, 3))
        model.conv.bias.data = lib.tensor(np.float32([0.1, -0.2]))
        prepared = prepare(model, {"": get_qconfig("x86")}, (lib.tensor(images),))
        prepared(lib.tensor(images))
        prepared_graph, prepared_name = str(prepared.graph), type(prepared).__name__
        quantized = convert(prepared)
        results.append((prepared_graph, quantized, prepared_name, type(quantized).__name__,
                        type(fuse(model)).__name__))
    (graph_pt, quantized_pt, *names_pt), (graph_tr, quantized_tr, *names_tr) = results
    assert as_torch(graph_tr) == graph_pt
    assert names_tr == names_pt == ["GraphModule"] * 3
    np.testing.assert_allclose(quantized_tr(trainer.tensor(images)).numpy(),
                               quantized_pt(torch.tensor(images)).numpy(), atol=2.01 * quantized_pt.conv.scale)


def make_model_with_a_float_leaf(lib):
    """A module left out of tracing (a leaf with a qconfig, whose output is float) feeding a quantized conv."""
    nn = lib.nn

    class Scale(nn.Module):
        def forward(self, x):
            return x * 2

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = Scale()
            self.conv = nn.Conv2d(2, 2, 1)

        def forward(self, x):
            return self.conv(self.scale(x))

    return Model().eval(), Scale


def test_convert_names_the_qparams_of_a_module_output_after_that_module():
    images = np.random.default_rng(1).standard_normal((2, 2, 3, 3)).astype(np.float32)
    codes = []
    for lib in LIBS:
        get_qconfig, prepare, convert, _ = QUANTIZE_FX[lib]
        model, leaf_class = make_model_with_a_float_leaf(lib)
        prepared = prepare(model, {"": get_qconfig("x86")}, (lib.tensor(images),),
                           prepare_custom_config={"non_traceable_module_class": [leaf_class]})
        prepared(lib.tensor(images))
        codes.append(convert(prepared).code)
    assert as_torch(codes[1]) == codes[0]
    assert "scale_scale_0 = self.scale_scale_0" in codes[1]
