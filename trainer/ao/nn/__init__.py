"""``torch.ao.nn``: the quantization-aware layers (``qat``) and fused containers (``intrinsic``)."""

from trainer.ao.nn import intrinsic, qat

__all__ = ["intrinsic", "qat"]
