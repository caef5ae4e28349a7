"""The recipes' datasets, each prepared once as whole tensors so the DataLoader gathers batches by fancy index:
digits as images (resized by nearest-neighbour interpolation), as row sequences, and MNIST from IDX files."""

from __future__ import annotations

import trainer
from trainer.data.datasets import MNIST, Digits
from trainer.nn import functional as F
from trainer.utils.data import TensorDataset


def digits_images(size: int = 8, channels: int = 1, scale: tuple[float, float] = (0.0, 1.0)):
    """Digits train and test sets as ``(channels, size, size)`` images with values in ``scale``."""
    return _digits_images(True, size, channels, scale), _digits_images(False, size, channels, scale)


def _digits_images(train: bool, size: int, channels: int, scale: tuple[float, float]) -> TensorDataset:
    digits = Digits(train=train, flatten=False)
    images = digits.data
    with trainer.no_grad():
        if size != images.shape[-1]:
            images = F.interpolate(images, size=(size, size), mode="nearest")
        if channels != 1:
            images = images.expand(-1, channels, -1, -1).contiguous()
        low, high = scale
        if (low, high) != (0.0, 1.0):
            images = images * (high - low) + low
    return TensorDataset(images, digits.targets)


def digits_flat():
    """Digits train and test sets as 64-feature vectors."""
    return Digits(train=True), Digits(train=False)


def digits_rows():
    """Digits train and test sets as sequences of 8 time steps (the image rows) of 8 features each."""
    return tuple(TensorDataset(d.data.reshape(-1, 8, 8), d.targets) for d in (Digits(train=True), Digits(train=False)))


def mnist(root: str):
    """MNIST's train and test sets from the IDX files in ``root`` (nothing is downloaded)."""
    return MNIST(root, train=True), MNIST(root, train=False)
