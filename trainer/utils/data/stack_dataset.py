"""``StackDataset``: equally long datasets side by side, each sample a tuple (positional datasets) or a dict
(keyword datasets) of the parts' samples at one index, as ``torch.utils.data.StackDataset``."""

from __future__ import annotations

from trainer.utils.data.dataset import Dataset


class StackDataset(Dataset):
    """``StackDataset(images, texts)[i] == (images[i], texts[i])``; ``StackDataset(image=..., text=...)[i]`` is
    ``{"image": images[i], "text": texts[i]}``."""

    def __init__(self, *args, **kwargs):
        if args and kwargs:
            raise ValueError("Supported either ``tuple``- (via ``args``) or ``dict``- (via ``kwargs``) like "
                             "input/output, but both types are given.")
        if not args and not kwargs:
            raise ValueError("At least one dataset should be passed")
        parts = list(args) if args else list(kwargs.values())
        self._length = len(parts[0])
        lengths = [len(dataset) for dataset in parts]
        if any(length != self._length for length in lengths):
            raise ValueError(f"Size mismatch between datasets: every dataset must have the same length, got "
                             f"{lengths}")
        self.datasets = args if args else kwargs

    def __getitem__(self, index):
        if isinstance(self.datasets, dict):
            return {key: dataset[index] for key, dataset in self.datasets.items()}
        return tuple(dataset[index] for dataset in self.datasets)

    def __getitems__(self, indices: list):
        """A batch of samples, read through each part's own ``__getitems__`` where it has one."""
        named = isinstance(self.datasets, dict)
        parts = self.datasets.items() if named else enumerate(self.datasets)
        columns = {}
        for key, dataset in parts:
            if callable(getattr(dataset, "__getitems__", None)):
                items = dataset.__getitems__(indices)
                if len(items) != len(indices):
                    raise ValueError(f"Nested dataset's output size mismatch. Expected {len(indices)}, "
                                     f"got {len(items)}")
            else:
                items = [dataset[i] for i in indices]
            columns[key] = items
        if named:
            return [{key: items[row] for key, items in columns.items()} for row in range(len(indices))]
        return [tuple(items[row] for items in columns.values()) for row in range(len(indices))]

    def __len__(self) -> int:
        return self._length
