"""``trainer.ao``: PyTorch's "architecture optimization" namespace; trainer has its quantization-aware training
building blocks (``trainer.ao.quantization``) and layers (``trainer.ao.nn``)."""

from trainer.ao import nn, ns, quantization

# PyTorch's older names, trainer.nn.qat and trainer.nn.intrinsic, as attributes of trainer.nn like torch.nn's
from trainer.nn import intrinsic as _nn_intrinsic  # noqa: F401, E402
from trainer.nn import qat as _nn_qat  # noqa: F401, E402
from trainer.nn import quantized as _nn_quantized  # noqa: F401, E402

__all__ = ["nn", "ns", "quantization"]
