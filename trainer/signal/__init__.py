"""Signal processing (``trainer.signal``, as ``torch.signal``)."""

from trainer.signal import windows

__all__ = ["windows"]
