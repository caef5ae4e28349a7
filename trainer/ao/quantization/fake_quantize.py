"""Fake-quantize modules: an observer that keeps the scale and zero point up to date, then fake quantization of the
input on that grid, as ``torch.ao.quantization.fake_quantize`` defines them (buffers, state_dict keys, the
enable/disable switches and the default constructors)."""

from __future__ import annotations

import numpy as np

import trainer
from trainer import dtypes
from trainer import quantized_types as qt
from trainer.ao.quantization.observer import (
    MovingAverageMinMaxObserver,
    MovingAveragePerChannelMinMaxObserver,
    _with_args,
)
from trainer.nn.modules.module import Module
from trainer.ops.buffer_writes import overwrite
from trainer.ops.fake_quantize import fake_quantize_per_channel_affine, fake_quantize_per_tensor_affine

_PER_TENSOR = (qt.per_tensor_affine, qt.per_tensor_symmetric)
_PER_CHANNEL = (qt.per_channel_affine, qt.per_channel_affine_float_qparams, qt.per_channel_symmetric)


class FakeQuantizeBase(Module):
    """The switches every fake-quantize module has: ``fake_quant_enabled`` and ``observer_enabled`` (uint8 buffers,
    as PyTorch keeps them so that DDP replicates them)."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("fake_quant_enabled", trainer.tensor([1], dtype=dtypes.uint8))
        self.register_buffer("observer_enabled", trainer.tensor([1], dtype=dtypes.uint8))

    def enable_fake_quant(self, enabled: bool = True) -> None:
        self.fake_quant_enabled[0] = 1 if enabled else 0

    def disable_fake_quant(self):
        self.enable_fake_quant(False)

    def enable_observer(self, enabled: bool = True) -> None:
        self.observer_enabled[0] = 1 if enabled else 0

    def disable_observer(self):
        self.enable_observer(False)

    @classmethod
    def with_args(cls, **kwargs):
        return _with_args(cls, **kwargs)


class FakeQuantize(FakeQuantizeBase):
    """``x_out = (clamp(round(x / scale + zero_point), quant_min, quant_max) - zero_point) * scale``, with scale and
    zero point from ``observer`` (a class or a ``with_args`` constructor, built with ``observer_kwargs``)."""

    def __init__(self, observer=MovingAverageMinMaxObserver, quant_min=None, quant_max=None, is_dynamic=False,
                 **observer_kwargs):
        super().__init__()
        if quant_min is not None and quant_max is not None:
            if quant_min > quant_max:
                raise AssertionError("quant_min must be less than or equal to quant_max")
            dtype = observer_kwargs.get("dtype", qt.quint8)
            if hasattr(observer, "p"):  # a with_args constructor may carry the dtype
                dtype = getattr(observer.p, "keywords", {}).get("dtype", dtype)
            lowest, highest = _integer_range(dtype)
            if lowest > quant_min:
                raise AssertionError("quant_min out of bound")
            if quant_max > highest:
                raise AssertionError("quant_max out of bound")
            observer_kwargs.update({"quant_min": quant_min, "quant_max": quant_max})
        observer_kwargs["is_dynamic"] = is_dynamic
        self.activation_post_process = observer(**observer_kwargs)
        self.quant_min = self.activation_post_process.quant_min
        self.quant_max = self.activation_post_process.quant_max
        self.is_dynamic = self.activation_post_process.is_dynamic
        float_qparams = self.activation_post_process.qscheme == qt.per_channel_affine_float_qparams
        self.register_buffer("scale", trainer.tensor([1.0], dtype=dtypes.float32))
        self.register_buffer("zero_point", trainer.tensor([0], dtype=dtypes.float32 if float_qparams else dtypes.int32))
        self.dtype = self.activation_post_process.dtype
        self.qscheme = self.activation_post_process.qscheme
        self.ch_axis = getattr(self.activation_post_process, "ch_axis", -1)
        if self.qscheme not in (*_PER_CHANNEL, *_PER_TENSOR):
            raise AssertionError("Only per channel and per tensor quantization are supported in fake quantize got "
                                 f"qscheme: {self.qscheme!r}")
        self.is_per_channel = self.qscheme in _PER_CHANNEL

    def calculate_qparams(self):
        return self.activation_post_process.calculate_qparams()

    def forward(self, X):  # noqa: N803 - PyTorch's argument name
        if int(self.observer_enabled._data[0]) == 1:
            self.activation_post_process(X.detach())
            scale, zero_point = self.calculate_qparams()
            overwrite(self.scale, scale._data)
            overwrite(self.zero_point, zero_point._data)
        if int(self.fake_quant_enabled._data[0]) == 1:
            if self.is_per_channel:
                return fake_quantize_per_channel_affine(X, self.scale, self.zero_point, self.ch_axis,
                                                        self.activation_post_process.quant_min,
                                                        self.activation_post_process.quant_max)
            return fake_quantize_per_tensor_affine(X, self.scale, self.zero_point,
                                                   self.activation_post_process.quant_min,
                                                   self.activation_post_process.quant_max)
        return X

    def extra_repr(self):
        return (f"fake_quant_enabled={self.fake_quant_enabled}, observer_enabled={self.observer_enabled}, "
                f"quant_min={self.activation_post_process.quant_min}, "
                f"quant_max={self.activation_post_process.quant_max}, dtype={self.dtype}, qscheme={self.qscheme}, "
                f"ch_axis={self.ch_axis}, scale={self.scale}, zero_point={self.zero_point}")

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        # scale and zero_point take the checkpoint's shape (one value per channel once observed)
        for name in ("scale", "zero_point"):
            key = prefix + name
            if key in state_dict:
                getattr(self, name).resize_(tuple(state_dict[key].shape))
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                      error_msgs)


def _integer_range(dtype) -> tuple[int, int]:
    """``torch.iinfo(dtype)``'s bounds for a quantized or plain integer dtype."""
    if isinstance(dtype, qt.QuantizedDtype):
        return dtype.min, dtype.max
    info = np.iinfo(dtype.np)
    return int(info.min), int(info.max)


