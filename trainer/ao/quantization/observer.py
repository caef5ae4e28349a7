"""Observers: modules that record the range of the tensors passing through and turn it into a scale and zero point,
as ``torch.ao.quantization.observer`` defines them (same constructor arguments, buffers, state_dict keys, and the
same float32 arithmetic in ``calculate_qparams``).

Statistics are gathered on the raw arrays, outside autograd and outside any export trace: an observer only writes
its own buffers.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np

import trainer
from trainer import dtypes
from trainer import quantized_types as qt
from trainer.backend import xp_of
from trainer.nn.modules.module import Module
from trainer.ops.buffer_writes import overwrite
from trainer.tensor import Tensor

_FLOAT32_EPS = float(np.finfo(np.float32).eps)
_PER_TENSOR = (qt.per_tensor_affine, qt.per_tensor_symmetric)
_PER_CHANNEL = (qt.per_channel_affine, qt.per_channel_affine_float_qparams, qt.per_channel_symmetric)
_SYMMETRIC = (qt.per_tensor_symmetric, qt.per_channel_symmetric)
_ALLOWED_DTYPES = (qt.qint8, qt.quint8, qt.qint32, dtypes.int8, dtypes.uint8, dtypes.int16, dtypes.int32)


class _PartialWrapper:
    """A constructor with some arguments bound (``with_args``), and some computed at each construction
    (``with_callable_args``), as PyTorch's."""

    def __init__(self, p):
        self.p = p
        self.callable_args = {}

    def __call__(self, *args, **keywords):
        for arg_name, make in self.callable_args.items():
            if arg_name not in keywords:
                keywords = {**keywords, arg_name: make()}
        return self.p(*args, **keywords)

    def __repr__(self):
        return self.p.__repr__() + self.callable_args.__repr__()

    def with_args(self, **kwargs):
        return _with_args(self, **kwargs)

    def with_callable_args(self, **kwargs):
        result = _PartialWrapper(p=self.p)
        result.callable_args = {**self.callable_args, **kwargs}
        return result


def _with_args(cls_or_self, **kwargs):
    return _PartialWrapper(functools.partial(cls_or_self, **kwargs))


def _with_callable_args(cls_or_self, **kwargs):
    return _PartialWrapper(functools.partial(cls_or_self)).with_callable_args(**kwargs)


class ObserverBase(Module):
    """Base of the observers: ``forward`` records statistics, ``calculate_qparams`` gives scale and zero point."""

    def __init__(self, dtype, is_dynamic: bool = False):
        super().__init__()
        self.dtype = dtype
        self.is_dynamic = is_dynamic

    with_args = classmethod(_with_args)
    with_callable_args = classmethod(_with_callable_args)


class UniformQuantizationObserverBase(ObserverBase):
    """Scale and zero point of a uniform (affine or symmetric) grid from a recorded minimum and maximum."""

    _version = 3

    def __init__(self, dtype=qt.quint8, qscheme=qt.per_tensor_affine, reduce_range=False, quant_min=None,
                 quant_max=None, factory_kwargs=None, eps=_FLOAT32_EPS, is_dynamic=False, **kwargs):
        factory = _factory_kwargs(factory_kwargs)
        super().__init__(dtype=dtype, is_dynamic=is_dynamic, **kwargs)
        self.qscheme = qscheme
        if reduce_range:
            warnings.warn("Please use quant_min and quant_max to specify the range for observers. reduce_range "
                          "will be deprecated in a future release of PyTorch.", stacklevel=2)
        self.reduce_range = reduce_range
        self.register_buffer("eps", trainer.tensor([eps], **factory))
        if self.qscheme not in (*_PER_TENSOR, *_PER_CHANNEL):
            raise AssertionError("Default Observer only works for per_tensor_affine, per_tensor_symmetric, "
                                 "per_channel_affine, per_channel_symmetric and per_channel_float_qparams "
                                 f"quantization scheme, got {qscheme!r}")
        if self.dtype not in _ALLOWED_DTYPES:
            raise AssertionError(f"Default Observer only works for {_ALLOWED_DTYPES} data type, got {dtype!r}")
        self.has_customized_qrange = quant_min is not None and quant_max is not None
        if self.has_customized_qrange:
            _validate_qmin_qmax(quant_min, quant_max)
        self.quant_min, self.quant_max = _calculate_qmin_qmax(quant_min, quant_max, self.has_customized_qrange,
                                                              self.dtype, self.reduce_range)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        if local_metadata.get("version") == 1:  # eps became a buffer in version 2
            state_dict[prefix + "eps"] = trainer.tensor([_FLOAT32_EPS])
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                      error_msgs)

    def _calculate_qparams(self, min_val: Tensor, max_val: Tensor) -> tuple[Tensor, Tensor]:
        """PyTorch's arithmetic, step by step in float32: the grid must be the one PyTorch would train on."""
        if not _check_min_max_valid(min_val, max_val):
            return trainer.tensor([1.0]), trainer.tensor([0])
        xp = xp_of(min_val._data)
        lo, hi = min_val._data.astype(np.float32), max_val._data.astype(np.float32)
        quant_min, quant_max = self.quant_min, self.quant_max
        eps = self.eps._data.astype(np.float32)
        min_neg, max_pos = xp.minimum(lo, np.float32(0)), xp.maximum(hi, np.float32(0))
        if self.qscheme in _SYMMETRIC:
            max_pos = xp.maximum(-min_neg, max_pos)
            scale = xp.maximum(max_pos / np.float32((quant_max - quant_min) / 2), eps)
            middle = 0
            if self.dtype in (qt.quint8, dtypes.uint8):
                middle = (quant_min + quant_max) // 2 if self.has_customized_qrange else 128
            zero_point = xp.full(scale.shape, middle, dtype=np.int64)
        elif self.qscheme == qt.per_channel_affine_float_qparams:
            scale = (hi - lo) / np.float32(quant_max - quant_min)
            scale = xp.where(scale > eps, scale, np.float32(1))
            zero_point = -1 * lo / scale
        else:
            scale = xp.maximum((max_pos - min_neg) / np.float32(quant_max - quant_min), eps)
            zero_point = quant_min - xp.rint(min_neg / scale).astype(np.int32)
            zero_point = xp.clip(zero_point, quant_min, quant_max).astype(np.int32)
        return Tensor._wrap(scale.reshape(-1)), Tensor._wrap(zero_point.reshape(-1))

    def reset_min_max_vals(self):
        raise NotImplementedError("Cannot reset min/max values in the given observer.")


