"""``trainer.nn.functional``: the stateless forms of the layers, activations and losses."""

from __future__ import annotations

import warnings

from trainer import dtypes
from trainer.ops import loss as _loss

# the functional forms that live beside their ops, re-exported here as in torch.nn.functional
from trainer.ops.activation import dropout, dropout2d, gelu, leaky_relu, log_softmax, softmax  # noqa: F401
from trainer.ops.attention import scaled_dot_product_attention  # noqa: F401
from trainer.ops.batch_norm import batch_norm  # noqa: F401
from trainer.ops.conv import conv1d, conv2d, conv_transpose1d, conv_transpose2d  # noqa: F401
from trainer.ops.embedding import embedding  # noqa: F401
from trainer.ops.layer_norm import group_norm, layer_norm  # noqa: F401
from trainer.ops.linalg import linear  # noqa: F401
from trainer.ops.pool import (  # noqa: F401
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    avg_pool1d,
    avg_pool2d,
    max_pool1d,
    max_pool2d,
)
from trainer.ops.unary import relu, sigmoid, tanh  # noqa: F401
from trainer.ops.upsample import interpolate  # noqa: F401


def _check_reduction(reduction: str) -> None:
    if reduction not in _loss.REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction; expected one of {_loss.REDUCTIONS}")


def _warn_if_broadcast(input, target) -> None:
    if input.shape != target.shape:
        warnings.warn(f"Using a target size ({list(target.shape)}) that is different to the input size "
                      f"({list(input.shape)}). This will likely lead to incorrect results due to broadcasting. "
                      f"Please ensure they have the same size.", stacklevel=3)


def mse_loss(input, target, reduction: str = "mean"):
    _check_reduction(reduction)
    _warn_if_broadcast(input, target)
    diff = input - target
    return _reduce(diff * diff, reduction)


def l1_loss(input, target, reduction: str = "mean"):
    _check_reduction(reduction)
    _warn_if_broadcast(input, target)
    return _reduce((input - target).abs(), reduction)


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    return loss.sum() if reduction == "sum" else loss


def _check_class_target(input, target, name: str) -> None:
    """Class-index targets: integer, with the input's shape minus the class dim."""
    if target.dtype.is_floating_point:
        raise RuntimeError(f"{name}: expected a target of class indices with dtype int64 (or class probabilities "
                           f"with the input's shape {list(input.shape)}), got {target.dtype.name} with shape "
                           f"{list(target.shape)}")
    if target.dtype is dtypes.bool:
        raise RuntimeError(f"{name}: expected class indices of dtype int64, got bool")
    expected = (input.shape[0],) + tuple(input.shape[2:]) if input.ndim > 1 else ()
    if input.ndim > 1 and target.ndim and target.shape[0] != input.shape[0]:
        raise ValueError(f"Expected input batch_size ({input.shape[0]}) to match target batch_size "
                         f"({target.shape[0]}).")
    if tuple(target.shape) != expected:
        raise RuntimeError(f"{name}: expected target of shape {list(expected)} for input of shape "
                           f"{list(input.shape)}, got {list(target.shape)}")


def _check_weight(weight, input, name: str):
    if weight is None:
        return
    classes = input.shape[1] if input.ndim > 1 else input.shape[0]
    if weight.ndim != 1 or weight.shape[0] != classes:
        raise RuntimeError(f"{name}: weight tensor should be defined either for all {classes} classes or no "
                           f"classes but got weight tensor of shape: {list(weight.shape)}")


def cross_entropy(input, target, weight=None, ignore_index: int = -100, reduction: str = "mean",
                  label_smoothing: float = 0.0):
    """Log-softmax and negative log-likelihood in one op, over class indices or class probabilities."""
    _check_reduction(reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    if input.ndim == 0:
        raise ValueError("cross_entropy: expected input with at least 1 dimension (classes), got a 0-d tensor")
    if target.dtype.is_floating_point:
        if target.shape != input.shape:
            raise RuntimeError(f"cross_entropy: a floating-point target is read as class probabilities and must have "
                               f"the input's shape {list(input.shape)}, got {list(target.shape)}; for class indices "
                               f"pass an int64 target")
        target = target.to(input.dtype)
    else:
        _check_class_target(input, target, "cross_entropy")
    _check_weight(weight, input, "cross_entropy")
    inputs = (input, target) if weight is None else (input, target, weight.to(input.dtype))
    return _loss.CrossEntropy.apply(*inputs, ignore_index=ignore_index, label_smoothing=label_smoothing,
                                    reduction=reduction)


def nll_loss(input, target, weight=None, ignore_index: int = -100, reduction: str = "mean"):
    _check_reduction(reduction)
    _check_class_target(input, target, "nll_loss")
    _check_weight(weight, input, "nll_loss")
    inputs = (input, target) if weight is None else (input, target, weight.to(input.dtype))
    return _loss.NllLoss.apply(*inputs, ignore_index=ignore_index, reduction=reduction)


def _check_same_shape(input, target):
    if target.shape != input.shape:
        raise ValueError(f"Using a target size ({list(target.shape)}) that is different to the input size "
                         f"({list(input.shape)}) is deprecated. Please ensure they have the same size.")


def binary_cross_entropy(input, target, weight=None, reduction: str = "mean"):
    _check_reduction(reduction)
    _check_same_shape(input, target)
    target = target.to(input.dtype)
    inputs = (input, target) if weight is None else (input, target, weight.to(input.dtype))
    return _loss.BinaryCrossEntropy.apply(*inputs, reduction=reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, reduction: str = "mean", pos_weight=None):
    _check_reduction(reduction)
    _check_same_shape(input, target)
    target = target.to(input.dtype)
    if weight is None and pos_weight is not None:
        from trainer.creation import ones

        weight = ones(1, dtype=input.dtype, device=input.device)
    inputs = [input, target]
    if weight is not None:
        inputs.append(weight.to(input.dtype))
    if pos_weight is not None:
        inputs.append(pos_weight.to(input.dtype))
    return _loss.BinaryCrossEntropyWithLogits.apply(*inputs, reduction=reduction)


def one_hot(tensor, num_classes: int = -1):
    from trainer.creation import arange

    if tensor.dtype.is_floating_point:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    if num_classes == -1:
        num_classes = int(tensor.max().item()) + 1 if tensor.numel() else 0
    return (tensor.unsqueeze(-1) == arange(num_classes, device=tensor.device)).long()
