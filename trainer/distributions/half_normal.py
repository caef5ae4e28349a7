"""PyTorch's import path ``torch.distributions.half_normal`` for ``HalfNormal``, which trainer keeps in
``trainer.distributions.folded``."""

from trainer.distributions.folded import HalfNormal

__all__ = ["HalfNormal"]
