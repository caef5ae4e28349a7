"""Tensor creation: ``tensor``, ``zeros``, ``arange``, ``randn``, ... with PyTorch's dtype inference."""

from __future__ import annotations

import numpy as np

from trainer import dtypes
from trainer.autograd.factory_observers import reported_factory
from trainer.backend import as_device, cuda_context, get_xp, to_device
from trainer.complex_random import complex_draw
from trainer.default_device import default_device
from trainer.memory_formats import (
    check_memory_format,
    contiguous_format,
    empty_in_format,
    laid_out_like,
    preserve_format,
)
from trainer.random import device_generator
from trainer.size_keyword import accepts_size_keyword
from trainer.tensor import Tensor, _sizes


def _target(device, dtype, default=None):
    dev = as_device(device) if device is not None else default_device()
    return dev, get_xp(dev), (dtypes.as_dtype(dtype) if dtype is not None else (default or dtypes.get_default_dtype()))


def _finish(array, requires_grad: bool) -> Tensor:
    return Tensor._wrap(array).requires_grad_(requires_grad) if requires_grad else Tensor._wrap(array)


def _infer_array(data, dtype=None):
    """An array for nested Python data, with PyTorch's defaults (floats -> default float, ints -> int64) unless
    ``dtype`` is given, which Python numbers then go to directly (``1e-300`` survives into float64, where a
    float32 detour would flush it to 0); arrays, NumPy scalars and tensors keep their own dtype, also inside
    lists."""
    if isinstance(data, Tensor):
        return data.detach()._data
    typed = isinstance(data, (np.ndarray, np.generic))
    if isinstance(data, (list, tuple)):
        leaves = list(_flatten(data))
        typed = bool(leaves) and all(isinstance(d, (Tensor, np.ndarray, np.generic)) for d in leaves)
        if any(isinstance(d, Tensor) for d in leaves):
            data = _to_numpy(data)
    try:
        array = np.array(data)
    except ValueError as exc:
        raise ValueError(f"could not build a tensor: {exc} (nested sequences must have equal lengths)") from None
    if array.dtype == object or (array.dtype.kind in "USV" and array.dtype != dtypes.bfloat16.np):
        raise TypeError(f"can't build a tensor from data of type {type(data).__name__} holding "
                        f"{array.dtype if array.dtype.kind in 'USV' else 'mixed objects'}; expected numbers")
    if not typed and dtype is not None:
        array = array.astype(dtype.np)
    elif not typed and array.dtype.kind == "f":
        array = array.astype(dtypes.get_default_dtype().np)
    elif not typed and array.dtype.kind == "c":
        array = array.astype(dtypes.get_default_dtype().to_complex().np)
    elif not typed and array.dtype.kind in "iu":
        array = array.astype(np.int64)
    return array


def _flatten(data):
    for d in data:
        if isinstance(d, (list, tuple)):
            yield from _flatten(d)
        else:
            yield d


def _to_numpy(data):
    if isinstance(data, Tensor):
        return np.asarray(data.detach().cpu()._data)
    if isinstance(data, (list, tuple)):
        return [_to_numpy(d) for d in data]
    return data


