"""``trainer.ao``: PyTorch's "architecture optimization" namespace; trainer has its quantization-aware training
building blocks (``trainer.ao.quantization``)."""

from trainer.ao import quantization

__all__ = ["quantization"]
