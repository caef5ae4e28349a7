"""The ``Tensor`` methods about its storage: ``untyped_storage``, ``storage``, ``set_``, ``is_set_to``, ``resize_``
and ``resize_as_``.

``set_`` points a tensor at (part of) another tensor's storage or a storage object, so both see the same memory.
``resize_`` keeps the tensor where it starts in its storage and reads it as contiguous; when the storage is too
small it is copied into a larger one. PyTorch grows the storage object itself, so every tensor over it moves to the
new memory; a trainer storage cannot move other tensors' arrays, so those keep the old memory and stop sharing
with the resized tensor.
"""

from __future__ import annotations

import numpy as np

import trainer  # trainer.ops is looked up at call time: it loads after Tensor's methods
from trainer import memory_formats
from trainer.autograd import grad_mode
from trainer.backend import xp_of
from trainer.storage import (
    TypedStorage,
    UntypedStorage,
    _warn_typed_storage_removal,
    data_address,
    memory_of,
    typed_view,
)


def untyped_storage(self) -> UntypedStorage:
    """The bytes of memory this tensor lies in (shared with every tensor over the same memory)."""
    return UntypedStorage._of_array(self._data)


def _typed_storage(self) -> TypedStorage:
    return TypedStorage(wrap_storage=untyped_storage(self), dtype=self.dtype, _internal=True)


def storage(self) -> TypedStorage:
    """This tensor's storage read as its dtype (deprecated in PyTorch, which warns once)."""
    _warn_typed_storage_removal(stacklevel=2)
    return _typed_storage(self)