def tensor(data, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (nested lists, numbers, arrays or tensors)."""
    dtype = None if dtype is None else dtypes.as_dtype(dtype)
    array = _infer_array(data, dtype)
    if dtype is not None:
        array = array.astype(dtype.np)
    dtypes.from_numpy(array.dtype)  # rejects types a tensor cannot hold, with a clear message
    dev = as_device(device) if device is not None else (data.device if isinstance(data, Tensor) else default_device())
    if dev.type == "cpu":
        array = np.array(array, copy=True)
    return _finish(to_device(array, dev), requires_grad)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """Like ``tensor`` but shares memory with ``data`` where dtype and device already match."""
    if isinstance(data, Tensor):
        out = data
        if dtype is not None or device is not None:
            out = out.to(device=device, dtype=dtype)
        return out
    if isinstance(data, np.ndarray) and device is None and default_device().type == "cpu":
        dtypes.from_numpy(data.dtype)
        return Tensor._wrap(data if dtype is None else data.astype(dtypes.as_dtype(dtype).np, copy=False))
    dtype = None if dtype is None else dtypes.as_dtype(dtype)
    array = _infer_array(data, dtype)
    if dtype is not None:
        array = array.astype(dtype.np, copy=False)
    dtypes.from_numpy(array.dtype)
    return Tensor._wrap(to_device(array, as_device(device) if device is not None else default_device()))


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with a NumPy array."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(array).__name__})")
    dtypes.from_numpy(array.dtype)
    return Tensor._wrap(array)


def _filled(fill, size, dtype, device, requires_grad, default=None):
    dev, xp, dt = _target(device, dtype, default)
    with cuda_context(dev):
        return _finish(fill(xp, _sizes(size), dt.np), requires_grad)


@accepts_size_keyword
@reported_factory
def zeros(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _filled(lambda xp, s, d: xp.zeros(s, d), size, dtype, device, requires_grad)


@accepts_size_keyword
@reported_factory
def ones(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _filled(lambda xp, s, d: xp.ones(s, d), size, dtype, device, requires_grad)


@accepts_size_keyword
@reported_factory
def empty(*size, dtype=None, device=None, requires_grad=False, memory_format=contiguous_format) -> Tensor:
    check_memory_format(memory_format, "empty")
    return _filled(lambda xp, s, d: empty_in_format(xp, s, d, memory_format), size, dtype, device, requires_grad)


@reported_factory
def full(size, fill_value, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    if isinstance(fill_value, Tensor):  # a 0-dim tensor outside autograd stands for its number, as in PyTorch
        if fill_value.ndim != 0 or fill_value.requires_grad:
            raise TypeError("full(): argument 'fill_value' (position 2) must be Number, not Tensor")
        fill_value = fill_value.item()
    default = dtypes.scalar_dtype(fill_value) if dtype is None else None
    return _filled(lambda xp, s, d: xp.full(s, fill_value, d), (size,), dtype, device, requires_grad, default)


def _like(fn, like: Tensor, dtype, device, requires_grad, *args, memory_format=preserve_format):
    """``fn(*args)`` with ``like``'s dtype and device unless told otherwise, laid out as ``memory_format`` says
    (by default with ``like``'s strides, as in PyTorch)."""
    out = fn(*args, dtype=dtype or like.dtype, device=device or like.device, requires_grad=requires_grad)
    return laid_out_like(out, like, memory_format, f"{fn.__name__}_like")


@reported_factory
def zeros_like(t, *, dtype=None, device=None, requires_grad=False, memory_format=preserve_format) -> Tensor:
    return _like(zeros, t, dtype, device, requires_grad, t.shape, memory_format=memory_format)


@reported_factory
def ones_like(t, *, dtype=None, device=None, requires_grad=False, memory_format=preserve_format) -> Tensor:
    return _like(ones, t, dtype, device, requires_grad, t.shape, memory_format=memory_format)


@reported_factory
def empty_like(t, *, dtype=None, device=None, requires_grad=False, memory_format=preserve_format) -> Tensor:
    return _like(empty, t, dtype, device, requires_grad, t.shape, memory_format=memory_format)


@reported_factory
def full_like(t, fill_value, *, dtype=None, device=None, requires_grad=False, memory_format=preserve_format) -> Tensor:
    return laid_out_like(full(t.shape, fill_value, dtype=dtype or t.dtype, device=device or t.device,
                              requires_grad=requires_grad), t, memory_format, "full_like")


@reported_factory
def arange(start, end=None, step=1, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    default = dtypes.int64 if all(isinstance(v, (int, np.integer)) for v in (start, end, step)) else None
    dev, xp, dt = _target(device, dtype, default)
    with cuda_context(dev):
        return _finish(xp.arange(start, end, step).astype(dt.np), requires_grad)


def linspace(start, end, steps, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    dev, xp, dt = _target(device, dtype)
    with cuda_context(dev):
        return _finish(xp.linspace(start, end, int(steps)).astype(dt.np), requires_grad)


@reported_factory
def eye(n, m=None, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    dev, xp, dt = _target(device, dtype)
    with cuda_context(dev):
        return _finish(xp.eye(n, m, dtype=dt.np), requires_grad)


def _generator(generator, dev):
    if generator is None:
        return device_generator(dev)
    if generator.device != dev:
        raise RuntimeError(f"Expected a '{dev.type}' generator, got a generator on {generator.device}")
    return generator


def _random(draw, size, generator, dtype, device, requires_grad, default=None):
    dev, xp, dt = _target(device, dtype, default)
    with cuda_context(dev):
        array = draw(_generator(generator, dev).rng, _sizes(size), dt)
        return _finish(xp.asarray(array, dtype=dt.np), requires_grad)


def _float_draw(method):
    def draw(rng, shape, dt):
        if dt.is_complex:
            return complex_draw(rng, method, shape, dt)
        if not dt.is_floating_point:
            raise RuntimeError(f"{method} is only implemented for floating point dtypes, got {dt.name}")
        kind = dt.np if dt.np in (np.float32, np.float64) else np.float32
        return getattr(rng, method)(shape, dtype=kind)

    return draw


@accepts_size_keyword
@reported_factory
def rand(*size, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Uniform samples in [0, 1)."""
    return _random(_float_draw("random"), size, generator, dtype, device, requires_grad)


@accepts_size_keyword
@reported_factory
def randn(*size, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Standard normal samples."""
    return _random(_float_draw("standard_normal"), size, generator, dtype, device, requires_grad)


@reported_factory
def randint(low, high=None, size=None, *, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Integers drawn uniformly from [low, high); ``randint(high, size)`` draws from [0, high)."""
    if size is None and isinstance(high, (tuple, list)):
        low, high, size = 0, low, high
    if high is None:
        low, high = 0, low
    if size is None:
        raise TypeError("randint() missing required argument 'size'")
    if low >= high:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")
    return _random(lambda rng, shape, dt: rng.integers(low, high, shape), (size,), generator, dtype, device,
                   requires_grad, dtypes.int64)


@reported_factory
def randperm(n, *, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A random permutation of 0..n-1."""
    return _random(lambda rng, shape, dt: rng.permutation(n), (), generator, dtype, device, requires_grad,
                   dtypes.int64)


@reported_factory
def rand_like(t, *, dtype=None, device=None, memory_format=preserve_format) -> Tensor:
    return laid_out_like(rand(t.shape, dtype=dtype or t.dtype, device=device or t.device), t, memory_format,
                         "rand_like")


@reported_factory
def randn_like(t, *, dtype=None, device=None, memory_format=preserve_format) -> Tensor:
    return laid_out_like(randn(t.shape, dtype=dtype or t.dtype, device=device or t.device), t, memory_format,
                         "randn_like")
