"""``trainer.UntypedStorage`` and ``trainer.TypedStorage``: a tensor's memory as PyTorch shows it.

A tensor's storage is the memory of the array that owns its data (the end of NumPy's ``.base`` chain, or the CuPy
array its views come from). ``UntypedStorage`` holds that memory as a 1-D ``uint8`` array, so writes through a
storage are writes into every tensor over it. As in PyTorch, they go around autograd: no version counter moves.

Unlike PyTorch's storages, a trainer storage cannot move the tensors over it to new memory, so only a storage that
no tensor views (one made by a constructor or ``clone()``, and not yet given to ``Tensor.set_``) is ``resizable()``.
"""

from __future__ import annotations

import collections.abc
import warnings

import numpy as np

from trainer import dtypes
from trainer.backend import as_device, cuda_context, device_of, get_xp, to_device, xp_of

_TYPED_STORAGE_DEPRECATION = (
    "TypedStorage is deprecated. It will be removed in the future and UntypedStorage will be the only storage class. "
    "This should only matter to you if you are using storages directly.  To access UntypedStorage directly, use "
    "tensor.untyped_storage() instead of tensor.storage()"
)
_warned_typed_storage_removal = False


def _warn_typed_storage_removal(stacklevel: int = 2) -> None:
    """PyTorch's deprecation warning for ``TypedStorage``, given once per process."""
    global _warned_typed_storage_removal
    if not _warned_typed_storage_removal:
        warnings.warn(_TYPED_STORAGE_DEPRECATION, UserWarning, stacklevel=stacklevel + 1)
        _warned_typed_storage_removal = True


def _reset_warn_typed_storage_removal() -> None:
    """Let the next use of ``TypedStorage`` warn again (as ``torch.storage._reset_warn_typed_storage_removal``)."""
    global _warned_typed_storage_removal
    _warned_typed_storage_removal = False


def data_address(array) -> int:
    """Where ``array``'s first element is (``view_writes.data_address``, which loads too late for Tensor's methods)."""
    return array.__array_interface__["data"][0] if isinstance(array, np.ndarray) else array.data.ptr


def _numpy_owner(array):
    owner = array
    while True:  # as_strided's results hold their source behind a plain object with a ``base``
        base = owner.base if isinstance(owner.base, np.ndarray) else getattr(owner.base, "base", None)
        if not isinstance(base, np.ndarray):
            return owner
        owner = base


