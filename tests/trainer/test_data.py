"""trainer.utils.data / trainer.data: datasets, samplers, collation, DataLoader, Digits and MNIST."""

import collections
import gzip
import sys

import numpy as np
import pytest
import torch
import torch.utils.data as torch_data

import trainer
from trainer.data.datasets import MNIST, Digits
from trainer.utils.data import (
    BatchSampler,
    ConcatDataset,
    DataLoader,
    RandomSampler,
    SequentialSampler,
    Subset,
    TensorDataset,
    default_collate,
    random_split,
)
from trainer.utils.data.dataloader import _batch_gatherer


def _dataset(n=10):
    features = trainer.arange(n * 6, dtype=trainer.float32).reshape(n, 2, 3)
    labels = trainer.arange(n) * 10
    flags = trainer.arange(n) % 3 == 0
    return TensorDataset(features, labels, flags)


def _to_numpy(batch):
    return [b.numpy() for b in batch]


def _epoch_labels(loader):
    return [int(v) for _, labels, _ in loader for v in labels.tolist()]


# ------------------------------------------------------------------ datasets


def test_tensor_dataset_items_and_length():
    ds = _dataset()
    assert len(ds) == 10
    x, y, flag = ds[3]
    np.testing.assert_array_equal(x.numpy(), np.arange(18, 24, dtype=np.float32).reshape(2, 3))
    assert y.item() == 30 and y.dtype == trainer.int64 and flag.dtype == trainer.bool


def test_tensor_dataset_size_mismatch_names_sizes():
    with pytest.raises(ValueError, match=r"same first dimension, got \[3, 4\]"):
        TensorDataset(trainer.zeros(3, 2), trainer.zeros(4))
    with pytest.raises(ValueError, match="at least one tensor"):
        TensorDataset()


def test_subset_and_concat_dataset():
    ds = _dataset()
    sub = Subset(ds, [7, 2, 5])
    assert len(sub) == 3 and sub[0][1].item() == 70 and sub[-1][1].item() == 50
    both = ConcatDataset([sub, ds])
    assert len(both) == 13
    assert both[2][1].item() == 50 and both[3][1].item() == 0 and both[-1][1].item() == 90
    assert (sub + ds)[12][1].item() == 90
    with pytest.raises(IndexError):
        both[13]
    with pytest.raises(ValueError):
        both[-14]


@pytest.mark.parametrize("n, fractions", [(10, [0.7, 0.2, 0.1]), (11, [0.5, 0.5]), (7, [0.3, 0.3, 0.4]),
                                          (1797, [0.8, 0.1, 0.1]), (5, [1 / 3, 1 / 3, 1 / 3])])
def test_random_split_fraction_sizes_match_pytorch(n, fractions):
    ours = [len(s) for s in random_split(range(n), fractions)]
    theirs = [len(s) for s in torch_data.random_split(range(n), fractions)]
    assert ours == theirs


def test_random_split_is_disjoint_complete_and_seeded():
    parts = random_split(range(20), [5, 7, 8], generator=trainer.Generator().manual_seed(3))
    assert [len(p) for p in parts] == [5, 7, 8]
    seen = [p[i] for p in parts for i in range(len(p))]
    assert sorted(seen) == list(range(20))
    again = random_split(range(20), [5, 7, 8], generator=trainer.Generator().manual_seed(3))
    assert [list(p.indices) for p in parts] == [list(p.indices) for p in again]
    with pytest.raises(ValueError, match="does not equal the length"):
        random_split(range(20), [5, 5])


# ------------------------------------------------------------------ samplers


