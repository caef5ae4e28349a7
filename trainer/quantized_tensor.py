"""``QuantizedTensor``: a ``Tensor`` whose storage is a ``QuantizedArray`` (dtype ``trainer.quint8``/``qint8``/
``qint32``), and the functions that make and unmake one: ``quantize_per_tensor``, ``quantize_per_channel``,
``dequantize`` and the ``_make_per_*_quantized_tensor`` constructors from integers.

Every tensor wrapping a quantized storage is a ``QuantizedTensor`` (``Tensor._wrap`` picks the class by storage).
It has PyTorch's accessors (``int_repr``, ``q_scale``, ``q_per_channel_scales`` ...), reshaping and PyTorch's
printing; any other op reaches the storage and raises ``NotImplementedError`` naming the op. Quantized tensors are
outside autograd, as in PyTorch: they never require gradients.
"""

from __future__ import annotations

import numpy as np

from trainer import dtypes
from trainer import quantized_types as qt
from trainer._tensor_str import PRINT_OPTS, _add_suffixes, _body, _formatter, _summarized
from trainer.autograd import observe
from trainer.backend import xp_of
from trainer.ops._dtype_errors import scalar_type_name
from trainer.ops._operands import normalize_dim
from trainer.quantized_array import QuantizedArray, quantize_per_channel_array, quantize_per_tensor_array
from trainer.tensor import _TENSOR_TYPE_OF, Tensor

__all__ = [
    "QuantizedTensor",
    "_make_per_channel_quantized_tensor",
    "_make_per_tensor_quantized_tensor",
    "dequantize",
    "quantize_per_channel",
    "quantize_per_tensor",
]

_QUANTIZED_DTYPES = (qt.quint8, qt.qint8, qt.qint32)


