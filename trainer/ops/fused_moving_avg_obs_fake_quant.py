"""``torch.fused_moving_avg_obs_fake_quant``: one step of quantization-aware training's fused observer and fake
quantization, as ATen's CPU kernel runs it.

In order: when ``observer_on``, the running minimum and maximum move towards the input's
(``running += averaging_const * (current - running)`` in float32; a running value that is still infinite takes the
current one); when ``fake_quant_on``, the scale and zero point are chosen from the running range by FBGEMM's
``ChooseQuantizationParams`` (not the observers' ``calculate_qparams``: no ``eps``, scales below 6.1e-5 are raised
to it, the zero point comes from whichever end of the range has the smaller rounding error, and a symmetric grid is
centred on ``(quant_min + quant_max) / 2`` only when the range straddles zero), written into ``scale`` and
``zero_point``, and the input is fake-quantized on that grid with the per-tensor or per-channel fake-quantize op.
Otherwise the output is a copy of the input. The buffers are updated in place; the gradient is the fake-quantize
ops' straight-through one (all ones when fake quantization is off).
"""

from __future__ import annotations

import numpy as np

from trainer.backend import xp_of
from trainer.ops._dtype_errors import scalar_type_name
from trainer.ops.buffer_writes import overwrite
from trainer.ops.fake_quantize import FakeQuantizePerChannelAffine, FakeQuantizePerTensorAffine, _one_value
from trainer.tensor import Tensor

# FBGEMM raises smaller scales to this (the smallest normal float16) so that they stay out of subnormal range
_SMALL_SCALE_THRESHOLD = np.float32(6.1e-5)


def fused_moving_avg_obs_fake_quant(input, observer_on, fake_quant_on, running_min, running_max, scale, zero_point,
                                    averaging_const, quant_min, quant_max, ch_axis, per_row_fake_quant=False,
                                    symmetric_quant=False):
    """Observe ``input`` into ``running_min``/``running_max``, choose ``scale``/``zero_point`` from them and
    fake-quantize ``input`` on ``[quant_min, quant_max]``; per channel along ``ch_axis`` (which must be 0) when
    ``per_row_fake_quant``, symmetric around the range's middle when ``symmetric_quant``."""
    if input.numel() == 0:
        return input.clone()
    if ch_axis >= input.ndim:
        raise RuntimeError("Error in fused_moving_avg_obs_fake_quant_cpu: ch_axis must be < self.dim(), got "
                           f"ch_axis={ch_axis} for a {input.ndim}-D input")
    observe = int(_one_value(observer_on))
    if per_row_fake_quant:
        rows = _channel_rows(input, ch_axis)
        if running_min.numel() == 0:  # the first step sizes the per-channel buffers
            channels = input.shape[ch_axis]
            overwrite(running_min, xp_of(rows).full(channels, np.inf, dtype=running_min._data.dtype))
            overwrite(running_max, xp_of(rows).full(channels, -np.inf, dtype=running_max._data.dtype))
            scale.resize_((channels,))
            zero_point.resize_((channels,))
        if observe:
            if ch_axis != 0:
                raise RuntimeError("Per-channel FakeQuant in fused_moving_avg_obs_fake_quant is only supported on "
                                   f"axis == 0, got ch_axis={ch_axis}")
            _check_float32(rows, running_min, running_max)
            _observe(rows.min(axis=1), rows.max(axis=1), running_min, running_max, averaging_const)
    elif observe:
        _check_float32(input._data, running_min, running_max)
        _observe(input._data.min(), input._data.max(), running_min, running_max, averaging_const)
    if not int(_one_value(fake_quant_on)):
        return input.clone()
    if quant_min > quant_max:
        raise RuntimeError(f"`quant_min` should be less than or equal to `quant_max`, got quant_min={quant_min} and "
                           f"quant_max={quant_max}")
    lowest = running_min._data.astype(np.float32).reshape(-1)
    highest = running_max._data.astype(np.float32).reshape(-1)
    chosen_scale, chosen_zero_point = choose_quantization_params(lowest, highest, int(quant_min), int(quant_max),
                                                                 bool(symmetric_quant))
    if per_row_fake_quant:
        overwrite(scale, chosen_scale)
        overwrite(zero_point, chosen_zero_point)
        return FakeQuantizePerChannelAffine.apply(input, scale.detach(), zero_point.detach(), axis=int(ch_axis),
                                                  quant_min=int(quant_min), quant_max=int(quant_max))
    # one scale and zero point; ATen writes them into the first element
    xp = xp_of(scale._data)
    overwrite(scale, xp.full(tuple(scale.shape), chosen_scale[0]))
    overwrite(zero_point, xp.full(tuple(zero_point.shape), chosen_zero_point[0]))
    return FakeQuantizePerTensorAffine.apply(input, scale=float(chosen_scale[0]), zero_point=int(chosen_zero_point[0]),
                                             quant_min=int(quant_min), quant_max=int(quant_max))


