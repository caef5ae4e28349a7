"""Multi-class and multi-label hinge losses and the triplet loss with any distance, composed from differentiable
ops (so they export wherever those do)."""

from __future__ import annotations

from trainer import dtypes
from trainer.amp import cast_policy
from trainer.creation import arange


def _class_target(input, target, name: str):
    """``input`` as ``(N, C)`` and its class-index ``target`` as ``(N,)``, with PyTorch's checks."""
    if not ((input.ndim == 1 and input.shape[0]) or (input.ndim == 2 and input.shape[1])):
        raise RuntimeError(f"Expected non-empty vector or matrix with optional 0-dim batch size, but got: "
                           f"{list(input.shape)}")
    if target.dtype is not dtypes.int64:
        raise RuntimeError(f"{name}: expected scalar type Long (int64 class indices) for the target but found "
                           f"{target.dtype.name}")
    return (input if input.ndim == 2 else input.unsqueeze(0)), target


@cast_policy.fp32
def multi_margin_loss(input, target, p: int = 1, margin: float = 1.0, weight=None, size_average=None, reduce=None,
                      reduction: str = "mean"):
    """``sum_{j != y} w[y] * max(0, margin - x[y] + x[j])^p / C`` per sample of ``input`` ``(N, C)`` or ``(C,)``,
    ``y`` its class index in ``target``."""
    from trainer.nn._reduction import resolve_reduction
    from trainer.nn.functional import _check_reduction, _reduce

    reduction = resolve_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    if weight is not None and weight.ndim != 1:
        raise ValueError("weight must be one-dimensional")
    x, target = _class_target(input, target, "multi_margin_loss")
    batch, n_classes = x.shape
    if target.numel() != batch or (input.ndim == 2 and target.ndim != 1):
        raise RuntimeError(f"multi_margin_loss: target tensor should be 1-D with size equal to the number of input "
                           f"samples (batch size). Expected target size [{batch}], but got {list(target.shape)}. "
                           f"Input has shape {list(input.shape)}.")
    if weight is not None and weight.numel() != n_classes:
        raise RuntimeError(f"inconsistent weight size, expected {n_classes} but got {list(weight.shape)}")
    target_shape, target = target.shape, target.reshape(batch)
    if target.numel() and bool(((target < 0) | (target >= n_classes)).any()):
        raise RuntimeError("target out of range")
    column = target.unsqueeze(1)
    hinge = (x - x.gather(1, column) + margin).clamp(min=0)
    if p == 2:
        hinge = hinge * hinge
    if weight is not None:
        hinge = hinge * weight.to(x.dtype).index_select(0, target).unsqueeze(1)
    hinge = hinge.masked_fill(arange(n_classes, device=x.device) == column, 0.0)  # the target class is no margin
    loss = hinge.sum(1) / n_classes
    return _reduce(loss if input.ndim == 2 else loss.reshape(target_shape), reduction)


@cast_policy.fp32
def multilabel_margin_loss(input, target, size_average=None, reduce=None, reduction: str = "mean"):
    """``sum_{j in targets} sum_{i not in targets} max(0, 1 - (x[j] - x[i])) / C`` per sample; each row of
    ``target`` lists class indices, ended by the first ``-1``."""
    from trainer.nn._reduction import resolve_reduction
    from trainer.nn.functional import _check_reduction, _reduce

    reduction = resolve_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    x, _ = _class_target(input, target, "multilabel_margin_loss")
    if tuple(target.shape) != tuple(input.shape):
        raise RuntimeError(f"inconsistent target size: {list(target.shape)} for input of size: {list(input.shape)}")
    n_classes = x.shape[1]
    labels = target.reshape(x.shape)
    listed = (labels == -1).long().cumsum(1) == 0  # the entries before the first -1
    if bool(((labels < -1) | (labels >= n_classes)).any()):  # every entry, listed or not, as in PyTorch
        raise RuntimeError("argument #2 'target' is out of range")
    # times[n, c]: how often class c is listed (a class listed twice counts twice, as in PyTorch)
    times = ((labels.unsqueeze(2) == arange(n_classes, device=x.device)) & listed.unsqueeze(2)).to(x.dtype).sum(1)
    is_target = times > 0
    # hinge[n, j, i] = max(0, 1 - x[n, j] + x[n, i]) for target j and non-target i
    hinge = (1 - x.unsqueeze(2) + x.unsqueeze(1)).clamp(min=0)
    pairs = times.unsqueeze(2) * (~is_target).to(x.dtype).unsqueeze(1)
    loss = (hinge * pairs).sum((1, 2)) / n_classes
    return _reduce(loss if input.ndim == 2 else loss.squeeze(0), reduction)


def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None, margin: float = 1.0,
                                      swap: bool = False, reduction: str = "mean"):
    """``max(0, d(anchor, positive) - d(anchor, negative) + margin)`` for any distance ``d`` (pairwise Euclidean by
    default); ``swap`` uses ``d(positive, negative)`` instead where it is smaller."""
    from trainer.nn.functional import _reduce, pairwise_distance
    from trainer.ops.compare import minimum

    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    if not anchor.ndim == positive.ndim == negative.ndim:
        raise RuntimeError(f"The anchor, positive, and negative tensors are expected to have the same number of "
                           f"dimensions, but got: anchor {anchor.ndim}D, positive {positive.ndim}D, and negative "
                           f"{negative.ndim}D inputs")
    distance = pairwise_distance if distance_function is None else distance_function
    dist_pos = distance(anchor, positive)
    dist_neg = distance(anchor, negative)
    if swap:
        dist_neg = minimum(dist_neg, distance(positive, negative))
    return _reduce((margin + dist_pos - dist_neg).clamp(min=0), reduction)
