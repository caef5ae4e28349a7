"""Utilities (``trainer.utils.data``, as in PyTorch)."""

from trainer.utils import checkpoint, data, dlpack, tensorboard

