"""``trainer.cpu``: the CPU device's namespace, as ``torch.cpu`` (today its deprecated ``amp`` forms)."""

from trainer.cpu import amp

__all__ = ["amp"]
