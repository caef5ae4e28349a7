"""Connectionist temporal classification (CTC) loss: the forward-backward algorithm in log space.

Each target of length ``S`` is extended with blanks to ``2S + 1`` labels (blank, l1, blank, l2, ..., blank).
``alpha[t, s]`` is the log-probability of all alignments of the first ``t + 1`` frames that end on extended label
``s``; ``beta[t, s]`` that of the frames from ``t`` on that start there. Both recursions run over the whole batch
and every extended position at once, with one step per time frame.
"""

from __future__ import annotations

import numpy as np

from trainer import dtypes
from trainer.amp import cast_policy
from trainer.autograd.op import Function
from trainer.backend import to_device, xp_of
from trainer.ops._operands import quiet_fp_errors
from trainer.ops.indexing import _scatter_add
from trainer.tensor import Tensor


def _shifted(xp, a, by: int):
    """``a`` moved ``by`` places along its last axis (right for ``by > 0``), the vacated places at ``-inf``."""
    out = xp.full_like(a, -np.inf)
    if by > 0:
        out[..., by:] = a[..., :-by]
    else:
        out[..., :by] = a[..., -by:]
    return out


class CtcLoss(Function):
    """The negative log-likelihood of each padded target row ``(N, S)`` under ``log_probs`` ``(T, N, C)``, reading
    ``input_lengths[n]`` frames and ``target_lengths[n]`` labels of sample ``n``."""

    @staticmethod
    def forward(ctx, log_probs, targets, input_lengths, target_lengths, *, blank, zero_infinity):
        xp = xp_of(log_probs)
        n_frames, batch, _ = log_probs.shape
        width = 2 * targets.shape[1] + 1
        labels = xp.full((batch, width), blank, dtype=np.int64)
        labels[:, 1::2] = targets
        # the extended label's log-probability at every frame, (T, N, 2S+1)
        emitted = xp.take_along_axis(log_probs, xp.broadcast_to(labels, (n_frames, batch, width)), axis=2)
        position = xp.arange(width)
        # a label may follow the one two places back (skipping a blank) unless both are the same label
        skip = (position % 2 == 1) & (position >= 3) & (labels != xp.roll(labels, 2, axis=1))
        alpha = xp.full((n_frames, batch, width), -np.inf, dtype=log_probs.dtype)
        with quiet_fp_errors(xp):
            alpha[0, :, :2] = emitted[0, :, :2]
            for t in range(1, n_frames):
                prev = alpha[t - 1]
                reach = xp.logaddexp(prev, _shifted(xp, prev, 1))
                reach = xp.logaddexp(reach, xp.where(skip, _shifted(xp, prev, 2), -np.inf))
                alpha[t] = emitted[t] + reach
            rows = xp.arange(batch)
            # each sample's alpha at its last frame, (N, 2S+1)
            last = alpha[xp.maximum(input_lengths - 1, 0), rows]
            end = 2 * target_lengths
            log_likelihood = xp.logaddexp(last[rows, end],
                                          xp.where(end > 0, last[rows, xp.maximum(end - 1, 0)], -np.inf))
            # no frames: only the empty target is possible
            log_likelihood = xp.where(input_lengths == 0, xp.where(end == 0, 0.0, -np.inf), log_likelihood)
        nll = (-log_likelihood).astype(log_probs.dtype)
        ctx.save_for_backward(log_probs)
        ctx.meta = labels, emitted, skip, alpha, nll, input_lengths, target_lengths, zero_infinity
        return xp.where(nll == np.inf, 0, nll).astype(nll.dtype) if zero_infinity else nll

    @staticmethod
    def backward(ctx, g):
        (log_probs,) = ctx.saved_tensors
        labels, emitted, skip, alpha, nll, input_lengths, target_lengths, zero_infinity = ctx.meta
        xp = xp_of(log_probs)
        n_frames = log_probs.shape[0]
        end = 2 * target_lengths[:, None]
        position = xp.arange(labels.shape[1])
        is_end = (position == end) | (position == end - 1)  # where a complete alignment may finish
        skip_from_next = _shifted(xp, skip.astype(log_probs.dtype), -2) > 0
        grad = xp.zeros_like(log_probs)
        beta = xp.full(labels.shape, -np.inf, dtype=log_probs.dtype)
        with quiet_fp_errors(xp):
            for t in range(n_frames - 1, -1, -1):
                reach = xp.logaddexp(beta, _shifted(xp, beta, -1))
                reach = xp.logaddexp(reach, xp.where(skip_from_next, _shifted(xp, beta, -2), -np.inf))
                frame_is_last = (input_lengths - 1 == t)[:, None]
                inside = (t < input_lengths - 1)[:, None]
                beta = xp.where(frame_is_last, xp.where(is_end, emitted[t], -np.inf),
                                xp.where(inside, emitted[t] + reach, -np.inf))
                grad[t] = _frame_gradient(xp, log_probs[t], labels, alpha[t] + beta, nll)
            # zero past each sample's input, and for the infinite losses that zero_infinity zeroed
            grad = xp.where(xp.arange(n_frames)[:, None, None] < input_lengths[None, :, None], grad, 0)
            if zero_infinity:
                grad = xp.where((nll == np.inf)[None, :, None], 0, grad)
        return (grad * g[None, :, None]).astype(log_probs.dtype), None, None, None


