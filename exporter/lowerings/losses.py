"""Losses, for models that return their loss: cross_entropy as SoftmaxCrossEntropyLoss and nll_loss as
NegativeLogLikelihoodLoss over class indices; cross_entropy with class probabilities or label smoothing, the binary
cross entropies, Huber / smooth L1 and KL divergence as the elementwise formulas trainer's forward computes, then
the reduction.
"""

import numpy as np
from onnx import TensorProto

from exporter.emitter import onnx_dtype
from exporter.lowerings import lowering
from trainer import dtypes


def _reduced(g, loss, reduction):
    """``none``: the loss as it is; ``sum``/``mean``: over every element, to a 0-d value."""
    if reduction == "none":
        return loss
    return g.reduce("ReduceSum" if reduction == "sum" else "ReduceMean", loss, None, False, since=13)


def _class_index_target(g, target):
    """Class indices as the int64 ONNX's loss operators and Gather take."""
    return target if g.dtype(target) == np.int64 else g.op("Cast", target, to=TensorProto.INT64)


def _along_classes(g, x, cls_axis, vector):
    """A per-class vector shaped to broadcast along ``x``'s class axis."""
    return g.op("Reshape", vector, g.ints([-1] + [1] * (g.rank(x) - cls_axis - 1)))


def _class_index_loss(g, op_type, x, target, weight, ignore_index, reduction):
    """SoftmaxCrossEntropyLoss / NegativeLogLikelihoodLoss, which want a batch dim: a 1-D input is one sample."""
    target = _class_index_target(g, target)
    single = g.rank(x) == 1
    if single:
        x, target = g.op("Unsqueeze", x, g.ints([0])), g.op("Unsqueeze", target, g.ints([0]))
    loss = g.op(op_type, x, target, *([weight] if weight else []), ignore_index=ignore_index,
                reduction=reduction)
    return g.op("Squeeze", loss, g.ints([0])) if single and reduction == "none" else loss


def _smoothed_class_index_loss(g, logp, target, weight, cls_axis, ignore_index, smoothing, reduction):
    """Trainer's ``-sum(q * log p)`` with ``q`` the weighted one-hot target blended with the uniform one; ``mean``
    divides by the summed weights of the targets that are not ignored."""
    target = _class_index_target(g, target)
    dtype = onnx_dtype(g.dtype(logp))
    n_classes = g.dims(logp, [cls_axis])
    valid = g.op("Not", g.op("Equal", target, g.const(np.int64(ignore_index))))
    valid_f = g.op("Cast", valid, to=dtype)
    safe = g.op("Where", valid, target, g.const(np.int64(0)))
    picked = g.op("Mul", g.op("Gather", weight, safe, axis=0), valid_f) if weight else valid_f
    classes = g.op("Range", g.const(np.int64(0)), g.op("Squeeze", n_classes, g.ints([0])), g.const(np.int64(1)))
    onehot = g.op("Cast", g.op("Equal", g.op("Unsqueeze", safe, g.ints([cls_axis])),
                               _along_classes(g, logp, cls_axis, classes)), to=dtype)
    q = g.op("Mul", onehot, g.op("Unsqueeze", g.op("Mul", picked, g.like(1 - smoothing, logp)), g.ints([cls_axis])))
    uniform = g.op("Div", g.like(smoothing, logp), g.op("Cast", n_classes, to=dtype))
    spread = g.op("Mul", uniform, g.op("Unsqueeze", valid_f, g.ints([cls_axis])))
    if weight:
        spread = g.op("Mul", spread, _along_classes(g, logp, cls_axis, weight))
    q = g.op("Add", q, spread)
    loss = g.op("Neg", g.reduce("ReduceSum", g.op("Mul", q, logp), [cls_axis], False, since=13))
    if reduction != "mean":
        return _reduced(g, loss, reduction)
    return g.op("Div", g.reduce("ReduceSum", loss, None, False, since=13),
                g.reduce("ReduceSum", picked, None, False, since=13))