class QuantizedTensor(Tensor):
    __slots__ = ()
    is_quantized = True

    @property
    def dtype(self):
        return self._data.qdtype

    def is_floating_point(self) -> bool:
        return False

    def requires_grad_(self, requires_grad: bool = True):
        if requires_grad:
            raise RuntimeError("only Tensors of floating point dtype can require gradients")
        return self

    # ------------------------------------------------------------- quantization parameters
    def qscheme(self):
        return self._data.qscheme

    def q_scale(self) -> float:
        self._require_per_tensor()
        return float(self._data.scale)

    def q_zero_point(self) -> int:
        self._require_per_tensor()
        return int(self._data.zero_point)

    def q_per_channel_scales(self) -> Tensor:
        self._require_per_channel()
        return Tensor._wrap(self._data.scale.copy())

    def q_per_channel_zero_points(self) -> Tensor:
        self._require_per_channel()
        return Tensor._wrap(self._data.zero_point.copy())

    def q_per_channel_axis(self) -> int:
        self._require_per_channel()
        return self._data.axis

    def _require_per_tensor(self) -> None:
        if self._data.axis is not None:
            raise RuntimeError("Expected quantizer->qscheme() == kPerTensorAffine to be true, but got false: this "
                               f"tensor is quantized {self._data.qscheme.name}; use q_per_channel_scales() and "
                               "q_per_channel_zero_points()")

    def _require_per_channel(self) -> None:
        if self._data.axis is None:
            raise RuntimeError("Expected quantizer->qscheme() == kPerChannelAffine || quantizer->qscheme() == "
                               "kPerChannelAffineFloatQParams to be true, but got false: this tensor is quantized "
                               "per_tensor_affine; use q_scale() and q_zero_point()")

    # ------------------------------------------------------------- conversions
    def numpy(self, *, force: bool = False):
        name = {"quint8": "QUInt8", "qint8": "QInt8", "qint32": "QInt32"}[self._data.qdtype.name]
        raise TypeError(f"Got unsupported ScalarType {name}: a quantized tensor has no "
                        "NumPy counterpart; use int_repr().numpy() or dequantize().numpy()")

    def int_repr(self) -> Tensor:
        """The stored integers, as a ``uint8``/``int8``/``int32`` tensor (a copy)."""
        return _announced("IntRepr", (self,), Tensor._wrap(self._data.int_repr.copy()))

    def dequantize(self) -> Tensor:
        """The float32 values the integers stand for."""
        return _announced("Dequantize", (self,), Tensor._wrap(self._data.dequantize()), **_qparams(self._data))

    def detach(self) -> QuantizedTensor:
        return Tensor._wrap(self._data)

    def clone(self, *, memory_format=None) -> QuantizedTensor:
        return _announced("QuantizedClone", (self,), Tensor._wrap(self._data.copy()))

    def contiguous(self, memory_format=None) -> QuantizedTensor:
        return self

    def _assign(self, result) -> QuantizedTensor:
        """Where an in-place op (``relu_``, ``F.relu(x, inplace=True)``) leaves its result: the integers written into
        this tensor's own (so views see them), on the grid, which PyTorch's quantized in-place kernels keep."""
        data, new = self._data, result._data
        if not isinstance(new, QuantizedArray) or new.qdtype is not data.qdtype or new.shape != data.shape:
            raise RuntimeError(f"an in-place op on a {data.qdtype!r} tensor of shape {list(data.shape)} must produce "
                               f"the same dtype and shape, got {result.dtype!r} of shape {list(result.shape)}")
        if new.axis != data.axis or not _same_grid(new, data):
            raise RuntimeError("an in-place op on a quantized tensor must keep its scale and zero point; use the "
                               "out-of-place op, which returns a tensor on the new grid")
        data.int_repr[...] = new.int_repr
        self._version_counter.value += 1
        return self

    # ------------------------------------------------------------- reductions
    def mean(self, dim=None, keepdim: bool = False, *, dtype=None) -> QuantizedTensor:
        """ATen's quantized mean: the float mean of the values, requantized on this tensor's grid. (PyTorch reduces a
        contiguous tensor's innermost dims in integers instead, which can land one quantum away on a tie; its
        quantized convs return channels-last tensors, which take this path, as trainer does for every layout.)"""
        self._require_per_tensor()
        values = self.dequantize().mean(dim, keepdim, dtype=dtype)
        return quantize_per_tensor(values, self.q_scale(), self.q_zero_point(), self.dtype)

    # ------------------------------------------------------------- reshaping (the integers move, qparams stay)
    def reshape(self, *shape) -> QuantizedTensor:
        shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        return _announced("QuantizedReshape", (self,), self._reshaped(shape), shape=shape)

    view = reshape

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> QuantizedTensor:
        shape = self._data.shape
        if not shape:
            return self.reshape(1)
        start, end = normalize_dim(start_dim, len(shape)), normalize_dim(end_dim, len(shape))
        if start > end:
            raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
        flat = shape[:start] + (int(np.prod(shape[start:end + 1], dtype=np.int64)),) + shape[end + 1:]
        # announced as a flatten, not a reshape to these sizes: an exported graph keeps the other dims as they come
        return _announced("QuantizedFlatten", (self,), self._reshaped(flat), start_dim=start, end_dim=end)

    def _reshaped(self, shape: tuple) -> QuantizedTensor:
        if self._data.axis is not None:
            raise RuntimeError("reshape of a per-channel quantized tensor is not supported: the channel axis would "
                               "be lost; dequantize() first")
        return Tensor._wrap(self._data.with_int_repr(self._data.int_repr.reshape(shape)))

    def __repr__(self):
        data = self._data
        array = data.dequantize()
        array = array if xp_of(array) is np else array.get()
        prefix = "tensor("
        indent = len(prefix)
        if array.size == 0:
            body = "[]"
        else:
            summarize = array.size > PRINT_OPTS.threshold
            body = _body(array, indent, summarize, _formatter(_summarized(array) if summarize else array))
        suffixes = [f"size={tuple(array.shape)}", f"dtype={data.qdtype!r}", f"quantization_scheme={data.qscheme!r}"]
        if data.axis is None:
            suffixes += [f"scale={float(data.scale)}", f"zero_point={int(data.zero_point)}"]
        else:
            suffixes += [f"scale={self.q_per_channel_scales()!r}", f"zero_point={self.q_per_channel_zero_points()!r}",
                         f"axis={data.axis}"]
        return _add_suffixes(prefix + body, suffixes, indent)


_TENSOR_TYPE_OF[QuantizedArray] = QuantizedTensor


# ----------------------------------------------------------------- construction
def quantize_per_tensor(input, scale, zero_point, dtype) -> QuantizedTensor:
    """``torch.quantize_per_tensor``: ``scale`` and ``zero_point`` as numbers or one-element tensors; ``input`` a
    float32 tensor or a list of them (then a list of quantized tensors)."""
    if isinstance(input, (list, tuple)):
        return [quantize_per_tensor(t, scale, zero_point, dtype) for t in input]
    qdtype = _check_quantized_dtype(dtype)
    _check_float32(input)
    scale = float(scale.item()) if isinstance(scale, Tensor) else float(scale)
    zero_point = int(zero_point.item()) if isinstance(zero_point, Tensor) else int(zero_point)
    if zero_point > qdtype.max:
        raise RuntimeError(f"quantize_tensor_per_tensor_affine zero_point {zero_point} is above upper bound "
                           f"{qdtype.max} of {qdtype!r}")
    if zero_point < qdtype.min:
        raise RuntimeError(f"quantize_tensor_per_tensor_affine zero_point {zero_point} is below lower bound "
                           f"{qdtype.min} of {qdtype!r}")
    ints = quantize_per_tensor_array(input._data, scale, zero_point, qdtype)
    return _announced("QuantizePerTensor", (input,), Tensor._wrap(QuantizedArray(ints, qdtype, scale, zero_point)),
                      scale=scale, zero_point=zero_point, dtype=qdtype)


