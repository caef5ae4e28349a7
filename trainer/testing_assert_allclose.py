"""``trainer.testing.assert_allclose``: the comparison PyTorch deprecated in 1.12 for ``assert_close`` and still
ships (with a ``FutureWarning``): inputs that are not tensors become tensors (``expected`` in ``actual``'s dtype),
dtypes may differ, NaNs compare equal by default, and the default tolerances are its own, looser ones."""

from __future__ import annotations

import warnings

import trainer
from trainer import dtypes

# (rtol, atol) per dtype when neither is given; every other dtype is compared for equality
_DTYPE_PRECISIONS = {dtypes.float16: (1e-3, 1e-3), dtypes.float32: (1e-4, 1e-5), dtypes.float64: (1e-5, 1e-8)}


def assert_allclose(actual, expected, rtol=None, atol=None, equal_nan=True, msg=""):
    warnings.warn("`torch.testing.assert_allclose()` is deprecated since 1.12 and will be removed in a future "
                  "release. Please use `torch.testing.assert_close()` instead. You can find detailed upgrade "
                  "instructions in https://github.com/pytorch/pytorch/issues/61844.", FutureWarning, stacklevel=2)
    if not isinstance(actual, trainer.Tensor):
        actual = trainer.tensor(actual)
    if not isinstance(expected, trainer.Tensor):
        expected = trainer.tensor(expected, dtype=actual.dtype)
    if rtol is None and atol is None:
        precisions = [_DTYPE_PRECISIONS.get(t.dtype, (0.0, 0.0)) for t in (actual, expected)]
        rtol, atol = max(p[0] for p in precisions), max(p[1] for p in precisions)
    trainer.testing.assert_close(actual, expected, rtol=rtol, atol=atol, equal_nan=equal_nan, check_device=True,
                                 check_dtype=False, check_stride=False, msg=msg or None)