def _element_strides(array) -> tuple:
    return tuple(s // array.itemsize for s in array.strides)


def _contiguous_strides(shape) -> tuple:
    strides, step = [], 1
    for n in reversed(shape):
        strides.append(step)
        step *= max(n, 1)
    return tuple(reversed(strides))


def _view_of_memory(memory, np_dtype, offset: int, size: tuple, stride: tuple):
    """The array with ``size``/``stride`` (in elements) starting ``offset`` elements into ``memory`` (1-D
    ``uint8``): a plain slice and reshape where the strides are contiguous, so NumPy and CuPy keep its base."""
    elements = typed_view(memory, np_dtype)
    trainer.ops.as_strided.check_geometry(size, stride, offset, elements.size)
    numel = int(np.prod(size, dtype=np.int64))
    if stride == _contiguous_strides(size):
        return elements[offset:offset + numel].reshape(size)
    xp = xp_of(memory)
    return xp.lib.stride_tricks.as_strided(elements[offset:], size, tuple(s * elements.itemsize for s in stride))


def _source_memory(self, source, storage_offset):
    """``(memory, offset)`` of what ``set_`` was given: a storage's bytes, or the storage of a tensor (whose own
    offset the given one counts from, as PyTorch's ``set_(Tensor, offset, ...)`` does)."""
    if isinstance(source, trainer.Tensor):
        if source._data.dtype != self._data.dtype:
            raise RuntimeError(f"Could not set tensor of type {source.dtype} to a tensor of type {self.dtype}")
        if storage_offset is not None and not source.is_contiguous():
            raise RuntimeError("passed in tensor to be used as storage must be contiguous")
        memory, start = memory_of(source._data)
        return memory, start // self._data.itemsize + (storage_offset or 0)
    if isinstance(source, TypedStorage):
        if source.dtype != self.dtype:
            raise RuntimeError(f"Expected a Storage of type {self.dtype} or an UntypedStorage, but got type "
                               f"{source.dtype} for argument 1 'storage'")
        source = source._untyped_storage
    if not isinstance(source, UntypedStorage):
        raise TypeError(f"set_(): expected a Tensor, a storage or no argument as 'source', got "
                        f"{type(source).__name__}")
    if source.device != self.device:
        raise RuntimeError(f"Attempted to set the storage of a tensor on device {self.device} to a storage on "
                           f"different device {source.device}.  This is no longer allowed; the devices must match.")
    source._resizable = False  # this tensor now views its memory
    return source._memory, storage_offset or 0


def set_(self, source=None, storage_offset=None, size=None, stride=None):
    """Point this tensor at ``source``'s memory: ``set_()`` (a new empty storage), ``set_(tensor)`` (the same view
    as ``tensor``), ``set_(storage)`` (all of it, 1-D) or ``set_(source, storage_offset, size, stride=None)``.
    Not differentiable, as in PyTorch."""
    self._check_inplace()
    if grad_mode._state.enabled and self._grad_fn is not None:
        raise RuntimeError("set_ is not differentiable: it would cut this tensor from the graph that made it; "
                           "call it on a detached tensor or under trainer.no_grad()")
    if (storage_offset is None) != (size is None):
        raise TypeError("set_(): storage_offset and size must be given together: set_(source, storage_offset, "
                        "size, stride=None)")
    if source is None:
        if storage_offset is not None:
            raise TypeError("set_(): a storage_offset and size need a source to view")
        data = xp_of(self._data).empty(0, self._data.dtype)
    elif isinstance(source, trainer.Tensor) and size is None:
        if source._data.dtype != self._data.dtype:
            raise RuntimeError(f"Could not set tensor of type {source.dtype} to a tensor of type {self.dtype}")
        data = source._data
    else:
        memory, offset = _source_memory(self, source, storage_offset)
        if size is None:
            size = (memory.size // self._data.itemsize - offset,)
        size = tuple(int(n) for n in size)
        stride = _contiguous_strides(size) if stride is None else tuple(int(s) for s in stride)
        if len(size) != len(stride):
            raise RuntimeError(f"unequal size length ({len(size)}) and stride length ({len(stride)})")
        data = _view_of_memory(memory, self._data.dtype, int(offset), size, stride)
    self._data = data
    self._view_base = None  # no longer a view of what it viewed before
    self._version_counter.value += 1
    return self


def is_set_to(self, tensor) -> bool:
    """Whether both tensors view the same storage with the same offset, sizes and strides."""
    mine, start = memory_of(self._data)
    theirs, their_start = memory_of(tensor._data)
    same_storage = (data_address(mine), mine.size) == (data_address(theirs), theirs.size)
    return (same_storage and start // self._data.itemsize == their_start // tensor._data.itemsize
            and self._data.shape == tensor._data.shape
            and _element_strides(self._data) == _element_strides(tensor._data))


def resize_(self, *sizes, memory_format=None):
    """Give this tensor the sizes ``sizes``, laid out contiguously (or as ``memory_format`` says) from where it
    starts in its storage. Same sizes and no ``memory_format``: unchanged. A storage too small is replaced by a
    larger copy of it (new elements uninitialised)."""
    if self.requires_grad:
        raise RuntimeError("cannot resize variables that require grad")
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = sizes[0]
    shape = tuple(int(s) for s in sizes)
    if any(s < 0 for s in shape):
        raise RuntimeError(f"Trying to create tensor with negative dimension {min(shape)}: {list(shape)}")
    if memory_format is None and shape == self._data.shape:
        return self
    fmt = memory_formats.check_memory_format(memory_format or memory_formats.contiguous_format, "resize_")
    if fmt is memory_formats.preserve_format:
        raise RuntimeError("Unsupported memory format Preserve")
    xp = xp_of(self._data)
    memory, start = memory_of(self._data)
    itemsize = self._data.itemsize
    offset = start // itemsize
    needed = (offset + int(np.prod(shape, dtype=np.int64))) * itemsize
    if needed > memory.size:
        grown = xp.empty(needed, np.uint8)
        grown[:memory.size] = memory
        memory = grown
    contiguous = _view_of_memory(memory, self._data.dtype, offset, shape, _contiguous_strides(shape))
    order = memory_formats.axis_order(fmt, contiguous)
    permuted = tuple(shape[a] for a in order)
    laid_out = _view_of_memory(memory, self._data.dtype, offset, permuted, _contiguous_strides(permuted))
    self._data = laid_out.transpose(tuple(int(a) for a in np.argsort(order)))
    self._version_counter.value += 1
    return self


def resize_as_(self, the_template, memory_format=None):
    return resize_(self, the_template.shape, memory_format=memory_format)