class MinMaxObserver(UniformQuantizationObserverBase):
    """Scale and zero point from the running minimum and maximum of every tensor seen."""

    def __init__(self, dtype=qt.quint8, qscheme=qt.per_tensor_affine, reduce_range=False, quant_min=None,
                 quant_max=None, factory_kwargs=None, eps=_FLOAT32_EPS, is_dynamic=False, **kwargs):
        if qscheme not in _PER_TENSOR:
            raise NotImplementedError("MinMaxObserver's qscheme only support trainer.per_tensor_symmetric and "
                                      f"trainer.per_tensor_affine, got {qscheme!r}")
        super().__init__(dtype=dtype, qscheme=qscheme, reduce_range=reduce_range, quant_min=quant_min,
                         quant_max=quant_max, factory_kwargs=factory_kwargs, eps=eps, is_dynamic=is_dynamic, **kwargs)
        factory = _factory_kwargs(factory_kwargs)
        self.register_buffer("min_val", trainer.tensor(float("inf"), **factory))
        self.register_buffer("max_val", trainer.tensor(float("-inf"), **factory))
        if self.qscheme == qt.per_tensor_symmetric and self.reduce_range and self.dtype == qt.quint8:
            raise NotImplementedError("Cannot reduce range for symmetric quantization for quint8")

    def forward(self, x_orig):
        """Records the running minimum and maximum of ``x``."""
        if x_orig.numel() == 0:
            return x_orig
        lo, hi = _extremes(x_orig, self.min_val)
        xp = xp_of(lo)
        overwrite(self.min_val, xp.minimum(lo, self.min_val._data))
        overwrite(self.max_val, xp.maximum(hi, self.max_val._data))
        return x_orig

    def calculate_qparams(self):
        return self._calculate_qparams(self.min_val, self.max_val)

    def extra_repr(self):
        return f"min_val={self.min_val}, max_val={self.max_val}"

    def reset_min_max_vals(self):
        """Forget what was seen."""
        overwrite(self.min_val, np.float32(np.inf))
        overwrite(self.max_val, np.float32(-np.inf))


