"""``exporter.export`` takes ``torch.onnx.export``'s arguments: each is checked against PyTorch's (TorchScript)
exporter on the same model, built in both libraries from the same weights — graph inputs and initializers for
``export_params`` / ``keep_initializers_as_inputs``, keyword inputs, dynamic shapes, training modes, custom ops
lowered through a registered symbolic — and the written graphs run in ONNX Runtime to equal outputs."""

import io
import warnings

import numpy as np
import onnx
import onnxruntime
import pytest
import torch

import exporter
import trainer
from exporter import ExportError, TrainingMode, UnsupportedOpError
from exporter.cli import main
from trainer.export import Dim

ATOL = 1e-5


# ----------------------------------------------------------------- helpers
def twins(build):
    """``build(lib)`` in PyTorch and in trainer, with PyTorch's weights copied into trainer's, both in eval mode."""
    torch.manual_seed(0)
    theirs = build(torch).eval()
    ours = build(trainer).eval()
    ours.load_state_dict({k: trainer.tensor(v.detach().numpy().copy()) for k, v in theirs.state_dict().items()})
    return theirs, ours


def mlp(lib):
    return lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.ReLU(), lib.nn.Linear(4, 2))


def with_batch_norm(lib):
    return lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.BatchNorm1d(4))


def torch_export(model, args, **kwargs) -> onnx.ModelProto:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, args, buffer, dynamo=False, **kwargs)
    return onnx.load_from_string(buffer.getvalue())


def run(proto: onnx.ModelProto, *arrays) -> list[np.ndarray]:
    session = onnxruntime.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    feeds = {i.name: np.asarray(a) for i, a in zip(session.get_inputs(), arrays)}
    return session.run(None, feeds)


def input_names(proto) -> list[str]:
    return [i.name for i in proto.graph.input]


def initializer_names(proto) -> set[str]:
    return {i.name for i in proto.graph.initializer}


def example(*shape):
    data = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    return torch.tensor(data), trainer.tensor(data)


# ----------------------------------------------------------------- the tutorial's call
def test_the_tutorial_call_runs_and_matches_torch(tmp_path):
    theirs, ours = twins(mlp)
    t_x, x = example(5, 3)
    arguments = dict(export_params=True, opset_version=13, do_constant_folding=True, input_names=["input"],
                     output_names=["output"], dynamic_axes={"input": {0: "batch_size"}, "output": {0: "batch_size"}},
                     verbose=False)
    expected = torch_export(theirs, t_x, **arguments)
    got = exporter.export(ours, x, str(tmp_path / "m.onnx"), **arguments)
    assert input_names(got) == input_names(expected) == ["input"]
    assert initializer_names(got) == initializer_names(expected)
    assert got.graph.input[0].type == expected.graph.input[0].type
    bigger = np.random.default_rng(1).standard_normal((7, 3)).astype(np.float32)
    np.testing.assert_allclose(run(got, bigger)[0], run(expected, bigger)[0], atol=ATOL)
    assert onnx.load(str(tmp_path / "m.onnx")).graph.node == got.graph.node


def test_unknown_keywords_raise_type_error_as_python_would():
    theirs, ours = twins(mlp)
    t_x, x = example(2, 3)
    with pytest.raises(TypeError) as torch_error:
        torch.onnx.export(theirs, t_x, io.BytesIO(), dynamo=False, opset=13)
    with pytest.raises(TypeError) as our_error:
        exporter.export(ours, x, io.BytesIO(), opset=13)
    assert str(our_error.value) == str(torch_error.value) == "export() got an unexpected keyword argument 'opset'"


# ----------------------------------------------------------------- parameters as inputs
def test_export_params_false_makes_parameters_inputs_as_torch_does():
    theirs, ours = twins(mlp)
    t_x, x = example(5, 3)
    expected = torch_export(theirs, (t_x,), input_names=["x"], export_params=False)
    got = exporter.export(ours, (x,), None, input_names=["x"], export_params=False)
    assert input_names(got) == input_names(expected) == ["x", "0.weight", "0.bias", "2.weight", "2.bias"]
    assert initializer_names(got) == initializer_names(expected) == set()
    weights = [v.detach().numpy() for v in theirs.state_dict().values()]
    np.testing.assert_allclose(run(got, x.numpy(), *weights)[0], run(expected, t_x.numpy(), *weights)[0], atol=ATOL)


