"""PyTorch's import path ``torch.distributions.fishersnedecor`` for ``FisherSnedecor``, which trainer keeps in
``trainer.distributions.fisher_snedecor``."""

from trainer.distributions.fisher_snedecor import FisherSnedecor

__all__ = ["FisherSnedecor"]