def disable_fake_quant(mod):
    """Turn fake quantization off in ``mod`` if it is a fake-quantize module: ``model.apply(disable_fake_quant)``."""
    if isinstance(mod, FakeQuantizeBase):
        mod.disable_fake_quant()


def enable_fake_quant(mod):
    """Turn fake quantization on in ``mod`` if it is a fake-quantize module: ``model.apply(enable_fake_quant)``."""
    if isinstance(mod, FakeQuantizeBase):
        mod.enable_fake_quant()


def disable_observer(mod):
    """Freeze the scale and zero point of ``mod`` if it is a fake-quantize module: ``model.apply(disable_observer)``."""
    if isinstance(mod, FakeQuantizeBase):
        mod.disable_observer()


def enable_observer(mod):
    """Let ``mod`` update its scale and zero point again if it is a fake-quantize module."""
    if isinstance(mod, FakeQuantizeBase):
        mod.enable_observer()


default_fake_quant = FakeQuantize.with_args(observer=MovingAverageMinMaxObserver, quant_min=0, quant_max=255,
                                            dtype=qt.quint8, qscheme=qt.per_tensor_affine, reduce_range=True)
default_weight_fake_quant = FakeQuantize.with_args(observer=MovingAverageMinMaxObserver, quant_min=-128,
                                                   quant_max=127, dtype=qt.qint8, qscheme=qt.per_tensor_symmetric,
                                                   reduce_range=False)
default_per_channel_weight_fake_quant = FakeQuantize.with_args(observer=MovingAveragePerChannelMinMaxObserver,
                                                               quant_min=-128, quant_max=127, dtype=qt.qint8,
                                                               qscheme=qt.per_channel_symmetric, reduce_range=False,
                                                               ch_axis=0)
