"""Converted (int8) and dynamically quantized trainer models export as graphs whose integers are trainer's: ONNX
Runtime and serving give, on fresh inputs, exactly the outputs of the trainer's int8 model. A quantized value the
exporter cannot follow, and any output baked in from untraced code, is refused with an error that names it."""

import warnings

import numpy as np
import onnx
import pytest

import trainer
import trainer.ao.quantization as tq
from exporter import ExportError, UnsupportedOpError, export
from exporter.verify import run_exported
from trainer import nn
from trainer.ao.nn.quantized import FloatFunctional
from trainer.ao.nn.quantized import functional as quantized_functional
from trainer.ao.nn.quantized.functional import relu as relu_bound_before_tracing

pytestmark = pytest.mark.filterwarnings("ignore:Please use quant_min and quant_max")


def _converted(model, shape, qconfig, fuse=None):
    trainer.manual_seed(0)
    model.eval()
    if fuse:
        tq.fuse_modules(model, fuse, inplace=True)
    model.qconfig = qconfig
    tq.prepare(model, inplace=True)
    for _ in range(3):
        model(trainer.randn(*shape) * 2)
    return tq.convert(model, inplace=True)


def _assert_runtimes_give_trainers_outputs(model, shape, path, runtime, dynamic=False, inputs=()):
    """Export on one input, then compare on fresh ones (and ``inputs``): equal float32 outputs of a dequantized int8
    model mean equal integers."""
    trainer.manual_seed(1)
    axes = {"input": {0: "batch"}} if dynamic else None
    proto = export(model, (trainer.randn(*shape),), path, dynamic_axes=axes)
    onnx.checker.check_model(proto, full_check=True)
    fresh = [trainer.randn(*shape) * 2 for _ in range(3)] + list(inputs)
    if dynamic:
        fresh.append(trainer.randn(shape[0] + 3, *shape[1:]) * 2)
    seen = []
    for x in fresh:
        want = model(x).numpy()
        (got,) = run_exported(runtime, path, {"input": x.numpy()})
        np.testing.assert_array_equal(got, want)
        seen.append(got)
    assert not np.array_equal(seen[0], seen[1]), "the graph answers every input alike"
    return proto


def test_conv_relu_flatten_linear_from_static_quantization(tmp_path, runtime):
    model = nn.Sequential(tq.QuantStub(), nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 6 * 6, 4),
                          tq.DeQuantStub())
    _converted(model, (2, 3, 8, 8), tq.default_qat_qconfig)
    proto = _assert_runtimes_give_trainers_outputs(model, (2, 3, 8, 8), tmp_path / "q.onnx", runtime, dynamic=True)
    ops = [node.op_type for node in proto.graph.node]
    assert ops[0] == "QuantizeLinear" and ops[-1] == "DequantizeLinear"
    assert {"ConvInteger", "MatMulInteger", "Max", "Reshape"} <= set(ops)
    weights = {i.name: i for i in proto.graph.initializer}
    assert weights["1.weight"].data_type == onnx.TensorProto.INT8


class FusedCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.quant = tq.QuantStub()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.relu = nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(8, 6, 3, stride=2, padding=1)
        self.bn2 = nn.BatchNorm2d(6)
        self.avg = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(6, 3)
        self.dequant = tq.DeQuantStub()

    def forward(self, x):
        x = self.pool(self.relu(self.bn(self.conv(self.quant(x)))))
        x = self.avg(self.bn2(self.conv2(x)))
        return self.dequant(self.fc(x.reshape(x.shape[0], -1)))


def test_fused_conv_bn_relu_cnn_with_per_channel_weights(tmp_path, runtime):
    model = _converted(FusedCNN(), (4, 3, 12, 12), tq.get_default_qconfig("fbgemm"), [["conv", "bn", "relu"]])
    assert model.conv.weight().qscheme() is trainer.per_channel_affine
    proto = _assert_runtimes_give_trainers_outputs(model, (2, 3, 12, 12), tmp_path / "q.onnx", runtime,
                                                   dynamic=True)
    assert "ConvInteger" in {node.op_type for node in proto.graph.node}


