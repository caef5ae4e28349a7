"""``torch.distributed.nn``: collectives that autograd differentiates through."""

from trainer.distributed.nn import functional

__all__ = ["functional"]