def test_samplers():
    assert list(SequentialSampler(range(4))) == [0, 1, 2, 3]
    order = list(RandomSampler(range(50), generator=trainer.Generator().manual_seed(0)))
    assert sorted(order) == list(range(50)) and order != list(range(50))
    assert len(list(RandomSampler(range(5), num_samples=12))) == 12
    drawn = list(RandomSampler(range(5), replacement=True, num_samples=100))
    assert len(drawn) == 100 and set(drawn) <= set(range(5))
    assert list(BatchSampler(range(7), 3, drop_last=False)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert len(BatchSampler(range(7), 3, drop_last=False)) == 3
    assert list(BatchSampler(range(7), 3, drop_last=True)) == [[0, 1, 2], [3, 4, 5]]
    assert len(BatchSampler(range(7), 3, drop_last=True)) == 2
    with pytest.raises(ValueError, match="positive integer"):
        BatchSampler(range(7), 0, drop_last=False)
    with pytest.raises(ValueError, match="positive integer"):
        RandomSampler([])


# ------------------------------------------------------------------ DataLoader


@pytest.mark.parametrize("drop_last, sizes", [(False, [4, 4, 2]), (True, [4, 4])])
def test_batch_sizes_drop_last_and_len(drop_last, sizes):
    loader = DataLoader(_dataset(), batch_size=4, drop_last=drop_last)
    batches = list(loader)
    assert len(loader) == len(sizes)
    assert [len(b[0]) for b in batches] == sizes
    assert batches[0][0].shape == (4, 2, 3) and batches[0][1].dtype == trainer.int64
    assert _epoch_labels(loader) == list(range(0, sum(sizes) * 10, 10))


def test_shuffle_is_reproducible_with_a_seed_and_differs_across_epochs():
    def loader(seed):
        return DataLoader(_dataset(40), batch_size=8, shuffle=True, generator=trainer.Generator().manual_seed(seed))

    a, b = loader(5), loader(5)
    first, second = _epoch_labels(a), _epoch_labels(a)
    assert first == _epoch_labels(b) and second == _epoch_labels(b)
    assert first != second
    assert sorted(first) == sorted(second) == list(range(0, 400, 10))
    assert _epoch_labels(loader(6)) != first


def test_shuffle_without_generator_follows_manual_seed():
    trainer.manual_seed(123)
    first = _epoch_labels(DataLoader(_dataset(30), batch_size=7, shuffle=True))
    trainer.manual_seed(123)
    assert _epoch_labels(DataLoader(_dataset(30), batch_size=7, shuffle=True)) == first


@pytest.mark.parametrize("shuffle, drop_last", [(False, False), (True, False), (True, True)])
def test_fast_path_gives_the_same_batches_as_item_by_item(shuffle, drop_last):
    ds = _dataset(23)
    ds = TensorDataset(*ds.tensors, trainer.randn(23, 4).t().contiguous().t())  # a strided tensor too
    assert _batch_gatherer(ds) is not None

    def loader(collate_fn=None):
        return DataLoader(ds, batch_size=5, shuffle=shuffle, drop_last=drop_last, collate_fn=collate_fn,
                          generator=trainer.Generator().manual_seed(9))

    slow = loader(collate_fn=lambda items: default_collate(items))  # not the default: per-item path
    fast_batches, slow_batches = list(loader()), list(slow)
    assert len(fast_batches) == len(slow_batches) == len(slow)
    for fast_batch, slow_batch in zip(fast_batches, slow_batches):
        assert type(fast_batch) is type(slow_batch) is list
        for f, s in zip(fast_batch, slow_batch):
            assert f.dtype == s.dtype and f.shape == s.shape
            np.testing.assert_array_equal(f.numpy(), s.numpy())


def test_fast_path_through_subsets_matches_and_is_skipped_when_items_change():
    ds = _dataset(17)
    train, _ = random_split(ds, [12, 5], generator=trainer.Generator().manual_seed(1))
    assert _batch_gatherer(train) is not None
    fast = list(DataLoader(train, batch_size=5))
    slow = list(DataLoader(train, batch_size=5, collate_fn=lambda items: default_collate(items)))
    for f, s in zip(fast, slow):
        for a, b in zip(_to_numpy(f), _to_numpy(s)):
            np.testing.assert_array_equal(a, b)

    class Doubled(TensorDataset):
        def __getitem__(self, index):
            return tuple(t[index] * 2 for t in self.tensors)

    assert _batch_gatherer(Doubled(trainer.ones(3))) is None
    assert _batch_gatherer(TensorDataset(trainer.ones(3, requires_grad=True))) is None
    assert list(DataLoader(Doubled(trainer.ones(3)), batch_size=3))[0][0].tolist() == [2.0, 2.0, 2.0]


def test_dataloader_options():
    ds = _dataset()
    single = list(DataLoader(ds, batch_size=None))
    assert len(single) == 10 and single[4][1].item() == 40 and single[4][0].shape == (2, 3)
    by_sampler = DataLoader(ds, batch_size=3, sampler=[9, 0, 4, 4])
    assert len(by_sampler) == 2 and _epoch_labels(by_sampler) == [90, 0, 40, 40]
    by_batches = DataLoader(ds, batch_sampler=[[1, 2], [3]])
    assert _epoch_labels(by_batches) == [10, 20, 30]
    assert _epoch_labels(DataLoader(ds, batch_size=4, num_workers=2)) == list(range(0, 100, 10))
    with pytest.raises(ValueError, match="mutually exclusive with shuffle"):
        DataLoader(ds, sampler=[0], shuffle=True)
    with pytest.raises(ValueError, match="batch_sampler option is mutually exclusive"):
        DataLoader(ds, batch_sampler=[[0]], batch_size=2)
    with pytest.raises(ValueError, match="non-negative"):
        DataLoader(ds, num_workers=-1)


# ------------------------------------------------------------------ collation, compared with PyTorch's


def _describe(batch):
    """A structure of plain values and dtype names, to compare trainer's and PyTorch's batches."""
    if isinstance(batch, (trainer.Tensor, torch.Tensor)):
        return ("tensor", str(batch.dtype).split(".")[-1], batch.tolist())
    if isinstance(batch, dict):
        return {k: _describe(v) for k, v in batch.items()}
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):
        return (type(batch).__name__, *(_describe(v) for v in batch))
    if isinstance(batch, (list, tuple)):
        return (type(batch).__name__, [_describe(v) for v in batch])
    return batch


