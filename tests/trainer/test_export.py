"""trainer.export (torch.export): the same models exported with both libraries have the same graph signature,
``ep.module()`` runs like the model, dynamic sizes are declared and checked as torch checks them, and an
ExportedProgram goes to ONNX through exporter.export."""

import io

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

import trainer
from exporter import export as onnx_export
from tests.trainer.test_ops_parity import assert_raises_like_torch


def make_mlp(lib):
    nn = lib.nn

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(4, 8)
            self.bn = nn.BatchNorm1d(8)
            self.fc2 = nn.Linear(8, 3)

        def forward(self, x):
            return self.fc2(lib.relu(self.bn(self.fc1(x))))

    return MLP()


def make_cnn(lib):
    nn = lib.nn
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(4, 6, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 2))


def make_residual(lib):
    nn = lib.nn

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 3, 3, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(3)
            self.conv2 = nn.Conv2d(3, 3, 3, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(3)

        def forward(self, x):
            out = lib.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return lib.relu(out + x)

    return Block()


MODELS = [(make_mlp, (5, 4)), (make_cnn, (2, 1, 8, 8)), (make_residual, (2, 3, 4, 4))]
MODEL_IDS = ["mlp", "cnn", "residual"]


def build_pair(make):
    """The model in both libraries, float64 and in eval mode, with trainer's weights (and running statistics, made
    non-trivial) copied from torch's."""
    torch.manual_seed(0)
    theirs = make(torch).double().eval()
    with torch.no_grad():
        for name, buffer in theirs.named_buffers():
            if buffer.is_floating_point():
                buffer.copy_(torch.rand_like(buffer) + 0.5 if name.endswith("var") else torch.randn_like(buffer))
    ours = make(trainer).double().eval()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return theirs, ours


def example(shape, seed=1):
    data = np.random.default_rng(seed).standard_normal(shape)
    return torch.tensor(data), trainer.tensor(data)


def specs(ep):
    return [(s.kind.name, s.arg.name, s.target, s.persistent) for s in ep.graph_signature.input_specs]


def assert_close(ours, theirs):
    np.testing.assert_allclose(np.asarray(ours.detach().numpy()), theirs.detach().numpy(), atol=1e-10, rtol=1e-9)


@pytest.mark.parametrize("make, shape", MODELS, ids=MODEL_IDS)
def test_signature_state_and_module_outputs_match_torch(make, shape):
    theirs, ours = build_pair(make)
    tx, x = example(shape)
    ep_t = torch.export.export(theirs, (tx,))
    ep = trainer.export.export(ours, (x,))
    assert specs(ep) == specs(ep_t)
    assert ep.graph_signature.user_inputs == ep_t.graph_signature.user_inputs
    assert len(ep.graph_signature.user_outputs) == len(ep_t.graph_signature.user_outputs) == 1
    assert ep.graph_signature.parameters == ep_t.graph_signature.parameters
    assert ep.graph_signature.buffers == ep_t.graph_signature.buffers
    assert list(ep.state_dict) == list(ep_t.state_dict)
    assert [n.name for n in ep.graph.nodes] == [n.name for n in ep_t.graph.nodes]
    module, module_t = ep.module(), ep_t.module()
    assert sorted(module.state_dict()) == sorted(module_t.state_dict())
    assert_close(module(x), module_t(tx))
    assert_close(module(x), ours(x))
    # the lifted graph takes the state first, then the user inputs
    state = [ep.state_dict[t] for t in ep.graph_signature.parameters + ep.graph_signature.buffers]
    assert_close(ep.graph_module(*state, x), module_t(tx))
    assert ep.example_inputs[0][0] is x and ep.range_constraints == {}


def test_mlp_names_its_nodes_as_torch_does_and_prints_a_program():
    theirs, ours = build_pair(make_mlp)
    tx, x = example((5, 4))
    ep_t = torch.export.export(theirs, (tx,))
    ep = trainer.export.export(ours, (x,))
    assert ep.graph_signature.user_outputs == ep_t.graph_signature.user_outputs == ("linear_1",)
    assert [n.name for n in ep.graph.nodes] == [n.name for n in ep_t.graph.nodes]
    text = str(ep)
    assert text.startswith("ExportedProgram:\n    class GraphModule(")
    assert "Graph signature: " in text and "p_fc1_weight: PARAMETER target='fc1.weight'" in text
    assert "b_bn_running_mean: BUFFER target='bn.running_mean' persistent=True" in text
    assert "Range constraints: {}" in text


def test_export_leaves_the_model_untouched_in_training_mode():
    _, ours = build_pair(make_mlp)
    ours.train()
    before = {k: v.clone() for k, v in ours.state_dict().items()}
    ep = trainer.export.export(ours, (example((5, 4))[1],))
    for k, v in ours.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k].numpy(), err_msg=k)
    assert ep.module().training
    assert [s.kind.name for s in ep.graph_signature.input_specs].count("BUFFER") == 3


