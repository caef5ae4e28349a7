"""Chunked linear + cross-entropy: ``cross_entropy(x @ W.T + b, target)`` without ever holding the ``(N, C)`` logits.

The rows of ``x`` are taken ``batch_chunk_size`` at a time. Each chunk's logits are shifted by their row maximum,
exponentiated in place and summed (a stable logsumexp), which gives each row's loss ``logsumexp - logit[target]``.
When gradients are wanted the same buffer becomes ``dlogits = coef * (softmax - onehot(target))`` (``coef``: the
row's class weight, zero where ignored, over the mean's divisor), from which the chunk's rows of ``d x``
(``dlogits @ W``) and its share of ``d W`` (``dlogits.T @ x``) and ``d b`` are taken before the next chunk reuses
the memory. Peak memory is one chunk of logits plus arrays the size of the inputs: O(chunk * C + N * D + C * D).

As in PyTorch, ``"mean"`` / ``"sum"`` compute the gradients in the forward pass itself (backward only scales them
by the upstream scalar), while ``"none"`` saves its inputs and recomputes in backward, with the per-row upstream
gradient folded into each row's coefficient. float16 / bfloat16 inputs are computed in ``acc_dtype`` (float32)
chunk by chunk, the results cast back to the input's dtype.
"""

from __future__ import annotations

from trainer.autograd.op import Function
from trainer.backend import xp_of
from trainer.ops._operands import quiet_fp_errors


def _row_coefficients(xp, target, ignore_index: int, class_weight, acc):
    """Each row's target with ignored rows pointed at class 0 (a safe index), and its class weight, 0 if ignored."""
    kept = target != ignore_index
    safe_target = xp.where(kept, target, 0)
    if class_weight is None:
        return safe_target, kept.astype(acc)
    return safe_target, xp.where(kept, class_weight.astype(acc)[safe_target], 0).astype(acc)


def _check_targets(xp, target, ignore_index: int, num_classes: int) -> None:
    bad = (target != ignore_index) & ((target < 0) | (target >= num_classes))
    if bool(bad.any()):
        raise RuntimeError(f"linear_cross_entropy: target {int(target[bad][0])} is out of bounds: expected class "
                           f"indices in [0, {num_classes - 1}] or ignore_index={ignore_index}")


def _chunked_pass(x, w, b, target, coef, chunk: int, acc, wanted):
    """Each row's ``logsumexp(logits) - logits[target]`` (in ``acc``) and, for ``wanted = (x, W, b)``, the gradients
    of ``sum_n coef[n] * loss[n]`` (in ``acc``; None where not wanted), walking the rows ``chunk`` at a time."""
    xp = xp_of(x)
    want_x, want_w, want_b = wanted
    n = x.shape[0]
    w_acc = w.astype(acc, copy=False)
    b_acc = None if b is None else b.astype(acc, copy=False)
    row_loss = xp.empty(n, acc)
    grad_x = xp.empty(x.shape, acc) if want_x else None
    grad_w = xp.zeros(w.shape, acc) if want_w else None
    grad_b = xp.zeros(w.shape[0], acc) if want_b else None
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        x_chunk = x[start:stop].astype(acc, copy=False)
        t = target[start:stop]
        rows = xp.arange(stop - start)
        logits = x_chunk @ w_acc.T
        if b_acc is not None:
            logits += b_acc
        logits -= logits.max(axis=1, keepdims=True)
        target_logit = logits[rows, t]
        xp.exp(logits, out=logits)
        denominator = logits.sum(axis=1)
        row_loss[start:stop] = xp.log(denominator) - target_logit
        if want_x or want_w or want_b:
            c = coef[start:stop]
            logits *= (c / denominator)[:, None]  # coef * softmax
            logits[rows, t] -= c  # coef * (softmax - onehot)
            if want_b:
                grad_b += logits.sum(axis=0)
            if want_x:
                grad_x[start:stop] = logits @ w_acc
            if want_w:
                grad_w += logits.T @ x_chunk
    return row_loss, grad_x, grad_w, grad_b


def _cast(array, like):
    return None if array is None else array.astype(like.dtype, copy=False)


def _optional_inputs(optional, has_bias: bool):
    """The bias and the class weight among the optional inputs, None where absent."""
    return (optional[0] if has_bias else None), (optional[-1] if len(optional) > has_bias else None)


