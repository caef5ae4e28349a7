"""``torch.nn.parallel`` for one process: ``DataParallel`` runs the wrapped module as PyTorch does when no
accelerator is present."""

from trainer.nn.parallel.data_parallel import DataParallel
from trainer.nn.parallel.distributed import DistributedDataParallel

__all__ = ["DataParallel", "DistributedDataParallel"]
