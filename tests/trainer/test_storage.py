"""Storages as PyTorch shows them: ``untyped_storage()``, ``storage()``, ``storage_offset()``, ``data_ptr()``,
``set_``, ``is_set_to``, ``resize_``/``resize_as_``, ``UntypedStorage``, ``TypedStorage``, the legacy storage
classes and ``from_file``, compared with PyTorch on the same operations."""

import warnings

import numpy as np
import pytest
import torch
import torch.storage

import trainer
import trainer.storage
from tests.trainer.test_ops_parity import assert_raises_like_torch

LIBS = (torch, trainer)


@pytest.fixture(autouse=True)
def _quiet_typed_storage_warning():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "TypedStorage is deprecated")
        yield


def _geometry(t):
    storage = t.untyped_storage()
    return (storage.nbytes(), storage.size(), len(storage), storage.element_size(), t.storage_offset(),
            t.data_ptr() - storage.data_ptr(), str(storage.device), storage.is_shared())


@pytest.mark.parametrize("view", [
    lambda t: t, lambda t: t[1:], lambda t: t.view(3, 4)[1:, ::2], lambda t: t.view(3, 4).t()[2],
    lambda t: t.view(2, 6)[:, 3:].transpose(0, 1), lambda t: t[4:9],
])
def test_untyped_storage_is_the_whole_memory_of_a_view(view):
    ours, theirs = view(trainer.arange(12, dtype=trainer.float32)), view(torch.arange(12, dtype=torch.float32))
    assert _geometry(ours) == _geometry(theirs)


def test_storage_data_ptr_shows_sharing_like_torch():
    for lib in LIBS:
        x = lib.arange(6.0)
        assert x.view(2, 3).untyped_storage().data_ptr() == x.untyped_storage().data_ptr() == x.data_ptr()
        assert x[2:].untyped_storage().data_ptr() == x.data_ptr() != x[2:].data_ptr()
        assert x.clone().untyped_storage().data_ptr() != x.untyped_storage().data_ptr()


def test_writes_through_a_storage_reach_every_tensor_and_bump_no_version():
    results = []
    for lib in LIBS:
        x = lib.arange(3, dtype=lib.int16)
        view = x[1:]
        storage = x.untyped_storage()
        storage[0] = 7
        storage[2:4] = 1
        first = (x.tolist(), view.tolist(), x._version, view._version)
        storage.fill_(300)  # bytes wrap modulo 256
        results.append((first, x.tolist(), storage.tolist(), x._version))
    assert results[0] == results[1]


def test_untyped_storage_constructors_indexing_and_copies():
    results = []
    for lib in LIBS:
        s = lib.UntypedStorage([1, 2, 300, -1])
        part = s[1:3]
        part.fill_(9)
        copy = s.clone()
        copy[0] = 5
        target = lib.UntypedStorage(4).copy_(s)
        results.append((lib.UntypedStorage().nbytes(), lib.UntypedStorage(5).nbytes(), s.tolist(), s[0], s[-1],
                        part.nbytes(), part.data_ptr() - s.data_ptr(), copy.tolist(), target.tolist(), list(s),
                        s.cpu() is s, type(s[0]), repr(s).splitlines()[:-1]))
    assert results[0] == results[1]
    last_line = repr(trainer.UntypedStorage([1])).splitlines()[-1]
    assert last_line == "[trainer.storage.UntypedStorage(device=cpu) of size 1]"


def test_untyped_storage_errors_like_torch():
    assert_raises_like_torch(lambda lib: lib.UntypedStorage(3)[3], IndexError, "index 3 out of range for storage of "
                             "size 3")
    assert_raises_like_torch(lambda lib: lib.UntypedStorage(3)["a"], TypeError, "can't index")
    assert_raises_like_torch(lambda lib: lib.UntypedStorage(3).__setitem__("a", 1), RuntimeError, "can't index")
    assert_raises_like_torch(lambda lib: lib.UntypedStorage(4)[::2], RuntimeError, "only a step of 1")
    assert_raises_like_torch(lambda lib: lib.UntypedStorage(4).copy_(lib.UntypedStorage(3)), RuntimeError,
                             "size does not match, self was 4 bytes but src was 3 bytes")
    assert_raises_like_torch(lambda lib: lib.UntypedStorage(8).copy_(lib.ones(2)), TypeError, "must be trainer.Storage")


