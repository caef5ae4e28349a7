"""A model that calls a custom ``autograd.Function`` exports through the ops inside its forward, as
``torch.onnx.export`` inlines one without a ``symbolic``, and the file matches the trainer."""

import trainer
from tests.trainer.test_custom_function import OURS
from trainer import nn


class WithCustomFunctions(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(5, 3)

    def forward(self, x):
        return OURS["Passthrough"].apply(OURS["Legendre3"].apply(self.fc(x)).tanh())


def test_custom_functions_export_through_their_forward(roundtrip, runtime):
    model = WithCustomFunctions()
    proto, diffs = roundtrip(model, trainer.randn(4, 5), runtime, dynamic=[0], variants=({0: 1}, {0: 7}))
    assert {n.op_type for n in proto.graph.node} >= {"Gemm", "Pow", "Tanh"}
    assert max(diffs) < 1e-5
