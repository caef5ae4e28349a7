"""What the exported graph looks like: initializer names, dedup, node names, dynamic shapes, passes, writing."""

import importlib
import io
import warnings

import numpy as np
import onnx
import onnxruntime
import pytest

import trainer
from exporter import export
from exporter.verify import expected_outputs, run_exported, verify
from trainer import nn, zoo


class Reshaper(nn.Module):
    def __init__(self, how):
        super().__init__()
        self.how = how
        self.fc = nn.Linear(12, 3)

    def forward(self, x):
        return self.fc(x.reshape(x.shape[0], -1) if self.how == "shape" else x.view(-1, 12))


@pytest.mark.parametrize("how", ["shape", "view"])
def test_reshape_by_read_size_and_view_minus_one_are_batch_free(how, runtime, roundtrip):
    proto, _ = roundtrip(Reshaper(how), trainer.randn(2, 3, 4), runtime, dynamic=[0], variants=({0: 1}, {0: 7}))
    shapes = [onnx.numpy_helper.to_array(i) for i in proto.graph.initializer if i.data_type == onnx.TensorProto.INT64]
    assert not any(2 in s for s in shapes), "the traced batch size was baked into a shape"


def test_read_sizes_of_a_dynamic_axis_stay_shape_gather(tmp_path):
    proto = export(Reshaper("shape"), trainer.randn(2, 3, 4), tmp_path / "m.onnx",
                   dynamic_axes={"input": {0: "batch"}})
    ops = [n.op_type for n in proto.graph.node]
    assert ops[:2] == ["Shape", "Gather"] and "Reshape" in ops
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"


def test_static_sizes_fold_to_constants(tmp_path):
    proto = export(Reshaper("shape"), trainer.randn(2, 3, 4), tmp_path / "m.onnx")
    assert [n.op_type for n in proto.graph.node] == ["Reshape", "Gemm"]


def test_initializers_are_state_dict_keys_and_a_shared_parameter_is_stored_once(tmp_path):
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.encode = nn.Linear(4, 4)
            self.decode = nn.Linear(4, 4)
            self.decode.weight = self.encode.weight

        def forward(self, x):
            return self.decode(trainer.relu(self.encode(x)))

    model = Tied()
    proto = export(model, trainer.randn(2, 4), tmp_path / "m.onnx")
    names = [i.name for i in proto.graph.initializer]
    assert sorted(names) == ["decode.bias", "encode.bias", "encode.weight"]
    assert set(names) <= set(model.state_dict())
    assert [n.name for n in proto.graph.node] == ["encode/Gemm", "Relu", "decode/Gemm"]


def test_nodes_follow_the_module_path_and_the_producer_is_named(tmp_path):
    model = zoo.TransformerClassifier(8, 3, d_model=8, nhead=2, num_layers=2, dim_feedforward=16)
    proto = export(model.eval(), trainer.randn(1, 4, 8), tmp_path / "m.onnx")
    names = {n.name for n in proto.graph.node}
    assert "encoder.layers.1.self_attn/Softmax" in names and "encoder.layers.1.norm2/LayerNormalization" in names
    assert proto.producer_name == "sardonyx-exporter" and proto.producer_version
    assert proto.graph.value_info, "shape inference's value_info is stored"
    # the attention weights MultiheadAttention computes but the encoder drops are gone
    assert sum(n.op_type == "Softmax" for n in proto.graph.node) == 2


def test_constants_are_deduplicated(tmp_path):
    class Scales(nn.Module):
        def forward(self, x):
            return x * 3.0 + x * 3.0 - (x + 3.0)

    proto = export(Scales(), trainer.randn(2, 2), tmp_path / "m.onnx")
    assert len(proto.graph.initializer) == 1


def test_training_mode_warns_exports_eval_and_is_restored(tmp_path):
    model = zoo.MLP(8, (8,), 2, dropout=0.5)
    model.train()
    with pytest.warns(UserWarning, match="training mode"):
        proto = export(model, trainer.randn(3, 8), tmp_path / "m.onnx")
    assert model.training and all(m.training for m in model.modules())
    assert "Dropout" not in {n.op_type for n in proto.graph.node}