def test_resizing_a_storage_keeps_its_first_bytes():
    for lib in LIBS:
        s = lib.UntypedStorage([1, 2, 3])
        assert s.resizable()
        s.resize_(5)
        assert s.nbytes() == 5 and s.tolist()[:3] == [1, 2, 3]
        s.resize_(2)
        assert s.tolist() == [1, 2]
        typed = lib.TypedStorage([1.0, 2.0], dtype=lib.float32)
        typed.resize_(3)
        assert typed.size() == 3 and typed.tolist()[:2] == [1.0, 2.0]


def test_storage_viewed_by_a_tensor_is_not_resizable_in_trainer():
    # Deliberate deviation: PyTorch moves every tensor over a storage to its new memory; trainer cannot, so it
    # refuses instead of silently leaving the tensors behind.
    x = trainer.arange(4.0)
    assert not x.untyped_storage().resizable()
    with pytest.raises(RuntimeError, match="Trying to resize storage that is not resizable"):
        x.untyped_storage().resize_(64)
    s = trainer.UntypedStorage(8)
    trainer.empty(0).set_(s)
    with pytest.raises(RuntimeError, match="not resizable"):
        s.resize_(16)


def test_typed_storage_warns_once_with_torchs_message():
    messages = []
    for lib, module in ((torch, torch.storage), (trainer, trainer.storage)):
        module._reset_warn_typed_storage_removal()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            x = lib.ones(2)
            x.storage()
            x.storage().size()
            lib.FloatStorage(2)
        messages.append([(w.category, str(w.message)) for w in caught])
    assert len(messages[0]) == 1 and messages[0] == messages[1]


def test_typed_storage_reads_and_writes_the_tensor():
    results = []
    for lib in LIBS:
        x = lib.tensor([1.5, 2.5, 3.5])
        s = x[1:].storage()
        values = (s.dtype == lib.float32, s.size(), len(s), s.nbytes(), s.element_size(), s.tolist(), s[0], s[-1],
                  s._untyped_storage.data_ptr() == x.untyped_storage().data_ptr(), s.data_ptr() == x.data_ptr(),
                  s.untyped().nbytes(), s.type(), str(s.device))
        s[0] = 9
        s[1:] = 7
        written = (x.tolist(), x._version)
        s.fill_(2)
        filled = x.tolist()
        s.copy_(lib.tensor([4.0, 5.0, 6.0]).storage())
        clone = s.clone()
        clone[0] = 0
        results.append((values, written, filled, x.tolist(), clone.tolist(), repr(s).splitlines()[:-1]))
    assert results[0] == results[1]


def test_typed_storage_constructors_and_legacy_classes():
    results = []
    for lib in LIBS:
        wrapped = lib.TypedStorage(wrap_storage=lib.UntypedStorage([1, 0, 2, 0]), dtype=lib.int16)
        legacy = lib.FloatStorage(3)
        results.append((lib.TypedStorage().size(), str(lib.TypedStorage().dtype).split(".")[1],
                        lib.TypedStorage(3, dtype=lib.int16).nbytes(),
                        lib.TypedStorage([1, 2, 3], dtype=lib.int32).tolist(), wrapped.tolist(),
                        type(legacy) is lib.TypedStorage, legacy.size(), isinstance(legacy, lib.FloatStorage),
                        isinstance(legacy, lib.DoubleStorage), isinstance(legacy, lib.TypedStorage),
                        lib.LongStorage([1, 2]).tolist(), lib.FloatStorage(wrap_storage=lib.UntypedStorage(8)).size(),
                        str(lib.BFloat16Storage.dtype).split(".")[1], lib.is_storage(legacy),
                        lib.is_storage(lib.UntypedStorage(1)), lib.is_storage(lib.ones(1))))
    assert results[0] == results[1]


def test_typed_storage_errors_like_torch():
    s = {lib: lib.tensor([1.5, 2.5]).storage() for lib in LIBS}
    assert_raises_like_torch(lambda lib: s[lib][0:1], RuntimeError, "slices are only supported in UntypedStorage")
    assert_raises_like_torch(lambda lib: s[lib][2], IndexError, "index 2 out of range for storage of size 2")
    assert_raises_like_torch(lambda lib: lib.TypedStorage(wrap_storage=lib.UntypedStorage(2)), RuntimeError,
                             "Argument 'dtype' must be specified")
    assert_raises_like_torch(lambda lib: lib.TypedStorage(1.5), TypeError, "Argument type not recognized")
    assert_raises_like_torch(lambda lib: lib.FloatStorage(2, dtype=lib.float64), RuntimeError,
                             "Keyword argument 'dtype' cannot be specified")


