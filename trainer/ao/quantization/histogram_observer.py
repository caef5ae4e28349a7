"""``HistogramObserver``: PyTorch's post-training activation observer. It keeps a running histogram of everything
seen (re-binned onto the widened range when a new tensor falls outside it) and, in ``calculate_qparams``, narrows
the range to the one minimising the L2 error of quantizing that histogram (caffe2's norm minimisation), then turns
it into a scale and zero point as ``MinMaxObserver`` does.

The arithmetic follows PyTorch's CPU kernels step by step, so that the chosen range and qparams are PyTorch's own:
``histc`` bins by ``int((x - lo) * bins / (hi - lo))`` in the input's precision, ``linspace`` rounds each point once
(a fused multiply-add from whichever end is nearer), ``bincount`` accumulates float32 weights in order, and the
error terms are float32 tensors summed to a Python float.
"""

from __future__ import annotations

import bisect
import warnings

import numpy as np

import trainer
from trainer import quantized_types as qt
from trainer.ao.quantization.observer import (
    _FLOAT32_EPS,
    _PER_TENSOR,
    UniformQuantizationObserverBase,
    _factory_kwargs,
)
from trainer.backend import xp_of
from trainer.ops.buffer_writes import overwrite
from trainer.ops.indexing import _scatter_add
from trainer.tensor import Tensor

__all__ = ["HistogramObserver", "default_histogram_observer"]

_F32 = np.float32


