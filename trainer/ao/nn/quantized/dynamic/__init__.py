"""``torch.ao.nn.quantized.dynamic``: layers with quantized (or float16) weights and float inputs and outputs, which
``quantize_dynamic`` swaps in. Only ``Linear``: the recurrent layers and ``LinearReLU`` stay float here."""

from trainer.ao.nn.quantized.dynamic.linear import Linear

__all__ = ["Linear"]