class MovingAverageMinMaxObserver(MinMaxObserver):
    """Scale and zero point from moving averages of each tensor's minimum and maximum:
    ``running += averaging_constant * (current - running)``."""

    def __init__(self, averaging_constant=0.01, dtype=qt.quint8, qscheme=qt.per_tensor_affine, reduce_range=False,
                 quant_min=None, quant_max=None, eps=_FLOAT32_EPS, is_dynamic=False, **kwargs):
        if qscheme not in _PER_TENSOR:
            raise NotImplementedError("MovingAverageMinMaxObserver's qscheme only support trainer.per_tensor_symmetric "
                                      f"and trainer.per_tensor_affine. but got: {qscheme!r}")
        self.averaging_constant = averaging_constant
        if is_dynamic and averaging_constant != 1:
            raise NotImplementedError("MovingAverageMinMaxObserver doesn't support dynamic quantization for "
                                      f"averaging constant of {averaging_constant}")
        super().__init__(dtype=dtype, qscheme=qscheme, reduce_range=reduce_range, quant_min=quant_min,
                         quant_max=quant_max, eps=eps, is_dynamic=is_dynamic, **kwargs)

    def forward(self, x_orig):
        if x_orig.numel() == 0:
            return x_orig
        lo, hi = _extremes(x_orig, self.min_val)
        running_lo, running_hi = self.min_val._data, self.max_val._data
        if not (running_lo == np.inf and running_hi == -np.inf):
            lo = _moved(running_lo, lo, self.averaging_constant)
            hi = _moved(running_hi, hi, self.averaging_constant)
        overwrite(self.min_val, lo)
        overwrite(self.max_val, hi)
        return x_orig


class PerChannelMinMaxObserver(UniformQuantizationObserverBase):
    """One scale and zero point per index of ``ch_axis``, from running per-channel minima and maxima."""

    def __init__(self, ch_axis=0, dtype=qt.quint8, qscheme=qt.per_channel_affine, reduce_range=False, quant_min=None,
                 quant_max=None, factory_kwargs=None, eps=_FLOAT32_EPS, is_dynamic=False, **kwargs):
        if qscheme not in _PER_CHANNEL:
            raise NotImplementedError("PerChannelMinMaxObserver's qscheme only support trainer.per_channel_symmetric, "
                                      "trainer.per_channel_affine and trainer.per_channel_affine_float_qparams, got "
                                      f"{qscheme!r}")
        if is_dynamic:
            raise NotImplementedError("PerChannelMinMaxObserver doesn't support dynamic quantization")
        super().__init__(dtype=dtype, qscheme=qscheme, reduce_range=reduce_range, quant_min=quant_min,
                         quant_max=quant_max, factory_kwargs=factory_kwargs, eps=eps, is_dynamic=is_dynamic, **kwargs)
        factory = _factory_kwargs(factory_kwargs)
        self.ch_axis = ch_axis
        self.register_buffer("min_val", trainer.tensor([], **factory))
        self.register_buffer("max_val", trainer.tensor([], **factory))
        if self.qscheme == qt.per_channel_symmetric and self.reduce_range and self.dtype == qt.quint8:
            raise NotImplementedError("Cannot reduce range for symmetric quantization for quint8")

    def forward(self, x_orig):
        if x_orig.numel() == 0:
            return x_orig
        lo, hi = _channel_extremes(x_orig, self.ch_axis, self.min_val)
        if self.min_val.numel() and self.max_val.numel():
            xp = xp_of(lo)
            lo, hi = xp.minimum(lo, self.min_val._data), xp.maximum(hi, self.max_val._data)
        overwrite(self.min_val, lo)
        overwrite(self.max_val, hi)
        return x_orig

    def calculate_qparams(self):
        return self._calculate_qparams(self.min_val, self.max_val)

    def extra_repr(self):
        return f"min_val={self.min_val}, max_val={self.max_val}"

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        # the buffers start empty and take the checkpoint's per-channel shape
        version = local_metadata.get("version")
        old_names = version is not None and version < 3
        for name, buffer in (("min_val", self.min_val), ("max_val", self.max_val)):
            key = prefix + (name + "s" if old_names else name)
            if key in state_dict:
                buffer.resize_(tuple(state_dict[key].shape))
                if old_names:
                    state_dict[prefix + name] = state_dict.pop(key)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                      error_msgs)

    def reset_min_max_vals(self):
        """Forget what was seen."""
        self.min_val = trainer.tensor([])
        self.max_val = trainer.tensor([])


class MovingAveragePerChannelMinMaxObserver(PerChannelMinMaxObserver):
    """Per-channel moving averages of the minima and maxima."""

    def __init__(self, averaging_constant=0.01, ch_axis=0, dtype=qt.quint8, qscheme=qt.per_channel_affine,
                 reduce_range=False, quant_min=None, quant_max=None, eps=_FLOAT32_EPS, is_dynamic=False, **kwargs):
        if qscheme not in _PER_CHANNEL:
            raise NotImplementedError("MovingAveragePerChannelMinMaxObserver's qscheme only support "
                                      "trainer.per_channel_symmetric, trainer.per_channel_affine and "
                                      f"trainer.per_channel_affine_float_qparams, got {qscheme!r}")
        if is_dynamic:
            raise NotImplementedError("MovingAveragePerChannelMinMaxObserver doesn't support dynamic quantization")
        super().__init__(ch_axis=ch_axis, dtype=dtype, qscheme=qscheme, reduce_range=reduce_range,
                         quant_min=quant_min, quant_max=quant_max, eps=eps, is_dynamic=is_dynamic, **kwargs)
        self.averaging_constant = averaging_constant

    def forward(self, x_orig):
        if x_orig.numel() == 0:
            return x_orig
        lo, hi = _channel_extremes(x_orig, self.ch_axis, self.min_val)
        if self.min_val.numel() and self.max_val.numel():
            lo = _moved(self.min_val._data, lo, self.averaging_constant)
            hi = _moved(self.max_val._data, hi, self.averaging_constant)
        overwrite(self.min_val, lo)
        overwrite(self.max_val, hi)
        return x_orig


