"""PyTorch's import path ``torch.distributions.half_cauchy`` for ``HalfCauchy``, which trainer keeps in
``trainer.distributions.folded``."""

from trainer.distributions.folded import HalfCauchy

__all__ = ["HalfCauchy"]
