"""``torch.nn.parallel`` for one process: ``DataParallel`` runs the wrapped module as PyTorch does when no
accelerator is present."""

from trainer.nn.parallel.data_parallel import DataParallel

__all__ = ["DataParallel"]