def test_exported_program_is_not_callable():
    theirs, ours = build_pair(make_mlp)
    tx, x = example((5, 4))
    assert_raises_like_torch(lambda lib: lib.export.export(theirs if lib is torch else ours, (tx,) if lib is torch
                                                           else (x,))(tx if lib is torch else x),
                             RuntimeError, "Unable to call ExportedProgram directly.*module()")


def _pair_export(make, shape, dynamic_shapes):
    """``export`` of the same model by each library, as ``call(lib)`` for assert_raises_like_torch."""
    theirs, ours = build_pair(make)
    tx, x = example(shape)
    return lambda lib: lib.export.export(*((theirs, (tx,)) if lib is torch else (ours, (x,))),
                                         dynamic_shapes=dynamic_shapes)


def test_dynamic_batch_runs_at_other_sizes_and_guards_like_torch():
    theirs, ours = build_pair(make_cnn)
    tx, x = example((2, 1, 8, 8))
    batch = trainer.export.Dim("batch", min=2, max=16)
    ep = trainer.export.export(ours, (x,), dynamic_shapes={"input": {0: batch}})
    ep_t = torch.export.export(theirs, (tx,), dynamic_shapes={"input": {0: torch.export.Dim("batch", min=2, max=16)}})
    assert list(ep.range_constraints.values()) == [trainer.export.ValueRange(2, 16)]
    assert repr(ep.range_constraints["batch"]) == repr(next(iter(ep_t.range_constraints.values())))
    ty, y = example((7, 1, 8, 8), seed=2)
    assert_close(ep.module()(y), ep_t.module()(ty))
    modules = {torch: ep_t.module(), trainer: ep.module()}
    for shape, message in [((3, 2, 8, 8), r"Guard failed: input.size\(\)\[1\] == 1"),
                           ((17, 1, 8, 8), r"Guard failed: input.size\(\)\[0\] <= 16")]:
        tz, z = example(shape)
        assert_raises_like_torch(lambda lib, tz=tz, z=z: modules[lib](tz if lib is torch else z), AssertionError,
                                 message)


def test_static_export_guards_the_example_sizes():
    theirs, ours = build_pair(make_mlp)
    tx, x = example((5, 4))
    modules = {torch: torch.export.export(theirs, (tx,)).module(), trainer: trainer.export.export(ours, (x,)).module()}
    ty, y = example((6, 4))
    assert_raises_like_torch(lambda lib: modules[lib](ty if lib is torch else y), AssertionError,
                             r"Guard failed: x.size\(\)\[0\] == 5")


@pytest.mark.parametrize("dynamic_shapes, error, message", [
    ({"y": {0: "batch"}}, RuntimeError, r"top-level keys must be the arg names \['x'\]"),
    (({0: None}, {0: None}), RuntimeError, "`inputs` has 1 elements, but `dynamic_shapes` has 2"),
    ({"x": [None]}, RuntimeError, "same length as the actual tensor shape.*expected 2, but got 1"),
    ({"x": {0: trainer.export.Dim("b", min=6)}}, RuntimeError, r"5 not in range \[6, int_oo\]"),
    ({"x": {0: 4}}, RuntimeError, "Static shape constraint of 4 does not match input size of 5"),
    ({"x": {0: "b"}}, RuntimeError, "Unexpected dimension mapped to index 0"),
    ({"x": {1: trainer.export.Dim("feat")}}, RuntimeError,
     r"Constraints violated \(feat\)! You marked feat as dynamic but your code specialized it to be a constant \(4\)"),
])
def test_bad_dynamic_shapes_raise_like_torch(dynamic_shapes, error, message):
    def to_torch(spec):
        if isinstance(spec, trainer.export.Dim):
            return torch.export.Dim(spec.__name__, min=spec.min)
        if isinstance(spec, dict):
            return {k: to_torch(v) for k, v in spec.items()}
        if isinstance(spec, tuple | list):
            return type(spec)(to_torch(v) for v in spec)
        return spec

    theirs, ours = build_pair(make_mlp)
    tx, x = example((5, 4))
    assert_raises_like_torch(lambda lib: lib.export.export(theirs, (tx,), dynamic_shapes=to_torch(dynamic_shapes))
                             if lib is torch else lib.export.export(ours, (x,), dynamic_shapes=dynamic_shapes),
                             error, message)


