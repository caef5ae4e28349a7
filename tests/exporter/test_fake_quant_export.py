"""Exporting fake quantization as QuantizeLinear/DequantizeLinear pairs: a small CNN with fake-quantized weights
(per channel and per tensor) and activations (the 7-bit reduce_range grid, which adds a Clip) passes the checker,
and ONNX Runtime and serving reproduce the trainer's outputs on the same grid. Constant folding quantizes the
weights once: they are stored as int8 initializers, each read through a DequantizeLinear (the QDQ form int8 runtimes
look for)."""

import numpy as np
import onnx
import pytest

import trainer
import trainer.ao.quantization as tq
from exporter import export
from exporter.errors import ExportError
from exporter.verify import run_exported
from tests.exporter.function_module import Fn
from trainer import nn
from trainer.nn import functional as F


class QATConvNet(nn.Module):
    """Conv -> ReLU -> Linear with each weight and activation fake-quantized, as a QAT-prepared model runs."""

    def __init__(self):
        super().__init__()
        self.input_fake_quant = tq.default_fake_quant()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.conv_weight_fake_quant = tq.default_per_channel_weight_fake_quant()
        self.relu_fake_quant = tq.FakeQuantize(quant_min=0, quant_max=255)
        self.fc = nn.Linear(4 * 5 * 5, 6)
        self.fc_weight_fake_quant = tq.default_weight_fake_quant()
        self.output_fake_quant = tq.FakeQuantize(dtype=trainer.qint8, quant_min=-128, quant_max=127)

    def forward(self, x):
        x = self.input_fake_quant(x)
        x = F.relu(F.conv2d(x, self.conv_weight_fake_quant(self.conv.weight), self.conv.bias, padding=1))
        x = self.relu_fake_quant(x)
        return self.output_fake_quant(F.linear(x.flatten(1), self.fc_weight_fake_quant(self.fc.weight), self.fc.bias))


def _trained_model():
    trainer.manual_seed(0)
    model = QATConvNet()
    optimizer = trainer.optim.SGD(model.parameters(), lr=0.05)
    for _ in range(3):  # the observers settle on ranges while the weights move
        loss = model(trainer.randn(8, 3, 5, 5)).square().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.apply(tq.disable_observer)  # freeze the grids, as before deployment
    return model


@pytest.mark.parametrize("opset", [13, None])
def test_qat_cnn_exports_as_qdq_and_runs_like_the_trainer(tmp_path, runtime, opset):
    model = _trained_model().eval()
    path = tmp_path / "model.onnx"
    proto = export(model, trainer.randn(2, 3, 5, 5), path, dynamic_axes={"input": {0: "batch"}}, opset_version=opset)
    onnx.checker.check_model(proto, full_check=True)
    ops = [node.op_type for node in proto.graph.node]
    assert ops.count("QuantizeLinear") == 3 and ops.count("DequantizeLinear") == 5  # weights quantized at export
    assert ops.count("Clip") == 1  # the input's 7-bit (0, 127) grid
    initializers = {t.name: t for t in proto.graph.initializer}
    weights = [initializers[n.input[0]] for n in proto.graph.node
               if n.op_type == "DequantizeLinear" and n.input[0] in initializers]
    assert sorted(w.data_type for w in weights) == [onnx.TensorProto.INT8] * 2
    axes = [a.i for n in proto.graph.node if n.op_type == "DequantizeLinear" for a in n.attribute if a.name == "axis"]
    assert axes == [0]  # the per-channel conv weight
    x = trainer.randn(5, 3, 5, 5)
    expected, got = model(x).detach().numpy(), run_exported(runtime, path, {"input": x.numpy()})[0]
    # the same grid: outputs agree exactly, except where float32 sums that differ in their last bits (conv and
    # matmul orders) sit on either side of a rounding tie, which moves that output by one step of its grid
    step = float(model.output_fake_quant.scale)
    differences = np.abs(got - expected)
    assert differences.max() <= step * 1.001
    assert np.mean(differences > 1e-6) <= 0.1


@pytest.mark.parametrize("opset", [13, 19, None])
def test_every_supported_range_matches_onnx_runtime(tmp_path, opset):
    rng = np.random.default_rng(0)
    x = trainer.tensor(rng.standard_normal((2, 3, 4)).astype(np.float32) * 3)
    scales, points = trainer.tensor([0.05, 0.1, 0.2]), trainer.tensor([0, 3, -2], dtype=trainer.int32)
    for quant_min, quant_max, zero_point in [(-128, 127, 2), (0, 255, 130), (0, 127, 10), (-64, 63, -3)]:
        model = Fn(lambda t, a=quant_min, b=quant_max, z=zero_point: (
            trainer.fake_quantize_per_tensor_affine(t, 0.03, z, a, b)
            + trainer.fake_quantize_per_channel_affine(t, scales, points.clamp(a, b), 1, a, b)))
        path = tmp_path / f"range_{quant_min}_{quant_max}.onnx"
        export(model, x, path, opset_version=opset)
        got = run_exported("onnxruntime", path, {"input": x.numpy()})[0]
        np.testing.assert_allclose(got, model(x).numpy(), atol=1e-6)


def test_double_inputs_compute_in_float32_and_come_back_double(roundtrip, runtime):
    model = Fn(lambda t: trainer.fake_quantize_per_tensor_affine(t, 0.125, 0, -128, 127))
    proto, _ = roundtrip(model, trainer.randn(3, 4, dtype=trainer.float64), runtime)
    assert [n.op_type for n in proto.graph.node] == ["Cast", "QuantizeLinear", "DequantizeLinear", "Cast"]


@pytest.mark.parametrize(("make", "message"), [
    (lambda t: trainer.fake_quantize_per_tensor_affine(t, 0.1, 0, 0, 15),
     r"range \(quant_min, quant_max\) = \(0, 15\)"),
    (lambda t: trainer.fake_quantize_per_tensor_affine(t, trainer.tensor([0.1]), trainer.tensor([300]), 0, 255),
     "zero_point 300"),
    (lambda t: trainer.fake_quantize_per_channel_affine(t, trainer.tensor([0.1, 0.2, 0.3]),
                                                        trainer.tensor([0.5, 1.0, 2.0]), 1, 0, 255),
     "floating-point zero points"),
])
def test_unexpressible_fake_quantization_is_refused_at_export(tmp_path, make, message):
    with pytest.raises(ExportError, match=message):
        export(Fn(make), trainer.randn(2, 3), tmp_path / "model.onnx")
