"""``trainer.nn._reduction``: losses' ``reduction`` names and PyTorch's deprecated ``size_average``/``reduce``.

Older programs pass ``size_average`` and ``reduce`` instead of ``reduction``; PyTorch still accepts them on every
loss that had them, maps them with ``legacy_get_string`` (warning that they are deprecated) and lets them win over
``reduction``. This module holds that mapping once, with ``torch.nn._reduction``'s names.
"""

from __future__ import annotations

import warnings


def get_enum(reduction: str) -> int:
    """The reduction's number in ATen's ``Reduction`` enum: ``none`` 0, ``mean`` 1, ``sum`` 2."""
    if reduction == "none":
        return 0
    if reduction == "mean":
        return 1
    if reduction == "elementwise_mean":
        warnings.warn("reduction='elementwise_mean' is deprecated. Please use reduction='mean' instead.",
                      stacklevel=2)
        return 1
    if reduction == "sum":
        return 2
    raise ValueError(f"{reduction} is not a valid value for reduction")


def legacy_get_string(size_average: bool | None, reduce: bool | None, emit_warning: bool = True) -> str:
    """The ``reduction`` that ``size_average`` and ``reduce`` name (either left as ``None`` counts as True):
    ``reduce=False`` is ``'none'``, else ``size_average=False`` is ``'sum'``, else ``'mean'``."""
    if size_average is None:
        size_average = True
    if reduce is None:
        reduce = True
    if size_average and reduce:
        reduction = "mean"
    elif reduce:
        reduction = "sum"
    else:
        reduction = "none"
    if emit_warning:
        warnings.warn(f"size_average and reduce args will be deprecated, please use reduction='{reduction}' "
                      f"instead.", stacklevel=2)
    return reduction


def legacy_get_enum(size_average: bool | None, reduce: bool | None, emit_warning: bool = True) -> int:
    return get_enum(legacy_get_string(size_average, reduce, emit_warning))


def resolve_reduction(size_average: bool | None, reduce: bool | None, reduction: str) -> str:
    """``reduction``, unless ``size_average`` or ``reduce`` is given: then the one they name, as PyTorch's losses
    decide (with its deprecation warning)."""
    if size_average is None and reduce is None:
        return reduction
    return legacy_get_string(size_average, reduce)