def test_dynamic_shape_spec_naming_a_missing_axis_is_an_index_error():
    _, ours = build_pair(make_mlp)
    with pytest.raises(IndexError, match="names dimension 3, but that input has 2 dimensions"):
        trainer.export.export(ours, (example((5, 4))[1],), dynamic_shapes={"x": {3: trainer.export.Dim("b")}})


def test_auto_dims_stay_dynamic_where_they_can_and_static_where_the_program_fixes_them():
    theirs, ours = build_pair(make_mlp)
    tx, x = example((5, 4))
    ep = trainer.export.export(ours, (x,), dynamic_shapes={"x": (trainer.export.Dim.AUTO, trainer.export.Dim.AUTO)})
    ep_t = torch.export.export(theirs, (tx,), dynamic_shapes={"x": (torch.export.Dim.AUTO, torch.export.Dim.AUTO)})
    assert [repr(r) for r in ep.range_constraints.values()] == [repr(r) for r in ep_t.range_constraints.values()]
    assert ep.dynamic_input_axes() == {"x": {0: "s0"}}
    ep.module()(example((9, 4))[1])
    with pytest.raises(AssertionError, match=r"x.size\(\)\[1\] == 4"):
        ep.module()(example((9, 5))[1])


def test_dims_and_shapes_collection():
    a, b = trainer.export.dims("a", "b", min=2)
    assert (a.__name__, a.min, b.max) == ("a", 2, trainer.export.dynamic_shapes.int_oo)
    assert repr(trainer.export.Dim("batch", min=2, max=64)) == repr(torch.export.Dim("batch", min=2, max=64))
    assert repr(trainer.export.Dim("b")) == repr(torch.export.Dim("b"))
    with pytest.raises(AssertionError, match="valid identifier"):
        trainer.export.Dim("1a")
    with pytest.raises(AssertionError, match="inconsistent min=5, max=3"):
        trainer.export.Dim("a", min=5, max=3)
    _, ours = build_pair(make_mlp)
    x = example((5, 4))[1]
    sc = trainer.export.ShapesCollection()
    sc[x] = {0: trainer.export.Dim("batch")}
    ep = trainer.export.export(ours, (x,), dynamic_shapes=sc.dynamic_shapes(ours, (x,)))
    assert list(ep.range_constraints) == ["batch"]


def test_data_dependent_control_flow_names_the_line():
    def make(lib):
        class Branchy(lib.nn.Module):
            def forward(self, x):
                if x.sum() > 0:
                    return x * 2
                return -x

        return Branchy()

    tx, x = example((3,))
    assert_raises_like_torch(lambda lib: lib.export.export(make(lib), (tx if lib is torch else x,)), RuntimeError,
                             r"data-dependent.*test_export.py:\d+ in forward: `if x.sum\(\) > 0:`")


