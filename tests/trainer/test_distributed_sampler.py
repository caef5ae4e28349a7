"""``utils.data.DistributedSampler`` against PyTorch's: the same indices per rank without shuffling, and with it the
same padding and per-rank subsampling applied to a permutation from trainer's generator seeded with seed + epoch."""

import pytest
import torch

import trainer
from tests.trainer.test_ops_parity import assert_raises_like_torch

# (dataset size, replicas): evenly divisible, with a remainder, fewer items than replicas, empty
LAYOUTS = [(12, 3), (10, 4), (11, 3), (3, 5), (1, 4), (0, 2)]


def _per_rank(lib, size, replicas, **options):
    samplers = [lib.utils.data.DistributedSampler(range(size), num_replicas=replicas, rank=rank, **options)
                for rank in range(replicas)]
    return [list(s) for s in samplers], [len(s) for s in samplers]


@pytest.mark.parametrize("drop_last", [False, True])
@pytest.mark.parametrize("size, replicas", LAYOUTS)
def test_unshuffled_indices_match_torch(size, replicas, drop_last):
    ours = _per_rank(trainer, size, replicas, shuffle=False, drop_last=drop_last)
    theirs = _per_rank(torch, size, replicas, shuffle=False, drop_last=drop_last)
    assert ours == theirs


def _trainer_permutation(size, seed):
    generator = trainer.Generator()
    generator.manual_seed(seed)
    return trainer.randperm(size, generator=generator).tolist()


@pytest.mark.parametrize("drop_last", [False, True])
@pytest.mark.parametrize("size, replicas", [(10, 4), (11, 3), (3, 5)])
def test_shuffled_indices_are_torchs_positions_in_trainers_permutation(size, replicas, drop_last):
    # PyTorch's unshuffled output lists the positions that each rank reads from its permutation
    positions, theirs_lengths = _per_rank(torch, size, replicas, shuffle=False, drop_last=drop_last)
    for epoch in (0, 3):
        samplers = [trainer.utils.data.DistributedSampler(range(size), replicas, rank, seed=7, drop_last=drop_last)
                    for rank in range(replicas)]
        for sampler in samplers:
            sampler.set_epoch(epoch)
        permutation = _trainer_permutation(size, 7 + epoch)
        assert [list(s) for s in samplers] == [[permutation[p] for p in ranks] for ranks in positions]
        assert [len(s) for s in samplers] == theirs_lengths


def test_shuffle_is_deterministic_per_seed_and_epoch_and_covers_the_dataset():
    def epoch_order(seed, epoch):
        samplers = [trainer.data.DistributedSampler(range(20), num_replicas=4, rank=rank, seed=seed)
                    for rank in range(4)]
        for sampler in samplers:
            sampler.set_epoch(epoch)
        return [list(s) for s in samplers]

    first = epoch_order(0, 0)
    assert first == epoch_order(0, 0)
    assert sorted(i for rank in first for i in rank) == list(range(20))
    assert first != list(map(list, _per_rank(trainer, 20, 4, shuffle=False)[0]))
    assert epoch_order(0, 1) != first
    assert epoch_order(1, 0) != first
    assert epoch_order(1, 0) == epoch_order(0, 1)  # the stream depends on seed + epoch only


def test_feeds_a_dataloader():
    dataset = trainer.utils.data.TensorDataset(trainer.arange(10))
    sampler = trainer.utils.data.DistributedSampler(dataset, num_replicas=3, rank=1, shuffle=False)
    loader = trainer.utils.data.DataLoader(dataset, batch_size=2, sampler=sampler)
    assert [batch[0].tolist() for batch in loader] == [[1, 4], [7, 0]]


def test_without_a_process_group_raises_like_torch():
    message = "Default process group has not been initialized.*pass num_replicas"
    assert_raises_like_torch(lambda lib: lib.utils.data.DistributedSampler(range(4)), ValueError, message)
    assert_raises_like_torch(lambda lib: lib.utils.data.DistributedSampler(range(4), num_replicas=2), ValueError,
                             message)
    assert_raises_like_torch(lambda lib: lib.utils.data.DistributedSampler(range(4), rank=0), ValueError, message)


@pytest.mark.parametrize("rank", [2, -1])
def test_bad_rank_raises_like_torch(rank):
    assert_raises_like_torch(lambda lib: lib.utils.data.DistributedSampler(range(4), num_replicas=2, rank=rank),
                             ValueError, rf"Invalid rank {rank}, rank should be in the interval \[0, 1\]")