class HistogramObserver(UniformQuantizationObserverBase):
    """Running histogram of ``bins`` bins over the range seen so far; qparams from the L2-optimal sub-range."""

    def __init__(self, bins: int = 2048, dtype=qt.quint8, qscheme=qt.per_tensor_affine, reduce_range=False,
                 quant_min=None, quant_max=None, factory_kwargs=None, eps=_FLOAT32_EPS, is_dynamic=False, **kwargs):
        if qscheme not in _PER_TENSOR:
            raise NotImplementedError("HistogramObserver's qscheme only support trainer.per_tensor_symmetric and "
                                      f"trainer.per_tensor_affine, got {qscheme!r}")
        if is_dynamic:
            raise NotImplementedError("HistogramObserver doesn't support dynamic quantization")
        super().__init__(dtype=dtype, qscheme=qscheme, reduce_range=reduce_range, quant_min=quant_min,
                         quant_max=quant_max, factory_kwargs=factory_kwargs, eps=eps, is_dynamic=is_dynamic, **kwargs)
        factory = _factory_kwargs(factory_kwargs)
        self.bins = bins
        self.register_buffer("histogram", trainer.zeros(self.bins, **factory))
        self.register_buffer("min_val", trainer.tensor(float("inf"), **factory))
        self.register_buffer("max_val", trainer.tensor(float("-inf"), **factory))
        self.dst_nbins = 2 ** _bits(self.dtype)
        self.upsample_rate = 16  # sub-bins per bin when re-binning, to spread each bin's mass finely

    def forward(self, x_orig):
        """Adds ``x``'s values to the histogram, widening its range (and re-binning what it held) when needed."""
        if x_orig.numel() == 0:
            return x_orig
        x = _histogram_input(x_orig._data)
        xp = xp_of(x)
        x_min, x_max = x.min(), x.max()
        if x_min == -np.inf or x_max == np.inf:  # infinities would make the range infinite; they get clamped anyway
            warnings.warn("trainer.inf detected in input tensor, ignoring input", stacklevel=2)
            x = x[xp.abs(x) != np.inf]
            if x.size == 0:
                return x_orig
            x_min, x_max = x.min(), x.max()
        current_min, current_max = self.min_val._data, self.max_val._data
        if current_min == np.inf or current_max == -np.inf:
            overwrite(self.min_val, x_min)
            overwrite(self.max_val, x_max)
            overwrite(self.histogram, _histc(x, self.bins, x_min, x_max))
            return x_orig
        new_min = xp.minimum(current_min.astype(x.dtype), x_min)
        new_max = xp.maximum(current_max.astype(x.dtype), x_max)
        update = _histc(x, self.bins, new_min, new_max)
        if new_min == current_min and new_max == current_max:
            overwrite(self.histogram, self.histogram._data + update)
            return x_orig
        overwrite(self.histogram, self._combine_histograms(self.histogram._data, current_min, current_max, update,
                                                           new_min, new_max))
        overwrite(self.min_val, new_min)
        overwrite(self.max_val, new_max)
        return x_orig

    def _combine_histograms(self, orig_hist, orig_min, orig_max, update_hist, update_min, update_max):
        """The old histogram moved onto the new range ``[update_min, update_max]``, plus the new one."""
        if update_min == orig_min and update_max == orig_max:
            return orig_hist + update_hist
        if orig_min == orig_max:  # all old mass sits on one value: one bin of the new range takes it
            moved = _histc(orig_min.reshape(1), self.bins, update_min, update_max) * orig_hist.sum()
            return moved + update_hist
        if update_min > orig_min:
            raise AssertionError("update_min must be <= orig_min")
        if update_max < orig_max:
            raise AssertionError("update_max must be >= orig_max")
        return update_hist + self._upscale_histogram(orig_hist, orig_min, orig_max, update_min, update_max)

    def _upscale_histogram(self, histogram, orig_min, orig_max, update_min, update_max):
        """Splits each old bin into ``upsample_rate`` equal parts and drops each part, at its mid-point, into the
        new range's bins."""
        xp = xp_of(histogram)
        fine_bins = self.bins * self.upsample_rate
        parts = xp.repeat(histogram, self.upsample_rate) / histogram.dtype.type(self.upsample_rate)
        bin_size = _F32(orig_max - orig_min) / _F32(fine_bins)
        mid_points = _linspace(xp, orig_min, orig_max, fine_bins + 1)[:-1] + _F32(0.5) * bin_size
        boundaries = _linspace(xp, update_min, update_max, self.bins + 1)
        buckets = xp.clip(xp.searchsorted(boundaries, mid_points, side="right") - 1, 0, self.bins - 1)
        upscaled = xp.zeros(self.bins, dtype=parts.dtype)
        _scatter_add(xp, upscaled, buckets, parts)
        return upscaled

    def _non_linear_param_search(self) -> tuple[Tensor, Tensor]:
        """caffe2's ``NonlinearQuantizationParamsSearch``: shrink the range from whichever end leaves fewer samples
        out (quantile steps of 1e-5) while the L2 quantization error keeps falling."""
        if self.histogram.shape[0] != self.bins:
            raise AssertionError("bins mismatch")
        # a scalar-driven loop over a small histogram: it runs on the host (one copy instead of a sync per step)
        histogram = _host(self.histogram._data)
        lo, hi = float(self.min_val._data), float(self.max_val._data)
        total = float(histogram.sum(dtype=_F32))
        # float32 partial sums as Python floats (exactly), searched with ``bisect``: the loop can take 10^5 steps
        cumulative = np.cumsum(histogram, dtype=_F32).tolist()
        stepsize, alpha, beta = 1e-5, 0.0, 1.0
        start_bin, end_bin = 0, self.bins - 1
        norm_min = float("inf")
        while alpha < beta and start_bin < end_bin:  # (a range of one bin cannot shrink: PyTorch loops on idle)
            next_alpha, next_beta = alpha + stepsize, beta - stepsize
            # first bin at or past the lower quantile and last bin at or before the upper one, within the range
            # (PyTorch compares float32 partial sums with the bound rounded to float32)
            left = min(max(bisect.bisect_left(cumulative, float(_F32(next_alpha * total))), start_bin), end_bin)
            right = max(min(bisect.bisect_right(cumulative, float(_F32(next_beta * total))) - 1, end_bin), start_bin)
            next_start_bin, next_end_bin = start_bin, end_bin
            if left - start_bin > end_bin - right:
                next_start_bin, alpha = left, next_alpha
            else:
                next_end_bin, beta = right, next_beta
            if next_start_bin == start_bin and next_end_bin == end_bin:
                continue
            norm = _quantization_error(histogram, lo, hi, next_start_bin, next_end_bin, self.dst_nbins)
            if norm > norm_min:
                break
            norm_min, start_bin, end_bin = norm, next_start_bin, next_end_bin
        min_val = self.min_val._data
        bin_width = (self.max_val._data - min_val) / min_val.dtype.type(self.bins)
        new_min = min_val + bin_width * min_val.dtype.type(start_bin)
        new_max = min_val + bin_width * min_val.dtype.type(end_bin + 1)
        return Tensor._wrap(new_min), Tensor._wrap(new_max)

    def calculate_qparams(self):
        """Scale and zero point of the L2-optimal range (PyTorch's defaults, with a warning, before any data)."""
        if self.min_val._data == np.inf and self.max_val._data == -np.inf:
            warnings.warn("must run observer before calling calculate_qparams. Returning default scale and zero "
                          "point ", stacklevel=2)
            return trainer.tensor([1.0], device=self.min_val.device), trainer.tensor([0], device=self.min_val.device)
        if self.bins != len(self.histogram):
            raise AssertionError("The number of bins in histogram should be equal to the number of bins supplied "
                                 "while making this observer")
        new_min, new_max = self._non_linear_param_search()
        return self._calculate_qparams(new_min, new_max)

    def reset_min_max_vals(self):
        """Forget what was seen."""
        overwrite(self.min_val, np.float32(np.inf))
        overwrite(self.max_val, np.float32(-np.inf))
        overwrite(self.histogram, xp_of(self.histogram._data).zeros(self.bins, dtype=self.histogram._data.dtype))

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        version = local_metadata.get("version")
        if version is None or version < 3:  # before version 3, never-run observers saved empty min/max buffers
            for name, empty_value in (("min_val", float("inf")), ("max_val", float("-inf"))):
                key = prefix + name
                if key in state_dict and tuple(state_dict[key].shape) == (0,):
                    state_dict[key] = trainer.tensor(empty_value)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                      error_msgs)

    def extra_repr(self):
        return f"min_val={self.min_val}, max_val={self.max_val}"


