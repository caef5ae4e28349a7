"""Samplers: the order in which a DataLoader visits dataset indices, and how it groups them into batches."""

from __future__ import annotations

import numpy as np

from trainer.backend import CPU
from trainer.creation import _generator, randint, randperm


class Sampler:
    """``torch.utils.data.Sampler``: an iterable of dataset indices (or of index lists, for batch samplers)."""

    def __iter__(self):
        raise NotImplementedError("Subclasses of Sampler should implement __iter__.")


class SequentialSampler(Sampler):
    """Indices ``0, 1, ..., len(data_source) - 1``."""

    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler):
    """A fresh random order each time it is iterated.

    Draws from ``generator``, or from the default CPU generator when it is None, so that
    ``trainer.manual_seed`` makes the epochs of a run reproducible. With ``replacement`` indices are
    drawn independently; ``num_samples`` (default ``len(data_source)``) sets how many are produced.
    """

    def __init__(self, data_source, replacement: bool = False, num_samples: int | None = None, generator=None):
        if not isinstance(replacement, bool):
            raise TypeError(f"replacement should be a boolean value, but got replacement={replacement}")
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if isinstance(self.num_samples, bool) or not isinstance(self.num_samples, int) or self.num_samples <= 0:
            raise ValueError(f"num_samples should be a positive integer value, but got num_samples={self.num_samples}")

    @property
    def num_samples(self) -> int:
        # Read on each use: the dataset may change size between construction and iteration.
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self):
        n, wanted = len(self.data_source), self.num_samples
        if self.replacement:
            yield from randint(0, n, (wanted,), generator=self.generator).tolist()
            return
        for _ in range(wanted // n):
            yield from randperm(n, generator=self.generator).tolist()
        if wanted % n:
            yield from randperm(n, generator=self.generator).tolist()[:wanted % n]

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given ``indices`` in a fresh random order each time it is iterated, drawn from ``generator``."""

    def __init__(self, indices, generator=None):
        self.indices = indices
        self.generator = generator

    def __iter__(self):
        for i in randperm(len(self.indices), generator=self.generator).tolist():
            yield self.indices[i]

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices into ``weights``, each drawn with probability proportional to its weight.

    Without ``replacement`` an index is drawn at most once, so at most as many samples as positive weights.
    Draws from ``generator``, or from the default CPU generator (seeded by ``trainer.manual_seed``).
    """

    def __init__(self, weights, num_samples: int, replacement: bool = True, generator=None):
        if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples <= 0:
            raise ValueError(f"num_samples should be a positive integer value, but got num_samples={num_samples}")
        if not isinstance(replacement, bool):
            raise ValueError(f"replacement should be a boolean value, but got replacement={replacement}")
        weights_array = np.asarray(weights.tolist() if hasattr(weights, "tolist") else weights, dtype=np.float64)
        if weights_array.ndim != 1:
            raise ValueError(f"weights should be a 1d sequence but given weights have shape "
                             f"{tuple(weights_array.shape)}")
        _check_distribution(weights_array, num_samples, replacement)
        self.weights = weights_array
        self.num_samples = num_samples
        self.replacement = replacement
        self.generator = generator

    def __iter__(self):
        rng = _generator(self.generator, CPU).rng
        probabilities = self.weights / self.weights.sum()
        yield from rng.choice(len(self.weights), self.num_samples, replace=self.replacement, p=probabilities).tolist()

    def __len__(self) -> int:
        return self.num_samples


def _check_distribution(weights: np.ndarray, num_samples: int, replacement: bool) -> None:
    """PyTorch's ``multinomial`` checks, made when the sampler is built rather than on its first draw."""
    if not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise RuntimeError("invalid multinomial distribution (encountering probability entry < 0, inf or nan): "
                           "weights must be finite and non-negative")
    if not weights.sum() > 0:
        raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0): at least one weight must "
                           "be positive")
    if not replacement and num_samples > np.count_nonzero(weights):
        raise RuntimeError(f"cannot sample n_sample > prob_dist.size(-1) samples without replacement: "
                           f"num_samples={num_samples} but only {np.count_nonzero(weights)} weights are positive")


class BatchSampler(Sampler):
    """Groups the indices of ``sampler`` into lists of ``batch_size``; the last, shorter one is kept
    unless ``drop_last``."""

    def __init__(self, sampler, batch_size: int, drop_last: bool):
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError(f"batch_size should be a positive integer value, but got batch_size={batch_size}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last should be a boolean value, but got drop_last={drop_last}")
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def __iter__(self):
        batch = []
        for index in self.sampler:
            batch.append(index)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        if self.drop_last:
            return len(self.sampler) // self.batch_size
        return (len(self.sampler) + self.batch_size - 1) // self.batch_size
