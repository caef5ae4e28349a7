"""Reusing the memory of dead intermediates: a session's pool of host buffers, kept across runs.

Fresh memory from the OS costs a page fault and a zero fill per 4 KiB page the first time it is touched.
glibc maps large blocks afresh and gives them back to the OS on free, so without a pool a run can pay
that again for every large buffer (the MNIST CNN at batch 64: 1,600 faults per run, none with the pool).
The executor hands each value back at its last use (only when nothing else refers to it), kernels take
their outputs and scratch space with ``empty``, and a run with the shapes of an earlier one finds every
buffer already mapped. ONNX Runtime keeps a memory arena for the same reason.
"""

from __future__ import annotations

import math
import sys
import threading

import numpy as np

MIN_POOLED_BYTES = 1 << 16  # below this malloc's own free lists already reuse memory without faults
POOL_LIMIT_BYTES = 1 << 30  # what a pool may hold; past it (shapes keep changing) it starts over
MAX_PER_SHAPE = 4  # free arrays kept per (shape, dtype): a run reuses them as it goes, so few are needed


def _refcount(value) -> int:
    return sys.getrefcount(value)


# What a function reports for an argument passed as a temporary that nothing else holds: interpreters
# differ, so it is measured the same way ``give_if_unused`` is called (with ``env.pop(...)`` as argument).
_SOLE_OWNER = _refcount(np.empty(0))


class BufferPool:
    """Free NumPy arrays by (shape, dtype); thread-safe, so concurrent runs of a session may share it.

    Only shapes that kernels have asked ``empty`` for are kept: memory held for shapes nobody asks for
    would only be memory malloc could no longer recycle for the allocations kernels make themselves.
    """

    def __init__(self, limit_bytes: int = POOL_LIMIT_BYTES):
        self._free: dict[tuple, list[np.ndarray]] = {}  # every shape asked for, with its free arrays
        self._bytes = 0
        self._limit = limit_bytes
        self._lock = threading.Lock()

    def empty(self, shape: tuple[int, ...], dtype) -> np.ndarray:
        """An uninitialised array, reused when the pool holds one of this shape and dtype."""
        shape, dtype = tuple(shape), np.dtype(dtype)
        if math.prod(shape) * dtype.itemsize < MIN_POOLED_BYTES:
            return np.empty(shape, dtype)
        with self._lock:
            stack = self._free.setdefault((shape, dtype), [])
            if stack:
                array = stack.pop()
                self._bytes -= array.nbytes
                return array
        return np.empty(shape, dtype)

    def give(self, array: np.ndarray) -> None:
        """Keep ``array``, which the caller guarantees nothing reads or writes any more."""
        if array.nbytes < MIN_POOLED_BYTES:
            return
        with self._lock:
            stack = self._free.get((array.shape, array.dtype))
            if stack is None or len(stack) >= MAX_PER_SHAPE:
                return
            if self._bytes + array.nbytes > self._limit:
                # Shapes keep changing (dynamic batch sizes): forget them all and learn the new ones.
                self._free.clear()
                self._bytes = 0
                return
            stack.append(array)
            self._bytes += array.nbytes

    def give_if_unused(self, value) -> None:
        """Keep ``value`` if it is an array that owns its memory and that nothing else refers to: not the
        caller's feed, not a value another name or a view still holds, not a kernel's cached constant."""
        # Exact because callers pass a temporary (``pool.give_if_unused(env.pop(name))``), as measured above.
        if type(value) is np.ndarray and value.base is None and sys.getrefcount(value) == _SOLE_OWNER:
            self.give(value)

    @property
    def held_bytes(self) -> int:
        return self._bytes