def _bits(dtype) -> int:
    """``torch.iinfo(dtype).bits`` for the quantized and the plain integer dtypes an observer accepts."""
    if isinstance(dtype, qt.QuantizedDtype):
        return (dtype.max - dtype.min).bit_length()
    return trainer.iinfo(dtype).bits


def _histogram_input(data):
    """The observed values in the precision PyTorch's ``histc`` bins them in: float64 stays, the rest is float32."""
    return data if data.dtype == np.float64 else data.astype(_F32)


def _histc(x, bins: int, lo, hi):
    """``torch.histc`` as its CPU kernel computes it. ``trainer.histc`` follows NumPy's binning, which rounds values
    that sit next to a bin edge into the neighbouring bin now and then; here each value goes to
    ``int((x - lo) * bins / (hi - lo))`` in ``x``'s precision, with the edges taken from a float32 ``linspace``."""
    xp = xp_of(x)
    dtype = x.dtype.type
    lo, hi = float(lo), float(hi)
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    left, right = dtype(lo), dtype(hi)  # the end points of the bin edges, in x's precision as PyTorch's
    x = x[(x >= left) & (x <= right)]
    positions = ((x - left) * dtype(bins) / (right - left)).astype(np.int64)
    positions = xp.minimum(positions, bins - 1)  # the last bin includes its right edge
    return xp.bincount(positions, minlength=bins).astype(x.dtype)


def _linspace(xp, start, end, steps: int):
    """``torch.linspace(start, end, steps)`` in float32 as PyTorch's CPU kernel rounds it: the first half is
    ``start + step * i``, the second ``end - step * (steps - 1 - i)``, each a fused multiply-add (one rounding, which
    float64 arithmetic reproduces since ``step * i`` is exact there)."""
    start, end = _F32(start), _F32(end)
    step = np.float64((end - start) / _F32(steps - 1))
    index = xp.arange(steps, dtype=np.float64)
    from_start = np.float64(start) + step * index
    from_end = np.float64(end) - step * (steps - 1 - index)
    return xp.where(index < steps // 2, from_start, from_end).astype(_F32)


def _host(array) -> np.ndarray:
    return array.get() if hasattr(array, "get") else np.asarray(array)


def _l2_norm(delta_begin, delta_end, density):
    """The squared error of values spread uniformly (``density``) over ``[delta_begin, delta_end]``."""
    return density * ((delta_end * delta_end * delta_end - delta_begin * delta_begin * delta_begin) / _F32(3))


def _quantization_error(histogram: np.ndarray, lo: float, hi: float, start_bin: int, end_bin: int,
                        dst_nbins: int) -> float:
    """The L2 error of quantizing the histogram onto ``dst_nbins`` levels spanning bins ``start_bin..end_bin``:
    for each source bin, the error at the ends of the destination bins its own ends fall in plus that of every
    destination bin it covers in full."""
    bins = histogram.shape[0]
    bin_width = (hi - lo) / bins
    dst_bin_width = bin_width * (end_bin - start_bin + 1) / dst_nbins
    if dst_bin_width == 0.0:
        return 0.0
    width, dst_width, half_dst = _F32(bin_width), _F32(dst_bin_width), _F32(dst_bin_width / 2)
    src_bin_begin = (np.arange(bins) - start_bin).astype(_F32) * width
    src_bin_end = src_bin_begin + width
    dst_bin_of_begin = np.clip(np.floor_divide(src_bin_begin, dst_width), _F32(0), _F32(dst_nbins - 1))
    dst_bin_of_begin_center = (dst_bin_of_begin + _F32(0.5)) * dst_width
    dst_bin_of_end = np.clip(np.floor_divide(src_bin_end, dst_width), _F32(0), _F32(dst_nbins - 1))
    density = histogram / width
    norm = _l2_norm(src_bin_begin - dst_bin_of_begin_center, half_dst, density)
    norm = norm + (dst_bin_of_end - dst_bin_of_begin - _F32(1)) * _l2_norm(_F32(-dst_bin_width / 2), half_dst,
                                                                            density)
    dst_bin_of_end_center = dst_bin_of_end * dst_width + half_dst
    norm = norm + _l2_norm(_F32(-dst_bin_width / 2), src_bin_end - dst_bin_of_end_center, density)
    return float(norm.sum(dtype=_F32))


default_histogram_observer = HistogramObserver.with_args(quant_min=0, quant_max=127)
