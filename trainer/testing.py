"""``trainer.testing``: ``assert_close`` and ``make_tensor`` as in ``torch.testing``.

``assert_close`` compares tensors (or NumPy arrays), Python numbers, and sequences and mappings of them
recursively, with PyTorch's default tolerances per dtype and its mismatch messages.
"""

from __future__ import annotations

import collections.abc
import math

import numpy as np

import trainer
from trainer import dtypes
from trainer.testing_assert_allclose import assert_allclose  # noqa: F401 - part of this module's API

# (rtol, atol) per dtype; every other dtype is compared for equality
_DTYPE_PRECISIONS = {dtypes.float16: (1e-3, 1e-5), dtypes.float32: (1.3e-6, 1e-5), dtypes.float64: (1e-7, 1e-7)}
_DTYPE_PRECISIONS.update({dtypes.complex64: (1.3e-6, 1e-5), dtypes.complex128: (1e-7, 1e-7)})
_DTYPE_PRECISIONS[dtypes.bfloat16] = (1.6e-2, 1e-5)


class _MismatchError(AssertionError):
    pass


def assert_close(actual, expected, *, allow_subclasses=True, rtol=None, atol=None, equal_nan=False,
                 check_device=True, check_dtype=True, check_layout=True, check_stride=False, msg=None):
    """Raise ``AssertionError`` unless ``actual`` and ``expected`` are close: ``|actual - expected| <= atol + rtol *
    |expected|`` elementwise, after checking shape, device, dtype, layout and (when asked) strides."""
    if (rtol is None) != (atol is None):
        raise ValueError(f"Both 'rtol' and 'atol' must be either specified or omitted, but got no "
                         f"{'rtol' if rtol is None else 'atol'}.")
    options = {"rtol": rtol, "atol": atol, "equal_nan": equal_nan, "check_device": check_device,
               "check_dtype": check_dtype, "check_stride": check_stride}
    try:
        _compare(actual, expected, "", options)
    except _MismatchError as failure:
        text = str(failure)
        if msg is not None:
            text = msg(text) if callable(msg) else msg
        raise AssertionError(text) from None


def _is_tensor_like(x) -> bool:
    return isinstance(x, (trainer.Tensor, np.ndarray))


def _is_number(x) -> bool:
    return isinstance(x, (bool, int, float, np.number, np.bool_))


def _compare(actual, expected, where: str, options) -> None:
    if _is_tensor_like(actual) and _is_tensor_like(expected):
        return _with_location(_compare_tensors, actual, expected, where, options)
    if _is_number(actual) and _is_number(expected):
        return _with_location(_compare_numbers, actual, expected, where, options)
    if isinstance(actual, collections.abc.Mapping) and isinstance(expected, collections.abc.Mapping):
        missing, extra = sorted(set(expected) - set(actual), key=repr), sorted(set(actual) - set(expected), key=repr)
        if missing or extra:
            raise _MismatchError(f"The keys of the mappings do not match:\nMissing keys in the actual mapping: "
                                 f"{missing}\nAdditional keys in the actual mapping: {extra}")
        for key in expected:
            _compare(actual[key], expected[key], f"{where}[{key!r}]", options)
        return None
    if _is_sequence(actual) and _is_sequence(expected):
        if len(actual) != len(expected):
            raise _MismatchError(f"The length of the sequences mismatch: {len(actual)} != {len(expected)}")
        for i, (a, e) in enumerate(zip(actual, expected)):
            _compare(a, e, f"{where}[{i}]", options)
        return None
    raise TypeError(f"No comparison pair was able to handle inputs of type {type(actual)} and {type(expected)}.")


def _is_sequence(x) -> bool:
    return isinstance(x, collections.abc.Sequence) and not isinstance(x, str)


def _with_location(compare, actual, expected, where, options) -> None:
    try:
        compare(actual, expected, options)
    except _MismatchError as failure:
        if where:
            raise _MismatchError(f"{failure}\n\nThe failure occurred for item {where}") from None
        raise


def _compare_numbers(actual, expected, options) -> None:
    floating = any(isinstance(v, (float, np.floating)) for v in (actual, expected))
    rtol, atol = _tolerances(options, (dtypes.float64,) if floating else ())
    if _close(np.float64(actual) if floating else actual, expected, rtol, atol, options["equal_nan"]):
        return
    abs_diff = abs(actual - expected)
    rel_diff = math.inf if expected == 0 else abs_diff / abs(expected)
    raise _MismatchError(_mismatch_message("Scalars", f"Expected {expected} but got {actual}.", abs_diff, None, atol,
                                      rel_diff, None, rtol))


def _close(actual, expected, rtol, atol, equal_nan) -> bool:
    return bool(np.all(np.isclose(actual, expected, rtol=rtol, atol=atol, equal_nan=equal_nan)))


def _tolerances(options, dts) -> tuple:
    if options["rtol"] is not None:
        return options["rtol"], options["atol"]
    precisions = [_DTYPE_PRECISIONS.get(d, (0.0, 0.0)) for d in dts] or [(0.0, 0.0)]
    return max(p[0] for p in precisions), max(p[1] for p in precisions)


