"""``autocast``: regions (or decorated functions) where listed ops run in a lower precision, as ``torch.autocast``;
the functions that read and set its per-device state, and ``custom_fwd``/``custom_bwd``."""

from __future__ import annotations

import functools
import warnings

from trainer import dtypes
from trainer.amp import cast_policy

# device types PyTorch's autocast accepts; trainer casts on the CPU only (see ``autocast``)
_AUTOCAST_DEVICES = ("cpu", "cuda")
_SUPPORTED_DTYPES = (dtypes.bfloat16, dtypes.float16)


def is_autocast_available(device_type: str) -> bool:
    """Whether autocast can be used on ``device_type`` (``"cpu"``, or ``"cuda"`` with a GPU)."""
    _check_device_type(device_type)
    if device_type == "cuda":
        from trainer import cuda

        return cuda.is_available()
    return device_type in _AUTOCAST_DEVICES


def _check_device_type(device_type) -> None:
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    if device_type not in _AUTOCAST_DEVICES:
        raise RuntimeError(f"User specified an unsupported autocast device_type '{device_type}': trainer supports "
                           f"{', '.join(repr(d) for d in _AUTOCAST_DEVICES)}")


def is_autocast_enabled(device_type: str | None = None) -> bool:
    """Whether autocast is on for ``device_type`` (without one: for CUDA, as PyTorch's legacy form)."""
    if device_type is None:
        return cast_policy.enabled["cuda"]
    _check_device_type(device_type)
    return cast_policy.enabled[device_type]


def set_autocast_enabled(device_type, enabled=None) -> None:
    """``set_autocast_enabled(device_type, enabled)``, or the legacy ``set_autocast_enabled(enabled)`` (CUDA)."""
    if enabled is None:
        device_type, enabled = "cuda", device_type
    _check_device_type(device_type)
    cast_policy.enabled[device_type] = bool(enabled)
    cast_policy.refresh()


def get_autocast_dtype(device_type: str) -> dtypes.dtype:
    _check_device_type(device_type)
    return cast_policy.autocast_dtype[device_type]


def set_autocast_dtype(device_type: str, dtype: dtypes.dtype) -> None:
    _check_device_type(device_type)
    if not isinstance(dtype, dtypes.dtype):
        raise TypeError(f"set_autocast_dtype: expected a trainer dtype, got {type(dtype).__name__}")
    cast_policy.autocast_dtype[device_type] = dtype


def is_autocast_cpu_enabled() -> bool:
    return cast_policy.enabled["cpu"]


def set_autocast_cpu_enabled(enabled: bool) -> None:
    set_autocast_enabled("cpu", enabled)


def get_autocast_cpu_dtype() -> dtypes.dtype:
    return cast_policy.autocast_dtype["cpu"]


def set_autocast_cpu_dtype(dtype: dtypes.dtype) -> None:
    set_autocast_dtype("cpu", dtype)


def get_autocast_gpu_dtype() -> dtypes.dtype:
    return cast_policy.autocast_dtype["cuda"]


def is_autocast_cache_enabled() -> bool:
    return cast_policy.cache_enabled


def set_autocast_cache_enabled(enabled: bool) -> None:
    cast_policy.cache_enabled = bool(enabled)


def clear_autocast_cache() -> None:
    cast_policy.clear_cache()


def autocast_increment_nesting() -> int:
    cast_policy.nesting += 1
    return cast_policy.nesting


def autocast_decrement_nesting() -> int:
    cast_policy.nesting -= 1
    return cast_policy.nesting


