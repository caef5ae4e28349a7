"""``SparseStorage``: what the storages of sparse tensors (``SparseCOOArray``, ``SparseCompressedArray``) share.

A sparse tensor's ``_data`` is a storage instead of a dense array. The storage answers what ``Tensor`` reads from
any ``_data`` (dtype, ndim, size, ...) from its ``values``, and is deliberately not array-like: a dense op that
reaches it (through a NumPy or CuPy function, an operator, an array attribute or indexing) raises
``SparseLayoutError`` telling the user to call ``.to_dense()``, instead of computing on the wrong representation.
Addition is the one exception, which each storage defines: autograd sums the gradients that reach a sparse tensor
with ``+``.
"""

from __future__ import annotations

import numpy as np

from trainer.backend import xp_of


class SparseLayoutError(NotImplementedError, AttributeError):
    """A dense-only operation met a sparse tensor. Also an ``AttributeError``, so ``hasattr``/``getattr`` with a
    default (which NumPy, ``copy`` and ``pickle`` use to probe for protocols) see a plain missing attribute."""


def unsupported(what: str, layout) -> SparseLayoutError:
    return SparseLayoutError(f"{what} is not supported for sparse tensors (layout {layout}); call .to_dense() "
                             f"first")


class SparseStorage:
    """Base of the sparse storages: subclasses set ``values``, ``shape`` and ``layout`` and define ``__add__``."""

    __slots__ = ()
    __array_priority__ = 1000  # NumPy and CuPy operators defer to ``__radd__`` (dense gradient + sparse one)

    # ------------------------------------------------------------- what Tensor reads from any storage
    @property
    def dtype(self):
        return self.values.dtype

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:  # the dense element count, as ``numel()`` of a sparse tensor in PyTorch
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def itemsize(self) -> int:
        return self.values.itemsize

    @property
    def base(self):  # autograd copies gradients that view another array; a storage owns its arrays
        return None

    @property
    def array_module(self):
        return xp_of(self.values)

    # ------------------------------------------------------------- everything dense refuses
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if ufunc is np.add and method == "__call__" and len(inputs) == 2 and not kwargs:
            return inputs[0] + inputs[1] if inputs[0] is self else self + inputs[0]
        raise unsupported(f"'{ufunc.__name__}'", self.layout)

    def __array_function__(self, func, types, args, kwargs):
        raise unsupported(f"'{func.__name__}'", self.layout)

    def __array__(self, dtype=None, copy=None):
        raise unsupported("conversion to a dense array", self.layout)

    def __getattr__(self, name):
        if name in type(self).__slots__:  # not set yet: an instance that copy or pickle is rebuilding
            raise AttributeError(name)
        raise unsupported(f"'{name}'", self.layout)

    def __getitem__(self, key):
        raise unsupported("indexing", self.layout)

    def __setitem__(self, key, value):
        raise unsupported("writing into elements", self.layout)


def _refuse(name: str):
    def refused(self, *args):
        raise unsupported(f"'{name.strip('_')}'", self.layout)

    refused.__name__ = name
    return refused


for _name in ("__sub__", "__rsub__", "__mul__", "__rmul__", "__truediv__", "__rtruediv__", "__floordiv__",
              "__pow__", "__mod__", "__matmul__", "__rmatmul__", "__neg__", "__abs__", "__lt__", "__le__", "__gt__",
              "__ge__", "__and__", "__or__", "__xor__", "__invert__", "__iadd__", "__isub__", "__imul__",
              "__itruediv__", "__iter__"):
    setattr(SparseStorage, _name, _refuse(_name))