@lowering("CrossEntropy")
def cross_entropy(g, x, target, weight=None, *, ignore_index=-100, label_smoothing=0.0, reduction="mean"):
    cls_axis = 1 if g.rank(x) > 1 else 0
    probabilities = dtypes.is_floating(g.dtype(target))
    if not probabilities and not label_smoothing:
        return _class_index_loss(g, "SoftmaxCrossEntropyLoss", x, target, weight, ignore_index, reduction)
    logp = g.record(g.op("LogSoftmax", x, axis=cls_axis), g.shape(x), g.dtype(x))
    if not probabilities:
        return _smoothed_class_index_loss(g, logp, target, weight, cls_axis, ignore_index, label_smoothing,
                                          reduction)
    q = target
    if label_smoothing:
        uniform = g.op("Div", g.like(label_smoothing, x), g.op("Cast", g.dims(x, [cls_axis]),
                                                                to=onnx_dtype(g.dtype(x))))
        q = g.op("Add", g.op("Mul", target, g.like(1 - label_smoothing, x)), uniform)
    if weight:
        q = g.op("Mul", q, _along_classes(g, x, cls_axis, weight))
    # mean: over the samples (every element but the classes), which is ReduceMean of the per-sample losses
    return _reduced(g, g.op("Neg", g.reduce("ReduceSum", g.op("Mul", q, logp), [cls_axis], False, since=13)),
                    reduction)


@lowering("NllLoss")
def nll_loss(g, logp, target, weight=None, *, ignore_index=-100, reduction="mean"):
    return _class_index_loss(g, "NegativeLogLikelihoodLoss", logp, target, weight, ignore_index, reduction)


@lowering("BinaryCrossEntropy")
def binary_cross_entropy(g, x, target, weight=None, *, reduction="mean"):
    # each log clamped at -100, as PyTorch, so that a confident wrong answer costs 100, not inf
    floor = g.like(-100, x)
    log_x = g.op("Max", g.op("Log", x), floor)
    log_1mx = g.op("Max", g.op("Log", g.op("Sub", g.like(1, x), x)), floor)
    loss = g.op("Neg", g.op("Add", g.op("Mul", target, log_x),
                            g.op("Mul", g.op("Sub", g.like(1, target), target), log_1mx)))
    if weight:
        loss = g.op("Mul", loss, weight)
    return _reduced(g, loss, reduction)


def _softplus(g, z, like):
    """``log(1 + exp(z))`` as trainer computes it, without overflow: ``max(z, 0) + log(1 + exp(-|z|))``; ``like``
    is a traced value of ``z``'s dtype."""
    return g.op("Add", g.op("Log", g.op("Add", g.like(1, like), g.op("Exp", g.op("Neg", g.op("Abs", z))))),
                g.op("Max", z, g.like(0, like)))


@lowering("BinaryCrossEntropyWithLogits")
def binary_cross_entropy_with_logits(g, x, target, weight=None, pos_weight=None, *, reduction="mean"):
    softplus_neg = _softplus(g, g.op("Neg", x), x)  # log(1 + exp(-x))
    if pos_weight:  # each positive term scaled by pos_weight: 1 + (pos_weight - 1) * target
        scale = g.op("Add", g.like(1, x), g.op("Mul", g.op("Sub", pos_weight, g.like(1, x)), target))
        softplus_neg = g.op("Mul", scale, softplus_neg)
    loss = g.op("Add", g.op("Mul", g.op("Sub", g.like(1, target), target), x), softplus_neg)
    if weight:
        loss = g.op("Mul", loss, weight)
    return _reduced(g, loss, reduction)


@lowering("HuberLoss")
def huber_loss(g, x, target, *, delta, scale=1.0, reduction="mean"):
    d = g.op("Sub", x, target)
    size = g.op("Abs", d)
    quadratic = g.op("Mul", g.op("Mul", d, d), g.like(0.5, x))
    linear = g.op("Mul", g.op("Sub", size, g.like(0.5 * delta, x)), g.like(delta, x))
    loss = g.op("Where", g.op("Less", size, g.like(delta, x)), quadratic, linear)
    if scale != 1:
        loss = g.op("Mul", loss, g.like(scale, x))
    return _reduced(g, loss, reduction)


@lowering("KLDivLoss")
def kl_div(g, x, target, *, log_target=False, reduction="mean"):
    if log_target:
        loss = g.op("Mul", g.op("Exp", target), g.op("Sub", target, x))
    else:  # PyTorch's xlogy(target, target): 0 where the target is 0, NaN where it is negative
        zero = g.like(0, target)
        entropy = g.op("Where", g.op("Equal", target, zero), zero, g.op("Mul", target, g.op("Log", target)))
        loss = g.op("Sub", entropy, g.op("Mul", target, x))
    if reduction != "batchmean":
        return _reduced(g, loss, reduction)
    batch = g.op("Cast", g.dims(x, [0]), to=onnx_dtype(g.dtype(x))) if g.rank(x) else g.like(1, x)
    return g.op("Div", _reduced(g, loss, "sum"), g.op("Squeeze", batch, g.ints([0])) if g.rank(x) else batch)
