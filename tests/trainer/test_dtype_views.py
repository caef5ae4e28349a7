"""``Tensor.view(dtype)`` against PyTorch: the same bytes read as another dtype (shape scaled along the last
dimension when the element sizes differ), sharing memory and version counter, with PyTorch's layout errors."""

import numpy as np
import pytest
import torch

import trainer
from tests.trainer.test_ops_parity import assert_raises_like_torch

CASES = [
    ("float32", (2, 4), "int32"),
    ("float32", (2, 4), "float16"),
    ("float32", (2, 4), "bfloat16"),
    ("float32", (2, 4), "float64"),
    ("float64", (3,), "int16"),
    ("complex64", (2, 3), "float32"),
    ("float32", (2, 4), "complex64"),
    ("int8", (4,), "bool"),
    ("uint8", (2, 4), "int32"),
    ("float32", (), "int32"),
]


@pytest.mark.parametrize(("source", "shape", "target"), CASES)
def test_view_as_dtype_reads_the_same_bytes_as_torch(source, shape, target):
    values = np.random.default_rng(0).integers(0, 2, size=shape).astype(source) if source in ("int8", "uint8") \
        else np.random.default_rng(0).standard_normal(shape).astype(source)
    ours = trainer.tensor(values).view(getattr(trainer, target))
    theirs = torch.tensor(values).view(getattr(torch, target))
    assert list(ours.shape) == list(theirs.shape)
    assert ours.dtype == getattr(trainer, target)
    np.testing.assert_array_equal(ours.float().numpy() if target == "bfloat16" else ours.numpy(),
                                  theirs.float().numpy() if target == "bfloat16" else theirs.numpy())


def test_the_view_shares_memory_and_version_and_has_no_gradient():
    x = trainer.ones(4, requires_grad=True)
    bits = x.detach().view(trainer.int32)
    bits[0] = 0
    assert x[0].item() == 0.0 and not bits.requires_grad
    assert not x.view(trainer.int32).requires_grad
    version = x._version
    bits.add_(1)
    assert x._version == version + 1


@pytest.mark.parametrize(("make", "message"), [
    (lambda lib: lib.randn(2, 4).t().view(lib.float16), "stride\\(-1\\) must be 1"),
    (lambda lib: lib.randn(2, 3).view(lib.float64), "size\\(-1\\) must be divisible by 2"),
    (lambda lib: lib.tensor(1.5).view(lib.float16), "dim\\(\\) cannot be 0"),
    (lambda lib: lib.randn(8)[1:7].view(lib.float64), "storage_offset\\(\\) must be divisible by 2"),
])
def test_layouts_that_cannot_be_reread_raise_like_torch(make, message):
    assert_raises_like_torch(make, RuntimeError, message)