def test_size_dependent_control_flow_kwargs_and_constant_inputs():
    def make(lib):
        class Net(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.scale = lib.tensor(2.0, dtype=lib.float64)
                self.register_buffer("offset", lib.ones(3, dtype=lib.float64), persistent=False)

            def forward(self, x, mask, power=2):
                if x.dim() == 2:
                    x = x.sum(0)
                return (x * self.scale + lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64) + self.offset) ** power * mask

        return Net()

    tx, x = example((4, 3))
    tm, m = example((3,), seed=3)
    ep_t = torch.export.export(make(torch), (tx,), {"mask": tm})
    ep = trainer.export.export(make(trainer), (x,), {"mask": m})
    assert specs(ep)[:3] == specs(ep_t)[:3]  # b_offset, c_scale, c_lifted_tensor_0
    assert sorted(ep.constants) == sorted(ep_t.constants) and ep.state_dict == {}
    assert ep.graph_signature.user_inputs == ep_t.graph_signature.user_inputs == ("x", "mask")
    assert_close(ep.module()(x, mask=m), ep_t.module()(tx, mask=tm))
    # a non-tensor input that is passed stays an input, specialized to its example value
    ep = trainer.export.export(make(trainer), (x,), {"mask": m, "power": 3})
    assert ep.graph_signature.user_inputs == ("x", "mask", 3)
    assert_close(ep.module()(x, mask=m, power=3), make(torch)(tx, mask=tm, power=3))
    with pytest.raises(AssertionError, match="power has been specialized to have value 3"):
        ep.module()(x, mask=m, power=2)


def test_run_decompositions_is_equivalent_and_splits_linear():
    theirs, ours = build_pair(make_mlp)
    tx, x = example((5, 4))
    ep = trainer.export.export(ours, (x,))
    decomposed = ep.run_decompositions()
    targets = {n.target for n in decomposed.graph.nodes if n.op == "call_function"}
    assert trainer.nn.functional.linear not in targets and trainer.matmul in targets
    assert specs(decomposed) == specs(ep)
    assert decomposed.graph_signature.user_outputs == ("add_1",)
    assert_close(decomposed.module()(x), theirs(tx))
    # an explicit table: only what it names is decomposed
    kept = ep.run_decompositions({})
    assert trainer.nn.functional.linear in {n.target for n in kept.graph.nodes}


@pytest.mark.parametrize("name", ["silu", "hardswish", "hardsigmoid", "relu6", "hardtanh"])
def test_default_decompositions_of_activations_keep_values(name):
    def make(lib):
        class Act(lib.nn.Module):
            def forward(self, x):
                return getattr(lib.nn.functional, name)(x * 4)

        return Act()

    tx, x = example((3, 5))
    ep = trainer.export.export(make(trainer), (x,)).run_decompositions()
    assert getattr(trainer.nn.functional, name) not in {n.target for n in ep.graph.nodes}
    assert_close(ep.module()(x), make(torch)(tx))


def test_save_and_load_point_to_onnx():
    ep = trainer.export.export(build_pair(make_mlp)[1], (example((5, 4))[1],))
    with pytest.raises(NotImplementedError, match="exporter.export"):
        trainer.export.save(ep, io.BytesIO())
    with pytest.raises(NotImplementedError, match="exporter.export"):
        trainer.export.load(io.BytesIO())


def test_bad_export_arguments_raise_like_torch():
    theirs, ours = build_pair(make_mlp)
    tx, x = example((5, 4))
    assert_raises_like_torch(lambda lib: lib.export.export(theirs if lib is torch else ours, [tx if lib is torch
                                                                                              else x]),
                             RuntimeError, "Expecting `args` to be a tuple of example positional inputs")
    assert_raises_like_torch(lambda lib: lib.export.export(lambda v: v, (tx if lib is torch else x,)), ValueError,
                             "Expected `mod` to be an instance of")


