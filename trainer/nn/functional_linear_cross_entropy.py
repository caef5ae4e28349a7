"""``F.linear_cross_entropy``: ``cross_entropy(linear(input, linear_weight, linear_bias), target)`` as in PyTorch.

With ``options=None`` it is exactly that composition (the reference path: any target kind, label smoothing,
K-dimensional losses, higher-order gradients, ONNX export). With a ``LinearCrossEntropyOptions`` it runs the
chunked op of ``trainer.ops.linear_cross_entropy``, which never holds the ``(N, C)`` logits; configurations the
chunked op does not cover fall back to the reference path with PyTorch's warning. An export trace (the
exporter's size observers) counts as PyTorch's ``jit`` tracing: the trace records the reference ops, which
ONNX has nodes for.
"""

from __future__ import annotations

import math
import warnings

from trainer import dtypes
from trainer.autograd import observe
from trainer.nn import functional as F
from trainer.ops.linear_cross_entropy import LinearCrossEntropy

_CHUNKED_REDUCTIONS = ("mean", "sum", "none")


def linear_cross_entropy(input, linear_weight, target, *, linear_bias=None, weight=None, reduction: str = "mean",
                         ignore_index: int | None = None, label_smoothing: float = 0.0, options=None):
    """The cross entropy of ``input`` ``(D,)`` or ``(N, D)`` mapped to logits by ``linear_weight`` ``(C, D)`` or
    ``(C, d_1, ..., d_K, D)`` (and ``linear_bias`` ``(C, d_1, ..., d_K)``) against ``target`` (class indices,
    or class probabilities of the logits' shape). ``ignore_index=None`` means -100 for class indices."""
    if input.ndim < 1 or input.ndim > 2:
        raise RuntimeError(f"expected input with dimensionality 1 or 2, got {input.ndim}")
    if linear_weight.ndim < 2:
        raise RuntimeError(f"expected linear_weight with dimensionality at least 2, got {linear_weight.ndim}")
    batch_shape = tuple(input.shape[:-1])
    in_features = input.shape[-1]
    if in_features != linear_weight.shape[-1]:
        raise RuntimeError("expected equal input and linear_weight last dimensions (in_features), got "
                           f"{input.shape[-1]} and {linear_weight.shape[-1]}, respectively")
    num_classes = linear_weight.shape[0]
    out_features = tuple(linear_weight.shape[1:-1])
    if linear_bias is not None and tuple(linear_bias.shape) != (num_classes, *out_features):
        raise RuntimeError(f"expected linear_bias shape {(num_classes, *out_features)}, got "
                           f"{tuple(linear_bias.shape)}")
    if out_features and not batch_shape:
        raise RuntimeError(f"K-dimensional loss defined by linear_weight shape {tuple(linear_weight.shape)} requires "
                           f"batched input, (N, {in_features}), got unbatched input with shape {tuple(input.shape)}")
    logits_shape = (*batch_shape, num_classes, *out_features)
    # as in PyTorch, a target of the logits' shape is read as class probabilities
    if tuple(target.shape) == logits_shape and ignore_index is not None:
        raise RuntimeError("ignore_index cannot be specified when target contains probabilities")
    ignore_index = -100 if ignore_index is None else ignore_index

    if options is not None:
        tracing = bool(observe.size_observers)
        if (out_features or reduction not in _CHUNKED_REDUCTIONS or label_smoothing != 0.0
                or target.dtype is not dtypes.int64 or tracing):
            bias_shape = tuple(linear_bias.shape) if linear_bias is not None else None
            warnings.warn("linear_cross_entropy: ``options`` ignored; chunked path needs reduction in "
                          "{'mean','sum','none'}, label_smoothing == 0, target.dtype == int64, out_features == (). "
                          f"Got reduction={reduction!r}, label_smoothing={label_smoothing}, "
                          f"target.dtype={target.dtype}, out_features={out_features}, tracing={tracing}, "
                          f"linear_bias.shape={bias_shape}.", stacklevel=2)
        else:
            return _chunked(input, linear_weight, target, linear_bias, weight, reduction, ignore_index, options)

    if out_features:
        rows = math.prod(out_features, start=num_classes)
        linear_weight = linear_weight.reshape(rows, in_features)
        linear_bias = linear_bias.reshape(rows) if linear_bias is not None else None
    logits = F.linear(input, linear_weight, linear_bias).reshape(logits_shape)
    return F.cross_entropy(logits, target, weight=weight, reduction=reduction, ignore_index=ignore_index,
                           label_smoothing=label_smoothing)


def _chunked(input, linear_weight, target, linear_bias, weight, reduction, ignore_index, options):
    batched = input.ndim == 2
    if not batched:
        input, target = input.unsqueeze(0), target.unsqueeze(0)
    num_batches, in_features = input.shape
    num_classes = linear_weight.shape[0]
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"linear_cross_entropy: expected a floating-point input, got {input.dtype}")
    if linear_weight.dtype is not input.dtype:
        raise RuntimeError("linear_cross_entropy: expected input and linear_weight to have the same dtype, but got "
                           f"{input.dtype} and {linear_weight.dtype}")
    if tuple(target.shape) != (num_batches,):
        raise RuntimeError(f"linear_cross_entropy: expected a target of class indices with shape [{num_batches}] "
                           f"for input of shape {list(input.shape)}, got {list(target.shape)}")
    if weight is not None and tuple(weight.shape) != (num_classes,):
        raise RuntimeError(f"weight tensor should be defined either for all {num_classes} classes or no classes but "
                           f"got weight tensor of shape: {list(weight.shape)}")
    options = options._adjust(num_batches, in_features, num_classes, input.dtype, input.device)
    acc_dtype = options.acc_dtype
    half = input.dtype in (dtypes.float16, dtypes.bfloat16)
    if acc_dtype is not input.dtype and not (half and acc_dtype is dtypes.float32):
        raise RuntimeError(f"linear_cross_entropy supports float32 acc_dtype with float16/bfloat16 inputs, but got "
                           f"{acc_dtype} acc_dtype and {input.dtype} inputs.")
    optional = [t for t in (linear_bias, weight) if t is not None]
    loss = LinearCrossEntropy.apply(input, linear_weight, target, *optional, has_bias=linear_bias is not None,
                                    reduction=reduction, ignore_index=ignore_index,
                                    batch_chunk_size=options.batch_chunk_size, acc_dtype=acc_dtype.np,
                                    allow_retain_graph=options.allow_retain_graph)
    return loss if batched or reduction != "none" else loss.squeeze(0)
