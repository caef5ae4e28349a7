"""Fused loss ops with hand-written gradients: cross_entropy (log-softmax + NLL), nll_loss, BCE, Huber / smooth L1,
KL divergence.

Both class-index losses are written as ``-sum(q * log p)`` with a per-element coefficient ``q``
(one-hot target times class weight, plus label smoothing), whose gradient with respect to the
logits is ``softmax * sum(q) - q``: one formula covers weights, ``ignore_index``, smoothing and
probability targets.
"""

from __future__ import annotations

from trainer.autograd.higher_order import graph_tensors
from trainer.autograd.op import Function
from trainer.backend import xp_of
from trainer.ops._operands import quiet_fp_errors, unbroadcast
from trainer.ops.activation import log_softmax_array, sigmoid_array, softplus, softplus_array
from trainer.ops.bfloat16_opmath import bfloat16_opmath
from trainer.ops.compare import where
from trainer.tensor import Tensor

REDUCTIONS = ("none", "mean", "sum")


def _class_coefficients(xp, target, n_classes, cls_axis, weight, ignore_index, smoothing, dtype):
    """``q`` for class-index targets (class axis at ``cls_axis``) and the weight sum that ``mean`` divides by."""
    valid = target != ignore_index
    bad = valid & ((target < 0) | (target >= n_classes))
    if bool(bad.any()):
        raise IndexError(f"Target {int(target[bad].reshape(-1)[0])} is out of bounds: expected class indices in "
                         f"[0, {n_classes - 1}] or ignore_index={ignore_index}")
    safe = xp.where(valid, target, 0)
    class_weight = xp.ones(n_classes, dtype) if weight is None else weight
    picked = class_weight[safe] * valid
    onehot = (safe[..., None] == xp.arange(n_classes)).astype(dtype)
    q = onehot * ((1 - smoothing) * picked)[..., None]
    if smoothing:
        q += (smoothing / n_classes) * class_weight * valid[..., None].astype(dtype)
    return xp.moveaxis(q, -1, cls_axis), picked.sum()


def _reduce(per_element, reduction, denominator):
    if reduction == "none":
        return per_element
    total = per_element.sum()
    if reduction == "sum":
        return total
    with quiet_fp_errors(xp_of(per_element)):  # every target ignored: nan, as in PyTorch
        return total / denominator


def _scale_elementwise(g, reduction, count):
    """The upstream gradient of an elementwise loss as its reduction scales it: divided by ``count`` for mean."""
    return g / count if reduction == "mean" else g


def _scale_grad(xp, grad, g, reduction, denominator, cls_axis):
    if reduction == "none":
        return grad * xp.expand_dims(g, cls_axis)
    if reduction == "sum":
        return grad * g
    # every target ignored: PyTorch's gradient is zero, not nan
    return grad * (g / denominator) if denominator else xp.zeros_like(grad)


def _scale_grad_graph(grad, g, reduction, denominator, cls_axis):
    """``_scale_grad`` for a tensor upstream gradient ``g`` (``create_graph``)."""
    if reduction == "none":
        return grad * g.unsqueeze(cls_axis)
    if reduction == "sum":
        return grad * g
    return grad * (g / denominator) if denominator else grad * 0


@bfloat16_opmath
class CrossEntropy(Function):
    @staticmethod
    def forward(ctx, x, target, weight=None, *, ignore_index=-100, label_smoothing=0.0, reduction="mean"):
        xp = xp_of(x)
        cls_axis = 1 if x.ndim > 1 else 0
        n_classes = x.shape[cls_axis]
        logp = log_softmax_array(x, cls_axis)
        if target.dtype.kind == "f":  # class probabilities, same shape as the input
            q = target * (1 - label_smoothing) + label_smoothing / n_classes if label_smoothing else target
            if weight is not None:
                q = q * weight.reshape((-1,) + (1,) * (x.ndim - cls_axis - 1))
            denominator = x.size // n_classes
        else:
            q, denominator = _class_coefficients(xp, target, n_classes, cls_axis, weight, ignore_index,
                                                 label_smoothing, x.dtype)
        ctx.save_for_backward(logp, x)  # x: what a create_graph backward differentiates the softmax by
        ctx.meta = q, reduction, denominator, cls_axis
        return _reduce(-(q * logp).sum(axis=cls_axis), reduction, denominator)

    @staticmethod
    def backward(ctx, g):
        logp, _ = ctx.saved_tensors
        q, reduction, denominator, cls_axis = ctx.meta
        xp = xp_of(logp)
        grad = xp.exp(logp) * q.sum(axis=cls_axis, keepdims=True) - q
        return _scale_grad(xp, grad, g, reduction, denominator, cls_axis), None, None

    @staticmethod
    def backward_graph(ctx, g):
        _, x = graph_tensors(ctx)
        q, reduction, denominator, cls_axis = ctx.meta
        grad = x.softmax(cls_axis) * Tensor._wrap(q.sum(axis=cls_axis, keepdims=True)) - Tensor._wrap(q)
        return _scale_grad_graph(grad, g, reduction, denominator, cls_axis), None, None