def memory_of(array):
    """``(memory, start)``: a 1-D ``uint8`` array over the whole storage ``array`` lies in, and the byte offset of
    ``array``'s first element in it."""
    xp = xp_of(array)
    if xp is np:
        owner = _numpy_owner(array)
        memory = np.lib.stride_tricks.as_strided(owner, (owner.nbytes // owner.itemsize,), (owner.itemsize,))
        memory = memory.view(np.uint8)
    else:
        owner = array
        while isinstance(owner.base, xp.ndarray):
            owner = owner.base
        start = array.data.ptr - owner.data.ptr
        if (owner.flags.c_contiguous or owner.flags.f_contiguous) and 0 <= start <= owner.nbytes:
            pointer, nbytes = owner.data, owner.nbytes
        else:  # an as_strided result keeps no base: its storage is the whole allocation
            pointer, nbytes = xp.cuda.MemoryPointer(array.data.mem, 0), array.data.mem.size
        memory = xp.ndarray((nbytes,), np.uint8, pointer)
    return memory, data_address(array) - data_address(memory)


def typed_view(memory, np_dtype):
    """``memory`` (1-D ``uint8``) read as whole elements of ``np_dtype``; trailing bytes that do not fill one are
    left out, as PyTorch's ``TypedStorage.size()`` leaves them."""
    itemsize = np.dtype(np_dtype).itemsize
    return memory[:memory.size // itemsize * itemsize].view(np_dtype)


def _byte_values(values, xp):
    """Python ints as bytes, wrapped modulo 256 as PyTorch stores them."""
    return (xp.asarray(values, dtype=np.int64) % 256).astype(np.uint8)


def _wrap_index(index: int, size: int) -> int:
    if not -size <= index < size:
        raise IndexError(f"index {index} out of range for storage of size {size}")
    return index % size


class UntypedStorage:
    """Bytes of memory on a device: ``UntypedStorage()``, ``UntypedStorage(nbytes)`` (uninitialised) or
    ``UntypedStorage(sequence_of_ints)``, or a tensor's memory from ``tensor.untyped_storage()``."""

    __slots__ = ("_memory", "_resizable")

    def __init__(self, *args, device=None):
        dev = as_device(device)
        xp = get_xp(dev)
        if len(args) > 1:
            raise TypeError(f"UntypedStorage() takes at most one positional argument (an int size or a sequence of "
                            f"ints), got {len(args)}")
        with cuda_context(dev):
            if not args:
                memory = xp.empty(0, np.uint8)
            elif isinstance(args[0], (int, np.integer)) and not isinstance(args[0], bool):
                if args[0] < 0:
                    raise RuntimeError(f"UntypedStorage size must be non-negative, got {args[0]}")
                memory = xp.empty(int(args[0]), np.uint8)
            elif isinstance(args[0], collections.abc.Sequence):
                memory = _byte_values(list(args[0]), xp)
            else:
                raise TypeError(f"UntypedStorage(): expected an int size or a sequence of ints, got "
                                f"{type(args[0]).__name__}")
        self._memory, self._resizable = memory, True

    @classmethod
    def _wrap(cls, memory, resizable: bool = False) -> UntypedStorage:
        """A storage over ``memory`` (1-D ``uint8``), sharing it."""
        storage = object.__new__(cls)
        storage._memory, storage._resizable = memory, resizable
        return storage

    @classmethod
    def _of_array(cls, array) -> UntypedStorage:
        """The storage of a tensor's array: shared by every tensor over the same memory, so not resizable."""
        return cls._wrap(memory_of(array)[0])

    # ----------------------------------------------------------------- what it is
    @property
    def device(self):
        return device_of(self._memory)

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    def nbytes(self) -> int:
        return int(self._memory.size)

    size = nbytes

    def __len__(self) -> int:
        return int(self._memory.size)

    def element_size(self) -> int:
        return 1

    def data_ptr(self) -> int:
        return data_address(self._memory)

    def resizable(self) -> bool:
        """Whether ``resize_`` may give this storage new memory: only while no tensor views it (see the module)."""
        return self._resizable

    def is_shared(self) -> bool:
        """False: trainer never places storages in shared memory."""
        return False

    def untyped(self) -> UntypedStorage:
        return self

    # ----------------------------------------------------------------- reading and writing bytes
    def __getitem__(self, index):
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step != 1:
                raise RuntimeError(f"Trying to slice with a step of {step}, but only a step of 1 is supported")
            self._resizable = False  # the slice shares these bytes
            return UntypedStorage._wrap(self._memory[start:max(start, stop)])
        if not isinstance(index, (int, np.integer)):
            raise TypeError(f"can't index a trainer.UntypedStorage with {type(index).__name__}")
        return int(self._memory[_wrap_index(int(index), len(self))])

    def __setitem__(self, index, value) -> None:
        if isinstance(index, (int, np.integer)):
            index = _wrap_index(int(index), len(self))
        elif not isinstance(index, slice):
            raise RuntimeError(f"can't index a trainer.UntypedStorage with {type(index).__name__}")
        self._memory[index] = _byte_values(value, xp_of(self._memory))

    def fill_(self, value) -> UntypedStorage:
        self._memory[...] = _byte_values(value, xp_of(self._memory))
        return self

    def copy_(self, source, non_blocking=None) -> UntypedStorage:
        """Copy the bytes of ``source`` (a storage of the same size in bytes, on any device)."""
        if not isinstance(source, (UntypedStorage, TypedStorage)):
            raise TypeError(f"copy_(): argument 'src' (position 1) must be trainer.Storage, not "
                            f"{type(source).__name__}")
        source = source._untyped_storage if isinstance(source, TypedStorage) else source
        if source.nbytes() != self.nbytes():
            raise RuntimeError(f"size does not match, self was {self.nbytes()} bytes but src was {source.nbytes()} "
                               "bytes")
        self._memory[...] = to_device(source._memory, self.device)
        return self

    def clone(self) -> UntypedStorage:
        return UntypedStorage._wrap(self._memory.copy(), resizable=True)

    def tolist(self) -> list:
        return to_device(self._memory, as_device("cpu")).tolist()

    def __iter__(self):
        return iter(self.tolist())

    def cpu(self) -> UntypedStorage:
        """This storage if it is on the CPU, else a CPU copy."""
        if self.device.type == "cpu":
            return self
        return UntypedStorage._wrap(to_device(self._memory, as_device("cpu")), resizable=True)

    def resize_(self, size: int) -> None:
        """Give this storage ``size`` bytes, keeping the first ones (new bytes are uninitialised)."""
        if not self._resizable:
            raise RuntimeError("Trying to resize storage that is not resizable: tensors view this storage's memory "
                               "(trainer cannot move them to new memory); resize the tensor with Tensor.resize_ "
                               "instead")
        size = int(size)
        if size < 0:
            raise RuntimeError(f"Storage size must be non-negative, got {size}")
        grown = xp_of(self._memory).empty(size, np.uint8)
        kept = min(size, self._memory.size)
        grown[:kept] = self._memory[:kept]
        self._memory = grown

    def __copy__(self) -> UntypedStorage:
        return self.clone()

    def __deepcopy__(self, memo) -> UntypedStorage:
        return memo.setdefault(id(self), self.clone())

    def __repr__(self):
        values = " " + "\n ".join(str(v) for v in self.tolist())
        return f"{values}\n[trainer.storage.UntypedStorage(device={self.device}) of size {len(self)}]"


class TypedStorage:
    """An ``UntypedStorage`` read as elements of one dtype (``tensor.storage()``); deprecated in PyTorch, which
    warns once on first use, as trainer does."""

    is_sparse = False

    def __init__(self, *args, device=None, dtype=None, wrap_storage=None, _internal=False):
        if not _internal:
            _warn_typed_storage_removal(stacklevel=3)
        expected = ("TypedStorage.__init__ received an invalid combination of arguments. Expected one of:\n"
                    " * (*, trainer.device device, trainer.dtype dtype)\n"
                    " * (int size, *, trainer.device device, trainer.dtype dtype)\n"
                    " * (Sequence data, *, trainer.device device, trainer.dtype dtype)\n"
                    " * (*, UntypedStorage wrap_storage, trainer.dtype dtype)")
        if wrap_storage is not None:
            if args:
                raise RuntimeError(expected + "\nNo positional arguments should be given when using 'wrap_storage'")
            if dtype is None:
                raise RuntimeError(expected + "\nArgument 'dtype' must be specified")
            if device is not None:
                raise RuntimeError(expected + "\nArgument 'device' should not be specified when 'wrap_storage' is "
                                   "given")
            if not isinstance(wrap_storage, UntypedStorage):
                raise TypeError(expected + f"\nArgument 'wrap_storage' must be UntypedStorage, but got "
                                f"{type(wrap_storage).__name__}")
            self.dtype = dtypes.as_dtype(dtype)
            self._untyped_storage = wrap_storage
            return
        self.dtype = dtypes.get_default_dtype() if dtype is None else dtypes.as_dtype(dtype)
        if len(args) > 1:
            raise RuntimeError(expected + "\nToo many positional arguments")
        if not args:
            self._untyped_storage = UntypedStorage(device=device)
        elif isinstance(args[0], (int, np.integer)) and not isinstance(args[0], bool):
            self._untyped_storage = UntypedStorage(int(args[0]) * self._element_size(), device=device)
        elif isinstance(args[0], collections.abc.Sequence):
            values = np.asarray(args[0]).astype(self.dtype.np).reshape(-1)
            memory = to_device(values.view(np.uint8), as_device(device))
            self._untyped_storage = UntypedStorage._wrap(memory, resizable=True)
        else:
            raise TypeError(expected + f"\nArgument type not recognized: {type(args[0])}")

    def _typed(self):
        return typed_view(self._untyped_storage._memory, self.dtype.np)

    def _element_size(self) -> int:
        return np.dtype(self.dtype.np).itemsize

    def _size(self) -> int:
        return self._untyped_storage.nbytes() // self._element_size()

    def _new_wrapped_storage(self, untyped: UntypedStorage) -> TypedStorage:
        return TypedStorage(wrap_storage=untyped, dtype=self.dtype, _internal=True)

    # ----------------------------------------------------------------- what it is
    @property
    def device(self):
        _warn_typed_storage_removal()
        return self._untyped_storage.device

    @property
    def is_cuda(self) -> bool:
        _warn_typed_storage_removal()
        return self._untyped_storage.is_cuda

    def untyped(self) -> UntypedStorage:
        _warn_typed_storage_removal()
        return self._untyped_storage

    def size(self) -> int:
        _warn_typed_storage_removal()
        return self._size()

    def __len__(self) -> int:
        _warn_typed_storage_removal()
        return self._size()

    def nbytes(self) -> int:
        _warn_typed_storage_removal()
        return self._untyped_storage.nbytes()

    def element_size(self) -> int:
        _warn_typed_storage_removal()
        return self._element_size()

    def data_ptr(self) -> int:
        _warn_typed_storage_removal()
        return self._untyped_storage.data_ptr()

    def resizable(self) -> bool:
        _warn_typed_storage_removal()
        return self._untyped_storage.resizable()

    def is_shared(self) -> bool:
        _warn_typed_storage_removal()
        return False

    def type(self, dtype=None, non_blocking=False):
        """With no argument, PyTorch's legacy name of this storage type (``"torch.FloatStorage"``)."""
        _warn_typed_storage_removal()
        if dtype is not None:
            raise TypeError("TypedStorage.type(dtype) converts between legacy storage types, which trainer leaves "
                            "out; read the values with tolist() or view a tensor over this storage instead")
        from trainer.legacy_storage_types import legacy_storage_name

        return f"torch.{'cuda.' if self._untyped_storage.is_cuda else ''}{legacy_storage_name(self.dtype)}"

    # ----------------------------------------------------------------- reading and writing elements
    def __getitem__(self, index):
        _warn_typed_storage_removal()
        if isinstance(index, slice):
            raise RuntimeError("slices are only supported in UntypedStorage.__getitem__")
        if not isinstance(index, (int, np.integer)):
            raise RuntimeError(f"can't index a {type(self)} with {type(index)}")
        return self._typed()[_wrap_index(int(index), self._size())].item()

    def __setitem__(self, index, value) -> None:
        _warn_typed_storage_removal()
        if isinstance(index, (int, np.integer)):
            index = _wrap_index(int(index), self._size())
        elif not isinstance(index, slice):
            raise RuntimeError(f"can't index a {type(self)} with {type(index)}")
        if isinstance(value, (UntypedStorage, TypedStorage)):
            raise RuntimeError(f"cannot set item with value type {type(value)}")
        self._typed()[index] = value

    def fill_(self, value) -> TypedStorage:
        _warn_typed_storage_removal()
        self._typed()[...] = value
        return self

    def copy_(self, source, non_blocking=None) -> TypedStorage:
        _warn_typed_storage_removal()
        self._untyped_storage.copy_(source, non_blocking)
        return self

    def clone(self) -> TypedStorage:
        _warn_typed_storage_removal()
        return self._new_wrapped_storage(self._untyped_storage.clone())

    def tolist(self) -> list:
        _warn_typed_storage_removal()
        return to_device(self._typed(), as_device("cpu")).tolist()

    def __iter__(self):
        _warn_typed_storage_removal()
        return iter(self.tolist())

    def cpu(self) -> TypedStorage:
        _warn_typed_storage_removal()
        untyped = self._untyped_storage.cpu()
        return self if untyped is self._untyped_storage else self._new_wrapped_storage(untyped)

    def resize_(self, size: int) -> None:
        _warn_typed_storage_removal()
        self._untyped_storage.resize_(int(size) * self._element_size())

    def __copy__(self) -> TypedStorage:
        return self.clone()

    def __deepcopy__(self, memo) -> TypedStorage:
        return memo.setdefault(id(self), self.clone())

    def __repr__(self):
        _warn_typed_storage_removal()
        values = " " + "\n ".join(str(v) for v in self.tolist())
        return (f"{values}\n[trainer.storage.TypedStorage(dtype={self.dtype}, device={self._untyped_storage.device})"
                f" of size {self._size()}]")


def is_storage(obj) -> bool:
    """Whether ``obj`` is a storage (untyped, typed or of a legacy storage type)."""
    return isinstance(obj, (UntypedStorage, TypedStorage))