def choose_quantization_params(lowest, highest, quant_min: int, quant_max: int, preserve_sparsity: bool):
    """FBGEMM's ``ChooseQuantizationParams`` for each pair of float32 bounds (1-D arrays): float32 scales and int64
    zero points, with FBGEMM's mix of float32 and float64 steps so that the grid is bit-identical."""
    xp = xp_of(lowest)
    f32, f64 = np.float32, np.float64
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if preserve_sparsity:
            # a range straddling zero becomes symmetric: the larger side's scale on a grid centred on zero
            symmetric_min, symmetric_max = -((quant_max - quant_min) // 2 + 1), (quant_max - quant_min) // 2
            straddles = (lowest < 0) & (highest > 0)
            widest = xp.maximum(xp.abs(lowest / f32(symmetric_min)), xp.abs(highest / f32(symmetric_max)))
            lowest = xp.where(straddles, (widest.astype(f64) * symmetric_min).astype(f32), lowest)
            highest = xp.where(straddles, (widest.astype(f64) * symmetric_max).astype(f32), highest)
        lowest, highest = xp.minimum(lowest, f32(0)), xp.maximum(highest, f32(0))
        scale = ((highest.astype(f64) - lowest.astype(f64)) / f64(quant_max - quant_min)).astype(f32)
        scale = xp.where((scale == 0) | xp.isinf(f32(1) / scale), f32(0.1), scale)
        small = scale < _SMALL_SCALE_THRESHOLD
        if bool(small.any()):
            # the range grows with the scale: a one-sided range to the threshold's full grid, else proportionally
            amplifier = _SMALL_SCALE_THRESHOLD / scale
            full = _SMALL_SCALE_THRESHOLD * f32(quant_max - quant_min)
            grown_lowest = xp.where(lowest == 0, lowest, xp.where(highest == 0, -full, lowest * amplifier))
            grown_highest = xp.where(lowest == 0, full, xp.where(highest == 0, highest, highest * amplifier))
            lowest = xp.where(small, grown_lowest, lowest).astype(f32)
            highest = xp.where(small, grown_highest, highest).astype(f32)
            scale = xp.where(small, _SMALL_SCALE_THRESHOLD, scale).astype(f32)
        wide_scale = scale.astype(f64)
        from_min = quant_min - lowest.astype(f64) / wide_scale
        from_max = quant_max - highest.astype(f64) / wide_scale
        # the end whose terms are smaller in magnitude carries the smaller rounding error
        error_from_min = abs(quant_min) + xp.abs(lowest.astype(f64) / wide_scale)
        error_from_max = abs(quant_max) + xp.abs(highest.astype(f64) / wide_scale)
        initial = xp.where(error_from_min < error_from_max, from_min, from_max)
        if preserve_sparsity:
            initial = xp.where((lowest < 0) & (highest > 0), (quant_min + quant_max) / 2, initial)
        zero_point = xp.where(initial < quant_min, quant_min,
                              xp.where(initial > quant_max, quant_max, xp.rint(initial)))
    return scale, zero_point.astype(np.int64)


def _channel_rows(input: Tensor, ch_axis: int):
    """``input`` as one row per index of ``ch_axis`` (ATen permutes ``ch_axis`` to the front and flattens the rest,
    which a 1-D input cannot do)."""
    data = input._data
    if data.ndim == 2:
        return data
    if data.ndim < 2:
        raise IndexError(f"Dimension out of range (expected to be in range of [-1, 0], but got 1): per-channel fused "
                         f"fake quantization needs an input of at least 2 dimensions, got {data.ndim}")
    order = list(range(data.ndim))
    order[ch_axis], order[0] = 0, ch_axis
    moved = data.transpose(order)
    return moved.reshape(moved.shape[0], -1)


def _check_float32(data, running_min: Tensor, running_max: Tensor) -> None:
    """ATen's observer step reads the input's extremes and the running values as float32."""
    for dtype in (data.dtype, running_min._data.dtype, running_max._data.dtype):
        if dtype != np.float32:
            raise RuntimeError(f"expected scalar type Float but found {scalar_type_name(np.dtype(dtype))}: "
                               "fused_moving_avg_obs_fake_quant observes float32 inputs into float32 running min/max")


def _observe(current_min, current_max, running_min: Tensor, running_max: Tensor, averaging_const) -> None:
    """Move each running value towards the current one in float32; an infinite one (never observed) takes it."""
    xp = xp_of(running_min._data)
    constant = np.float32(averaging_const)
    for running, current in ((running_min, current_min), (running_max, current_max)):
        values = running._data.astype(np.float32)
        current = xp.asarray(current, dtype=np.float32)
        with np.errstate(invalid="ignore"):  # inf - inf in the branch that ``where`` discards
            moved = xp.where(xp.isinf(values), current, values + constant * (current - values))
        overwrite(running, moved.astype(np.float32))