@bfloat16_opmath
class NllLoss(Function):
    @staticmethod
    def forward(ctx, logp, target, weight=None, *, ignore_index=-100, reduction="mean"):
        xp = xp_of(logp)
        cls_axis = 1 if logp.ndim > 1 else 0
        q, denominator = _class_coefficients(xp, target, logp.shape[cls_axis], cls_axis, weight, ignore_index,
                                             0.0, logp.dtype)
        ctx.meta = q, reduction, denominator, cls_axis
        return _reduce(-(q * logp).sum(axis=cls_axis), reduction, denominator)

    @staticmethod
    def backward(ctx, g):
        q, reduction, denominator, cls_axis = ctx.meta
        return _scale_grad(xp_of(q), -q, g, reduction, denominator, cls_axis), None, None

    @staticmethod
    def backward_graph(ctx, g):
        q, reduction, denominator, cls_axis = ctx.meta
        return _scale_grad_graph(Tensor._wrap(-q), g, reduction, denominator, cls_axis), None, None


_BCE_EPSILON = 1e-12


@bfloat16_opmath
class BinaryCrossEntropy(Function):
    @staticmethod
    def forward(ctx, x, target, weight=None, *, reduction="mean"):
        xp = xp_of(x)
        if bool(((x < 0) | (x > 1)).any()):
            raise RuntimeError("all elements of input should be between 0 and 1")
        with quiet_fp_errors(xp):
            # PyTorch clamps each log at -100 so that a confident wrong answer costs 100, not inf
            log_x = xp.maximum(xp.log(x), -100)
            log_1mx = xp.maximum(xp.log(1 - x), -100)
        loss = -(target * log_x + (1 - target) * log_1mx)
        if weight is not None:
            loss = loss * weight
        ctx.save_for_backward(x, target)
        ctx.meta = weight, reduction, x.size
        return _reduce(loss, reduction, x.size)

    @staticmethod
    def backward(ctx, g):
        x, target = ctx.saved_tensors
        weight, reduction, n = ctx.meta
        xp = xp_of(x)
        g = _scale_elementwise(g, reduction, n) * (1 if weight is None else weight)
        grad = (x - target) / xp.maximum((1 - x) * x, _BCE_EPSILON) * g
        with quiet_fp_errors(xp):
            g_target = (xp.log1p(-x) - xp.log(x)) * g  # -logit(x), unclamped as in PyTorch
        return grad, g_target.astype(x.dtype, copy=False), None

    @staticmethod
    def backward_graph(ctx, g):
        x, target = graph_tensors(ctx)
        weight, reduction, n = ctx.meta
        g = _scale_elementwise(g, reduction, n) * (1 if weight is None else Tensor._wrap(weight))
        return (x - target) / ((1 - x) * x).clamp(min=_BCE_EPSILON) * g, -x.logit() * g, None


@bfloat16_opmath
class BinaryCrossEntropyWithLogits(Function):
    """``weight`` and ``pos_weight`` are constants: PyTorch refuses them when they require grad, and so does
    ``F.binary_cross_entropy_with_logits``."""

    @staticmethod
    def forward(ctx, x, target, weight=None, pos_weight=None, *, reduction="mean"):
        xp = xp_of(x)
        softplus_neg = softplus_array(xp, -x)  # log(1 + exp(-x))
        scale = 1 if pos_weight is None else 1 + (pos_weight - 1) * target
        loss = (1 - target) * x + scale * softplus_neg
        if weight is not None:
            loss = loss * weight
        ctx.save_for_backward(x, target)
        ctx.meta = weight, pos_weight, reduction, x.size
        return _reduce(loss, reduction, x.size)

    @staticmethod
    def backward(ctx, g):
        x, target = ctx.saved_tensors
        weight, pos_weight, reduction, n = ctx.meta
        xp = xp_of(x)
        g_x, g_target = _bce_with_logits_grads(x, target, weight, pos_weight, _scale_elementwise(g, reduction, n),
                                               sigmoid_array(xp, x), softplus_array(xp, -x))
        return (g_x.astype(x.dtype, copy=False), g_target.astype(x.dtype, copy=False)) + (None,) * (
            len(ctx.needs_input_grad) - 2)

    @staticmethod
    def backward_graph(ctx, g):
        x, target = graph_tensors(ctx)
        weight, pos_weight, reduction, n = ctx.meta
        weight, pos_weight = (None if a is None else Tensor._wrap(a) for a in (weight, pos_weight))
        return _bce_with_logits_grads(x, target, weight, pos_weight, _scale_elementwise(g, reduction, n),
                                      x.sigmoid(), softplus(-x)) + (None,) * (len(ctx.needs_input_grad) - 2)