def test_exported_program_goes_to_onnx_with_its_dynamic_batch():
    _, ours = build_pair(make_residual)
    ours = ours.float()
    x = trainer.tensor(np.random.default_rng(5).standard_normal((2, 3, 4, 4)).astype(np.float32))
    ep = trainer.export.export(ours, (x,), dynamic_shapes={"x": {0: trainer.export.Dim("batch")}})
    buffer = io.BytesIO()
    onnx_export(ep, (x,), buffer)
    session = ort.InferenceSession(buffer.getvalue(), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["x"]
    assert session.get_inputs()[0].shape[0] == "batch"
    for batch in (2, 5):
        y = trainer.tensor(np.random.default_rng(batch).standard_normal((batch, 3, 4, 4)).astype(np.float32))
        (got,) = session.run(None, {"x": y.numpy()})
        np.testing.assert_allclose(got, ep.module()(y).detach().numpy(), atol=1e-5)
    # parameters are initializers named after their state_dict keys, not graph inputs
    assert "conv1.weight" in {init.name for init in onnx.load_from_string(buffer.getvalue()).graph.initializer}


@pytest.mark.parametrize("make, shape", [
    (lambda lib: lib.nn.LSTM(4, 3, num_layers=2, batch_first=True), (2, 5, 4)),
    (lambda lib: lib.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True), (2, 5, 8)),
], ids=["lstm", "encoder_layer"])
@pytest.mark.filterwarnings("ignore:The tensor attributes")  # torch's own note about its LSTM's flat weights
def test_layers_with_their_own_kernels_export_with_a_dynamic_batch(make, shape):
    theirs, ours = build_pair(make)
    tx, x = example(shape)
    batch_t, batch = torch.export.Dim("batch"), trainer.export.Dim("batch")
    ep_t = torch.export.export(theirs, (tx,), dynamic_shapes=({0: batch_t},))
    ep = trainer.export.export(ours, (x,), dynamic_shapes=({0: batch},))
    assert specs(ep) == specs(ep_t)  # defaulted inputs (hx, masks) are not inputs, as in torch
    assert ep.graph_signature.user_inputs == ep_t.graph_signature.user_inputs
    assert len(ep.graph_signature.user_outputs) == len(ep_t.graph_signature.user_outputs)
    ty, y = example((3, *shape[1:]), seed=4)
    ours_out, theirs_out = ep.module()(y), ep_t.module()(ty)
    ours_out = ours_out[0] if isinstance(ours_out, tuple) else ours_out
    theirs_out = theirs_out[0] if isinstance(theirs_out, tuple) else theirs_out
    assert_close(ours_out, theirs_out)


# --------------------------------------------------------------------------- derived dims (dx + 1, 3 * dx + 1)
def make_shifted_sum(lib):
    class ShiftedSum(lib.nn.Module):
        def forward(self, z, y):
            return z[1:] + y[1::3]

    return ShiftedSum()


@pytest.mark.parametrize("build", [lambda d: d + 1, lambda d: 2 * d, lambda d: d - 1, lambda d: d * 2 + 1,
                                   lambda d: (d + 1) * 2, lambda d: 1 + 3 * d])
def test_derived_dims_have_torchs_name_and_range(build):
    theirs, ours = build(torch.export.Dim("dx", min=3, max=6)), build(trainer.export.Dim("dx", min=3, max=6))
    assert (str(ours), ours.__name__, ours.min, ours.max) == (str(theirs), theirs.__name__, theirs.min, theirs.max)


@pytest.mark.parametrize("build", [lambda d: d * d, lambda d: d + 1.5, lambda d: d * 0, lambda d: d - 0.5])
def test_derived_dims_refuse_what_torch_refuses(build):
    assert_raises_like_torch(lambda lib: build(lib.export.Dim("dx", min=3, max=6)), NotImplementedError,
                             "Only increasing linear operations with integer coefficients are supported")


def test_derived_dims_export_check_and_guard_like_torch():
    theirs, ours = make_shifted_sum(torch), make_shifted_sum(trainer)
    tz, z = example(4)
    ty, y = example(10, seed=2)
    eps = [lib.export.export(m, (a, b), dynamic_shapes=({0: lib.export.Dim("dx", min=3, max=6) + 1},
                                                        {0: lib.export.Dim("dx", min=3, max=6) * 3 + 1}))
           for lib, m, a, b in ((torch, theirs, tz, ty), (trainer, ours, z, y))]
    ep_t, ep = eps
    # torch names the sizes by symbols (s95 + 1): compare the ranges, in order
    assert list(ep.range_constraints) == ["dx + 1", "3*dx + 1", "dx"]
    assert [tuple(r) for r in ep.range_constraints.values()] == [
        (int(r.lower), int(r.upper)) for r in ep_t.range_constraints.values()]
    for size in (3, 6):  # both ends of dx's range
        (tz2, z2), (ty2, y2) = example(size + 1, seed=size), example(3 * size + 1, seed=9)
        assert_close(ep.module()(z2, y2), ep_t.module()(tz2, ty2))
    for bad_z, bad_y, message in ((4, 11, r"y.size\(\)\[0\] == 3\*dx \+ 1 and z.size\(\)\[0\] == dx \+ 1"),
                                  (9, 25, r"z.size\(\)\[0\] <= 7")):
        with pytest.raises(AssertionError):
            ep_t.module()(example(bad_z)[0], example(bad_y)[0])
        with pytest.raises(AssertionError, match=message):
            ep.module()(example(bad_z)[1], example(bad_y)[1])