def _factory_kwargs(factory_kwargs) -> dict:
    """``torch.nn.factory_kwargs``: only ``device`` and ``dtype`` make sense for an observer's buffers."""
    factory = dict(factory_kwargs or {})
    unknown = set(factory) - {"device", "dtype"}
    if unknown:
        raise TypeError(f"unexpected kwarg(s) in factory_kwargs: {sorted(unknown)}; expected device and dtype")
    return factory


def _validate_qmin_qmax(quant_min: int, quant_max: int) -> None:
    if not quant_min <= 0 <= quant_max:
        raise AssertionError("Used-specified quantization range must include 0.")
    if quant_min >= quant_max:
        raise AssertionError("qmin must be strictly less than qmax for user-specified quantization range.")


def _calculate_qmin_qmax(quant_min, quant_max, has_customized_qrange, dtype, reduce_range) -> tuple[int, int]:
    """PyTorch's ``calculate_qmin_qmax``: the user's range (halved by ``reduce_range``), or the 8-bit default."""
    if has_customized_qrange:
        qrange_len = quant_max - quant_min + 1
        if dtype in (qt.qint8, dtypes.int8) and not 0 < qrange_len <= 256:
            raise AssertionError("quantization range should be positive and not exceed the maximum bit range (=256).")
        if dtype in (qt.qint32, dtypes.int32) and not 0 < qrange_len <= 2**32:
            raise AssertionError("quantization range should be positive and not exceed the maximum bit range "
                                 "(=4294967296).")
        if reduce_range:
            quant_min, quant_max = quant_min // 2, quant_max // 2
        return quant_min, quant_max
    if dtype in (qt.qint8, dtypes.int8):
        return (-64, 63) if reduce_range else (-128, 127)
    if dtype in (qt.quint8, dtypes.uint8):
        return (0, 127) if reduce_range else (0, 255)
    if dtype in (qt.qint32, dtypes.int32):
        return -(2**31), 2**31 - 1
    return -(2**15), 2**15 - 1  # int16, the last allowed dtype


def _check_min_max_valid(min_val: Tensor, max_val: Tensor) -> bool:
    """Whether anything was observed (warning, as PyTorch, when not); a minimum above the maximum is an error."""
    if min_val.numel() == 0 or max_val.numel() == 0 or (
            min_val.ndim == 0 and float(min_val._data) == np.inf and float(max_val._data) == -np.inf):
        warnings.warn("must run observer before calling calculate_qparams. Returning default values.", stacklevel=3)
        return False
    if bool((min_val._data > max_val._data).any()):
        raise AssertionError(f"min {min_val} should be less than max {max_val}")
    return True


def _extremes(x: Tensor, like: Tensor):
    """The minimum and maximum of ``x`` in ``like``'s dtype (0-d arrays)."""
    data = x._data.astype(like._data.dtype)
    return data.min(), data.max()


def _channel_extremes(x: Tensor, ch_axis: int, like: Tensor):
    """The minimum and maximum of each index of ``ch_axis`` of ``x``, in ``like``'s dtype."""
    xp = xp_of(x._data)
    rows = xp.moveaxis(x._data, ch_axis, 0).astype(like._data.dtype)
    rows = rows.reshape(rows.shape[0], -1)
    return rows.min(axis=1), rows.max(axis=1)


def _moved(running, current, averaging_constant):
    """``running + c * (current - running)``, each step rounded to the running values' dtype, as PyTorch's."""
    dtype = running.dtype.type
    return running + dtype(averaging_constant) * (current - running)


default_observer = MinMaxObserver.with_args(quant_min=0, quant_max=127)
default_weight_observer = MinMaxObserver.with_args(dtype=qt.qint8, qscheme=qt.per_tensor_symmetric)
default_per_channel_weight_observer = PerChannelMinMaxObserver.with_args(dtype=qt.qint8,
                                                                         qscheme=qt.per_channel_symmetric)
