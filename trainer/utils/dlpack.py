"""``trainer.utils.dlpack``, as ``torch.utils.dlpack``: DLPack capsules to and from tensors."""

from trainer.dlpack import from_dlpack, to_dlpack

__all__ = ["from_dlpack", "to_dlpack"]
