"""WeightedRandomSampler, SubsetRandomSampler, IterableDataset / ChainDataset through the DataLoader, and
get_worker_info, against ``torch.utils.data`` where the results are deterministic and by their statistics where
they are random (the two libraries draw from different generators)."""

import collections

import numpy as np
import pytest
import torch
import torch.utils.data as torch_data

import trainer
from trainer.utils.data import (
    ChainDataset,
    DataLoader,
    IterableDataset,
    SubsetRandomSampler,
    WeightedRandomSampler,
    get_worker_info,
)


# ----------------------------------------------------------------------------- WeightedRandomSampler
def test_weighted_sampler_draws_indices_in_proportion_to_their_weights():
    weights = [1.0, 0.0, 3.0, 6.0]
    sampler = WeightedRandomSampler(weights, num_samples=20000, generator=trainer.Generator().manual_seed(0))
    indices = list(sampler)
    assert len(indices) == len(sampler) == 20000
    assert all(isinstance(i, int) for i in indices)
    counts = collections.Counter(indices)
    assert counts[1] == 0  # a zero weight is never drawn
    frequencies = np.array([counts[i] for i in range(4)]) / len(indices)
    np.testing.assert_allclose(frequencies, np.array(weights) / sum(weights), atol=0.015)


def test_weighted_sampler_without_replacement_draws_each_index_at_most_once():
    weights = trainer.tensor([0.1, 0.2, 0.3, 0.4, 0.0, 5.0])
    sampler = WeightedRandomSampler(weights, num_samples=5, replacement=False,
                                    generator=trainer.Generator().manual_seed(0))
    for _ in range(20):
        indices = list(sampler)
        assert len(set(indices)) == 5 and 4 not in indices
    # the heaviest weight (5 of 6) comes first in about 250 of 300 draws, as with torch.multinomial;
    # 220 is 4.6 standard deviations below that
    firsts = collections.Counter(next(iter(sampler)) for _ in range(300))
    assert firsts[5] > 220


def test_weighted_sampler_is_reproducible_from_a_seed():
    def draw(generator=None):
        return list(WeightedRandomSampler([0.2, 0.5, 0.3], num_samples=50, generator=generator))

    assert draw(trainer.Generator().manual_seed(7)) == draw(trainer.Generator().manual_seed(7))
    assert draw(trainer.Generator().manual_seed(7)) != draw(trainer.Generator().manual_seed(8))
    trainer.manual_seed(3)
    first = draw()
    trainer.manual_seed(3)
    assert draw() == first
    sampler = WeightedRandomSampler([0.2, 0.5, 0.3], num_samples=50)
    assert list(sampler) != list(sampler)  # each pass draws afresh


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"weights": [1.0, 2.0], "num_samples": 0}, ValueError,
     "num_samples should be a positive integer value, but got num_samples=0"),
    ({"weights": [1.0, 2.0], "num_samples": 2, "replacement": 1}, ValueError,
     "replacement should be a boolean value, but got replacement=1"),
    ({"weights": [[1.0, 2.0]], "num_samples": 2}, ValueError,
     r"weights should be a 1d sequence but given weights have shape \(1, 2\)"),
    ({"weights": [1.0, -2.0], "num_samples": 2}, RuntimeError, "invalid multinomial distribution"),
    ({"weights": [0.0, 0.0], "num_samples": 2}, RuntimeError, r"sum of probabilities <= 0"),
    ({"weights": [1.0, 0.0, 2.0], "num_samples": 3, "replacement": False}, RuntimeError,
     "only 2 weights are positive"),
])
def test_weighted_sampler_rejects_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        list(WeightedRandomSampler(**kwargs))


def test_weighted_sampler_drives_a_dataloader():
    dataset = trainer.utils.data.TensorDataset(trainer.arange(6))
    loader = DataLoader(dataset, batch_size=4, sampler=WeightedRandomSampler([0, 0, 1, 0, 0, 1], 8))
    batches = [batch[0].tolist() for batch in loader]
    assert [len(b) for b in batches] == [4, 4] and set(sum(batches, [])) <= {2, 5}


