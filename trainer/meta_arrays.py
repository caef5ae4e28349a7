"""The arrays of the ``meta`` device: a shape and a dtype, no data (``torch.device("meta")``).

A meta tensor wraps a ``MetaArray`` where other tensors wrap a NumPy or CuPy array. It answers what a contiguous
array of its shape and dtype would (``shape``, ``dtype``, ``ndim``, ``size``, ``strides``, ``itemsize``,
``nbytes``, ``flags``) and the metadata-only array calls (``astype``, ``copy``, ``reshape``), so casts, clones,
detaches and reshapes of meta tensors give meta tensors. Whole-tensor writes (``t[...] = v``) do nothing, which
makes ``fill_``, ``copy_`` and the ``nn.init`` fills the no-ops they are in PyTorch. Everything else would need the
values, so it raises ``NotImplementedError`` naming the trainer op that tried: trainer has no per-op shape rules,
and computes nothing on the meta device.

``meta_xp`` is the meta device's ``xp`` (``trainer.backend.get_xp``): NumPy's dtypes and constants, factories that
make ``MetaArray``s, and every other routine refusing. ``MetaRandomSource`` is its random stream, whose draws are
``MetaArray``s of the asked shape.
"""

from __future__ import annotations

import math
import sys
import types

import numpy as np

_NO_DATA = "Cannot copy out of meta tensor; no data!"  # PyTorch's words


def _refuse(name: str):
    """Raise the error for ``name`` (a NumPy routine or array method) run on a meta array, naming the trainer op
    that ran it where there is one."""
    op = _running_op()
    where = f"the op '{op}' (at NumPy's {name})" if op else f"'{name}'"
    raise NotImplementedError(
        f"{where} cannot run on the meta device: trainer computes nothing there, a meta tensor has a shape and a "
        "dtype but no data. Give it storage first, e.g. module.to_empty(device='cpu') or "
        "trainer.empty_like(t, device='cpu'), then fill it (reset_parameters(), load_state_dict(...)).")


def _running_op() -> str | None:
    """The name of the ``Function`` being applied, read from the call stack (only on this error path)."""
    from trainer.autograd.op import Function  # the autograd package imports the backend, which imports this module

    apply_code = Function.apply.__func__.__code__
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_code is apply_code:
            return frame.f_locals["cls"].__name__
        frame = frame.f_back
    return None


def _refusing(name: str):
    def refuse(*args, **kwargs):
        _refuse(name)

    refuse.__name__ = name
    return refuse


def _shape_of(size) -> tuple:
    """NumPy's ``size``/``shape`` argument (None, an int or a sequence of ints) as a tuple."""
    if size is None:
        return ()
    if isinstance(size, (int, np.integer)):
        return (int(size),)
    return tuple(int(s) for s in size)


def _stand_in(array) -> np.ndarray:
    """A NumPy array of ``array``'s shape and dtype whose elements all share one zero (all strides 0), for letting
    NumPy check shapes and resolve dtypes without memory the size of the array."""
    if not isinstance(array, MetaArray):
        return array
    return np.lib.stride_tricks.as_strided(np.zeros(1, array.dtype), array.shape, (0,) * array.ndim, writeable=False)


def _contiguous_strides(shape, itemsize: int) -> tuple:
    strides, step = [], itemsize
    for size in reversed(shape):
        strides.append(step)
        step *= max(size, 1)
    return tuple(reversed(strides))


def _laid_out_as(shape, strides, contiguous) -> bool:
    """NumPy's contiguity test: strides as ``contiguous`` has them wherever a dimension has more than one item."""
    return 0 in shape or all(n == 1 or s == c for n, s, c in zip(shape, strides, contiguous, strict=True))


class _Flags:
    __slots__ = ("c_contiguous", "f_contiguous")

    def __init__(self, array):
        shape, strides, itemsize = array.shape, array.strides, array.dtype.itemsize
        self.c_contiguous = _laid_out_as(shape, strides, _contiguous_strides(shape, itemsize))
        self.f_contiguous = _laid_out_as(shape[::-1], strides[::-1], _contiguous_strides(shape[::-1], itemsize))