def test_set_forms_share_memory_like_torch():
    results = []
    for lib in LIBS:
        a = lib.arange(6.0)
        b = lib.empty(0)
        b.set_(a)
        b[0] = 10
        strided = a[1:].view(5)[::2]
        same_view = lib.empty(0).set_(strided)
        from_tensor = lib.empty(0).set_(a, 2, (2, 2), (1, 2))
        from_view = lib.empty(0).set_(a[3:], 0, (2,))
        whole = lib.empty(0).set_(a.untyped_storage())
        part = lib.empty(0).set_(a.untyped_storage(), 1, (2, 2))
        keywords = lib.empty(0).set_(a.untyped_storage(), storage_offset=1, size=(2,), stride=(2,))
        typed = lib.empty(0).set_(a.storage(), 1, (2,))
        ints = lib.empty(0, dtype=lib.int32).set_(lib.UntypedStorage([1, 0, 0, 0, 2, 0]))
        emptied = lib.ones(3)
        emptied.set_()
        part[0, 0] = -1  # a write through one tensor shows in all of them
        results.append((b.data_ptr() == a.data_ptr(), b._version, a._version, a.tolist(),
                        same_view.storage_offset(), same_view.stride(), same_view.is_set_to(strided),
                        from_tensor.tolist(), from_view.tolist(), whole.tolist(), part.tolist(), part.stride(),
                        keywords.tolist(), typed.tolist(), ints.tolist(), emptied.shape,
                        emptied.untyped_storage().nbytes(), emptied._version))
    assert results[0] == results[1]


def test_set_errors_like_torch():
    assert_raises_like_torch(lambda lib: lib.empty(0, dtype=lib.int64).set_(lib.arange(3.0)), RuntimeError,
                             "Could not set tensor of type")
    assert_raises_like_torch(lambda lib: lib.empty(0, dtype=lib.int64).set_(lib.arange(3.0).storage()),
                             RuntimeError, "Expected a Storage of type")
    assert_raises_like_torch(lambda lib: lib.empty(0).set_(lib.arange(6.0)[::2], 0, (2,), (1,)), RuntimeError,
                             "must be contiguous")
    assert_raises_like_torch(lambda lib: lib.empty(0).set_(lib.arange(6.0).untyped_storage(), 0, (2, 2), (1,)),
                             RuntimeError, r"unequal size length \(2\) and stride length \(1\)")
    assert_raises_like_torch(lambda lib: lib.empty(0).set_(lib.arange(6.0).untyped_storage(), -1, (3,)),
                             RuntimeError, "invalid storage offset -1")
    assert_raises_like_torch(lambda lib: lib.ones(3, requires_grad=True).set_(lib.zeros(2)), RuntimeError,
                             "a leaf Variable that requires grad is being used in an in-place operation")
    assert_raises_like_torch(lambda lib: lib.ones(3, requires_grad=True)[:1].set_(lib.zeros(2)), RuntimeError,
                             "a view of a leaf Variable that requires grad")
    assert_raises_like_torch(lambda lib: lib.empty(0).set_([1, 2]), TypeError, "set_")


def test_set_past_the_end_of_a_storage_raises_in_trainer():
    # Deliberate deviation: PyTorch grows the storage (moving every tensor over it); trainer cannot move them.
    with pytest.raises(RuntimeError, match="out of bounds for storage of size 6 elements"):
        trainer.empty(0).set_(trainer.arange(6.0).untyped_storage(), 4, (3,))


def test_set_on_a_leaf_under_no_grad_keeps_it_a_leaf_with_gradients():
    grads = []
    for lib in LIBS:
        w = lib.ones(3, dtype=lib.float64, requires_grad=True)
        with lib.no_grad():
            w.set_(lib.tensor([1.0, 2.0], dtype=lib.float64))
        (w * w).sum().backward()
        grads.append((w.is_leaf, w.requires_grad, w.grad.tolist()))
    assert grads[0] == grads[1]


def test_set_on_a_recorded_result_raises_in_trainer():
    # Deliberate deviation: PyTorch gives the result a grad_fn that fails at backward; trainer fails at once.
    y = trainer.ones(2, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="set_ is not differentiable"):
        y.set_(trainer.zeros(2))