# ----------------------------------------------------------------------------- SubsetRandomSampler
def test_subset_random_sampler_permutes_its_indices_reproducibly():
    indices = [3, 9, 4, 12, 7]
    sampler = SubsetRandomSampler(indices, generator=trainer.Generator().manual_seed(1))
    orders = [list(sampler) for _ in range(10)]
    assert all(sorted(order) == sorted(indices) for order in orders)
    assert len({tuple(order) for order in orders}) > 1
    assert len(sampler) == 5
    again = SubsetRandomSampler(indices, generator=trainer.Generator().manual_seed(1))
    assert [list(again) for _ in range(10)] == orders


# ----------------------------------------------------------------------------- iterable datasets
def make_stream(lib, n=10, with_len=True):
    """An iterable dataset of (feature row, label) pairs for ``lib`` (trainer or torch)."""
    base = lib.utils.data.IterableDataset

    class Stream(base):
        def __iter__(self):
            for i in range(n):
                yield lib.tensor([i, i * 2.0], dtype=lib.float64), i

    if with_len:
        Stream.__len__ = lambda self: n
    return Stream()


def as_lists(batches):
    return [[part.tolist() if hasattr(part, "tolist") else part for part in batch] if isinstance(batch, list)
            else batch.tolist() for batch in batches]


@pytest.mark.parametrize("options", [{}, {"batch_size": 3}, {"batch_size": 3, "drop_last": True},
                                     {"batch_size": 5}, {"batch_size": None}, {"batch_size": 4, "shuffle": False}])
def test_iterable_dataset_batches_like_pytorch(options):
    ours = list(DataLoader(make_stream(trainer), **options))
    theirs = list(torch_data.DataLoader(make_stream(torch), **options))
    assert len(ours) == len(theirs)
    assert as_lists(ours) == as_lists(theirs)
    assert len(DataLoader(make_stream(trainer), **options)) == len(torch_data.DataLoader(make_stream(torch),
                                                                                            **options))


def test_iterable_dataset_refuses_shuffle_and_samplers_with_pytorchs_errors():
    for make, kwargs in [(lambda: True, "shuffle"), (lambda: [0, 1], "sampler"), (lambda: [[0, 1]], "batch_sampler")]:
        with pytest.raises(ValueError) as ours:
            DataLoader(make_stream(trainer), **{kwargs: make()}, **({"batch_size": 1} if kwargs != "batch_sampler"
                                                                     else {}))
        with pytest.raises(ValueError) as theirs:
            torch_data.DataLoader(make_stream(torch), **{kwargs: make()})
        assert str(ours.value) == str(theirs.value)


def test_len_of_a_loader_over_a_stream_without_len_raises():
    loader = DataLoader(make_stream(trainer, with_len=False), batch_size=2)
    assert len(list(loader)) == 5
    with pytest.raises(TypeError):
        len(loader)


def test_each_pass_over_an_iterable_dataset_starts_it_afresh():
    loader = DataLoader(make_stream(trainer, n=4), batch_size=3)
    assert as_lists(loader) == as_lists(loader)


def test_iterable_dataset_must_implement_iter():
    with pytest.raises(NotImplementedError, match="Subclasses of IterableDataset should implement __iter__"):
        list(IterableDataset())


def test_chain_dataset_reads_its_datasets_in_turn_like_pytorch():
    ours = ChainDataset([make_stream(trainer, 3), make_stream(trainer, 4)])
    theirs = torch_data.ChainDataset([make_stream(torch, 3), make_stream(torch, 4)])
    assert len(ours) == len(theirs) == 7
    assert as_lists(DataLoader(ours, batch_size=2)) == as_lists(torch_data.DataLoader(theirs, batch_size=2))
    added = make_stream(trainer, 2) + make_stream(trainer, 1)
    assert isinstance(added, ChainDataset) and [label for _, label in added] == [0, 1, 0]
    with pytest.raises(TypeError, match="ChainDataset only supports IterableDataset"):
        list(ChainDataset([make_stream(trainer, 1), trainer.utils.data.TensorDataset(trainer.zeros(2))]))


def test_get_worker_info_is_none_in_the_main_process_and_while_loading():
    seen = []

    class Probe(IterableDataset):
        def __iter__(self):
            seen.append(get_worker_info())
            yield trainer.zeros(1)

    list(DataLoader(Probe(), batch_size=1, num_workers=0))
    assert get_worker_info() is None and seen == [None] and torch_data.get_worker_info() is None