def test_export_params_false_feeds_buffers_too():
    _, ours = twins(with_batch_norm)
    got = exporter.export(ours, example(5, 3)[1], None, export_params=False)
    assert input_names(got) == ["input", "0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean",
                                "1.running_var"]
    assert not got.graph.initializer


def test_keep_initializers_as_inputs_lists_them_as_torch_does():
    theirs, ours = twins(with_batch_norm)
    t_x, x = example(5, 3)
    for export_params in (True, False):
        expected = torch_export(theirs, (t_x,), input_names=["x"], keep_initializers_as_inputs=True,
                                export_params=export_params)
        got = exporter.export(ours, (x,), None, input_names=["x"], keep_initializers_as_inputs=True,
                              export_params=export_params)
        assert input_names(got) == input_names(expected)
        assert initializer_names(got) == initializer_names(expected)
    got = exporter.export(ours, (x,), None, keep_initializers_as_inputs=True)
    np.testing.assert_allclose(run(got, x.numpy())[0], theirs(t_x).detach().numpy(), atol=ATOL)


# ----------------------------------------------------------------- keyword inputs
class Scaled:
    """``forward(x, y=None, scale=None)``: optional keyword inputs."""

    @staticmethod
    def build(lib):
        class Model(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = lib.nn.Linear(3, 2)

            def forward(self, x, y=None, scale=None):
                out = self.fc(x)
                if y is not None:
                    out = out + y
                return out if scale is None else out * scale

        return Model()


@pytest.mark.parametrize("form", ["trailing dict", "kwargs"])
def test_keyword_inputs_become_graph_inputs(form):
    theirs, ours = twins(Scaled.build)
    (t_x, x), (t_s, s) = example(4, 3), example(4, 2)

    def call(x, s):
        return dict(args=(x, {"scale": s})) if form == "trailing dict" else dict(args=(x,), kwargs={"scale": s})

    expected = torch_export(theirs, **call(t_x, t_s), input_names=["x", "scale"])
    got = exporter.export(ours, f=None, **call(x, s), input_names=["x", "scale"])
    assert input_names(got) == input_names(expected) == ["x", "scale"]
    np.testing.assert_allclose(run(got, x.numpy(), s.numpy())[0], run(expected, t_x.numpy(), t_s.numpy())[0],
                               atol=ATOL)
    default = exporter.export(ours, f=None, **call(x, s))
    assert input_names(default) == ["input", "scale"]  # named by the keyword, as torch's dynamo exporter does


def test_keyword_inputs_follow_forwards_order_and_take_dynamic_axes():
    _, ours = twins(Scaled.build)
    (_, x), (_, y), (_, s) = example(4, 3), example(4, 2), example(4, 2)
    got = exporter.export(ours, (x, {"scale": s, "y": y}), None, dynamic_axes={"y": {0: "n"}})
    assert input_names(got) == ["input", "y", "scale"]
    assert got.graph.input[1].type.tensor_type.shape.dim[0].dim_param == "n"
    np.testing.assert_allclose(run(got, x.numpy(), y.numpy(), s.numpy())[0],
                               ((ours(x) + y) * s).detach().numpy(), atol=ATOL)
    by_keyword = exporter.export(ours, (x, {"scale": s, "y": y}), None, dynamic_shapes={"scale": {0: Dim("n")}})
    assert [i.type.tensor_type.shape.dim[0].dim_param for i in by_keyword.graph.input] == ["", "", "n"]


# ----------------------------------------------------------------- dynamic_shapes
@pytest.mark.parametrize("dynamic_shapes", [{"input": {0: Dim("batch")}}, ({0: "batch"},), [(Dim("batch"), None)]],
                         ids=["dict of Dim", "tuple of names", "per-axis list"])
def test_dynamic_shapes_give_the_axes_torch_gives_for_dynamic_axes(dynamic_shapes):
    theirs, ours = twins(mlp)
    t_x, x = example(5, 3)
    expected = torch_export(theirs, (t_x,), input_names=["x"], dynamic_axes={"x": {0: "batch"}})
    got = exporter.export(ours, (x,), None, input_names=["x"], dynamic_shapes=dynamic_shapes)
    assert got.graph.input[0].type == expected.graph.input[0].type
    other = np.random.default_rng(2).standard_normal((9, 3)).astype(np.float32)
    np.testing.assert_allclose(run(got, other)[0], run(expected, other)[0], atol=ATOL)


def test_dynamic_shapes_auto_and_bad_entries():
    _, ours = twins(mlp)
    x = example(5, 3)[1]
    got = exporter.export(ours, (x,), None, dynamic_shapes={"input": {0: Dim.AUTO}})
    assert got.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "input_dynamic_axes_1"
    with pytest.raises(ExportError, match="not one of the model's exported inputs"):
        exporter.export(ours, (x,), None, dynamic_shapes={"z": {0: Dim("b")}})
    with pytest.raises(ExportError, match="has 2 dims"):
        exporter.export(ours, (x,), None, dynamic_shapes=({2: Dim("b")},))
    with pytest.raises(ExportError, match="dynamic_shapes or dynamic_axes, not both"):
        exporter.export(ours, (x,), None, dynamic_shapes=({0: "b"},), dynamic_axes={"input": [0]})


# ----------------------------------------------------------------- training modes
def dropout_model(lib):
    return lib.nn.Sequential(lib.nn.Linear(3, 64), lib.nn.Dropout(0.5))


def _dropout_nodes(proto):
    return [n for n in proto.graph.node if n.op_type == "Dropout"]


@pytest.mark.parametrize("mode", [TrainingMode.TRAINING, torch.onnx.TrainingMode.TRAINING], ids=["ours", "torch's"])
def test_training_exports_dropout_in_training_mode_as_torch_does(mode):
    theirs, ours = twins(dropout_model)
    t_x, x = example(6, 3)
    expected = torch_export(theirs, (t_x,), training=torch.onnx.TrainingMode.TRAINING, do_constant_folding=False)
    got = exporter.export(ours, (x,), None, training=mode)
    assert len(_dropout_nodes(got)) == len(_dropout_nodes(expected)) == 1
    training_flag = {i.name: onnx.numpy_helper.to_array(i) for i in got.graph.initializer}[_dropout_nodes(got)[0]
                                                                                          .input[2]]
    assert training_flag.dtype == bool and training_flag
    assert not ours.training  # the model is put back in the mode it was in
    before = theirs[0](t_x).detach().numpy()
    for proto in (got, expected):
        out = run(proto, x.numpy())[0]
        dropped = out == 0
        assert 0.3 < dropped.mean() < 0.7  # a fresh mask: about half of the elements
        np.testing.assert_allclose(out[~dropped], 2 * before[~dropped], rtol=1e-5)


def test_training_normalizes_with_batch_statistics_as_torch_does():
    theirs, ours = twins(with_batch_norm)
    t_x, x = example(8, 3)
    expected = torch_export(theirs, (t_x,), training=torch.onnx.TrainingMode.TRAINING, do_constant_folding=False)
    got = exporter.export(ours, (x,), None, training=TrainingMode.TRAINING)
    theirs.train()
    reference = theirs(t_x).detach().numpy()
    np.testing.assert_allclose(run(got, x.numpy())[0], reference, atol=1e-4)
    np.testing.assert_allclose(run(expected, t_x.numpy())[0], reference, atol=1e-4)


def test_preserve_exports_in_the_models_own_mode():
    _, ours = twins(dropout_model)
    x = example(6, 3)[1]
    assert not _dropout_nodes(exporter.export(ours, (x,), None, training=TrainingMode.PRESERVE))
    ours.train()
    assert _dropout_nodes(exporter.export(ours, (x,), None, training=TrainingMode.PRESERVE))
    assert ours.training
    with pytest.warns(UserWarning, match="exported in eval mode"):
        assert not _dropout_nodes(exporter.export(ours, (x,), None))
    assert ours.training


def test_channel_dropout_in_training_mode_is_refused():
    model = trainer.nn.Sequential(trainer.nn.Conv2d(2, 4, 3), trainer.nn.Dropout2d(0.5))
    with pytest.raises(UnsupportedOpError, match="channel dropout .* in training mode"):
        exporter.export(model, (trainer.randn(1, 2, 5, 5),), None, training=TrainingMode.TRAINING)


# ----------------------------------------------------------------- arguments that must be ONNX / False
def test_operator_export_type_other_than_onnx_is_refused():
    _, ours = twins(mlp)
    x = example(2, 3)[1]
    assert exporter.export(ours, x, None, operator_export_type=torch.onnx.OperatorExportTypes.ONNX) is not None
    assert exporter.export(ours, x, None, operator_export_type=exporter.OperatorExportTypes.ONNX) is not None
    with pytest.raises(ExportError, match="standard ONNX only"):
        exporter.export(ours, x, None, operator_export_type=torch.onnx.OperatorExportTypes.ONNX_ATEN_FALLBACK)


def test_translation_tables_are_refused():
    _, ours = twins(mlp)
    x = example(2, 3)[1]
    with pytest.raises(ExportError, match="register_custom_op_symbolic"):
        exporter.export(ours, x, None, custom_translation_table={"aten::relu": lambda *a: None})


def test_dynamo_era_arguments_are_accepted(tmp_path):
    _, ours = twins(mlp)
    x = example(2, 3)[1]
    plain = exporter.export(ours, x, None)
    for dynamo in (True, False):
        got = exporter.export(ours, (x,), None, dynamo=dynamo, report=True, optimize=False, profile=True,
                              dump_exported_program=True, artifacts_dir=tmp_path, fallback=True,
                              autograd_inlining=False, export_modules_as_functions=False, custom_translation_table={})
        assert got.graph == plain.graph
    assert not list(tmp_path.iterdir())  # f=None writes nothing


def test_verbose_prints_the_graph(capsys):
    _, ours = twins(mlp)
    exporter.export(ours, example(2, 3)[1], None, verbose=True)
    printed = capsys.readouterr().out
    assert "Exported graph" in printed and "Gemm" in printed and "Relu" in printed
    assert "0.weight: float32[4, 3]" in printed  # the weights by shape, not by value


# ----------------------------------------------------------------- custom ops
@torch.library.custom_op("sardonyx_export_test::scaled_tanh", mutates_args=())
def torch_scaled_tanh(x: torch.Tensor, alpha: float) -> torch.Tensor:
    return torch.from_numpy(np.tanh(x.numpy()) * np.float32(alpha))


@torch_scaled_tanh.register_fake
def _(x, alpha):
    return torch.empty_like(x)


@trainer.library.custom_op("sardonyx_export_test::scaled_tanh", mutates_args=())
def scaled_tanh(x: trainer.Tensor, alpha: float) -> trainer.Tensor:
    return trainer.from_numpy(np.tanh(x.numpy()) * np.float32(alpha))  # NumPy only: the exporter cannot see inside


@trainer.library.custom_op("sardonyx_export_test::soft_clip", mutates_args=())
def soft_clip(x: trainer.Tensor, bound: float) -> trainer.Tensor:
    return (x / bound).tanh() * bound  # trainer ops: traced through


def custom_op_model(lib, op):
    class Model(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = lib.nn.Linear(3, 4)

        def forward(self, x):
            return op(self.fc(x), 0.5) + 1

    return Model()


@torch.onnx.symbolic_helper.parse_args("v", "f")
def torch_symbolic(g, x, alpha):
    return g.op("Mul", g.op("Tanh", x), g.op("Constant", value_t=torch.tensor(alpha, dtype=torch.float32)))


def our_symbolic(g, x, alpha):
    return g.op("Mul", g.op("Tanh", x), g.like(alpha, x))


@pytest.fixture
def symbolics():
    """Register through both libraries' APIs, and forget it all afterwards."""
    registered = []

    def register(name, theirs, ours, opset):
        if theirs is not None:
            torch.onnx.register_custom_op_symbolic(name, theirs, opset)
        exporter.register_custom_op_symbolic(name, ours, opset)
        registered.append((name, opset, theirs is not None))

    yield register
    for name, opset, in_torch in registered:
        if in_torch:
            torch.onnx.unregister_custom_op_symbolic(name, opset)
        exporter.unregister_custom_op_symbolic(name, opset)


def _twin_custom_op_models():
    torch.manual_seed(0)
    theirs = custom_op_model(torch, torch_scaled_tanh).eval()
    ours = custom_op_model(trainer, scaled_tanh).eval()
    ours.load_state_dict({k: trainer.tensor(v.detach().numpy().copy()) for k, v in theirs.state_dict().items()})
    return theirs, ours


def test_a_numpy_custom_op_without_symbolic_is_refused_by_name():
    _, ours = _twin_custom_op_models()
    with pytest.raises(UnsupportedOpError, match=r"sardonyx_export_test::scaled_tanh .*register_custom_op_symbolic"):
        exporter.export(ours, example(2, 3)[1], None)


def test_a_custom_op_exports_through_its_registered_symbolic(symbolics):
    symbolics("sardonyx_export_test::scaled_tanh", torch_symbolic, our_symbolic, 13)
    theirs, ours = _twin_custom_op_models()
    t_x, x = example(5, 3)
    expected = torch_export(theirs, (t_x,), opset_version=17)
    got = exporter.export(ours, (x,), None, opset_version=17)
    assert {"Tanh", "Mul"} <= {n.op_type for n in got.graph.node}
    np.testing.assert_allclose(run(got, x.numpy())[0], run(expected, t_x.numpy())[0], atol=ATOL)
    with trainer.no_grad():
        np.testing.assert_allclose(run(got, x.numpy())[0], ours(x).numpy(), atol=ATOL)


def test_the_symbolic_serves_its_opset_and_above(symbolics):
    symbolics("sardonyx_export_test::scaled_tanh", None, our_symbolic, 15)
    _, ours = _twin_custom_op_models()
    x = example(2, 3)[1]
    assert exporter.export(ours, (x,), None, opset_version=16) is not None
    with pytest.raises(UnsupportedOpError, match="register_custom_op_symbolic"):
        exporter.export(ours, (x,), None, opset_version=14)


def test_a_symbolic_emits_a_custom_domain_node_versioned_by_custom_opsets(symbolics):
    @torch.onnx.symbolic_helper.parse_args("v", "f")
    def torch_domain_symbolic(g, x, alpha):
        return g.op("com.example::ScaledTanh", x, alpha_f=alpha)

    symbolics("sardonyx_export_test::scaled_tanh", torch_domain_symbolic,
              lambda g, x, alpha: g.op("com.example::ScaledTanh", x, alpha_f=alpha), 13)
    theirs, ours = _twin_custom_op_models()
    t_x, x = example(5, 3)
    expected = torch_export(theirs, (t_x,), opset_version=17, custom_opsets={"com.example": 2})
    got = exporter.export(ours, (x,), None, opset_version=17, custom_opsets={"com.example": 2})

    def custom(proto):
        node = next(n for n in proto.graph.node if n.domain == "com.example")
        return node.op_type, list(node.attribute), {o.domain: o.version for o in proto.opset_import if o.domain}

    assert custom(got) == custom(expected) == ("ScaledTanh", list(custom(expected)[1]), {"com.example": 2})
    assert onnx.helper.get_attribute_value(custom(got)[1][0]) == pytest.approx(0.5)
    unversioned = exporter.export(ours, (x,), None, opset_version=17)
    assert {o.domain: o.version for o in unversioned.opset_import if o.domain} == {"com.example": 1}


def test_a_custom_op_of_trainer_ops_is_traced_through_without_a_symbolic():
    model = custom_op_model(trainer, soft_clip).eval()
    x = example(5, 3)[1]
    got = exporter.export(model, (x,), None)
    assert "Tanh" in {n.op_type for n in got.graph.node}
    np.testing.assert_allclose(run(got, x.numpy())[0], model(x).detach().numpy(), atol=ATOL)


def test_a_symbolic_replaces_a_trainer_ops_lowering(symbolics):
    model = custom_op_model(trainer, soft_clip).eval()
    x = example(5, 3)[1]
    symbolics("::Tanh", None, lambda g, a: g.op("Mul", g.op("Sigmoid", a), g.like(1.0, a)), 13)
    ops = {n.op_type for n in exporter.export(model, (x,), None).graph.node}
    assert "Sigmoid" in ops and "Tanh" not in ops
    exporter.unregister_custom_op_symbolic("trainer::Tanh", 13)
    assert "Tanh" in {n.op_type for n in exporter.export(model, (x,), None).graph.node}


def test_symbolic_names_are_checked_as_torch_checks_them():
    for name, error in [("no_namespace", RuntimeError), ("ns::1starts_with_a_digit", RuntimeError),
                        ("onnx::Relu", ValueError)]:
        with pytest.raises(error):
            torch.onnx.register_custom_op_symbolic(name, our_symbolic, 13)
        with pytest.raises(error, match=f"Failed to register operator {name}"):
            exporter.register_custom_op_symbolic(name, our_symbolic, 13)


# ----------------------------------------------------------------- the command line
def test_the_cli_passes_the_new_flags(tmp_path, capsys):
    out = tmp_path / "lenet.onnx"
    assert main(["trainer.zoo:LeNet5", "--input-shape", "1,1,28,28", "--no-export-params", "--verbose",
                 "-o", str(out)]) == 0
    proto = onnx.load(str(out))
    assert not proto.graph.initializer or all(i.name.startswith("const") for i in proto.graph.initializer)
    assert any(name.endswith(".weight") for name in input_names(proto))
    assert "Exported graph" in capsys.readouterr().out
    assert main(["trainer.zoo:LeNet5", "--input-shape", "1,1,28,28", "--custom-opset", "bad", "-o", str(out)]) == 2


# ----------------------------------------------------------------- modules as functions
def blocks(lib):
    class Block(lib.nn.Module):
        def __init__(self, width):
            super().__init__()
            self.fc = lib.nn.Linear(4, width)

        def forward(self, x):
            return lib.relu(self.fc(x)) + x

    return lib.nn.Sequential(Block(4), Block(4), lib.nn.Linear(4, 2))


def _calls(proto):
    return [(n.op_type, n.domain, len(n.input)) for n in proto.graph.node]


def _functions(proto):
    return sorted((f.name, [n.op_type for n in f.node], len(f.input), len(f.output)) for f in proto.functions)


def test_modules_export_as_local_functions_as_torch_writes_them():
    theirs, ours = twins(blocks)
    t_x, x = example(3, 4)
    block = type(ours[0])
    expected = torch_export(theirs, (t_x,), export_modules_as_functions={type(theirs[0])})
    got = exporter.export(ours, (x,), None, export_modules_as_functions={block})
    assert _calls(got) == [("Block", block.__module__, 3), ("Block", block.__module__, 3), ("Gemm", "", 3)]
    assert [(op, n) for op, _, n in _calls(got)] == [(op, n) for op, _, n in _calls(expected)]
    assert _functions(got) == _functions(expected) == [("Block", ["Gemm", "Relu", "Add"], 3, 1)]
    assert {o.domain: o.version for o in got.opset_import}[block.__module__] == 1
    np.testing.assert_allclose(run(got, x.numpy())[0], run(expected, t_x.numpy())[0], atol=ATOL)


def test_nested_modules_become_nested_functions():
    _, ours = twins(blocks)
    x = example(3, 4)[1]
    got = exporter.export(ours, (x,), None, export_modules_as_functions=True, dynamic_axes={"input": {0: "n"}},
                          opset_version=13)
    assert got.ir_version >= 8  # model-local functions need IR 8, though opset 13 alone asks for 7
    assert _functions(got) == [("Block", ["Linear", "Relu", "Add"], 3, 1), ("Linear", ["Gemm"], 3, 1)]
    assert [n.op_type for n in got.graph.node] == ["Block", "Block", "Linear"]
    other = example(6, 4)[1]
    with trainer.no_grad():
        np.testing.assert_allclose(run(got, other.numpy())[0], ours(other).numpy(), atol=ATOL)


def test_a_module_called_around_other_work_is_refused_as_a_function():
    class Twice(trainer.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = trainer.nn.Linear(4, 4)

        def forward(self, x):
            return self.fc(self.fc(x).relu())

    with pytest.raises(ExportError, match="called more than once"):
        exporter.export(Twice(), (trainer.randn(2, 4),), None, export_modules_as_functions={trainer.nn.Linear})
    with pytest.raises(ExportError, match="must be a bool or a set of nn.Module classes"):
        exporter.export(Twice(), (trainer.randn(2, 4),), None, export_modules_as_functions={"Linear"})
