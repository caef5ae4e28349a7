"""Utilities (``trainer.utils.data``, as in PyTorch)."""

from trainer.utils import benchmark, checkpoint, data, dlpack, tensorboard