Point = collections.namedtuple("Point", "x y")


@pytest.mark.parametrize("samples", [
    [1, 2, 3],
    [1.5, 2.0],
    [True, False],
    ["a", "b"],
    [np.float32(1.5), np.float32(2.5)],
    [np.int32(1), np.int32(7)],
    [np.arange(3.0), np.ones(3)],
    [np.array(1.5), np.array(2.5)],
    [(1, 2.0, "x"), (3, 4.0, "y")],
    [[1, 2], [3, 4]],
    [{"a": 1, "b": [1.0, 2]}, {"a": 2, "b": [3.0, 4]}],
    [Point(1, 2.0), Point(3, 4.0)],
], ids=lambda s: type(s[0]).__name__)
def test_default_collate_matches_pytorch(samples):
    assert _describe(default_collate(samples)) == _describe(torch_data.default_collate(samples))


def test_default_collate_stacks_tensors_inside_structures():
    samples = [{"image": trainer.ones(2, 2) * i, "label": i} for i in range(3)]
    batch = default_collate(samples)
    assert batch["image"].shape == (3, 2, 2) and batch["label"].tolist() == [0, 1, 2]
    assert batch["label"].dtype == trainer.int64


def test_default_collate_errors_match_pytorch():
    with pytest.raises(TypeError, match="batch must contain tensors, numpy arrays, numbers, dicts or lists; found"):
        default_collate([None, None])
    with pytest.raises(TypeError, match="found <U1"):
        default_collate([np.array(["a"]), np.array(["b"])])
    with pytest.raises(RuntimeError, match="each element in list of batch should be of equal size"):
        default_collate([[1, 2], [3]])


# ------------------------------------------------------------------ Digits


def test_digits_shapes_dtypes_and_split_sizes():
    train, test = Digits(train=True), Digits(train=False)
    assert (len(train), len(test)) == (1347, 450)
    x, y = train[0]
    assert x.shape == (64,) and x.dtype == trainer.float32
    assert y.shape == () and y.dtype == trainer.int64
    assert train.data.shape == (1347, 64) and train.targets.dtype == trainer.int64
    assert 0.0 <= float(train.data.min()) and float(train.data.max()) == 1.0
    assert sorted(set(test.targets.tolist())) == list(range(10))  # stratified: every class in the test set
    images = Digits(train=False, flatten=False)
    assert images[0][0].shape == (1, 8, 8) and images.data.shape == (450, 1, 8, 8)
    np.testing.assert_array_equal(images.data.numpy().reshape(450, 64), test.data.numpy())


