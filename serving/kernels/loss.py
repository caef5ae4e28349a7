"""Classification losses: negative log-likelihood and softmax cross-entropy."""

from __future__ import annotations

from serving.kernels.registry import kernel

_REDUCTIONS = ("none", "sum", "mean")


def _nll(xp, log_prob, target, weight, ignore_index, reduction):
    """-log_prob[n, target[n, ...], ...], weighted per class; ignored targets weigh (and cost) nothing."""
    if reduction not in _REDUCTIONS:
        raise ValueError(f"loss reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    if log_prob.ndim < 2 or target.shape != log_prob.shape[:1] + log_prob.shape[2:]:
        raise ValueError(
            f"loss input must be [N, C, d1, ...] and target [N, d1, ...], got {log_prob.shape} and {target.shape}"
        )
    target = target.astype(xp.int64, copy=False)
    kept = target != ignore_index if ignore_index is not None else xp.ones(target.shape, dtype=bool)
    # Ignored targets may be out of [0, C) (e.g. -100): gather at class 0 instead and mask the result.
    safe = xp.where(kept, target, 0)
    picked = xp.take_along_axis(log_prob, safe[:, None], axis=1)[:, 0]
    weights = kept.astype(log_prob.dtype) if weight is None else xp.where(kept, weight[safe], 0).astype(log_prob.dtype)
    loss = -picked * weights
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum(dtype=log_prob.dtype)
    return (loss.sum(dtype=log_prob.dtype) / weights.sum(dtype=log_prob.dtype)).astype(log_prob.dtype)


@kernel("NegativeLogLikelihoodLoss", since=12)
def NegativeLogLikelihoodLoss(ctx, input, target, weight=None, *, ignore_index=None, reduction="mean"):  # noqa: A002
    return _nll(ctx.xp, input, target, weight, ignore_index, reduction)


@kernel("SoftmaxCrossEntropyLoss", since=12)
def SoftmaxCrossEntropyLoss(ctx, scores, labels, weights=None, *, ignore_index=None, reduction="mean"):
    xp = ctx.xp
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_prob = shifted - xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))
    loss = _nll(xp, log_prob, labels, weights, ignore_index, reduction)
    return (loss, log_prob) if ctx.n_outputs > 1 else loss
