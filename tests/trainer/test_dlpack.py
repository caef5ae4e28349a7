"""DLPack exchange between trainer, PyTorch and NumPy (memory is shared both ways, capsules are consumed once)
and ``frombuffer`` against ``torch.frombuffer``."""

import array

import numpy as np
import pytest
import torch

import trainer
from tests.trainer.test_ops_parity import assert_raises_like_torch


def test_torch_from_dlpack_shares_a_trainer_tensors_memory():
    ours = trainer.arange(6.0).reshape(2, 3)
    theirs = torch.from_dlpack(ours)
    theirs[0, 1] = 100.0
    assert ours.tolist() == [[0.0, 100.0, 2.0], [3.0, 4.0, 5.0]]
    assert theirs.dtype == torch.float32 and theirs.data_ptr() == ours.data_ptr()


def test_numpy_from_dlpack_shares_a_trainer_tensors_memory():
    ours = trainer.zeros(3, dtype=trainer.int32)
    view = np.from_dlpack(ours)
    view[2] = 7
    assert ours.tolist() == [0, 0, 7] and view.dtype == np.int32


@pytest.mark.parametrize("data", [torch.arange(12.0).reshape(3, 4)[:, 1::2], torch.tensor([1 + 2j, 3j]),
                                  torch.tensor([True, False]), torch.arange(5, dtype=torch.int16),
                                  torch.tensor(2.5, dtype=torch.float64)], ids=["strided", "complex", "bool",
                                                                                 "int16", "scalar"])
def test_trainer_from_dlpack_shares_torch_tensors(data):
    ours = trainer.from_dlpack(data)
    assert ours.dtype.name == str(data.dtype).removeprefix("torch.")
    np.testing.assert_array_equal(ours.numpy(), data.numpy())
    assert ours.data_ptr() == data.data_ptr() and ours.stride() == data.stride()
    ours.zero_()
    assert not data.any()


def test_legacy_capsules_round_trip_and_are_consumed_once():
    theirs = torch.arange(4.0)
    capsule = torch.utils.dlpack.to_dlpack(theirs)
    ours = trainer.utils.dlpack.from_dlpack(capsule)
    ours[0] = 42.0  # writable, as PyTorch's tensors from capsules are
    assert theirs[0].item() == 42.0
    assert_raises_like_torch(lambda lib: lib.utils.dlpack.from_dlpack(capsule), RuntimeError,
                             "DLTensor capsules can be consumed only once")
    back = torch.utils.dlpack.from_dlpack(trainer.utils.dlpack.to_dlpack(ours))
    assert back.data_ptr() == theirs.data_ptr()


def test_capsule_memory_outlives_the_producer():
    ours = trainer.utils.dlpack.from_dlpack(torch.utils.dlpack.to_dlpack(torch.arange(1000.0, dtype=torch.float64)))
    torch.zeros(1000, dtype=torch.float64)  # an allocation that would reuse freed memory
    assert ours[-1].item() == 999.0 and ours.sum().item() == 999 * 1000 / 2


def test_bfloat16_capsule_from_torch():
    ours = trainer.utils.dlpack.from_dlpack(torch.utils.dlpack.to_dlpack(torch.tensor([1.5, -2.0],
                                                                                      dtype=torch.bfloat16)))
    assert ours.dtype == trainer.bfloat16 and ours.float().tolist() == [1.5, -2.0]


def test_dlpack_device_and_copy():
    assert tuple(trainer.ones(2).__dlpack_device__()) == tuple(torch.ones(2).__dlpack_device__()) == (1, 0)
    theirs = torch.ones(3)
    copied = trainer.from_dlpack(theirs, copy=True)
    copied.zero_()
    assert theirs.sum().item() == 3.0


def test_tensors_that_require_grad_are_not_exported_like_torch():
    assert_raises_like_torch(lambda lib: lib.ones(2, requires_grad=True).__dlpack__(), BufferError,
                             "Can't export tensors that require gradient, use tensor.detach()")


def test_from_dlpack_refuses_objects_without_the_protocol():
    with pytest.raises(TypeError, match="implementing the DLPack protocol"):
        trainer.from_dlpack([1.0, 2.0])


def test_frombuffer_shares_memory_like_torch():
    buffer = bytearray(16)
    ours = trainer.frombuffer(buffer, dtype=trainer.float32, count=2, offset=4)
    ours.fill_(1.0)
    theirs = torch.frombuffer(buffer, dtype=torch.float32)
    assert theirs.tolist() == [0.0, 1.0, 1.0, 0.0] and tuple(ours.shape) == (2,)
    numbers = array.array("d", [1.0, 2.0, 3.0])
    trainer.frombuffer(numbers, dtype=trainer.float64)[1] = 5.0
    assert list(numbers) == [1.0, 5.0, 3.0]
    assert trainer.frombuffer(bytearray(8), dtype=trainer.float32, requires_grad=True).requires_grad


def test_frombuffer_reads_what_torch_reads():
    data = np.arange(10, dtype=np.int16).tobytes()
    for kwargs in ({}, {"count": 3}, {"offset": 4}, {"count": 2, "offset": 6}, {"count": -5, "offset": 2}):
        np.testing.assert_array_equal(trainer.frombuffer(data, dtype=trainer.int16, **kwargs).numpy(),
                                      torch.frombuffer(bytearray(data), dtype=torch.int16, **kwargs).numpy())


@pytest.mark.parametrize(("call", "message"), [
    (lambda lib: lib.frombuffer(bytearray(3), dtype=lib.float32), r"buffer length \(3 bytes\) after offset \(0 "
                                                                  r"bytes\) must be a multiple of element size \(4\)"),
    (lambda lib: lib.frombuffer(bytearray(8), dtype=lib.float32, count=3), r"requested buffer length \(3 \* 4"),
    (lambda lib: lib.frombuffer(bytearray(8), dtype=lib.float32, offset=9), r"offset \(9 bytes\) must be"),
    (lambda lib: lib.frombuffer(bytearray(0), dtype=lib.float32), r"both buffer length \(0\) and count"),
    (lambda lib: lib.frombuffer(bytearray(8), dtype=lib.float32, count=0), r"both buffer length \(8\) and count \(0"),
    (lambda lib: lib.frombuffer(5, dtype=lib.float32), "does not implement Python buffer protocol"),
])
def test_frombuffer_errors_like_torch(call, message):
    assert_raises_like_torch(call, ValueError, message)
