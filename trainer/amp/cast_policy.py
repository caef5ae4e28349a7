"""The autocast dispatch layer: the dtype each listed op runs in inside an enabled CPU ``autocast`` region.

PyTorch's CPU autocast (``aten/src/ATen/autocast_mode.cpp``, the ``KERNEL_CPU`` entries) sorts ops into three
policies, applied here by decorating each listed op where it is defined:

- ``lower_precision_fp``: floating inputs are cast to the autocast dtype (bfloat16 by default);
- ``fp32``: floating inputs are cast to float32;
- ``promote``: floating inputs are cast to the widest of them (float32 if any is float32).

float64 tensors are never cast, nor tensors on other devices. Inside a listed op autocast is off, as PyTorch
excludes its autocast dispatch key while the op runs, so the ops a trainer op is composed of keep the dtypes it
was given. ``autocast_excluded`` marks ops that PyTorch runs as one kernel outside the lists but that trainer
composes from listed ones (``dot`` from ``matmul``): they must not autocast inside either.

Casts are differentiable (``Tensor.to``), so gradients reach float32 parameters in float32. As in PyTorch, the
bfloat16 copy of a float32 leaf that requires grad (a weight) is cached until the outermost region exits.
"""

from __future__ import annotations

import functools
import weakref

from trainer import dtypes

# the one flag the hot path reads: CPU autocast is enabled and no listed op is running
active = False

enabled = {"cpu": False, "cuda": False}
autocast_dtype = {"cpu": dtypes.bfloat16, "cuda": dtypes.float16}
cache_enabled = True
nesting = 0
_cast_cache: dict = {}  # id(float32 weight) -> (weakref to it, its cast copy)


def refresh() -> None:
    """Recompute ``active`` after the CPU state changed."""
    global active
    active = enabled["cpu"]


def clear_cache() -> None:
    _cast_cache.clear()


def _eligible(t) -> bool:
    """A floating CPU tensor other than float64: what autocast casts."""
    return t.dtype.is_floating_point and t.dtype is not dtypes.float64 and t.device.type == "cpu"


def _cast_tensor(t, to):
    if not _eligible(t) or t.dtype is to:
        return t
    cacheable = (cache_enabled and to is autocast_dtype["cpu"] and t.dtype is dtypes.float32 and t.requires_grad
                 and t.is_leaf and t._view_base is None)
    if not cacheable:
        return t.to(to)
    hit = _cast_cache.get(id(t))
    if hit is not None and hit[0]() is t:
        return hit[1]
    cast = t.to(to)
    _cast_cache[id(t)] = (weakref.ref(t), cast)
    return cast


def _cast(value, to):
    """``value`` with every eligible tensor in it (top level, or in a list or tuple) cast to ``to``."""
    from trainer.tensor import Tensor

    if isinstance(value, Tensor):
        return _cast_tensor(value, to)
    if type(value) in (list, tuple):
        return type(value)(_cast(v, to) for v in value)
    return value


def _tensors(args, kwargs):
    from trainer.tensor import Tensor

    for value in (*args, *kwargs.values()):
        if isinstance(value, Tensor):
            yield value
        elif type(value) in (list, tuple):
            yield from (v for v in value if isinstance(v, Tensor))


def _lower_precision(args, kwargs):
    return autocast_dtype["cpu"]


def _fp32(args, kwargs):
    return dtypes.float32


def _widest(args, kwargs):
    """PyTorch's ``promote``: float32 if any eligible input is float32, else the autocast dtype; an input of the
    other half-precision type is an error there too."""
    lower = autocast_dtype["cpu"]
    widest = lower
    for t in _tensors(args, kwargs):
        if not _eligible(t):
            continue
        if t.dtype is dtypes.float32:
            widest = dtypes.float32
        elif t.dtype is not lower:
            raise RuntimeError(f"Unexpected floating ScalarType in at::autocast::prioritize: autocast to {lower!r} "
                               f"cannot promote a {t.dtype!r} input; cast it to {lower!r} or float32 first")
    return widest


def _policy(target):
    """A decorator running its op with autocast off inside, the floating inputs first cast to the dtype
    ``target(args, kwargs)`` picks; with ``target`` None the inputs stay as given."""

    def decorate(op):
        @functools.wraps(op)
        def autocast_op(*args, **kwargs):
            global active
            if not active:
                return op(*args, **kwargs)
            if target is not None:
                to = target(args, kwargs)
                args = tuple(_cast(a, to) for a in args)
                kwargs = {k: _cast(v, to) for k, v in kwargs.items()}
            active = False
            try:
                return op(*args, **kwargs)
            finally:
                active = True

        return autocast_op

    return decorate


lower_precision_fp = _policy(_lower_precision)
fp32 = _policy(_fp32)
promote = _policy(_widest)
autocast_excluded = _policy(None)  # autocast off inside, inputs as given (see the module's docstring)


def fp32_when(condition):
    """The ``fp32`` policy for the calls where ``condition(*args, **kwargs)`` holds, for ops PyTorch lists by
    overload (``pad`` is on its fp32 list in reflect and replicate mode only); other calls run as given."""

    def decorate(op):
        cast_op = fp32(op)

        @functools.wraps(op)
        def conditional_op(*args, **kwargs):
            return cast_op(*args, **kwargs) if active and condition(*args, **kwargs) else op(*args, **kwargs)

        return conditional_op

    return decorate