def test_asymmetric_per_channel_weights_in_grouped_conv_and_linear(tmp_path, runtime):
    weight = tq.PerChannelMinMaxObserver.with_args(dtype=trainer.qint8, qscheme=trainer.per_channel_affine)
    qconfig = tq.QConfig(activation=tq.MinMaxObserver.with_args(dtype=trainer.quint8), weight=weight)
    model = nn.Sequential(tq.QuantStub(), nn.Conv2d(4, 6, 3, groups=2), nn.Flatten(), nn.Linear(6 * 4 * 4, 5),
                          tq.DeQuantStub())
    _converted(model, (3, 4, 6, 6), qconfig)
    assert len(set(model[1].weight().q_per_channel_zero_points().tolist())) > 1
    _assert_runtimes_give_trainers_outputs(model, (2, 4, 6, 6), tmp_path / "q.onnx", runtime)


class Residual(nn.Module):
    """FloatFunctional add (residual), add_relu, mul and cat, between quantized activations and batch norm."""

    def __init__(self):
        super().__init__()
        self.quant = tq.QuantStub()
        self.conv = nn.Conv2d(4, 4, 3, padding=1)
        self.relu = nn.ReLU()
        self.skip, self.skip_relu, self.product, self.joined = (FloatFunctional() for _ in range(4))
        self.bn = nn.BatchNorm2d(4)
        self.hardswish = nn.Hardswish()
        self.leaky = nn.LeakyReLU(0.1)
        self.relu6 = nn.ReLU6()
        self.elu = nn.ELU()
        self.dequant = tq.DeQuantStub()

    def forward(self, x):
        x = self.quant(x)
        y = self.skip.add(self.relu(self.conv(x)), x)
        y = self.hardswish(self.bn(y))
        z = self.relu6(self.product.mul(y, self.leaky(y)))
        z = self.joined.cat([self.skip_relu.add_relu(z, y), self.elu(y)], dim=1)
        return self.dequant(trainer.flatten(z, 1))


def test_float_functional_residual_and_quantized_activations(tmp_path, runtime):
    model = _converted(Residual(), (4, 4, 6, 6), tq.default_qconfig)
    proto = _assert_runtimes_give_trainers_outputs(model, (2, 4, 6, 6), tmp_path / "q.onnx", runtime)
    assert {"ConvInteger", "Concat", "QuantizeLinear", "DequantizeLinear"} <= {n.op_type for n in proto.graph.node}


@pytest.mark.filterwarnings("ignore:divide by zero")  # serving's 1 / scale of an all-zero input, which fbgemm replaces
def test_quantize_dynamic_mlp_chooses_the_input_grid_in_the_graph(tmp_path, runtime):
    trainer.manual_seed(0)
    mlp = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 8)).eval()
    model = tq.quantize_dynamic(mlp, {nn.Linear}, dtype=trainer.qint8)
    # fbgemm's grid choice: an all-positive input, an all-negative one, a tiny range (the raised smallest scale)
    # and zeros (the degenerate scale)
    special = [trainer.rand(5, 16) + 0.5, -trainer.rand(5, 16), trainer.randn(5, 16) * 1e-6, trainer.zeros(5, 16)]
    proto = _assert_runtimes_give_trainers_outputs(model, (5, 16), tmp_path / "q.onnx", runtime, dynamic=True,
                                                   inputs=special)
    assert "MatMulInteger" in {n.op_type for n in proto.graph.node}


def test_quantize_dynamic_float16_weights(tmp_path, runtime):
    trainer.manual_seed(0)
    mlp = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 8)).eval()
    model = tq.quantize_dynamic(mlp, {nn.Linear}, dtype=trainer.float16)
    _assert_runtimes_give_trainers_outputs(model, (5, 16), tmp_path / "q.onnx", runtime)