class autocast:  # noqa: N801 - PyTorch's name
    """``with autocast(device_type, dtype=None, enabled=True, cache_enabled=None):`` or ``@autocast(...)``.

    On the CPU the ops on PyTorch's CPU lists run in ``dtype`` (bfloat16 by default, or float16) or in float32
    (see ``trainer.amp.cast_policy``). ``"cuda"`` without a GPU warns and is disabled, as in PyTorch; with a GPU
    it is disabled with a warning as well, because trainer implements CPU autocast only.
    """

    def __init__(self, device_type: str, dtype: dtypes.dtype | None = None, enabled: bool = True,
                 cache_enabled: bool | None = None):
        _check_device_type(device_type)
        self.device = device_type
        self.fast_dtype = get_autocast_dtype(device_type) if dtype is None else dtype
        self._cache_enabled = is_autocast_cache_enabled() if cache_enabled is None else cache_enabled
        if enabled and device_type == "cuda":
            from trainer import cuda

            if not cuda.is_available():
                warnings.warn("CUDA is not available or torch_xla is imported. Disabling autocast.", stacklevel=2)
            else:
                warnings.warn("trainer implements autocast on the CPU only: autocast(device_type='cuda') is "
                              "disabled and ops run in their inputs' dtypes.", stacklevel=2)
            enabled = False
        elif enabled and self.fast_dtype not in _SUPPORTED_DTYPES:
            name = device_type.upper()
            warnings.warn(f"In {name} autocast, but the target dtype is not supported. Disabling autocast.\n"
                          f"{name} Autocast only supports dtypes of trainer.bfloat16, trainer.float16 currently.",
                          stacklevel=2)
            enabled = False
        self._enabled = bool(enabled)

    def __enter__(self):
        self.prev_cache_enabled = is_autocast_cache_enabled()
        self.prev = is_autocast_enabled(self.device)
        self.prev_fastdtype = get_autocast_dtype(self.device)
        set_autocast_enabled(self.device, self._enabled)
        set_autocast_dtype(self.device, self.fast_dtype)
        autocast_increment_nesting()
        set_autocast_cache_enabled(self._cache_enabled)
        return self

    def __exit__(self, exc_type, exc_val, exc_tb):
        if autocast_decrement_nesting() == 0:
            clear_autocast_cache()
        set_autocast_enabled(self.device, self.prev)
        set_autocast_dtype(self.device, self.prev_fastdtype)
        set_autocast_cache_enabled(self.prev_cache_enabled)
        return False

    def __call__(self, func):
        if not callable(func):
            raise TypeError(f"autocast()(func) requires a callable, but got {type(func).__name__}. Did you mean to "
                            "use autocast as a context manager? For example:\n"
                            "    with trainer.autocast(device_type=...):\n        output = model(input)")

        @functools.wraps(func)
        def decorate_autocast(*args, **kwargs):
            with self:
                return func(*args, **kwargs)

        return decorate_autocast


def _cast(value, device_type: str, dtype: dtypes.dtype):
    """``value`` with its floating tensors on ``device_type`` (also inside lists, tuples and dicts) as ``dtype``."""
    from trainer.tensor import Tensor

    if isinstance(value, Tensor):
        eligible = value.is_floating_point() and value.device.type == device_type and value.dtype is not dtypes.float64
        return value.to(dtype) if eligible else value
    if isinstance(value, (str, bytes)):
        return value
    if isinstance(value, dict):
        return {_cast(k, device_type, dtype): _cast(v, device_type, dtype) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_cast(v, device_type, dtype) for v in value)
    return value


def custom_fwd(fwd=None, *, device_type: str, cast_inputs: dtypes.dtype | None = None):
    """Decorate an autograd ``Function``'s ``forward``: with ``cast_inputs``, inside an enabled region it runs with
    autocast off and its floating inputs cast to ``cast_inputs``; ``custom_bwd`` gives backward the same state."""
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    if fwd is None:
        return functools.partial(custom_fwd, device_type=device_type, cast_inputs=cast_inputs)

    @functools.wraps(fwd)
    def decorate_fwd(*args, **kwargs):
        args[0]._dtype = get_autocast_dtype(device_type)
        if cast_inputs is None:
            args[0]._fwd_used_autocast = is_autocast_enabled(device_type)
            return fwd(*args, **kwargs)
        in_autocast = is_autocast_enabled(device_type)
        args[0]._fwd_used_autocast = False
        if not in_autocast:
            return fwd(*args, **kwargs)
        with autocast(device_type=device_type, enabled=False):
            return fwd(*_cast(args, device_type, cast_inputs), **_cast(kwargs, device_type, cast_inputs))

    return decorate_fwd


def custom_bwd(bwd=None, *, device_type: str):
    """Decorate an autograd ``Function``'s ``backward`` to run in the autocast state its forward ran in."""
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    if bwd is None:
        return functools.partial(custom_bwd, device_type=device_type)

    @functools.wraps(bwd)
    def decorate_bwd(*args, **kwargs):
        with autocast(device_type=device_type, enabled=args[0]._fwd_used_autocast, dtype=args[0]._dtype):
            return bwd(*args, **kwargs)

    return decorate_bwd


def warn_deprecated(old: str, new: str) -> None:
    """PyTorch's FutureWarning for the per-device forms ``torch.cpu.amp.*`` and ``torch.cuda.amp.*``."""
    warnings.warn(f"`{old}(args...)` is deprecated. Please use `{new}` instead.", FutureWarning, stacklevel=3)