class MetaArray:
    """The shape, dtype and strides of an array, without the array: C-contiguous unless made by ``transpose``.
    ``base`` is, as in NumPy, the array a view (``reshape``, ``transpose``) was taken of."""

    __slots__ = ("shape", "dtype", "strides", "base")
    __array_priority__ = 2000  # NumPy operators hand a meta operand's operation to it, which refuses

    def __init__(self, shape, dtype, strides=None, base=None):
        self.base = base
        self.shape = _shape_of(shape)
        self.dtype = np.dtype(dtype)
        self.strides = _contiguous_strides(self.shape, self.dtype.itemsize) if strides is None else tuple(strides)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def itemsize(self) -> int:
        return self.dtype.itemsize

    @property
    def nbytes(self) -> int:
        """The bytes the array would take, as ``Tensor.nbytes`` reports for a meta tensor; it takes none."""
        return self.size * self.dtype.itemsize

    @property
    def flags(self) -> _Flags:
        return _Flags(self)

    # ----------------------------------------------------------------- metadata-only array calls
    def astype(self, dtype, order="K", casting="unsafe", subok=True, copy=True) -> MetaArray:
        if not copy and np.dtype(dtype) == self.dtype:
            return self
        return self._contiguous_copy("astype", order, dtype)

    def copy(self, order="C") -> MetaArray:
        return self._contiguous_copy("copy", order, self.dtype)

    def _contiguous_copy(self, name: str, order: str, dtype) -> MetaArray:
        """A C-ordered copy; NumPy lays out a "K" or "A" copy of other strides in ways trainer does not model."""
        if order != "C" and not self.flags.c_contiguous:
            _refuse(name)
        return MetaArray(self.shape, dtype)

    def reshape(self, *shape, order="C") -> MetaArray:
        """A C-contiguous array reshapes to a C-contiguous array; others would copy or not depending on strides
        trainer does not model, so they refuse."""
        if order != "C" or not self.flags.c_contiguous:
            _refuse("reshape")
        shape = shape[0] if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)) else shape
        return MetaArray(_stand_in(self).reshape(shape).shape, self.dtype, base=self._owner())

    def transpose(self, *axes) -> MetaArray:
        axes = (axes[0] if len(axes) == 1 and not isinstance(axes[0], (int, np.integer)) else axes) or None
        _stand_in(self).transpose(axes)  # NumPy's checks of the axes
        order = range(self.ndim)[::-1] if axes is None else [int(a) % self.ndim for a in axes]
        return MetaArray([self.shape[a] for a in order], self.dtype, [self.strides[a] for a in order], self._owner())

    def _owner(self) -> MetaArray:
        return self if self.base is None else self.base

    @property
    def T(self) -> MetaArray:  # noqa: N802  (NumPy's name)
        return self.transpose()

    def __setitem__(self, key, value) -> None:
        """A write to the whole array (``fill_``, ``copy_``, ``nn.init``) does nothing, once ``value`` is known to
        broadcast to it; other writes are indexing ops, which need shape rules trainer does not have."""
        if key is not Ellipsis:
            _refuse("__setitem__")
        np.broadcast_to(_stand_in(value), self.shape)

    # ----------------------------------------------------------------- where values would be needed
    def item(self, *args):
        raise RuntimeError("Tensor.item() cannot be called on meta tensors")

    def get(self, *args, **kwargs):
        raise NotImplementedError(_NO_DATA)

    def tolist(self):
        raise NotImplementedError(_NO_DATA)

    def __array__(self, dtype=None, copy=None):
        raise NotImplementedError(_NO_DATA)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        _refuse(ufunc.__name__ if method == "__call__" else f"{ufunc.__name__}.{method}")

    def __array_function__(self, func, types, args, kwargs):
        if func in _METADATA_FUNCTIONS:
            return func(*[_stand_in(a) for a in args], **kwargs)
        _refuse(func.__name__)

    def __getattr__(self, name):
        if not name.startswith("__") and hasattr(np.ndarray, name):  # an array method that needs the values
            _refuse(name)
        raise AttributeError(f"'MetaArray' object has no attribute '{name}'")

    # ----------------------------------------------------------------- copying and pickling keep the metadata
    def __copy__(self) -> MetaArray:
        return self

    def __deepcopy__(self, memo) -> MetaArray:
        return self

    def __reduce__(self):
        return MetaArray, (self.shape, self.dtype)

    __hash__ = object.__hash__

    def __repr__(self):
        return f"MetaArray(shape={self.shape}, dtype={self.dtype})"


# NumPy routines that read only shapes and dtypes, answered from stand-ins
_METADATA_FUNCTIONS = frozenset({np.shape, np.ndim, np.size, np.result_type, np.can_cast, np.min_scalar_type})

