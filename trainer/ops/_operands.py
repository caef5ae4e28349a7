"""Turning op arguments into tensors of one dtype on one device, and undoing broadcasting."""

from __future__ import annotations

import contextlib

import numpy as np

from trainer import dtypes
from trainer.backend import as_device, device_of, to_device, xp_of
from trainer.ops.bfloat16_opmath import reduce_widened
from trainer.tensor import Tensor

_SCALARS = (bool, int, float, complex, np.number, np.bool_)


def scalar_tensor(value, like: Tensor, dtype: dtypes.dtype) -> Tensor:
    """A 0-d tensor holding a Python number, on ``like``'s device."""
    return Tensor._wrap(xp_of(like._data).asarray(value, dtype=dtype.np))


def _with_arrays_as_tensors(operands) -> tuple:
    """``operands`` with each NumPy array as a tensor, all in NumPy's result dtype: PyTorch hands ``t + array`` to
    NumPy, whose promotion then decides (a float32 tensor plus an int64 array is float64)."""
    target = np.result_type(*(o._data if isinstance(o, Tensor) else o for o in operands))
    return tuple(Tensor._wrap(o.astype(target)) if type(o) is np.ndarray
                 else o.to(dtypes.from_numpy(target)) if isinstance(o, Tensor) else o for o in operands)


def promote(*operands, min_category_float: bool = False) -> tuple[Tensor, ...]:
    """Tensors of PyTorch's result dtype for ``operands`` (tensors and Python numbers), on one device.

    ``min_category_float`` lifts integer results to the default float (true division, ``exp``). A NumPy array
    takes part as a tensor, in NumPy's result dtype (``_with_arrays_as_tensors``).
    """
    tensors = [o for o in operands if isinstance(o, Tensor)]
    if not tensors:
        raise TypeError(f"expected at least one Tensor operand, got {[type(o).__name__ for o in operands]}")
    first = tensors[0]
    if len(tensors) == len(operands) and all(t._data.dtype == first._data.dtype for t in tensors):
        target = dtypes.from_numpy(first._data.dtype)
    else:
        for o in operands:
            if type(o) is np.ndarray:  # off the fast path: only mixed operands come here
                return promote(*_with_arrays_as_tensors(operands), min_category_float=min_category_float)
            if not isinstance(o, (Tensor, *_SCALARS)):
                raise TypeError(f"unsupported operand type {type(o).__name__}; expected a Tensor or a number")
        target = dtypes.result_type([(dtypes.from_numpy(t._data.dtype), t._data.ndim) for t in tensors],
                                    [dtypes.scalar_dtype(o) for o in operands if not isinstance(o, Tensor)])
    if min_category_float and not (target.is_floating_point or target.is_complex):
        target = dtypes.get_default_dtype()
    _check_same_device(tensors)
    from trainer.ops.tensor_ops import cast

    out = []
    for o in operands:
        if not isinstance(o, Tensor):
            o = scalar_tensor(o, first, target)
        elif o._data.dtype != target.np:
            o = cast(o, target)
        out.append(o)
    return tuple(out)


def _check_same_device(tensors) -> None:
    kinds = {type(t._data) for t in tensors}
    if len(kinds) == 1 and np.ndarray in kinds:
        return
    if all(issubclass(k, (np.ndarray, np.generic)) for k in kinds):
        return  # NumPy arrays and the NumPy scalars that 0-d results come as: all on the CPU
    devices = {device_of(t._data) for t in tensors}
    if len(devices) == 1:
        return
    found = sorted({str(device_of(t._data)) for t in tensors if t._data.ndim})
    if len(found) > 1:
        raise RuntimeError("Expected all tensors to be on the same device, but found at least two devices, "
                           f"{found[0]} and {found[1]}!")
    # 0-d CPU tensors join GPU operands, as in PyTorch
    dev = next(d for d in devices if d.type == "cuda") if not found else as_device(found[0])
    for t in tensors:
        if device_of(t._data) != dev:
            t._data = to_device(t._data, dev)


def unbroadcast(grad, shape):
    """Sum ``grad`` over the dimensions that broadcasting added or stretched, back to ``shape``."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    axes = tuple(range(extra)) + tuple(i + extra for i, s in enumerate(shape) if s == 1 and grad.shape[i + extra] != 1)
    if axes:  # a bfloat16 gradient is summed in float32, as PyTorch accumulates it
        grad = reduce_widened(type(grad).sum, grad, axis=axes, keepdims=True)
    return grad.reshape(shape)


def broadcast_shapes(*shapes) -> tuple:
    """The broadcast shape, with PyTorch's message naming both shapes when they do not match."""
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError:
        raise RuntimeError(
            "The size of tensors must match except in singleton dimensions, but shapes "
            + " and ".join(str(list(s)) for s in shapes) + " are not broadcastable"
        ) from None


def binary_ufunc(a, b, ufunc):
    """Apply a NumPy/CuPy ufunc, naming both shapes when they do not broadcast."""
    try:
        return ufunc(a, b)
    except ValueError:
        broadcast_shapes(a.shape, b.shape)
        raise


def normalize_dim(dim: int, ndim: int) -> int:
    lo, hi = -max(ndim, 1), max(ndim, 1) - 1
    if not isinstance(dim, (int, np.integer)):
        raise TypeError(f"dim must be an int, got {type(dim).__name__}")
    if not lo <= dim <= hi:
        raise IndexError(f"Dimension out of range (expected to be in range of [{lo}, {hi}], but got {dim})")
    return int(dim) + max(ndim, 1) if dim < 0 else int(dim)


def normalize_dims(dim, ndim: int) -> tuple[int, ...] | None:
    """``None`` (all dims), an int, or a sequence of ints, as a sorted tuple of non-negative dims."""
    if dim is None:
        return None
    if isinstance(dim, (tuple, list)):
        dims = tuple(sorted({normalize_dim(d, ndim) for d in dim}))
        return dims if dims else None
    return (normalize_dim(dim, ndim),)


def quiet_fp_errors(xp):
    """Silence NumPy's floating-point warnings where PyTorch quietly returns inf or nan (log(0), var of one value,
    a series that overflows where its function does). ``trainer.float_errors`` already silences the ones raised by
    trainer's own ufunc calls; this block also covers those raised inside NumPy's Python code (``var``, ``mean``),
    which that filter, keyed on the calling module, does not see."""
    if hasattr(xp, "errstate"):
        return xp.errstate(all="ignore")
    return contextlib.nullcontext()


def int_tuple(value, n: int, name: str) -> tuple[int, ...]:
    """A layer argument such as ``kernel_size=3`` or ``stride=(2, 1)`` as a tuple of ``n`` ints."""
    if isinstance(value, (list, tuple)):
        if len(value) == 1:
            value = tuple(value) * n
        if len(value) != n:
            raise ValueError(f"expected {name} to be a single integer or a tuple of {n} integers, got {value!r}")
        return tuple(int(v) for v in value)
    return (int(value),) * n