def quantize_per_channel(input, scales, zero_points, axis: int, dtype) -> QuantizedTensor:
    """``torch.quantize_per_channel``: one scale (kept in float64) and zero point (int64) per index of ``axis``."""
    qdtype = _check_quantized_dtype(dtype)
    _check_float32(input)
    scale_array, point_array = _channel_qparams(input, scales, zero_points, axis)
    ints = quantize_per_channel_array(input._data, scale_array, point_array, axis, qdtype)
    data = QuantizedArray(ints, qdtype, scale_array, point_array, axis)
    return _announced("QuantizePerChannel", (input,), Tensor._wrap(data), **_qparams(data))


def dequantize(tensors):
    """``torch.dequantize``: the float32 values of a quantized tensor (a float tensor is returned as it is), or of
    each tensor of a list."""
    if isinstance(tensors, (list, tuple)):
        return [dequantize(t) for t in tensors]
    return tensors.dequantize() if isinstance(tensors, QuantizedTensor) else tensors


def _make_per_tensor_quantized_tensor(input, scale, zero_point) -> QuantizedTensor:
    """``torch._make_per_tensor_quantized_tensor``: a quantized tensor holding ``input``'s integers as they are
    (``uint8`` -> quint8, ``int8`` -> qint8, ``int32`` -> qint32)."""
    qdtype = _qdtype_of_integers(input)
    return Tensor._wrap(QuantizedArray(input._data.copy(), qdtype, float(scale), int(zero_point)))


def _make_per_channel_quantized_tensor(input, scale, zero_point, axis: int) -> QuantizedTensor:
    """``torch._make_per_channel_quantized_tensor``: ``input``'s integers with per-channel parameters."""
    qdtype = _qdtype_of_integers(input)
    scale_array, point_array = _channel_qparams(input, scale, zero_point, axis)
    return Tensor._wrap(QuantizedArray(input._data.copy(), qdtype, scale_array, point_array, axis))


def _announced(op: str, inputs: tuple, output: Tensor, **attrs) -> Tensor:
    """Report what a quantized tensor was made from to op observers (the exporter), as trainer's ``Function``s report
    their ops: quantized tensors are outside autograd, so no ``Function`` runs for them."""
    if observe.observers:
        observe.notify(observe.OpEvent(op, inputs, (output,), attrs))
    return output


def _qparams(data: QuantizedArray) -> dict:
    """The grid of ``data`` as op attributes: ``scale``/``zero_point`` numbers per tensor, arrays along ``axis``."""
    return {"scale": data.scale, "zero_point": data.zero_point, "axis": data.axis, "dtype": data.qdtype}


def _same_grid(a: QuantizedArray, b: QuantizedArray) -> bool:
    xp = xp_of(a.int_repr)
    return bool(xp.all(xp.asarray(a.scale) == xp.asarray(b.scale))
                and xp.all(xp.asarray(a.zero_point) == xp.asarray(b.zero_point)))


def _check_quantized_dtype(dtype) -> qt.QuantizedDtype:
    if dtype not in _QUANTIZED_DTYPES:
        name = scalar_type_name(dtype) if isinstance(dtype, dtypes.dtype) else repr(dtype)
        raise RuntimeError(f"ScalarType {name} is not supported in new_qtensor: the dtype of a quantized tensor "
                           "must be trainer.quint8, trainer.qint8 or trainer.qint32")
    return dtype


def _check_float32(input) -> None:
    if not isinstance(input, Tensor) or isinstance(input, QuantizedTensor) or input.dtype is not dtypes.float32:
        found = scalar_type_name(input.dtype) if isinstance(input, Tensor) else type(input).__name__
        raise RuntimeError(f"Quantize only works on Float Tensor, got {found}")


def _channel_qparams(input, scales, zero_points, axis: int):
    """The per-channel scales as float64 and zero points as int64 (floating zero points stay floating), checked
    against ``input``'s ``axis``."""
    if not 0 <= axis < max(input.ndim, 1):
        raise RuntimeError(f"Channel axis out of range in per channel affine quantization. Got: {axis}Expected: "
                           f"[0, {input.ndim})")
    if scales.numel() != zero_points.numel():
        raise RuntimeError("number of elements in scales and zero_points must match: got "
                           f"{scales.numel()} scales and {zero_points.numel()} zero points")
    channels = input.shape[axis]
    if scales.numel() != channels:
        raise RuntimeError(f"length of scales must equal to channel, expected {channels} got, {scales.numel()}")
    scale_array = scales._data.reshape(-1).astype(np.float64)
    points = zero_points._data.reshape(-1)
    point_array = points if dtypes.is_floating(points.dtype) else points.astype(np.int64)
    return scale_array, point_array


def _qdtype_of_integers(input) -> qt.QuantizedDtype:
    for qdtype in _QUANTIZED_DTYPES:
        if input._data.dtype == np.dtype(qdtype.underlying):
            return qdtype
    raise RuntimeError(f"Expected the integer representation of a quantized tensor (Byte, Char or Int), got "
                       f"{scalar_type_name(input.dtype)}")
