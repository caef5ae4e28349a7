"""trainer.fx against torch.fx: the same model code, written against ``lib``, traced by both libraries."""

import copy
import io
import operator
from math import sqrt

import numpy as np
import onnxruntime as ort
import pytest
import torch
import torch.fx
import torch.fx.passes.shape_prop

import trainer
import trainer.fx
import trainer.fx.passes.shape_prop
from exporter import export

LIBS = {"torch": torch, "trainer": trainer}


def scale_by(x, k):
    return x * k


# both libraries register the same module global as a leaf of their traces
torch.fx.wrap("scale_by")
trainer.fx.wrap("scale_by")


def fx_of(lib):
    return torch.fx if lib is torch else trainer.fx


# ----------------------------------------------------------------------------------------------- models
def make_mlp(lib):
    nn = lib.nn

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(4, 8)
            self.fc2 = nn.Linear(8, 3)

        def forward(self, x):
            return self.fc2(lib.relu(self.fc1(x)))

    return MLP()


def make_cnn(lib):
    nn, F = lib.nn, lib.nn.functional

    class CNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
            self.conv2 = nn.Conv2d(4, 6, 3)
            self.fc = nn.Linear(24, 5)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.conv1(x)), 2)
            x = F.relu(self.conv2(x))
            x = lib.flatten(x, 1)
            return F.log_softmax(self.fc(x), dim=1)

    return CNN()


def make_residual(lib):
    nn = lib.nn

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 3, 3, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(3)
            self.relu = nn.ReLU()
            self.layers = nn.Sequential(nn.Conv2d(3, 3, 1), nn.ReLU())
            self.scale = nn.Parameter(lib.ones(1, dtype=lib.float64) * 0.5)

        def forward(self, x):
            identity = x
            x = self.relu(self.bn1(self.conv1(x)))
            x = self.layers(x) * self.scale
            x = x + identity
            return x.view(x.size(0), -1)

    return Block()


def build_pair(make):
    """The model built with both libraries, in float64, with trainer's weights copied from torch's."""
    torch.manual_seed(0)
    theirs = make(torch).double()
    ours = make(trainer).double()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return theirs, ours


def node_summary(gm):
    return [(n.op, n.name) for n in gm.graph.nodes]


def assert_close(ours, theirs, atol=1e-10):
    np.testing.assert_allclose(np.asarray(ours.detach().numpy()), theirs.detach().numpy(), atol=atol, rtol=1e-9)


@pytest.mark.parametrize("make, shape", [(make_mlp, (2, 4)), (make_cnn, (2, 1, 8, 8)), (make_residual, (2, 3, 4, 4))])
def test_trace_matches_torch_nodes_outputs_gradients_and_state_dict(make, shape):
    theirs, ours = build_pair(make)
    gm_t, gm_o = torch.fx.symbolic_trace(theirs), trainer.fx.symbolic_trace(ours)
    assert node_summary(gm_o) == node_summary(gm_t)
    assert type(gm_o).__name__ == type(gm_t).__name__
    assert list(gm_o.state_dict()) == list(gm_t.state_dict())
    assert isinstance(gm_o, trainer.nn.Module)
    x_np = np.random.default_rng(1).standard_normal(shape)
    x_t = torch.tensor(x_np, requires_grad=True)
    x_o = trainer.tensor(x_np, requires_grad=True)
    out_t, out_o = gm_t(x_t), gm_o(x_o)
    assert_close(out_o, out_t)
    assert_close(out_o, ours(trainer.tensor(x_np)))
    out_t.pow(2).sum().backward()
    out_o.pow(2).sum().backward()
    assert_close(x_o.grad, x_t.grad)
    for (name_t, p_t), (name_o, p_o) in zip(gm_t.named_parameters(), gm_o.named_parameters(), strict=True):
        assert name_o == name_t
        assert_close(p_o.grad, p_t.grad)


