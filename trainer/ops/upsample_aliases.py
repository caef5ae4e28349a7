"""The deprecated resizing names of ``torch.nn.functional``: ``upsample``, ``upsample_nearest`` and
``upsample_bilinear`` (``align_corners=True``), each ``interpolate`` after PyTorch's deprecation warning."""

from __future__ import annotations

import warnings

from trainer.ops.upsample import interpolate


def _deprecated(name: str) -> None:
    warnings.warn(f"`nn.functional.{name}` is deprecated. Use `nn.functional.interpolate` instead.", stacklevel=3)


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    _deprecated("upsample")
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    _deprecated("upsample_nearest")
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    _deprecated("upsample_bilinear")
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)
