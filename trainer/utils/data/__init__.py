"""Datasets, samplers and the ``DataLoader``, with PyTorch's ``torch.utils.data`` API."""

from trainer.utils.data.collate import default_collate, default_convert
from trainer.utils.data.dataloader import DataLoader
from trainer.utils.data.dataset import ConcatDataset, Dataset, Subset, TensorDataset, random_split
from trainer.utils.data.sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

__all__ = [
    "BatchSampler",
    "ConcatDataset",
    "DataLoader",
    "Dataset",
    "RandomSampler",
    "Sampler",
    "SequentialSampler",
    "Subset",
    "TensorDataset",
    "default_collate",
    "default_convert",
    "random_split",
]
