"""``FloatFunctional`` and ``QFunctional``: modules that wrap the tensor ops of a residual connection or a
concatenation (``add``, ``mul``, ``cat``, ``add_relu``, ``add_scalar``, ``mul_scalar``) so eager-mode quantization can
observe them. In a float model ``FloatFunctional`` computes in float and passes each result through its
``activation_post_process`` (an ``Identity`` until ``prepare`` puts an observer there); ``convert`` swaps it for a
``QFunctional`` that computes on quantized tensors on the observed output grid."""

from __future__ import annotations

import trainer
from trainer.ao.nn.quantized import functional as qF
from trainer.ao.nn.quantized.utils import OutputGridModule
from trainer.nn.modules.linear import Identity
from trainer.nn.modules.module import Module

__all__ = ["FloatFunctional", "QFunctional"]


class FloatFunctional(Module):
    """Float ops whose results (except the scalar ones, which need no observation) pass through
    ``activation_post_process``."""

    def __init__(self):
        super().__init__()
        self.activation_post_process = Identity()

    def forward(self, x):
        raise RuntimeError("FloatFunctional is not intended to use the 'forward'. Please use the underlying "
                           "operation (add, mul, cat, add_relu, add_scalar, mul_scalar)")

    def add(self, x, y):
        return self.activation_post_process(trainer.add(x, y))

    def add_scalar(self, x, y: float):
        return trainer.add(x, y)

    def mul(self, x, y):
        return self.activation_post_process(trainer.mul(x, y))

    def mul_scalar(self, x, y: float):
        return trainer.mul(x, y)

    def cat(self, x, dim: int = 0):
        return self.activation_post_process(trainer.cat(x, dim=dim))

    def add_relu(self, x, y):
        return self.activation_post_process(trainer.relu(trainer.add(x, y)))


class QFunctional(OutputGridModule):
    """The quantized ops, with the output grid ``scale``/``zero_point`` (saved in the state_dict)."""

    def __init__(self):
        super().__init__()
        self.scale = 1.0
        self.zero_point = 0
        self.activation_post_process = Identity()

    def _get_name(self):
        return "QFunctional"

    def extra_repr(self):
        return f"scale={self.scale}, zero_point={self.zero_point}"

    def forward(self, x):
        raise RuntimeError("Functional is not intended to use the 'forward'. Please use the underlying operation "
                           "(add, mul, cat, add_relu, add_scalar, mul_scalar)")

    def add(self, x, y):
        return self.activation_post_process(qF.add(x, y, self.scale, self.zero_point))

    def add_scalar(self, x, y: float):
        return qF.add_scalar(x, y)

    def mul(self, x, y):
        return self.activation_post_process(qF.mul(x, y, self.scale, self.zero_point))

    def mul_scalar(self, x, y: float):
        return qF.mul_scalar(x, y)

    def cat(self, x, dim: int = 0):
        return self.activation_post_process(qF.cat(x, self.scale, self.zero_point, dim))

    def add_relu(self, x, y):
        return self.activation_post_process(qF.add(x, y, self.scale, self.zero_point, relu=True))

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        if type(mod) is not FloatFunctional:
            raise AssertionError("QFunctional.from_float expects an instance of FloatFunctional, got "
                                 f"{type(mod).__name__}")
        scale, zero_point = mod.activation_post_process.calculate_qparams()
        new_mod = QFunctional()
        new_mod.scale = float(scale)
        new_mod.zero_point = int(zero_point)
        return new_mod