def test_is_set_to_like_torch():
    results = []
    for lib in LIBS:
        a = lib.arange(6.0)
        e = lib.empty(0)
        results.append((a.is_set_to(a), a[1:].is_set_to(a), a.view(2, 3).is_set_to(a), a.is_set_to(a.clone()),
                        lib.empty(0).is_set_to(lib.empty(0)), e.is_set_to(e), a.view(2, 3).t().is_set_to(a.view(3, 2)),
                        lib.empty(0, dtype=lib.int64).set_(a.untyped_storage()).is_set_to(a),
                        lib.empty(0).set_(a).is_set_to(a)))
    assert results[0] == results[1]


def test_resize_keeps_offset_and_old_values_like_torch():
    results = []
    for lib in LIBS:
        x = lib.arange(6.0)
        shrunk = (x.resize_(2, 2).tolist(), x.untyped_storage().nbytes(), x._version, x.stride())
        grown = (x.resize_(2, 4).flatten()[:6].tolist(), x.untyped_storage().nbytes(), x._version)
        y = lib.arange(6.0)[2:]
        within = (y.resize_(3).tolist(), y.storage_offset(), y.untyped_storage().nbytes())
        past = (y.resize_(5)[:4].tolist(), y.storage_offset(), y.untyped_storage().nbytes())
        z = lib.arange(6.0).view(2, 3).t()
        z.resize_(3, 2)  # the same sizes: unchanged, strides included
        unchanged = (z.tolist(), z.stride(), z._version)
        formats = (lib.ones(2).resize_(1, 2, 2, 2, memory_format=lib.channels_last).stride(),
                   lib.ones(2).resize_as_(lib.ones(1, 2, 2, 2).to(memory_format=lib.channels_last)).stride(),
                   lib.ones(2).resize_as_(lib.ones(2, 3)).shape)
        results.append((shrunk, grown, within, past, unchanged, formats))
    assert results[0] == results[1]


def test_resize_errors_like_torch():
    assert_raises_like_torch(lambda lib: lib.ones(2, requires_grad=True).resize_(3), RuntimeError,
                             "cannot resize variables that require grad")
    assert_raises_like_torch(lambda lib: lib.ones(2).resize_(-1), RuntimeError, "negative dimension")
    assert_raises_like_torch(lambda lib: lib.ones(2).resize_(2, memory_format=lib.preserve_format), RuntimeError,
                             "Preserve")


def test_resize_growing_past_the_storage_leaves_views_on_the_old_memory_in_trainer():
    # Deliberate deviation: PyTorch grows the storage object, so a view follows the grown tensor to its new memory;
    # trainer copies the grown tensor into new memory and the view keeps the old memory (its values stay valid).
    for lib in LIBS:
        x = lib.arange(4.0)
        view = x[1:3]
        x.resize_(10)
        assert x[:4].tolist() == [0.0, 1.0, 2.0, 3.0]
        x[1] = 100
        assert view.tolist() == ([100.0, 2.0] if lib is torch else [1.0, 2.0])


def test_from_file_maps_a_file_like_torch(tmp_path):
    path = tmp_path / "values.bin"
    results = []
    for lib in LIBS:
        np.arange(4, dtype=np.float32).tofile(path)
        private = lib.from_file(str(path), shared=False, size=4)
        private.fill_(7)
        after_private = np.fromfile(path, np.float32).tolist()
        shared = lib.from_file(str(path), shared=True, size=4)
        shared[0] = 9
        after_shared = np.fromfile(path, np.float32).tolist()
        extended = lib.from_file(str(path), shared=True, size=6)
        created = lib.from_file(str(tmp_path / f"new_{lib.__name__}.bin"), shared=True, size=2, dtype=lib.float64)
        results.append((private.tolist(), after_private, after_shared, extended.tolist(), path.stat().st_size,
                        created.tolist(), lib.from_file(str(path), size=0).shape,
                        lib.from_file(str(path), size=2, requires_grad=True).requires_grad))
    assert results[0] == results[1]
    assert_raises_like_torch(lambda lib: lib.from_file(str(path), shared=False, size=10), RuntimeError,
                             "is smaller than the required mapping size")
    assert_raises_like_torch(lambda lib: lib.from_file(str(tmp_path / "missing.bin"), size=2), RuntimeError,
                             "unable to open file")
