"""``torch.ao.nn``: the quantization-aware layers (``qat``) and fused containers (``intrinsic``)."""

from trainer.ao.nn import intrinsic, qat, quantized
from trainer.ao.nn.intrinsic import quantized as _intrinsic_quantized  # noqa: F401 - trainer.ao.nn.intrinsic.quantized

__all__ = ["intrinsic", "qat", "quantized"]