def test_batch_norm_uses_running_statistics_and_folds_into_conv(tmp_path, runtime):
    model = nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.ReLU())
    model[1].running_mean.copy_(trainer.tensor([0.5, -0.2, 0.1]))
    model[1].running_var.copy_(trainer.tensor([2.0, 0.5, 1.5]))
    model.eval()
    x = trainer.randn(2, 2, 6, 6)
    plain = export(model, x, tmp_path / "plain.onnx")
    assert [n.op_type for n in plain.graph.node] == ["Conv", "BatchNormalization", "Relu"]
    fused = export(model, x, tmp_path / "fused.onnx", fuse_conv_bn=True)
    assert [n.op_type for n in fused.graph.node] == ["Conv", "Relu"]
    got = run_exported(runtime, tmp_path / "fused.onnx", {"input": x.numpy()})[0]
    assert np.abs(got - expected_outputs(model, x)[0]).max() < 1e-5


def test_writes_to_a_binary_file_object():
    buffer = io.BytesIO()
    export(zoo.MLP(4, (4,), 2), trainer.randn(1, 4), buffer)
    model = onnx.load_from_string(buffer.getvalue())
    onnx.checker.check_model(model, full_check=True)


def test_external_data_on_request_is_written_beside_the_model(tmp_path):
    model = zoo.MLP(64, (64,), 8).eval()
    x = trainer.randn(2, 64)
    path = tmp_path / "big.onnx"
    export(model, x, path, external_data=True)
    assert (tmp_path / "big.onnx.data").stat().st_size >= 64 * 64 * 4
    assert path.stat().st_size < 64 * 64 * 4
    got = onnxruntime.InferenceSession(str(path)).run(None, {"input": x.numpy()})[0]
    assert np.abs(got - expected_outputs(model, x)[0]).max() < 1e-5


def test_models_past_protobufs_limit_go_external_by_default(tmp_path, monkeypatch):
    monkeypatch.setattr(importlib.import_module("exporter.export"), "_PROTOBUF_LIMIT", 1024)  # stands in for 2 GB
    export(zoo.MLP(64, (64,), 8), trainer.randn(2, 64), tmp_path / "m.onnx")
    assert (tmp_path / "m.onnx.data").exists()


def test_multiple_inputs_and_outputs_with_names(tmp_path, runtime):
    class TwoWay(nn.Module):
        def forward(self, a, b):
            return a + b, (a * b, a)

    a, b = trainer.randn(2, 3), trainer.randn(2, 3)
    path = tmp_path / "m.onnx"
    proto = export(TwoWay(), (a, b), path, input_names=["a", "b"], output_names=["sum", "product", "same"],
                   dynamic_axes={"a": [0], "b": {0: "batch"}, "sum": {0: "batch"}})
    assert [o.name for o in proto.graph.output] == ["sum", "product", "same"]
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "a_dynamic_axes_1"
    got = run_exported(runtime, path, {"a": a.numpy(), "b": b.numpy()})
    np.testing.assert_allclose(got[0], (a + b).numpy(), atol=1e-6)
    np.testing.assert_allclose(got[2], a.numpy())


def test_verify_reports_the_max_difference_per_output_and_runtime(tmp_path):
    model = zoo.LeNet5().eval()
    x = trainer.randn(2, 1, 28, 28)
    export(model, x, tmp_path / "m.onnx")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        report = verify(model, x, tmp_path / "m.onnx")
    assert set(report) == {"onnxruntime", "serving"}
    for diffs in report.values():
        assert set(diffs) == {"output"} and diffs["output"] <= 1e-4
    export(model, x, tmp_path / "again.onnx", verify=True)


def test_arithmetic_on_read_sizes_is_recomputed(runtime, roundtrip):
    class Merge(nn.Module):
        def forward(self, x):
            batch, steps = x.shape[0], x.size(1)
            return x.reshape(batch * steps, -1)[: steps + batch - 1].reshape(-1, x.shape[-1] // 2, 2)

    proto, _ = roundtrip(Merge(), trainer.randn(2, 3, 4), runtime, dynamic=[0, 1], variants=({0: 1, 1: 5},
                                                                                            {0: 4, 1: 2}))
    assert {"Mul", "Add", "Sub"} <= {n.op_type for n in proto.graph.node}


def test_without_constant_folding_the_graph_still_runs(runtime, roundtrip):
    proto, _ = roundtrip(zoo.LSTMClassifier(8, 16), trainer.randn(2, 5, 8), runtime, dynamic=[0, 1],
                         variants=({0: 1, 1: 3},), do_constant_folding=False)
    assert {"Split", "Shape"} & {n.op_type for n in proto.graph.node}