def _frame_gradient(xp, log_probs_t, labels, log_alpha_beta, nll):
    """One frame of the gradient: ``exp(lp) - exp(lse_s(alpha + beta) + nll - lp)``, the log-sum-exp taken over
    the extended positions that carry each class (``-inf`` for classes the target does not use)."""
    shift = log_alpha_beta.max(axis=1, keepdims=True)
    shift = xp.where(xp.isfinite(shift), shift, 0)
    summed = xp.zeros(log_probs_t.shape, dtype=log_probs_t.dtype)
    rows = xp.broadcast_to(xp.arange(labels.shape[0])[:, None], labels.shape)
    _scatter_add(xp, summed, (rows, labels), xp.exp(log_alpha_beta - shift))
    log_occupancy = xp.log(summed) + shift
    return xp.exp(log_probs_t) - xp.exp(log_occupancy + nll[:, None] - log_probs_t)


def _lengths(lengths, name: str, batch: int) -> np.ndarray:
    """``input_lengths`` or ``target_lengths`` (a tensor or a sequence of ints) as host int64, one per sample."""
    if isinstance(lengths, Tensor):
        if lengths.dtype.is_floating_point or lengths.dtype is dtypes.bool:
            raise RuntimeError(f"{name} must be integral")
        values = np.asarray(lengths.detach().cpu()._data, dtype=np.int64).reshape(-1)
    elif isinstance(lengths, (list, tuple)):
        values = np.asarray([int(v) for v in lengths], dtype=np.int64)
    else:
        raise TypeError(f"ctc_loss(): {name} must be a tensor or a tuple of ints, got {type(lengths).__name__}")
    if values.size != batch:
        raise RuntimeError(f"{name} must be of size batch_size")
    return values


def _check_range(values, name: str, high: int | None) -> None:
    if values.size and values.min() < 0:
        raise RuntimeError(f"Expected {name} to have value at least 0, but got value {int(values.min())} (while "
                           "checking arguments for ctc_loss)")
    if high is not None and values.size and values.max() > high:
        raise RuntimeError(f"Expected {name} to have value at most {high}, but got value {int(values.max())} "
                           "(while checking arguments for ctc_loss)")


def _padded_targets(targets, target_lengths: np.ndarray, batch: int) -> np.ndarray:
    """Targets as host int64 ``(N, max length)``: a padded ``(N, S)`` tensor read as it is, or the targets of all
    samples one after another (1-D) cut into rows."""
    values = np.asarray(targets.detach().cpu()._data).astype(np.int64)
    longest = int(target_lengths.max()) if target_lengths.size else 0
    if targets.ndim == 2:
        if values.shape[0] != batch:
            raise RuntimeError(f"Expected tensor to have size {batch} at dimension 0, but got size {values.shape[0]} "
                               "for argument #2 'targets' (while checking arguments for ctc_loss)")
        if values.shape[1] < longest:
            raise RuntimeError(f"Expected tensor to have size at least {longest} at dimension 1, but got size "
                               f"{values.shape[1]} for argument #2 'targets' (while checking arguments for ctc_loss)")
        return values[:, :longest]
    total = int(target_lengths.sum())
    if values.shape[0] != total:
        raise RuntimeError(f"Expected tensor to have size {total} at dimension 0, but got size {values.shape[0]} for "
                           "argument #2 'targets' (while checking arguments for ctc_loss)")
    starts = np.cumsum(target_lengths) - target_lengths
    position = starts[:, None] + np.arange(longest)[None, :]
    used = np.arange(longest)[None, :] < target_lengths[:, None]
    return np.where(used, values[np.minimum(position, max(total - 1, 0))] if total else 0, 0)


@cast_policy.fp32
def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank: int = 0, reduction: str = "mean",
             zero_infinity: bool = False):
    """The CTC loss of ``log_probs`` ``(T, N, C)`` (or unbatched ``(T, C)``) against ``targets``: padded ``(N, S)``
    or all targets concatenated (1-D). ``mean`` divides each sample's loss by its target length (at least 1) and
    averages over the batch; ``zero_infinity`` turns the infinite loss of an impossible alignment (and its
    gradient) into zero."""
    from trainer.nn.functional import _check_reduction

    _check_reduction(reduction)
    if log_probs.ndim not in (2, 3):
        raise RuntimeError(f"ctc_loss: expected log_probs of shape (T, N, C) or unbatched (T, C), got a "
                           f"{log_probs.ndim}-D tensor of shape {list(log_probs.shape)}")
    if not log_probs.dtype.is_floating_point:
        raise RuntimeError(f"ctc_loss: expected floating-point log_probs, got {log_probs.dtype.name}")
    if log_probs.numel() == 0:
        raise RuntimeError("log_probs tensor must not be empty")
    unbatched = log_probs.ndim == 2
    if unbatched:
        log_probs = log_probs.unsqueeze(1)
        targets = targets.unsqueeze(0) if targets.ndim == 1 else targets
    n_frames, batch, n_classes = log_probs.shape
    if not 0 <= blank < n_classes:
        raise RuntimeError("blank must be in label range")
    inputs = _lengths(input_lengths, "input_lengths", batch)
    labels = _lengths(target_lengths, "target_lengths", batch)
    _check_range(inputs, "input_lengths", n_frames)
    _check_range(labels, "target_lengths", None)
    padded = _padded_targets(targets, labels, batch)
    used = np.arange(padded.shape[1])[None, :] < labels[:, None]
    bad = used & ((padded < 0) | (padded >= n_classes))
    if bad.any():
        raise RuntimeError(f"ctc_loss: targets must be class indices in [0, {n_classes}), got {int(padded[bad][0])}")
    padded = np.where(used, padded, blank)  # what lies past a target's length is never read

    def on_device(array):
        return Tensor._wrap(to_device(array, log_probs.device))

    losses = CtcLoss.apply(log_probs, on_device(padded), on_device(inputs), on_device(labels), blank=blank,
                           zero_infinity=zero_infinity)
    if reduction == "mean":
        return (losses / on_device(np.maximum(labels, 1)).to(losses.dtype)).mean()
    if reduction == "sum":
        return losses.sum()
    return losses.squeeze(0) if unbatched else losses
