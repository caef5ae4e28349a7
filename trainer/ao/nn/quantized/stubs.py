"""``Quantize`` and ``DeQuantize``: what ``convert`` puts in place of ``QuantStub`` (quantize the input on the grid
its observer chose) and ``DeQuantStub`` (back to float32)."""

from __future__ import annotations

import trainer
from trainer import dtypes
from trainer.nn.modules.module import Module

__all__ = ["DeQuantize", "Quantize"]


class Quantize(Module):
    """``quantize_per_tensor(x, scale, zero_point, dtype)``, with ``scale`` and ``zero_point`` as one-element
    buffers."""

    def __init__(self, scale, zero_point, dtype, factory_kwargs=None):
        super().__init__()
        factory_kwargs = dict(factory_kwargs or {})
        device = factory_kwargs.get("device")
        self.register_buffer("scale", trainer.tensor([scale], dtype=factory_kwargs.get("dtype"), device=device))
        self.register_buffer("zero_point", trainer.tensor([zero_point], dtype=dtypes.int64, device=device))
        self.dtype = dtype

    def forward(self, X):  # noqa: N803 - PyTorch's argument name
        return trainer.quantize_per_tensor(X, float(self.scale), int(self.zero_point), self.dtype)

    @staticmethod
    def from_float(mod, use_precomputed_fake_quant=False):
        """The ``Quantize`` for a prepared ``QuantStub``: its observer's scale, zero point and dtype."""
        if not hasattr(mod, "activation_post_process"):
            raise AssertionError(f"Module {type(mod).__name__} must have activation_post_process attribute")
        scale, zero_point = mod.activation_post_process.calculate_qparams()
        return Quantize(scale.float().item(), zero_point.long().item(), mod.activation_post_process.dtype)

    def extra_repr(self):
        return f"scale={self.scale}, zero_point={self.zero_point}, dtype={self.dtype}"


class DeQuantize(Module):
    """``x.dequantize()``: float32 values again."""

    def forward(self, Xq):  # noqa: N803 - PyTorch's argument name
        return trainer.dequantize(Xq)

    @staticmethod
    def from_float(mod, use_precomputed_fake_quant=False):
        return DeQuantize()
