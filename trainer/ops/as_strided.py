"""``as_strided`` (a view with any sizes, strides and storage offset over a tensor's storage),
``storage_offset`` and ``empty_strided``.

A tensor's storage is the memory of the array that owns its data (the end of NumPy's ``.base`` chain, or the
CuPy allocation); strides and offsets count elements, as in PyTorch. The gradient follows PyTorch's
``as_strided_backward``: output gradients are summed into a zero storage at the positions each output element
reads, and the input takes its elements back from there (divided by how often an overlapping input, such as
an expanded one, holds the same position).
"""

from __future__ import annotations

import numpy as np

from trainer.autograd.higher_order import linear_backward
from trainer.autograd.op import Function
from trainer.backend import xp_of
from trainer.ops.indexing import _scatter_add


def storage_of(array):
    """``(flat, offset)``: a 1-D array over the whole storage holding ``array``, and where ``array`` starts in it
    (in elements)."""
    itemsize = array.itemsize
    if xp_of(array) is np:
        owner = array
        while True:  # as_strided's results hold their source behind a plain object with a ``base``
            base = owner.base if isinstance(owner.base, np.ndarray) else getattr(owner.base, "base", None)
            if not isinstance(base, np.ndarray):
                break
            owner = base
        start = owner.__array_interface__["data"][0]
        flat = np.lib.stride_tricks.as_strided(owner, (owner.nbytes // itemsize,), (itemsize,))
        return flat, (array.__array_interface__["data"][0] - start) // itemsize
    import cupy

    memory = array.data.mem
    flat = cupy.ndarray((memory.size // itemsize,), array.dtype, cupy.cuda.MemoryPointer(memory, 0))
    return flat, (array.data.ptr - memory.ptr) // itemsize


def storage_offset(array) -> int:
    return int(storage_of(array)[1])


def _element_strides(array) -> tuple:
    return tuple(s // array.itemsize for s in array.strides)


def _positions(xp, size, stride, offset):
    """The storage position of every element of a ``size``/``stride`` view starting at ``offset``."""
    positions = xp.full(tuple(size), offset, dtype=np.int64)
    for axis, (n, step) in enumerate(zip(size, stride)):
        shape = [1] * len(size)
        shape[axis] = n
        positions = positions + (xp.arange(n, dtype=np.int64) * step).reshape(shape)
    return positions


def check_geometry(size, stride, offset, storage_numel) -> None:
    """PyTorch's checks before it makes a strided view, with its messages."""
    if len(size) != len(stride):
        raise RuntimeError("mismatch in length of strides and shape")
    if any(s < 0 for s in stride):
        raise RuntimeError(f"as_strided: Negative strides are not supported at the moment, got strides: "
                           f"{list(stride)}")
    if any(n < 0 for n in size):
        raise RuntimeError(f"Storage size calculation overflowed with sizes={list(size)} and strides={list(stride)}")
    if offset < 0:
        raise RuntimeError(f"Tensor: invalid storage offset {offset}")
    needed = 0 if 0 in size else offset + 1 + sum((n - 1) * s for n, s in zip(size, stride))
    if needed > storage_numel:
        raise RuntimeError(f"setStorage: sizes {list(size)}, strides {list(stride)}, storage offset {offset}, "
                           f"requiring a storage size of {needed} elements are out of bounds for storage of "
                           f"size {storage_numel} elements")


class AsStrided(Function):
    @staticmethod
    def forward(ctx, a, size, stride, offset):
        xp = xp_of(a)
        flat, own_offset = storage_of(a)
        offset = own_offset if offset is None else offset
        check_geometry(size, stride, offset, flat.size)
        ctx.geometry = a.shape, _element_strides(a), own_offset, size, stride, offset
        itemsize = a.itemsize
        return xp.lib.stride_tricks.as_strided(flat[offset:], size, tuple(s * itemsize for s in stride))

    @staticmethod
    def backward(ctx, g):
        in_size, in_stride, in_offset, size, stride, offset = ctx.geometry
        xp = xp_of(g)
        out_positions = _positions(xp, size, stride, offset).ravel()
        in_positions = _positions(xp, in_size, in_stride, in_offset)
        length = _extent(out_positions, in_positions)
        storage = xp.zeros(length, g.dtype)
        _scatter_add(xp, storage, out_positions, g.ravel())
        grad = storage[in_positions]
        if _overlaps(in_size, in_stride):
            grad = grad / xp.bincount(in_positions.ravel(), minlength=length)[in_positions]
        return grad

    @staticmethod
    def backward_graph(ctx, g):
        in_size, in_stride, in_offset, size, stride, offset = ctx.geometry

        def adjoint(v):  # the transpose of backward: spread v over the storage, read the output's positions
            xp = xp_of(v)
            out_positions = _positions(xp, size, stride, offset)
            in_positions = _positions(xp, in_size, in_stride, in_offset).ravel()
            length = _extent(out_positions, in_positions)
            values = v.ravel()
            if _overlaps(in_size, in_stride):
                values = values / xp.bincount(in_positions, minlength=length)[in_positions]
            storage = xp.zeros(length, v.dtype)
            _scatter_add(xp, storage, in_positions, values)
            return storage[out_positions]

        return linear_backward(ctx, g, adjoint)


def _extent(*positions) -> int:
    """How long a storage must be to hold every position listed."""
    return max((int(p.max()) + 1 for p in positions if p.size), default=0)


def _overlaps(size, stride) -> bool:
    """Whether two elements of a view share a storage position (a zero stride over a dim longer than one, or
    strides too small for the dims inside them)."""
    dims = sorted((s, n) for n, s in zip(size, stride) if n > 1)
    reach = 0
    for s, n in dims:
        if s <= reach:
            return True
        reach += s * (n - 1)
    return False


def as_strided(input, size, stride, storage_offset=None):
    """A view of ``input``'s storage with the given sizes and strides (in elements), starting at
    ``storage_offset`` (default: where ``input`` itself starts). Writes through it change ``input``."""
    size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    out = AsStrided.apply(input, size=size, stride=stride, offset=None if storage_offset is None
                          else int(storage_offset))
    return out._mark_view_of(input)


def empty_strided(size, stride, *, dtype=None, layout=None, device=None, requires_grad=False, pin_memory=False):
    """An uninitialised tensor with the given sizes and strides: a view over a storage just large enough."""
    import trainer

    size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    if len(size) != len(stride):
        raise RuntimeError(f"dimensionality of sizes ({len(size)}) must match dimensionality of strides "
                           f"({len(stride)})")
    check_geometry(size, stride, 0, float("inf"))
    numel = 0 if 0 in size else 1 + sum((n - 1) * s for n, s in zip(size, stride))
    storage = trainer.empty(numel, dtype=dtype, device=device)
    out = as_strided(storage, size, stride, 0)
    return out.requires_grad_(requires_grad)