def _compare_tensors(actual, expected, options) -> None:
    actual, expected = (trainer.as_tensor(x) if isinstance(x, np.ndarray) else x for x in (actual, expected))
    checks = [("shape", lambda t: t.shape, True), ("device", lambda t: t.device, options["check_device"]),
              ("dtype", lambda t: t.dtype, options["check_dtype"]),
              ("stride()", lambda t: t.stride(), options["check_stride"])]
    for name, read, wanted in checks:
        if wanted and read(actual) != read(expected):
            raise _MismatchError(f"The values for attribute '{name}' do not match: {read(actual)!r} != "
                                 f"{read(expected)!r}.")
    rtol, atol = _tolerances(options, (actual.dtype, expected.dtype))
    common = dtypes.promote_types(actual.dtype, expected.dtype)
    a = np.asarray(actual.detach().cpu()._data).astype(common.np)
    e = np.asarray(expected.detach().cpu()._data).astype(common.np)
    if not (common.is_floating_point or common.is_complex):
        # integers and bools compare as int64, where differences cannot overflow
        a, e = a.astype(np.int64), e.astype(np.int64)
    matches = np.isclose(a, e, rtol=rtol, atol=atol, equal_nan=options["equal_nan"])
    if matches.all():
        return
    if a.ndim == 0:
        abs_diff = abs(a.item() - e.item())
        rel_diff = math.inf if e.item() == 0 else abs_diff / abs(e.item())
        raise _MismatchError(_mismatch_message("Scalars", f"Expected {e.item()} but got {a.item()}.", abs_diff, None,
                                               atol, rel_diff, None, rtol))
    with np.errstate(divide="ignore", invalid="ignore"):
        abs_diff = np.abs(a - e).ravel()
        abs_diff[matches.ravel()] = 0
        rel_kind = common.to_real().np if common.is_floating_point or common.is_complex else \
            dtypes.get_default_dtype().np
        rel_diff = abs_diff.astype(rel_kind) / np.abs(e.ravel()).astype(rel_kind)
        rel_diff[matches.ravel()] = 0
    mismatched = int(matches.size - matches.sum())
    extra = f"Mismatched elements: {mismatched} / {matches.size} ({mismatched / matches.size:.1%})"
    abs_index, rel_index = (_first_max(d) for d in (abs_diff, rel_diff))
    raise _MismatchError(_mismatch_message(
        "Tensor-likes", extra, abs_diff[abs_index].item(), np.unravel_index(abs_index, a.shape), atol,
        rel_diff[rel_index].item(), np.unravel_index(rel_index, a.shape), rtol))


def _first_max(values) -> int:
    """The flat index of the largest value, NaN counting as the largest (as ``torch.max`` picks it)."""
    nan = np.isnan(values) if dtypes.is_inexact(values.dtype) else np.zeros(values.shape, bool)
    return int(np.argmax(nan)) if nan.any() else int(np.argmax(values))


def _mismatch_message(identifier, extra, abs_diff, abs_index, atol, rel_diff, rel_index, rtol) -> str:
    equality = rtol == 0 and atol == 0

    def line(kind, diff, index, tol):
        text = f"{kind.title()} difference: {diff}" if index is None else \
            f"Greatest {kind} difference: {diff} at index {tuple(int(i) for i in index)}"
        return text + ("" if equality else f" (up to {tol} allowed)")

    return (f"{identifier} are not {'equal' if equality else 'close'}!\n\n{extra}\n"
            f"{line('absolute', abs_diff, abs_index, atol)}\n{line('relative', rel_diff, rel_index, rtol)}")


def make_tensor(*shape, dtype, device, low=None, high=None, requires_grad=False, noncontiguous=False,
                exclude_zero=False):
    """A random tensor: floats uniform in ``[low, high)`` (default ``[-9, 9)``), integers in ``[low, high)``
    (default ``[-9, 10)``, from 0 for uint8), bools fair coin flips. ``exclude_zero`` replaces zeros by the
    smallest positive normal (floats) or 1 (integers); ``noncontiguous`` returns a strided view."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    dtype = dtypes.as_dtype(dtype)
    if low is not None and high is not None and low > high:
        raise ValueError(f"`low` must be less than or equal to `high`, but got {low} > {high}")
    if dtype is dtypes.bool:
        values = trainer.randint(0, 2, shape).to(dtypes.bool)
    elif dtype.is_floating_point or dtype.is_complex:
        info = trainer.finfo(dtype.to_real())
        lo = max(-9.0 if low is None else float(low), info.min)
        hi = min(9.0 if high is None else float(high), info.max)
        # a complex tensor draws its real and imaginary parts alike, as PyTorch's does
        parts = tuple(shape) + ((2,) if dtype.is_complex else ())
        values = (trainer.rand(parts, dtype=dtypes.float64) * (hi - lo) + lo).to(dtype.to_real())
        values = trainer.view_as_complex(values) if dtype.is_complex else values
    else:
        info = trainer.iinfo(dtype)
        lo = max((0 if dtype is dtypes.uint8 else -9) if low is None else math.ceil(low), info.min)
        hi = min(10 if high is None else math.ceil(high), info.max)
        values = trainer.randint(lo, max(hi, lo + 1), shape, dtype=dtype)
    if exclude_zero and dtype is not dtypes.bool:
        replacement = trainer.finfo(dtype.to_real()).tiny if dtype.is_floating_point or dtype.is_complex else 1
        values = values.masked_fill(values == 0, replacement)
    if noncontiguous and values.numel() > 1:
        wide = trainer.empty(*values.shape[:-1], values.shape[-1] * 2, dtype=dtype)
        wide[..., ::2] = values
        values = wide[..., ::2]
    values = values.to(device)
    return values.requires_grad_(requires_grad) if requires_grad else values