class Functional(nn.Module):
    """quantize_per_channel, the scalar ops (moving the zero point, then requantizing), int_repr as an output."""

    def forward(self, x):
        q = trainer.quantize_per_channel(x, trainer.tensor([0.05, 0.1, 0.02]), trainer.tensor([3, 128, 60]), 1,
                                         trainer.quint8)
        p = trainer.quantize_per_tensor(x, 0.04, 100, trainer.quint8)
        shifted = quantized_functional.add_scalar(quantized_functional.add_scalar(p, 0.5), 20.0)
        mirrored = quantized_functional.mul_scalar(shifted, -2.0)
        return q.dequantize(), mirrored.int_repr(), mirrored.dequantize()


def test_per_channel_quantize_scalar_ops_and_int_repr(tmp_path, runtime):
    model = Functional()
    path = tmp_path / "q.onnx"
    export(model.eval(), (trainer.randn(2, 3, 4),), path, output_names=["per_channel", "ints", "values"])
    trainer.manual_seed(2)
    for _ in range(3):
        x = trainer.randn(2, 3, 4)
        want = [t.numpy() for t in model(x)]
        got = run_exported(runtime, path, {"input": x.numpy()})
        assert got[1].dtype == np.uint8
        # per channel trainer dequantizes in float64 with float64 scales, ONNX in float32: within float32 rounding
        np.testing.assert_allclose(got[0], want[0], rtol=1e-6, atol=0)
        np.testing.assert_array_equal(got[1], want[1])
        np.testing.assert_array_equal(got[2], want[2])


# ----------------------------------------------------------------- refusals
class UntracedQuantizedRelu(nn.Module):
    def forward(self, q):
        return relu_bound_before_tracing(q)  # a name taken before tracing: the exporter cannot see the call


def test_a_module_returning_an_untraced_quantized_tensor_is_named(tmp_path):
    model = nn.Sequential(tq.QuantStub(), UntracedQuantizedRelu(), tq.DeQuantStub())
    model[0] = trainer.ao.nn.quantized.Quantize(0.05, 64, trainer.quint8)
    with pytest.raises(UnsupportedOpError, match=r"module '1' \(UntracedQuantizedRelu\) returned a quantized tensor"):
        export(model.eval(), (trainer.randn(2, 3),), tmp_path / "q.onnx")


def test_an_untraced_quantized_tensor_is_refused_where_it_is_used(tmp_path):
    class Model(nn.Module):
        def forward(self, x):
            return relu_bound_before_tracing(trainer.quantize_per_tensor(x, 0.05, 64, trainer.quint8)).dequantize()

    with pytest.raises(ExportError, match="from a computation the exporter did not see.*would bake"):
        export(Model().eval(), (trainer.randn(2, 3),), tmp_path / "q.onnx")


def test_a_quantized_output_and_qint32_are_refused(tmp_path):
    class QuantizedOutput(nn.Module):
        def forward(self, x):
            return trainer.quantize_per_tensor(x, 0.05, 64, trainer.quint8)

    with pytest.raises(ExportError, match="'output' is a trainer.quint8 tensor.*DeQuantStub"):
        export(QuantizedOutput().eval(), (trainer.randn(2, 3),), tmp_path / "q.onnx")

    class Int32(nn.Module):
        def forward(self, x):
            return trainer.quantize_per_tensor(x, 0.05, 0, trainer.qint32).dequantize()

    with pytest.raises(UnsupportedOpError, match="trainer.qint32 tensor .* has no ONNX form"):
        export(Int32().eval(), (trainer.randn(2, 3),), tmp_path / "q.onnx")


def test_an_output_computed_outside_trainers_ops_is_not_baked_in(tmp_path):
    class ThroughNumPy(nn.Module):
        def forward(self, x):
            return trainer.from_numpy(x.numpy() * 2)

    with pytest.raises(ExportError, match="output 'output' depends on none of the model's inputs"):
        export(ThroughNumPy().eval(), (trainer.randn(2, 3),), tmp_path / "q.onnx")


def test_constant_outputs_the_exporter_saw_made_still_export(tmp_path):
    class Constants(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("table", trainer.ones(3))

        def forward(self, x):
            return self.table * 3, trainer.zeros(2), self.table

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        proto = export(Constants().eval(), (trainer.randn(2, 3),), tmp_path / "q.onnx")
    assert len(proto.graph.output) == 3
