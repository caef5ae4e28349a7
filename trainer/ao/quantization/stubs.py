"""``QuantStub`` and ``DeQuantStub`` mark where a model's quantized region starts and ends (identities in float and
QAT models: ``prepare_qat`` gives ``QuantStub`` the input's fake-quantize module); ``QuantWrapper`` puts a module
between the two."""

from __future__ import annotations

from trainer.nn.modules.module import Module

__all__ = ["DeQuantStub", "QuantStub", "QuantWrapper"]


class QuantStub(Module):
    """Where quantization starts; ``qconfig`` overrides the one inherited from the parent modules."""

    def __init__(self, qconfig=None):
        super().__init__()
        if qconfig:
            self.qconfig = qconfig

    def forward(self, x):
        return x


class DeQuantStub(Module):
    """Where quantization ends; ``qconfig`` overrides the one inherited from the parent modules."""

    def __init__(self, qconfig=None):
        super().__init__()
        if qconfig:
            self.qconfig = qconfig

    def forward(self, x):
        return x


class QuantWrapper(Module):
    """``dequant(module(quant(x)))``, with the stubs taking ``module``'s qconfig and training mode."""

    def __init__(self, module: Module):
        super().__init__()
        qconfig = getattr(module, "qconfig", None)
        self.add_module("quant", QuantStub(qconfig))
        self.add_module("dequant", DeQuantStub(qconfig))
        self.add_module("module", module)
        self.train(module.training)

    def forward(self, X):  # noqa: N803 - PyTorch's argument name
        X = self.quant(X)  # noqa: N806
        X = self.module(X)  # noqa: N806
        return self.dequant(X)