def test_generated_code_matches_torch_and_references_trainer():
    theirs, ours = build_pair(make_residual)
    gm_t, gm_o = torch.fx.symbolic_trace(theirs), trainer.fx.symbolic_trace(ours)
    assert gm_o.code == gm_t.code.replace("torch.", "trainer.")
    assert "torch" not in gm_o.code
    assert "view = add.view(size, -1)" in gm_o.code and "size = add.size(0)" in gm_o.code
    assert str(gm_o.graph) == str(gm_t.graph).replace("torch.", "trainer.")
    no_stack = "        # No stacktrace found for following nodes\n"
    readable_t = gm_t.print_readable(print_output=False).replace(no_stack, "")
    assert gm_o.print_readable(print_output=False) == readable_t.replace("torch.", "trainer.")
    targets = {n.name: n.target for n in gm_o.graph.nodes}
    assert targets["add"] is operator.add and targets["layers_0"] == "layers.0"
    cnn = trainer.fx.symbolic_trace(build_pair(make_cnn)[1])
    targets = {n.name: n.target for n in cnn.graph.nodes}
    assert targets["flatten"] is trainer.flatten
    assert targets["relu"] is trainer.nn.functional.relu and targets["max_pool2d"] is trainer.nn.functional.max_pool2d
    assert "trainer.flatten(relu_1, 1)" in cnn.code and "trainer.nn.functional.max_pool2d(relu, 2)" in cnn.code
    # patching is undone after the trace
    assert trainer.flatten.__module__ != "trainer.fx._patching" and not hasattr(trainer.relu, "__fx_original__")


