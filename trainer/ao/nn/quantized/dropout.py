"""``torch.ao.nn.quantized.Dropout``: what ``convert`` puts in place of ``Dropout``, so that models which had dropout
run on quantized tensors; it passes its input through in training and evaluation alike, as PyTorch's."""

from __future__ import annotations

from trainer.nn.modules import dropout as float_dropout

__all__ = ["Dropout"]


class Dropout(float_dropout.Dropout):
    """The identity on quantized tensors; keeps ``p`` and ``inplace`` for printing."""

    def forward(self, input):
        return input

    def _get_name(self):
        return "QuantizedDropout"

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        return cls(mod.p, mod.inplace)

    @classmethod
    def from_reference(cls, mod, scale, zero_point):
        return cls(mod.p, mod.inplace)
