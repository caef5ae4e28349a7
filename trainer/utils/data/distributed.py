"""``DistributedSampler``: the share of a dataset's indices that one of ``num_replicas`` training processes visits.

``num_replicas`` and ``rank`` default to the default process group's size and this process's rank in it; without
an initialised group they must be given, and leaving them out raises PyTorch's error for a group never initialised.
"""

from __future__ import annotations

import math

from trainer import distributed
from trainer.creation import randperm
from trainer.random import Generator
from trainer.utils.data.sampler import Sampler


class DistributedSampler(Sampler):
    """Every ``num_replicas``-th index starting at ``rank``, of the dataset's indices (shuffled by default) padded
    by repetition, or with ``drop_last`` cut, to a multiple of ``num_replicas``: each rank gets as many as the
    others and together they cover the dataset.

    The shuffle is a permutation from trainer's random generator seeded with ``seed + epoch``, the same on every
    rank; call ``set_epoch`` before each epoch for a new order.
    """

    def __init__(self, dataset, num_replicas: int | None = None, rank: int | None = None, shuffle: bool = True,
                 seed: int = 0, drop_last: bool = False):
        if num_replicas is None or rank is None:
            if not distributed.is_initialized():
                raise ValueError("Default process group has not been initialized, please make sure to call "
                                 "init_process_group, or pass num_replicas (the number of training processes) and "
                                 "rank (this process's index among them) to DistributedSampler")
            num_replicas = distributed.get_world_size() if num_replicas is None else num_replicas
            rank = distributed.get_rank() if rank is None else rank
        if rank >= num_replicas or rank < 0:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.drop_last = drop_last
        size = len(dataset)
        if drop_last and size % num_replicas != 0:
            self.num_samples = math.ceil((size - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(size / num_replicas)
        self.total_size = self.num_samples * num_replicas
        self.shuffle = shuffle
        self.seed = seed

    def __iter__(self):
        size = len(self.dataset)
        if self.shuffle:
            generator = Generator()
            generator.manual_seed(self.seed + self.epoch)
            indices = randperm(size, generator=generator).tolist()
        else:
            indices = list(range(size))
        if self.drop_last:
            indices = indices[:self.total_size]
        elif self.total_size > size:  # repeat from the start, as often as needed when replicas outnumber indices
            padding = self.total_size - size
            indices += (indices * math.ceil(padding / size))[:padding]
        return iter(indices[self.rank:self.total_size:self.num_replicas])

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Use ``epoch`` in the next shuffle's seed, so that each epoch visits the data in a new order."""
        self.epoch = epoch
