"""A model that calls a custom ``autograd.Function`` exports through the ops inside its forward, as
``torch.onnx.export`` inlines one without a ``symbolic``, and the file matches the trainer."""

import trainer
from trainer import nn


class Legendre3(trainer.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return 0.5 * (5 * x**3 - 3 * x)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * 1.5 * (5 * x**2 - 1)


class Passthrough(trainer.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x

    @staticmethod
    def backward(ctx, g):
        return g


class WithCustomFunctions(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(5, 3)

    def forward(self, x):
        return Passthrough.apply(Legendre3.apply(self.fc(x)).tanh())


def test_custom_functions_export_through_their_forward(roundtrip, runtime):
    model = WithCustomFunctions()
    proto, diffs = roundtrip(model, trainer.randn(4, 5), runtime, dynamic=[0], variants=({0: 1}, {0: 7}))
    assert {n.op_type for n in proto.graph.node} >= {"Gemm", "Pow", "Tanh"}
    assert max(diffs) < 1e-5
