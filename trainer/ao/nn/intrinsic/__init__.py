"""``torch.ao.nn.intrinsic``: containers of float modules that quantization treats as one (conv + batch norm +
ReLU and the like), built by ``fuse_modules``; their quantization-aware versions live in ``.qat``."""

from trainer.ao.nn.intrinsic.fused import (
    BNReLU2d,
    BNReLU3d,
    ConvBn1d,
    ConvBn2d,
    ConvBn3d,
    ConvBnReLU1d,
    ConvBnReLU2d,
    ConvBnReLU3d,
    ConvReLU1d,
    ConvReLU2d,
    ConvReLU3d,
    LinearBn1d,
    LinearReLU,
)
from trainer.ao.nn.intrinsic.fused import (
    _FusedModule as _FusedModule,
)

__all__ = [
    "BNReLU2d",
    "BNReLU3d",
    "ConvBn1d",
    "ConvBn2d",
    "ConvBn3d",
    "ConvBnReLU1d",
    "ConvBnReLU2d",
    "ConvBnReLU3d",
    "ConvReLU1d",
    "ConvReLU2d",
    "ConvReLU3d",
    "LinearBn1d",
    "LinearReLU",
]

from trainer.ao.nn.intrinsic import qat  # noqa: E402 - the QAT versions build on the containers above