def test_digits_split_is_deterministic_by_seed():
    a, b, c = Digits(seed=0), Digits(seed=0), Digits(seed=1)
    np.testing.assert_array_equal(a.data.numpy(), b.data.numpy())
    assert not np.array_equal(a.targets.numpy(), c.targets.numpy())
    assert len(Digits(train=False, test_fraction=0.5)) == 899


def test_digits_batches_take_the_fast_path_unless_transformed():
    digits = Digits(train=False)
    assert _batch_gatherer(digits) is not None
    images, labels = next(iter(DataLoader(digits, batch_size=100)))
    assert images.shape == (100, 64) and labels.shape == (100,)
    np.testing.assert_array_equal(labels.numpy(), digits.targets.numpy()[:100])

    shifted = Digits(train=False, transform=lambda x: x + 1)
    assert _batch_gatherer(shifted) is None
    images, _ = next(iter(DataLoader(shifted, batch_size=100)))
    np.testing.assert_allclose(images.numpy(), digits.data.numpy()[:100] + 1)


def test_digits_without_scikit_learn_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match="pip install scikit-learn"):
        Digits()


# ------------------------------------------------------------------ MNIST


def _idx(array: np.ndarray, type_code: int = 0x08) -> bytes:
    header = bytes([0, 0, type_code, array.ndim]) + np.array(array.shape, ">u4").tobytes()
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def _write_mnist(folder, prefix, images, labels, compress):
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in ((f"{prefix}-images-idx3-ubyte", images), (f"{prefix}-labels-idx1-ubyte", labels)):
        content = _idx(array)
        if compress:
            (folder / (name + ".gz")).write_bytes(gzip.compress(content))
        else:
            (folder / name).write_bytes(content)


@pytest.mark.parametrize("compress, layout", [(False, "flat"), (True, "flat"), (True, "torchvision")])
def test_mnist_reads_idx_files(tmp_path, compress, layout):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    labels = np.array([3, 1, 4, 1, 5], np.uint8)
    folder = tmp_path if layout == "flat" else tmp_path / "MNIST" / "raw"
    _write_mnist(folder, "t10k", images, labels, compress)
    ds = MNIST(tmp_path, train=False)
    assert len(ds) == 5
    image, label = ds[2]
    assert image.shape == (1, 28, 28) and image.dtype == trainer.float32
    assert label.dtype == trainer.int64 and label.item() == 4
    np.testing.assert_allclose(ds.data.numpy()[:, 0], images / 255.0, rtol=1e-6)
    batch_images, batch_labels = next(iter(DataLoader(ds, batch_size=5)))
    assert batch_images.shape == (5, 1, 28, 28) and batch_labels.tolist() == [3, 1, 4, 1, 5]


def test_mnist_missing_files_names_every_path(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        MNIST(tmp_path, train=True)
    message = str(info.value)
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"):
        for folder in (tmp_path, tmp_path / "MNIST" / "raw"):
            assert str(folder / name) in message and str(folder / (name + ".gz")) in message
    assert "not downloaded automatically" in message


def test_idx_parser_rejects_bad_files(tmp_path):
    from trainer.data.idx import parse_idx, read_idx

    with pytest.raises(ValueError, match="two zero bytes"):
        parse_idx(b"\x01\x00\x08\x01" + b"\x00" * 8)
    with pytest.raises(ValueError, match="type code 0x07"):
        parse_idx(b"\x00\x00\x07\x01" + b"\x00" * 8)
    with pytest.raises(ValueError, match="needs 12 bytes"):
        parse_idx(_idx(np.zeros((3, 4), np.uint8))[:-1])
    wide = np.array([[1.5, -2.0], [3.25, 1e30]], np.float32)
    (tmp_path / "floats").write_bytes(_idx(wide, 0x0D))
    np.testing.assert_array_equal(read_idx(tmp_path / "floats"), wide)
