"""Utilities (``trainer.utils.data``, as in PyTorch)."""

from trainer.utils import _pytree, benchmark, checkpoint, data, dlpack, tensorboard