def test_attributes_methods_operators_and_constants_match_torch():
    def make(lib):
        class M(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.w = lib.nn.Parameter(lib.ones(3, dtype=lib.float64))
                self.register_buffer("b", lib.arange(3, dtype=lib.float64))

            def forward(self, x, y=2):
                n = x.shape[0]
                z = lib.cat([x, x], dim=1) * self.w.sum() - sqrt(x.size(1)) * self.b.sum()
                a, b = z.chunk(2, dim=1)
                return (-a / 2 + b ** 2 @ lib.ones(3, 3, dtype=lib.float64)).relu()[0], n, x[:, 1:]

        return M()

    theirs, ours = build_pair(make)
    gm_t, gm_o = torch.fx.symbolic_trace(theirs), trainer.fx.symbolic_trace(ours)
    assert node_summary(gm_o) == node_summary(gm_t)
    assert gm_o.code == gm_t.code.replace("torch.", "trainer.")
    assert list(gm_o.state_dict()) == list(gm_t.state_dict()) == ["w", "_tensor_constant0", "_tensor_constant1"]
    x = np.random.default_rng(2).standard_normal((2, 3))
    for o, t in zip(gm_o(trainer.tensor(x)), gm_t(torch.tensor(x)), strict=True):
        if isinstance(t, torch.Tensor):
            assert_close(o, t)
        else:
            assert o == t


@pytest.mark.parametrize("forward_kind", ["branch", "loop", "len"])
def test_control_flow_on_proxies_raises_like_torch(forward_kind):
    def make(lib):
        class M(lib.nn.Module):
            def forward(self, x):
                if forward_kind == "branch":
                    return x if x.sum() > 0 else -x
                if forward_kind == "loop":
                    return [v for v in x]
                return len(x)

        return M()

    errors = {}
    tensor_mul, tensor_lt = trainer.Tensor.__mul__, trainer.Tensor.__lt__
    for name, lib in LIBS.items():
        with pytest.raises((ValueError, RuntimeError)) as info:
            fx_of(lib).symbolic_trace(make(lib))
        errors[name] = info
    assert type(errors["trainer"].value).__name__ == type(errors["torch"].value).__name__
    # everything patched for the trace is restored although it failed
    assert not hasattr(trainer.relu, "__fx_original__")
    assert trainer.Tensor.__mul__ is tensor_mul and trainer.Tensor.__lt__ is tensor_lt
    assert trainer.nn.Module.__call__.__qualname__ == "Module.__call__"
    if forward_kind == "branch":
        assert isinstance(errors["trainer"].value, trainer.fx.proxy.TraceError)
        assert str(errors["trainer"].value) == str(errors["torch"].value) == (
            "symbolically traced variables cannot be used as inputs to control flow")


def test_concrete_args_specialize_like_torch():
    def make(lib):
        class M(lib.nn.Module):
            def forward(self, x, flag):
                return x * 2 if flag else x - 1

        return M()

    gm_t = torch.fx.symbolic_trace(make(torch), concrete_args={"flag": True})
    gm_o = trainer.fx.symbolic_trace(make(trainer), concrete_args={"flag": True})
    assert node_summary(gm_o) == node_summary(gm_t)
    assert gm_o.code == gm_t.code.replace("torch.", "trainer.")
    assert_close(gm_o(trainer.ones(2, dtype=trainer.float64), True), torch.full((2,), 2.0, dtype=torch.float64))
    with pytest.raises(AssertionError, match="flag has been specialized to have value True"):
        gm_o(trainer.ones(2), False)


def test_wrap_records_a_leaf_call_like_torch():
    def make(lib):
        class M(lib.nn.Module):
            def forward(self, x):
                return scale_by(x, 3) + 1

        return M()

    gm_t, gm_o = torch.fx.symbolic_trace(make(torch)), trainer.fx.symbolic_trace(make(trainer))
    assert node_summary(gm_o) == node_summary(gm_t) == [
        ("placeholder", "x"), ("call_function", "scale_by"), ("call_function", "add"), ("output", "output")]
    assert gm_o.code == gm_t.code.replace("torch.", "trainer.")
    assert 'trainer.fx._symbolic_trace.wrap("tests_trainer_test_fx_scale_by")' in gm_o.code
    assert [n.target for n in gm_o.graph.nodes][1] is scale_by
    # the generated code wraps the function again, so tracing the GraphModule keeps it a leaf
    assert node_summary(trainer.fx.symbolic_trace(gm_o)) == node_summary(gm_o)
    assert_close(gm_o(trainer.ones(2, dtype=trainer.float64)), torch.full((2,), 4.0, dtype=torch.float64))
    with pytest.raises(NotImplementedError, match="top level of a module"):
        trainer.fx.wrap("scale_by")


def test_interpreter_and_transformer_match_torch():
    theirs, ours = build_pair(make_residual)
    gm_t, gm_o = torch.fx.symbolic_trace(theirs), trainer.fx.symbolic_trace(ours)
    x = np.random.default_rng(3).standard_normal((2, 3, 4, 4))

    def interpreter(lib):
        class SigmoidForRelu(fx_of(lib).Interpreter):
            def call_module(self, target, args, kwargs):
                if isinstance(self.fetch_attr(target), lib.nn.ReLU):
                    return lib.sigmoid(*args)
                return super().call_module(target, args, kwargs)

        return SigmoidForRelu

    assert_close(trainer.fx.Interpreter(gm_o).run(trainer.tensor(x)), gm_t(torch.tensor(x)))
    assert_close(interpreter(trainer)(gm_o).run(trainer.tensor(x)), interpreter(torch)(gm_t).run(torch.tensor(x)))

    def transformer(lib):
        class MulForAdd(fx_of(lib).Transformer):
            def call_function(self, target, args, kwargs):
                return super().call_function(operator.mul if target is operator.add else target, args, kwargs)

        return MulForAdd

    new_t, new_o = transformer(torch)(gm_t).transform(), transformer(trainer)(gm_o).transform()
    assert isinstance(new_o, trainer.fx.GraphModule)
    assert node_summary(new_o) == node_summary(new_t)
    assert new_o.code == new_t.code.replace("torch.", "trainer.")
    assert "mul_1 = mul * x" in new_o.code
    assert_close(new_o(trainer.tensor(x)), new_t(torch.tensor(x)))


def test_replace_pattern_fuses_add_relu_like_torch():
    def make(lib):
        class M(lib.nn.Module):
            def forward(self, x, y):
                a = lib.relu(x + y)
                b = lib.relu(a + x)
                return lib.cat([a, b]).sum(), lib.cat([x, y]).sum()

        return M()

    def patterns(lib):
        def pattern(x, y):
            return lib.relu(x + y)

        def replacement(x, y):
            return lib.clamp(lib.add(x, y), min=0)

        def cat_pattern(w1, w2):
            return lib.cat([w1, w2]).sum()

        def cat_replacement(w1, w2):
            return lib.stack([w1, w2]).sum()

        return pattern, replacement, cat_pattern, cat_replacement

    results = {}
    for name, lib in LIBS.items():
        pattern, replacement, cat_pattern, cat_replacement = patterns(lib)
        gm = fx_of(lib).symbolic_trace(make(lib))
        matches = fx_of(lib).replace_pattern(gm, pattern, replacement)
        cat_matches = fx_of(lib).subgraph_rewriter.replace_pattern(gm, cat_pattern, cat_replacement)
        gm.graph.lint()
        results[name] = gm, matches, cat_matches
    (gm_t, m_t, c_t), (gm_o, m_o, c_o) = results["torch"], results["trainer"]
    assert len(m_o) == len(m_t) == 2 and len(c_o) == len(c_t) == 2
    assert [m.anchor.name for m in m_o] == [m.anchor.name for m in m_t] == ["relu", "relu"]
    assert sorted(m.nodes_map[m.anchor].name for m in m_o) == sorted(m.nodes_map[m.anchor].name for m in m_t)
    assert node_summary(gm_o) == node_summary(gm_t)
    assert not any(n.target is trainer.relu for n in gm_o.graph.nodes)
    x, y = np.random.default_rng(4).standard_normal((2, 3))
    for o, t in zip(gm_o(trainer.tensor(x), trainer.tensor(y)), gm_t(torch.tensor(x), torch.tensor(y)), strict=True):
        assert_close(o, t)


def test_shape_prop_fills_tensor_meta_like_torch():
    theirs, ours = build_pair(make_cnn)
    gm_t, gm_o = torch.fx.symbolic_trace(theirs), trainer.fx.symbolic_trace(ours)
    x = np.random.default_rng(5).standard_normal((2, 1, 8, 8))
    torch.fx.passes.shape_prop.ShapeProp(gm_t).propagate(torch.tensor(x))
    trainer.fx.passes.shape_prop.ShapeProp(gm_o).propagate(trainer.tensor(x))
    for n_o, n_t in zip(gm_o.graph.nodes, gm_t.graph.nodes, strict=True):
        if n_o.op == "output":
            continue
        meta_o, meta_t = n_o.meta["tensor_meta"], n_t.meta["tensor_meta"]
        assert tuple(meta_o.shape) == tuple(meta_t.shape), n_o.name
        assert str(meta_o.dtype).split(".")[-1] == str(meta_t.dtype).split(".")[-1]
        assert meta_o.requires_grad == meta_t.requires_grad
        assert tuple(meta_o.stride) == tuple(meta_t.stride)
    assert list(gm_o.graph.nodes)[-2].meta["tensor_meta"].shape == (2, 5)


def build_graph(lib):
    """Graph API by hand: y = relu(x + w) * 2 with a dead node, edited through the node and graph methods."""
    fx = fx_of(lib)
    graph = fx.Graph()
    x = graph.placeholder("x")
    w = graph.get_attr("w")
    add = graph.call_function(operator.add, (x, w))
    dead = graph.call_method("sum", (add,))
    relu = graph.call_function(lib.relu, (add,))
    graph.output(relu)
    with graph.inserting_after(relu):
        mul = graph.create_node("call_function", operator.mul, (relu, 2), name="double")
    relu.replace_all_uses_with(mul)
    mul.replace_input_with(mul, relu)  # replace_all_uses_with also rewired mul itself: undo that
    with graph.inserting_before(add):
        neg = graph.call_function(operator.neg, (x,))
    add.replace_input_with(x, neg)
    copied = graph.node_copy(dead, lambda n: n)
    relu.prepend(copied)
    changed = graph.eliminate_dead_code()
    graph.lint()
    root = {"w": lib.ones(3, dtype=lib.float64)}
    return fx.GraphModule(root, graph), changed, dead


def test_graph_editing_api_matches_torch(capsys):
    (gm_t, changed_t, dead_t), (gm_o, changed_o, dead_o) = build_graph(torch), build_graph(trainer)
    assert changed_o is changed_t is True
    assert dead_o not in list(gm_o.graph.nodes) and dead_t not in list(gm_t.graph.nodes)
    assert node_summary(gm_o) == node_summary(gm_t) == [
        ("placeholder", "x"), ("get_attr", "w"), ("call_function", "neg"), ("call_function", "add"),
        ("call_function", "relu"), ("call_function", "double"), ("output", "output")]
    assert gm_o.code == gm_t.code.replace("torch.", "trainer.")
    assert [n.format_node() for n in gm_o.graph.nodes] == [
        n.format_node().replace("torch.", "trainer.") for n in gm_t.graph.nodes]
    nodes = {n.name: n for n in gm_o.graph.nodes}
    assert nodes["add"].all_input_nodes == [nodes["neg"], nodes["w"]]
    assert list(nodes["add"].users) == [nodes["relu"]] and nodes["relu"].next is nodes["double"]
    assert_close(gm_o(trainer.tensor([1.0, -3.0, 0.5], dtype=trainer.float64)),
                 gm_t(torch.tensor([1.0, -3.0, 0.5], dtype=torch.float64)))
    gm_o.graph.print_tabular()
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["opcode", "name", "target", "args", "kwargs"]
    assert table[5].split()[:4] == ["call_function", "add", "<built-in", "function"] and len(table) == 9  # as torch
    with pytest.raises(RuntimeError, match="still had 1 users"):
        gm_o.graph.erase_node(nodes["add"])
    nodes["neg"].append(nodes["relu"])  # relu now before the add it reads
    with pytest.raises(RuntimeError, match="used before it has been defined"):
        gm_o.graph.lint()


def test_graph_copy_recompile_and_deepcopy():
    theirs, ours = build_pair(make_mlp)
    gm = trainer.fx.symbolic_trace(ours)
    new_graph = trainer.fx.Graph()
    output = new_graph.graph_copy(gm.graph, {})
    new_graph.output(output)
    assert [n.name for n in new_graph.nodes] == [n.name for n in gm.graph.nodes]
    x = trainer.tensor(np.random.default_rng(6).standard_normal((2, 4)))
    expected = gm(x)
    clone = copy.deepcopy(gm)
    assert clone.code == gm.code and type(clone).__name__ == "MLP" and type(clone) is not type(gm)
    with trainer.no_grad():
        clone.fc1.weight.mul_(0)
    assert_close(gm(x), expected.detach())
    # editing the graph and recompiling changes forward, of this instance only
    for node in gm.graph.nodes:
        if node.target is trainer.relu:
            node.target = trainer.sigmoid
    gm.recompile()
    assert "trainer.sigmoid(fc1)" in gm.code
    assert_close(gm(x), theirs.fc2(torch.sigmoid(theirs.fc1(torch.tensor(x.numpy())))))
    assert "trainer.relu(fc1)" in clone.code


def test_graph_module_exports_to_onnx_with_same_outputs():
    _, ours = build_pair(make_residual)
    gm = trainer.fx.symbolic_trace(ours.float().eval())
    x = trainer.tensor(np.random.default_rng(7).standard_normal((2, 3, 4, 4)).astype(np.float32))
    buffer = io.BytesIO()
    export(gm, (x,), buffer)
    session = ort.InferenceSession(buffer.getvalue(), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    np.testing.assert_allclose(got, gm(x).detach().numpy(), atol=1e-5)


def test_custom_leaf_modules_and_tensor_on_the_left():
    def make(lib):
        class Scale(lib.nn.Module):
            def forward(self, x):
                return x * 2

        class M(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.scale = Scale()
                self.fc = lib.nn.Linear(3, 3)

            def forward(self, x):
                return self.fc(self.scale(x))

        return M()

    def tracer(lib):
        class ScaleIsLeaf(fx_of(lib).Tracer):
            def is_leaf_module(self, m, qualname):
                return type(m).__name__ == "Scale" or super().is_leaf_module(m, qualname)

        return ScaleIsLeaf()

    theirs, ours = build_pair(make)
    graph_t, graph_o = tracer(torch).trace(theirs), tracer(trainer).trace(ours)
    assert [(n.op, n.name) for n in graph_o.nodes] == [(n.op, n.name) for n in graph_t.nodes] == [
        ("placeholder", "x"), ("call_module", "scale"), ("call_module", "fc"), ("output", "output")]
    gm = trainer.fx.GraphModule(ours, graph_o)
    x = np.random.default_rng(8).standard_normal((2, 3))
    assert_close(gm(trainer.tensor(x)), theirs(torch.tensor(x)))
    # a plain tensor on the left of an operator, or indexed by a traced value, is recorded too
    constant = trainer.arange(3, dtype=trainer.float64)
    left = trainer.fx.symbolic_trace(lambda v: constant * v - constant[: v.size(1)])
    assert [(n.name, n.target) for n in left.graph.nodes if n.op == "call_function"] == [
        ("mul", operator.mul), ("getitem", operator.getitem), ("sub", operator.sub)]
    expected = torch.arange(3.0, dtype=torch.float64) * torch.tensor(x) - torch.arange(3.0, dtype=torch.float64)
    assert_close(left(trainer.tensor(x)), expected)