class LinearCrossEntropy(Function):
    """Inputs ``(x (N, D), W (C, D), target (N,) int64[, b (C,)][, class weight (C,)])``; ``has_bias`` says
    whether ``b`` is there. Returns the loss: a scalar for ``"mean"`` / ``"sum"``, ``(N,)`` for ``"none"``."""

    @staticmethod
    def forward(ctx, x, w, target, *optional, has_bias, reduction, ignore_index, batch_chunk_size, acc_dtype,
                allow_retain_graph):
        xp = xp_of(x)
        b, class_weight = _optional_inputs(optional, has_bias)
        _check_targets(xp, target, ignore_index, w.shape[0])
        safe_target, coef = _row_coefficients(xp, target, ignore_index, class_weight, acc_dtype)
        ctx.meta = has_bias, ignore_index, batch_chunk_size, acc_dtype
        if reduction == "none":
            row_loss = _chunked_pass(x, w, b, safe_target, coef, batch_chunk_size, acc_dtype, (False,) * 3)[0]
            ctx.save_for_backward(x, w, target, *optional)
            return (coef * row_loss).astype(x.dtype)

        needs = getattr(ctx, "needs_input_grad", None)  # set only while autograd records this op
        wanted = (needs[0], needs[1], has_bias and needs[3]) if needs else (False,) * 3
        with quiet_fp_errors(xp):  # every row ignored (or none at all) divides 0 by 0: nan, as in PyTorch
            divisor = coef.sum() if reduction == "mean" else acc_dtype.type(1)
            row_loss, grad_x, grad_w, grad_b = _chunked_pass(x, w, b, safe_target, coef / divisor, batch_chunk_size,
                                                             acc_dtype, wanted)
            loss = (coef * row_loss).sum() / divisor
        ctx.grads = [_cast(grad_x, x), _cast(grad_w, w), _cast(grad_b, b)]
        ctx.allow_retain_graph = allow_retain_graph
        return xp.asarray(loss).astype(x.dtype)

    @staticmethod
    def backward(ctx, g):
        if "saved_tensors" in ctx.__dict__:
            return LinearCrossEntropy._backward_per_row(ctx, g)
        grads = ctx.grads
        if grads is None:
            raise RuntimeError("linear_cross_entropy chunked backward called twice; retain_graph=True / double "
                               "backward are not supported. Pass LinearCrossEntropyOptions(allow_retain_graph=True) "
                               "to run backward more than once.")
        if ctx.allow_retain_graph:
            scaled = [None if grad is None else grad * g.astype(grad.dtype) for grad in grads]
        else:
            ctx.grads = None  # handed out once: scaled in place, nothing kept
            scaled = [None if grad is None else _scale_in_place(grad, g) for grad in grads]
        return LinearCrossEntropy._per_input(ctx, *scaled)

    @staticmethod
    def _backward_per_row(ctx, g):
        """``"none"``: the chunked pass again, each row's coefficient times its upstream gradient."""
        x, w, target, *optional = ctx.saved_tensors
        has_bias, ignore_index, batch_chunk_size, acc_dtype = ctx.meta
        b, class_weight = _optional_inputs(optional, has_bias)
        needs = ctx.needs_input_grad
        safe_target, coef = _row_coefficients(xp_of(x), target, ignore_index, class_weight, acc_dtype)
        wanted = (needs[0], needs[1], has_bias and needs[3])
        _, grad_x, grad_w, grad_b = _chunked_pass(x, w, b, safe_target, coef * g.astype(acc_dtype),
                                                  batch_chunk_size, acc_dtype, wanted)
        return LinearCrossEntropy._per_input(ctx, _cast(grad_x, x), _cast(grad_w, w), _cast(grad_b, b))

    @staticmethod
    def _per_input(ctx, grad_x, grad_w, grad_b):
        """One gradient per input: the target and the class weight get none."""
        grads = (grad_x, grad_w, None) + ((grad_b,) if ctx.meta[0] else ())
        return grads + (None,) * (len(ctx.needs_input_grad) - len(grads))


def _scale_in_place(grad, g):
    grad *= g.astype(grad.dtype)
    return grad
