"""``QuantizedArray``: the storage of a quantized tensor, and the quantize/dequantize arithmetic ATen's CPU kernels use.

A quantized tensor's ``_data`` is one of these instead of a dense array: the integer representation (``int8``,
``uint8`` or ``int32``), its quantized dtype (``trainer.qint8`` ...) and the affine parameters, one scale and zero
point for the tensor or one per index of ``axis``. Like the sparse storage it is deliberately not array-like: a dense
op that reaches it raises ``NotImplementedError`` naming the op, as PyTorch does for an op without a quantized kernel.

The values are PyTorch's: per tensor ``q = nearbyint(fma(x, 1/scale, zero_point))`` (fbgemm's kernel: the reciprocal
in float32, one rounding of the fused multiply-add to float32, round half to even), per channel
``q = nearbyint(float32(x * (1/scale)) + zero_point)`` (ATen's ``quantize_val``), both clamped to the dtype's range;
``dequantize`` is ``float32(q - zero_point) * float32(scale)`` per tensor and ``(q - zero_point) * scale`` in float64,
rounded to float32, per channel.
"""

from __future__ import annotations

import numpy as np

from trainer import quantized_types as qt
from trainer.backend import xp_of


class QuantizedLayoutError(NotImplementedError, AttributeError):
    """An op without a quantized kernel met a quantized tensor. Also an ``AttributeError``, so ``hasattr``/``getattr``
    with a default (which NumPy, ``copy`` and ``pickle`` use to probe for protocols) see a plain missing attribute."""


def unsupported(what: str) -> QuantizedLayoutError:
    return QuantizedLayoutError(f"Could not run '{what}' with arguments from the 'QuantizedCPU' backend: trainer's "
                               "quantized tensors support quantize/dequantize, int_repr, the qparams accessors, "
                               "reshaping and the quantized modules; call .dequantize() first")


class QuantizedArray:
    __slots__ = ("int_repr", "qdtype", "qscheme", "scale", "zero_point", "axis")

    def __init__(self, int_repr, qdtype: qt.QuantizedDtype, scale, zero_point, axis: int | None = None):
        """Per tensor: ``scale`` a float and ``zero_point`` an int, ``axis`` None. Per channel: float64 ``scale`` and
        int64 (or floating, for ``per_channel_affine_float_qparams``) ``zero_point`` arrays along ``axis``."""
        self.int_repr = int_repr
        self.qdtype = qdtype
        self.scale, self.zero_point, self.axis = scale, zero_point, axis
        if axis is None:
            self.qscheme = qt.per_tensor_affine
        elif np.dtype(zero_point.dtype).kind == "f":
            self.qscheme = qt.per_channel_affine_float_qparams
        else:
            self.qscheme = qt.per_channel_affine

    # ------------------------------------------------------------- what Tensor reads from any storage
    @property
    def dtype(self):
        return self.int_repr.dtype

    @property
    def shape(self) -> tuple:
        return tuple(self.int_repr.shape)

    @property
    def ndim(self) -> int:
        return self.int_repr.ndim

    @property
    def size(self) -> int:
        return int(self.int_repr.size)

    @property
    def itemsize(self) -> int:
        return self.int_repr.itemsize

    @property
    def base(self):  # autograd copies gradients that view another array; a storage owns its arrays
        return None

    @property
    def array_module(self):
        return xp_of(self.int_repr)

    @property
    def values(self):  # what ``backend.device_of`` reads of a storage made of arrays: the array that sets the device
        return self.int_repr

    def with_int_repr(self, int_repr, axis: int | None = None) -> QuantizedArray:
        """The same quantization parameters around other integers (a reshaped or moved copy)."""
        return QuantizedArray(int_repr, self.qdtype, self.scale, self.zero_point,
                              self.axis if axis is None else axis)

    def copy(self) -> QuantizedArray:
        return self.with_int_repr(self.int_repr.copy())

    def channel_shape(self) -> tuple:
        """The shape that broadcasts per-channel parameters along ``axis``."""
        return (-1,) + (1,) * (self.int_repr.ndim - self.axis - 1)

    def dequantize(self):
        """The float32 values the integers stand for."""
        q = self.int_repr
        if self.axis is None:
            return (q.astype(np.float32) - np.float32(self.zero_point)) * np.float32(self.scale)
        shape = self.channel_shape()
        centered = q.astype(np.float64) - self.zero_point.reshape(shape).astype(np.float64)
        return (centered * self.scale.reshape(shape).astype(np.float64)).astype(np.float32)

    # ------------------------------------------------------------- dense operations: refused
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        raise unsupported(ufunc.__name__)

    def __array_function__(self, func, types, args, kwargs):
        raise unsupported(func.__name__)

    def __array__(self, dtype=None, copy=None):
        raise unsupported("conversion to a dense array")

    def __getattr__(self, name):
        raise unsupported(name)

    def __getitem__(self, key):
        raise unsupported("index")

    def __setitem__(self, key, value):
        raise unsupported("index_put_")

    def __repr__(self):
        return f"QuantizedArray(shape={self.shape}, dtype={self.qdtype!r}, qscheme={self.qscheme!r})"


def _refuse(name: str):
    def refused(self, *args):
        raise unsupported(name.strip("_"))

    return refused


for _name in ("__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__", "__truediv__", "__rtruediv__",
              "__neg__", "__matmul__", "__lt__", "__le__", "__gt__", "__ge__", "__pow__", "__abs__"):
    setattr(QuantizedArray, _name, _refuse(_name))


def quantize_per_tensor_array(x, scale: float, zero_point: int, qdtype: qt.QuantizedDtype):
    """fbgemm's per-tensor quantization of the float32 array ``x``: one fused multiply-add rounded to float32 (the
    float32 product is exact in float64, so float64 arithmetic then one rounding gives it), then round half to even."""
    xp = xp_of(x)
    inverse = np.float64(np.float32(1) / np.float32(scale))
    q = xp.rint((x.astype(np.float64) * inverse + np.float64(zero_point)).astype(np.float32))
    return _to_grid(xp, q, qdtype)


def quantize_per_channel_array(x, scales, zero_points, axis: int, qdtype: qt.QuantizedDtype):
    """ATen's per-channel quantization: ``nearbyint(float32(x * float32(1 / scale)) + zero_point)``, with a floating
    zero point the same way (``per_channel_affine_float_qparams``)."""
    xp = xp_of(x)
    shape = (-1,) + (1,) * (x.ndim - axis - 1)
    inverse = (np.float32(1) / scales.astype(np.float32)).reshape(shape)
    product = x.astype(np.float32) * inverse
    q = xp.rint(product + zero_points.reshape(shape).astype(np.float32))
    return _to_grid(xp, q, qdtype)


def _to_grid(xp, q, qdtype: qt.QuantizedDtype):
    """Clamp to the dtype's range (NaN lands on its minimum, as ATen's conversion sends it) and store as the
    underlying integer type (clamped in float64: float32 cannot hold qint32's maximum)."""
    q = q.astype(np.float64)
    q = xp.where(xp.isnan(q), qdtype.min, xp.clip(q, qdtype.min, qdtype.max))
    return q.astype(qdtype.underlying)
