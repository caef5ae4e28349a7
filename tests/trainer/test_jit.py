"""``trainer.jit`` behaves as ``torch.jit`` with ``PYTORCH_JIT=0``: the annotations model code carries leave it to run
eagerly with PyTorch's results, and saving a TorchScript file points to ONNX export instead."""

import numpy as np
import pytest

import trainer
import trainer.nn as nn
import trainer.nn.functional as F


@trainer.jit.script
def fused_gelu(x):
    return x * 0.5 * (1.0 + trainer.erf(x / 1.41421))


class Annotated(nn.Module):
    scale: trainer.jit.Final[float] = 2.0

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(3, 2)

    @trainer.jit.unused
    def debug_path(self, x):
        return x * 100

    @trainer.jit.ignore
    def python_only(self, x):
        return x + 1

    @trainer.jit.export
    def extra(self, x):
        return x - 1

    def forward(self, x):
        if trainer.jit.is_scripting() or trainer.jit.is_tracing():
            return self.debug_path(x)
        y = trainer.jit.annotate(trainer.Tensor, self.linear(x))
        return self.extra(self.python_only(fused_gelu(y))) * self.scale


def test_annotated_model_code_runs_eagerly():
    trainer.manual_seed(0)
    model = Annotated()
    x = trainer.randn(4, 3)
    expected = (F.gelu(model.linear(x)) * 2.0).detach().numpy()
    np.testing.assert_allclose(model(x).detach().numpy(), expected, atol=1e-4)
    assert trainer.jit.script(model) is model
    assert trainer.jit.trace(model, (x,)) is model
    assert trainer.jit.ignore(drop=True)(fused_gelu) is fused_gelu


@pytest.mark.parametrize("call", [lambda tmp: trainer.jit.save(Annotated(), tmp / "m.pt"),
                                  lambda tmp: trainer.jit.load(tmp / "m.pt")])
def test_torchscript_files_point_to_onnx_export(tmp_path, call):
    with pytest.raises(RuntimeError, match="exporter.export"):
        call(tmp_path)
