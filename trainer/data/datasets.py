"""Ready-made datasets: scikit-learn's bundled 8x8 ``Digits`` and ``MNIST`` read from its IDX files.

Both hold their images and labels as two tensors (``.data``, ``.targets``), so a DataLoader gathers
their batches with one fancy index per tensor when no ``transform`` is set.
"""

from __future__ import annotations

import os

import numpy as np

from trainer.creation import from_numpy
from trainer.data.idx import read_idx
from trainer.utils.data.dataset import TensorDataset


class ImageTensorDataset(TensorDataset):
    """Images and labels as two tensors; item ``i`` is ``(transform(data[i]), targets[i])``."""

    def __init__(self, data, targets, transform=None):
        super().__init__(data, targets)
        self.data, self.targets, self.transform = data, targets, transform

    def __getitem__(self, index):
        image = self.data[index]
        return (image if self.transform is None else self.transform(image)), self.targets[index]

    def _items_are_rows(self) -> bool:
        return self.transform is None


class Digits(ImageTensorDataset):
    """scikit-learn's 1,797 handwritten digits (8x8 pixels, 10 classes), split into train and test sets.

    The split is stratified by class and shuffled with ``seed``, so the same arguments always give the
    same items; ``test_fraction`` of the digits go to the test set. Images are float32 in [0, 1]
    (the 0..16 grey levels divided by 16), of shape (64,) when ``flatten`` else (1, 8, 8); labels are
    int64 scalars.
    """

    def __init__(self, train: bool = True, test_fraction: float = 0.25, seed: int = 0, transform=None,
                 flatten: bool = True):
        try:
            from sklearn.datasets import load_digits
            from sklearn.model_selection import train_test_split
        except ImportError as exc:
            raise ImportError("Digits needs scikit-learn, which bundles the digits: pip install scikit-learn") from exc
        digits = load_digits()
        train_rows, test_rows = train_test_split(np.arange(len(digits.target)), test_size=test_fraction,
                                                 random_state=seed, stratify=digits.target)
        rows = train_rows if train else test_rows
        images = (digits.data[rows] / 16.0).astype(np.float32)
        images = images if flatten else images.reshape(-1, 1, 8, 8)
        super().__init__(from_numpy(np.ascontiguousarray(images)), from_numpy(digits.target[rows].astype(np.int64)),
                         transform)
        self.train = train


class MNIST(ImageTensorDataset):
    """The MNIST handwritten digits, read from the four standard IDX files (raw or ``.gz``).

    The files are looked up in ``root`` and in ``root/MNIST/raw`` (torchvision's layout); they are not
    downloaded. Items are ``(image, label)``: a float32 image of shape (1, 28, 28) in [0, 1] and an int64
    label. Unlike torchvision, ``.data`` holds those float32 images rather than the raw uint8 pixels.
    """

    def __init__(self, root: str | os.PathLike, train: bool = True, transform=None):
        self.root = os.fspath(root)
        prefix = "train" if train else "t10k"
        images_path, labels_path = self._find(f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte")
        images, labels = read_idx(images_path), read_idx(labels_path)
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise ValueError(f"{images_path} and {labels_path} do not form an MNIST split: expected images of "
                             f"shape (N, rows, cols) and N labels, got shapes {list(images.shape)} and "
                             f"{list(labels.shape)}")
        data = (images.astype(np.float32) / 255.0)[:, None]
        super().__init__(from_numpy(data), from_numpy(labels.astype(np.int64)), transform)
        self.train = train

    def _find(self, *names: str) -> list[str]:
        """The path of each file, raw or .gz, in ``root`` or ``root/MNIST/raw``."""
        folders = [self.root, os.path.join(self.root, "MNIST", "raw")]
        found, missing, looked = [], [], []
        for name in names:
            candidates = [os.path.join(folder, name + suffix) for folder in folders for suffix in ("", ".gz")]
            existing = [path for path in candidates if os.path.isfile(path)]
            if existing:
                found.append(existing[0])
            else:
                missing.append(name)
                looked += candidates
        if missing:
            paths = "\n  ".join(looked)
            raise FileNotFoundError(f"MNIST files {', '.join(missing)} not found; looked for:\n  {paths}\n"
                                    f"MNIST is not downloaded automatically: put the IDX files (raw or .gz) in "
                                    f"{self.root!r} or {folders[1]!r}.")
        return found