_OPERATORS = ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or", "xor", "lshift",
              "rshift", "divmod")
for _name in _OPERATORS:
    for _form in ("__{}__", "__r{}__", "__i{}__"):
        setattr(MetaArray, _form.format(_name), _refusing(_form.format(_name)))
for _name in ("lt", "le", "gt", "ge", "eq", "ne", "neg", "pos", "abs", "invert", "getitem", "iter", "len", "bool",
              "float", "int", "complex", "index"):
    setattr(MetaArray, f"__{_name}__", _refusing(f"__{_name}__"))


class MetaRandomSource:
    """The meta device's random stream: each draw is a ``MetaArray`` of the asked shape, with NumPy's dtype.
    ``bit_generator`` is the seeded state that ``Generator.get_state``/``set_state`` read and restore (so that
    ``fork_rng`` and ``vmap``'s draw checks treat the meta generator as any other); meta draws never advance it."""

    def __init__(self, seed: int):
        self.bit_generator = np.random.PCG64(seed)

    def random(self, size=None, dtype=np.float64, out=None) -> MetaArray:
        return MetaArray(_shape_of(size), dtype)

    standard_normal = standard_exponential = random

    def uniform(self, low=0.0, high=1.0, size=None) -> MetaArray:
        return MetaArray(_shape_of(size), np.float64)

    normal = uniform

    def integers(self, low, high=None, size=None, dtype=np.int64, endpoint=False) -> MetaArray:
        return MetaArray(_shape_of(size), dtype)

    def permutation(self, x) -> MetaArray:
        return MetaArray(_shape_of(x) if isinstance(x, (int, np.integer)) else np.shape(x), np.int64)


def _arange_length(start, stop, step) -> int:
    return max(0, math.ceil((stop - start) / step))


class _MetaArrayModule(types.ModuleType):
    """``xp`` for the meta device."""

    def __getattr__(self, name):
        attr = getattr(np, name)
        if isinstance(attr, (type, types.ModuleType)) or not callable(attr):  # dtypes, constants, submodules
            return attr
        return _refusing(name)

    @staticmethod
    def empty(shape, dtype=float, order="C", **kwargs) -> MetaArray:
        return MetaArray(_shape_of(shape), dtype)

    zeros = ones = empty

    @staticmethod
    def full(shape, fill_value, dtype=None, order="C", **kwargs) -> MetaArray:
        return MetaArray(_shape_of(shape), np.asarray(fill_value).dtype if dtype is None else dtype)

    @staticmethod
    def eye(n, m=None, k=0, dtype=float, **kwargs) -> MetaArray:
        return MetaArray((n, n if m is None else m), dtype)

    @staticmethod
    def arange(start, stop=None, step=1, dtype=None, **kwargs) -> MetaArray:
        if stop is None:
            start, stop = 0, start
        return MetaArray((_arange_length(start, stop, step),), np.result_type(start, stop, step)
                         if dtype is None else dtype)

    @staticmethod
    def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, **kwargs) -> MetaArray:
        return MetaArray((int(num),), np.float64 if dtype is None else dtype)

    @staticmethod
    def asarray(a, dtype=None, **kwargs) -> MetaArray:
        """A meta array of ``a``'s shape (and dtype unless ``dtype`` is given); data given as such are dropped."""
        if not isinstance(a, MetaArray):
            a = np.asarray(a)
        return MetaArray(a.shape, a.dtype if dtype is None else dtype)

    @staticmethod
    def broadcast_to(array, shape, subok=False) -> MetaArray:
        """NumPy's broadcast view: stride 0 along the new leading dimensions and the stretched size-1 ones."""
        if not isinstance(array, MetaArray):
            array = np.asarray(array)
        shape = np.broadcast_to(_stand_in(array), shape).shape  # NumPy's checks and message
        lead = len(shape) - array.ndim
        strides = [0] * lead + [0 if n != size else s for n, size, s in zip(shape[lead:], array.shape,
                                                                             array.strides, strict=True)]
        base = array._owner() if isinstance(array, MetaArray) else None
        return MetaArray(shape, array.dtype, strides, base)

    @staticmethod
    def expand_dims(a, axis) -> MetaArray:
        return a.reshape(np.expand_dims(_stand_in(a), axis).shape)


meta_xp = _MetaArrayModule("trainer.meta_xp", "The array module of the meta device: shapes and dtypes, no data.")