def test_derived_dims_must_fit_the_example_inputs():
    def exported(lib, shapes, sizes):
        class Sums(lib.nn.Module):
            def forward(self, x, y):
                return x.sum() + y.sum()

        dx = lib.export.Dim("dx", min=3, max=6)
        return lib.export.export(Sums(), tuple(lib.randn(s) for s in sizes), dynamic_shapes=shapes(dx))

    with pytest.raises(torch._dynamo.exc.UserError):
        exported(torch, lambda dx: ({0: dx}, {0: dx + 1}), (5, 7))
    with pytest.raises(trainer.export.UserError,
                       match=r"Expected input y.size\(\)\[0\] to be equal to dx \+ 1, where dx = 5, but got 7"):
        exported(trainer, lambda dx: ({0: dx}, {0: dx + 1}), (5, 7))
    for lib in (torch, trainer):
        with pytest.raises(torch.fx.experimental.symbolic_shapes.ConstraintViolationError if lib is torch
                           else trainer.export.ConstraintViolationError, match=r"7 not in range \[10, 19\]"):
            exported(lib, lambda dx: ({0: dx + 1}, {0: dx * 3 + 1}), (5, 7))
    # a root used only through derived sizes must take an integer value
    with pytest.raises(trainer.export.UserError, match=r"of the form 2\*dx"):
        exported(trainer, lambda dx: ({0: 2 * dx}, {0: dx * 2 + 1}), (7, 9))


# --------------------------------------------------------------------------- cond
def make_cond_model(lib):
    class Branches(lib.nn.Module):
        def forward(self, x, w):
            def true_fn(x, w):
                return lib.sin(x) @ w

            def false_fn(x, w):
                return lib.cos(x) * 2

            return lib.cond(x.sum() > 0, true_fn, false_fn, (x, w)) + 1

    return Branches()


def test_cond_is_recorded_with_traced_branches_like_torch():
    theirs, ours = make_cond_model(torch), make_cond_model(trainer)
    tx, x = example((3, 3))
    tw, w = example((3, 3), seed=3)
    ep_t = torch.export.export(theirs, (tx, tw))
    ep = trainer.export.export(ours, (x, w))
    cond_nodes = [n for n in ep.graph.nodes if n.target is trainer.cond]
    assert len(cond_nodes) == 1 and [a.target for a in cond_nodes[0].args[1:3]] == ["true_graph_0", "false_graph_0"]
    assert [a.name for a in cond_nodes[0].args[3]] == ["x", "w"]
    assert {n for n, _ in ep.graph_module.named_children()} == {n for n, _ in ep_t.graph_module.named_children()}
    assert isinstance(ep.graph_module.true_graph_0, trainer.fx.GraphModule)
    for sign in (1, -1):  # each input takes its own branch, not the example's
        assert_close(ep.module()(x.abs() * sign, w), ep_t.module()(tx.abs() * sign, tw))


def test_cond_with_a_constant_predicate_keeps_only_its_branch():
    class Constant(trainer.nn.Module):
        def forward(self, x):
            return trainer.cond(x.shape[0] > 2, trainer.sin, trainer.cos, (x,))

    ep = trainer.export.export(Constant(), (example(3)[1],))
    assert trainer.cond not in [n.target for n in ep.graph.nodes]
    assert_close(ep.module()(example(3, seed=4)[1]), torch.sin(example(3, seed=4)[0]))


def test_cond_branches_reading_state_are_refused():
    class ReadsWeight(trainer.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = trainer.nn.Parameter(trainer.ones(3))

        def forward(self, x):
            return trainer.cond(x.sum() > 0, lambda x: x * self.w, lambda x: x, (x,))

    with pytest.raises(trainer.export.UserError, match="pass parameters, buffers and constant tensors to cond"):
        trainer.export.export(ReadsWeight(), (example(3)[1],))
