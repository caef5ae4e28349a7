"""A model prepared by PyTorch's eager QAT workflow (QuantStub, conv + bn + relu fused with ``fuse_modules_qat``,
linear, DeQuantStub, ``prepare_qat``), trained a few steps and switched to eval, exports with its fake quantization
as QuantizeLinear/DequantizeLinear pairs, passes the checker, and ONNX Runtime and serving reproduce the trainer's
outputs."""

import warnings

import numpy as np
import onnx
import pytest

import trainer
import trainer.ao.quantization as tq
from exporter import export
from exporter.verify import run_exported
from trainer import nn


class TutorialModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.quant = tq.QuantStub()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.relu = nn.ReLU()
        self.fc = nn.Linear(4 * 5 * 5, 6)
        self.dequant = tq.DeQuantStub()

    def forward(self, x):
        x = self.relu(self.bn(self.conv(self.quant(x))))
        return self.dequant(self.fc(x.flatten(1)))


def _prepared_and_trained(version):
    trainer.manual_seed(0)
    model = TutorialModel().train()
    model.qconfig = tq.get_default_qat_qconfig("x86", version)  # 1 (the default): the fused fake-quant modules
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the observers' reduce_range warning
        model = tq.prepare_qat(tq.fuse_modules_qat(model, [["conv", "bn", "relu"]]))
    optimizer = trainer.optim.SGD(model.parameters(), lr=0.05)
    for step in range(4):
        loss = model(trainer.randn(8, 3, 5, 5)).square().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step == 1:
            model.apply(tq.disable_observer)
            model.apply(trainer.ao.nn.intrinsic.qat.freeze_bn_stats)
    return model.eval()


@pytest.mark.parametrize("version", [0, 1])
@pytest.mark.parametrize("runtime", ["onnxruntime", "serving"])
def test_prepared_model_exports_as_qdq_and_runs_like_the_trainer(tmp_path, runtime, version):
    model = _prepared_and_trained(version)
    path = tmp_path / "qat.onnx"
    proto = export(model, trainer.randn(2, 3, 5, 5), path, dynamic_axes={"input": {0: "batch"}})
    onnx.checker.check_model(proto, full_check=True)
    ops = [node.op_type for node in proto.graph.node]
    # input, conv output and linear output activations; both weights are quantized once, at export
    assert ops.count("QuantizeLinear") == 3 and ops.count("DequantizeLinear") == 5
    initializers = {t.name: t for t in proto.graph.initializer}
    weights = [initializers[n.input[0]] for n in proto.graph.node
               if n.op_type == "DequantizeLinear" and n.input[0] in initializers]
    assert sorted(w.data_type for w in weights) == [onnx.TensorProto.INT8] * 2  # conv (bn-scaled) and fc weights
    x = trainer.randn(5, 3, 5, 5)
    with trainer.no_grad():
        expected = model(x).numpy()
    got = run_exported(runtime, path, {"input": x.numpy()})[0]
    # the same grid: float32 sums in another order may land on the other side of a rounding tie (one step)
    step = float(model.fc.activation_post_process.scale)
    differences = np.abs(got - expected)
    assert differences.max() <= step * 1.001
    assert np.mean(differences > 1e-6) <= 0.1