def _bce_with_logits_grads(x, target, weight, pos_weight, g, sigmoid, softplus_neg):
    """The gradients of ``x`` and ``target``, written with operators only so that the array backward and the
    recorded one share them (both have the shape of ``x``, which ``target`` has and ``weight`` broadcasts to)."""
    w = 1 if weight is None else weight
    scale = 1 if pos_weight is None else 1 + (pos_weight - 1) * target
    d_target = -x if pos_weight is None else (pos_weight - 1) * softplus_neg - x
    return ((1 - target) - scale * (1 - sigmoid)) * w * g, d_target * w * g


@bfloat16_opmath
class HuberLoss(Function):
    """``0.5 * d**2`` where ``|d| < delta``, else ``delta * (|d| - 0.5 * delta)``, times ``scale``
    (``1 / beta`` turns it into smooth L1), for ``d = input - target`` (broadcast)."""

    @staticmethod
    def forward(ctx, x, target, *, delta, scale=1.0, reduction="mean"):
        xp = xp_of(x)
        d = x - target
        size = xp.abs(d)
        loss = scale * xp.where(size < delta, 0.5 * d * d, delta * (size - 0.5 * delta))
        ctx.save_for_backward(d, x, target)  # x and target: what a create_graph backward differentiates d by
        ctx.meta = delta, scale, reduction, x.shape, target.shape
        return _reduce(loss.astype(x.dtype, copy=False), reduction, d.size)

    @staticmethod
    def backward(ctx, g):
        d, _, _ = ctx.saved_tensors
        delta, scale, reduction, x_shape, target_shape = ctx.meta
        xp = xp_of(d)
        grad = scale * xp.clip(d, -delta, delta) * _scale_elementwise(g, reduction, d.size)
        return unbroadcast(grad, x_shape), unbroadcast(-grad, target_shape)

    @staticmethod
    def backward_graph(ctx, g):
        _, x, target = graph_tensors(ctx)
        delta, scale, reduction, x_shape, target_shape = ctx.meta
        d = x - target
        grad = scale * d.clamp(-delta, delta) * _scale_elementwise(g, reduction, d.numel())
        return grad.sum_to_size(x_shape), (-grad).sum_to_size(target_shape)


@bfloat16_opmath
class KLDivLoss(Function):
    """``target * (log(target) - input)`` (``input`` holds log-probabilities; ``target`` too if ``log_target``),
    zero where a probability target is 0 and NaN where one is negative, as PyTorch's ``xlogy`` form;
    ``batchmean`` divides the sum by the batch size."""

    @staticmethod
    def forward(ctx, x, target, *, log_target=False, reduction="mean"):
        xp = xp_of(x)
        if log_target:
            loss = xp.exp(target) * (target - x)
        else:
            with quiet_fp_errors(xp):
                loss = xp.where(target == 0, 0, target * xp.log(target)) - target * x
        loss = loss.astype(x.dtype, copy=False)
        count = (x.shape[0] if x.ndim else 1) if reduction == "batchmean" else loss.size
        ctx.save_for_backward(x, target)
        ctx.meta = log_target, reduction, count, loss.shape
        return _reduce(loss, reduction, count)  # batchmean: the sum over the batch size

    @staticmethod
    def backward(ctx, g):
        x, target = ctx.saved_tensors
        log_target, reduction, count, shape = ctx.meta
        xp = xp_of(x)
        g = xp.broadcast_to(g / count if reduction in ("mean", "batchmean") else g, shape)
        if log_target:
            p = xp.exp(target)
            g_x, g_target = -g * p, g * p * (target - x + 1)
        else:
            g_x = -g * target
            # the gradient of PyTorch's xlogy(target, target) - target * x, NaNs included: xlogy(g, target) from
            # the first argument (0 where g is), g * target / target from the second (NaN at 0)
            with quiet_fp_errors(xp):
                g_target = xp.where(g == 0, 0, g * xp.log(target)) + g * target / target - g * x
        return unbroadcast(g_x, x.shape), unbroadcast(g_target, target.shape)

    @staticmethod
    def backward_graph(ctx, g):
        # the derivative of PyTorch's composition (exp(t) * (t - x), or xlogy(t, t) - t * x), on the graph
        x, target = graph_tensors(ctx)
        log_target, reduction, count, shape = ctx.meta
        g = (g / count if reduction in ("mean", "batchmean") else g).expand(*shape)
        if log_target:
            p = target.exp()
            g_x, g_target = -g * p, g * p * (target - x + 1)
        else:
            zero = Tensor._wrap(ctx.saved_tensors[1] == 0)
            log = where(zero, 0.0, where(zero, 1.0, target).log())
            g_x, g_target = -g * target, g * log + g * target / target - g * x
        return g_x.sum_to_size(x.shape), g_target.sum_to_size(target.shape)
