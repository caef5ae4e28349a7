"""``trainer.data``: everything in ``trainer.utils.data`` plus ready-made ``datasets``."""

from trainer.data import datasets
from trainer.utils.data import (
    BatchSampler,
    ConcatDataset,
    DataLoader,
    Dataset,
    RandomSampler,
    Sampler,
    SequentialSampler,
    Subset,
    TensorDataset,
    default_collate,
    default_convert,
    random_split,
)
