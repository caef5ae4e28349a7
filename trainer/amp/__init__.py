"""``trainer.amp``: automatic mixed precision (``autocast`` and ``GradScaler``), as ``torch.amp``."""

from trainer.amp.autocast_mode import autocast, custom_bwd, custom_fwd, is_autocast_available
from trainer.amp.grad_scaler import GradScaler

__all__ = ["GradScaler", "autocast", "custom_bwd", "custom_fwd", "is_autocast_available"]
