"""``trainer.nn.functional``: the stateless forms of the layers, activations and losses."""

from __future__ import annotations

import math
import warnings

from trainer import dtypes
from trainer.amp import cast_policy

# these take nested tensors too (trainer.nested); a dense input reaches the dense op
from trainer.nested.functional import (  # noqa: F401
    dropout,
    gelu,
    layer_norm,
    linear,
    relu,
    scaled_dot_product_attention,
    softmax,
)
from trainer.nn import grad  # noqa: F401  (torch.nn.functional.grad is torch.nn.grad)
from trainer.nn._reduction import legacy_get_string, resolve_reduction
from trainer.nn.functional_linear_cross_entropy import linear_cross_entropy  # noqa: F401
from trainer.ops import activation as _activation
from trainer.ops import loss as _loss

# the functional forms that live beside their ops, re-exported here as in torch.nn.functional
from trainer.ops.activation import (  # noqa: F401
    dropout1d,
    dropout2d,
    dropout3d,
    glu,
    log_softmax,
    logsigmoid,
    prelu,
    softmin,
    softplus,
    softsign,
)
from trainer.ops.alpha_dropout import alpha_dropout, feature_alpha_dropout  # noqa: F401
from trainer.ops.batch_norm import batch_norm  # noqa: F401
from trainer.ops.channel_shuffle import channel_shuffle  # noqa: F401
from trainer.ops.complex_checks import reject_complex_loss
from trainer.ops.conv import (  # noqa: F401
    conv1d,
    conv2d,
    conv3d,
    conv_transpose1d,
    conv_transpose2d,
    conv_transpose3d,
)
from trainer.ops.ctc_loss import ctc_loss  # noqa: F401
from trainer.ops.embedding import embedding  # noqa: F401
from trainer.ops.embedding_bag import embedding_bag  # noqa: F401
from trainer.ops.fractional_pool import (  # noqa: F401
    fractional_max_pool2d,
    fractional_max_pool2d_with_indices,
    fractional_max_pool3d,
    fractional_max_pool3d_with_indices,
)
from trainer.ops.grid_sample import affine_grid, grid_sample  # noqa: F401
from trainer.ops.gumbel_softmax import gumbel_softmax  # noqa: F401
from trainer.ops.layer_norm import group_norm, instance_norm  # noqa: F401
from trainer.ops.local_response_norm import local_response_norm  # noqa: F401
from trainer.ops.margin_losses import (  # noqa: F401
    multi_margin_loss,
    multilabel_margin_loss,
    triplet_margin_with_distance_loss,
)
from trainer.ops.padding import pad, pixel_shuffle, pixel_unshuffle  # noqa: F401
from trainer.ops.pdist import pdist  # noqa: F401
from trainer.ops.pool import (  # noqa: F401
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    adaptive_avg_pool3d,
    adaptive_max_pool1d,
    adaptive_max_pool2d,
    adaptive_max_pool3d,
    avg_pool1d,
    avg_pool2d,
    avg_pool3d,
    max_pool1d,
    max_pool2d,
    max_pool3d,
)
from trainer.ops.pool_forms import (  # noqa: F401
    adaptive_max_pool1d_with_indices,
    adaptive_max_pool2d_with_indices,
    adaptive_max_pool3d_with_indices,
    lp_pool1d,
    lp_pool2d,
    lp_pool3d,
    max_pool1d_with_indices,
    max_pool2d_with_indices,
    max_pool3d_with_indices,
)
from trainer.ops.rrelu import rrelu, rrelu_  # noqa: F401
from trainer.ops.sliding_blocks import fold, unfold  # noqa: F401
from trainer.ops.unary import sigmoid, tanh  # noqa: F401
from trainer.ops.unpool import max_unpool1d, max_unpool2d, max_unpool3d  # noqa: F401
from trainer.ops.upsample import interpolate  # noqa: F401
from trainer.ops.upsample_aliases import upsample, upsample_bilinear, upsample_nearest  # noqa: F401
from trainer.type_info import array_finfo


def _in_place(input, result, inplace: bool):
    """``result``, written into ``input`` when ``inplace`` (PyTorch's ``inplace=True``)."""
    if not inplace:
        return result
    input._check_inplace()
    return input._assign(result)


def relu6(input, inplace: bool = False):
    return _in_place(input, _activation.relu6(input), inplace)


def elu(input, alpha: float = 1.0, inplace: bool = False):
    return _in_place(input, _activation.elu(input, alpha), inplace)


def selu(input, inplace: bool = False):
    return _in_place(input, _activation.selu(input), inplace)


def celu(input, alpha: float = 1.0, inplace: bool = False):
    return _in_place(input, _activation.celu(input, alpha), inplace)


def silu(input, inplace: bool = False):
    return _in_place(input, _activation.silu(input), inplace)


def mish(input, inplace: bool = False):
    return _in_place(input, _activation.mish(input), inplace)


def hardtanh(input, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False):
    return _in_place(input, _activation.hardtanh(input, min_val, max_val), inplace)


def hardswish(input, inplace: bool = False):
    return _in_place(input, _activation.hardswish(input), inplace)


def hardsigmoid(input, inplace: bool = False):
    return _in_place(input, _activation.hardsigmoid(input), inplace)


def threshold(input, threshold: float, value: float, inplace: bool = False):
    return _in_place(input, _activation.threshold(input, threshold, value), inplace)


# the in-place activations of torch.nn.functional: the out-of-place op written back into ``input``
def relu_(input):
    return _in_place(input, relu(input), True)


def elu_(input, alpha: float = 1.0):
    return _in_place(input, _activation.elu(input, alpha), True)


def leaky_relu(input, negative_slope: float = 0.01, inplace: bool = False):
    return _in_place(input, _activation.leaky_relu(input, negative_slope), inplace)


def leaky_relu_(input, negative_slope: float = 0.01):
    return _in_place(input, _activation.leaky_relu(input, negative_slope), True)


def hardtanh_(input, min_val: float = -1.0, max_val: float = 1.0):
    return _in_place(input, _activation.hardtanh(input, min_val, max_val), True)


def selu_(input):
    return _in_place(input, _activation.selu(input), True)


def celu_(input, alpha: float = 1.0):
    return _in_place(input, _activation.celu(input, alpha), True)


def threshold_(input, threshold: float, value: float):
    return _in_place(input, _activation.threshold(input, threshold, value), True)


def _vector_norm(x, p, dim, keepdim=False):
    """The ``p``-norm along ``dim``, from existing ops (2, 1, inf, -inf, 0 and any other positive ``p``)."""
    if p == 2:
        return (x * x).sum(dim, keepdim=keepdim).sqrt()
    if p == 1:
        return x.abs().sum(dim, keepdim=keepdim)
    if p == float("inf"):
        return x.abs().amax(dim, keepdim=keepdim)
    if p == float("-inf"):
        return x.abs().amin(dim, keepdim=keepdim)
    if p == 0:
        return (x != 0).to(x.dtype).sum(dim, keepdim=keepdim)
    if p < 0:
        raise RuntimeError(f"norm: expected a non-negative order p, got {p}")
    return x.abs().pow(p).sum(dim, keepdim=keepdim).pow(1.0 / p)


def normalize(input, p: float = 2.0, dim: int = 1, eps: float = 1e-12):
    """``input / max(||input||_p, eps)`` along ``dim``."""
    return input / _vector_norm(input, p, dim, keepdim=True).clamp(min=eps)


def cosine_similarity(x1, x2, dim: int = 1, eps: float = 1e-8):
    """The cosine of the angle between ``x1`` and ``x2`` (broadcast) along ``dim``, each norm at least ``eps``."""
    from trainer.ops.shape import expand

    shape = _broadcast_shape(x1, x2)
    x1, x2 = expand(x1, *shape), expand(x2, *shape)
    return ((x1 / _vector_norm(x1, 2, dim, True).clamp(min=eps)) * (x2 / _vector_norm(x2, 2, dim, True).clamp(min=eps))
            ).sum(dim)


def _broadcast_shape(a, b):
    from trainer.ops._operands import broadcast_shapes

    return broadcast_shapes(tuple(a.shape), tuple(b.shape))


def pairwise_distance(x1, x2, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False):
    """``||x1 - x2 + eps||_p`` along the last dim."""
    ndim = max(x1.ndim, x2.ndim)
    if ndim == 0:
        raise RuntimeError("pairwise_distance: expected inputs with at least 1 dimension, got two 0-d tensors")
    return _vector_norm(x1 - x2 + eps, p, ndim - 1, keepdim)


def _check_reduction(reduction: str) -> None:
    if reduction not in _loss.REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction; expected one of {_loss.REDUCTIONS}")


def _warn_if_broadcast(input, target) -> None:
    if input.shape != target.shape:
        warnings.warn(f"Using a target size ({list(target.shape)}) that is different to the input size "
                      f"({list(input.shape)}). This will likely lead to incorrect results due to broadcasting. "
                      f"Please ensure they have the same size.", stacklevel=3)


@cast_policy.fp32
def mse_loss(input, target, size_average=None, reduce=None, reduction: str = "mean"):
    reduction = resolve_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    reject_complex_loss("mse", input, target)
    _warn_if_broadcast(input, target)
    diff = input - target
    return _reduce(diff * diff, reduction)


@cast_policy.fp32
def l1_loss(input, target, size_average=None, reduce=None, reduction: str = "mean"):
    reduction = resolve_reduction(size_average, reduce, reduction)
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


@cast_policy.fp32
def cross_entropy(input, target, weight=None, size_average=None, ignore_index: int = -100, reduce=None,
                  reduction: str = "mean", label_smoothing: float = 0.0):
    """Log-softmax and negative log-likelihood in one op, over class indices or class probabilities."""
    reduction = resolve_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
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


@cast_policy.fp32
def nll_loss(input, target, weight=None, size_average=None, ignore_index: int = -100, reduce=None,
             reduction: str = "mean"):
    reduction = resolve_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    _check_class_target(input, target, "nll_loss")
    _check_weight(weight, input, "nll_loss")
    inputs = (input, target) if weight is None else (input, target, weight.to(input.dtype))
    return _loss.NllLoss.apply(*inputs, ignore_index=ignore_index, reduction=reduction)


def _check_same_shape(input, target):
    if target.shape != input.shape:
        raise ValueError(f"Using a target size ({list(target.shape)}) that is different to the input size "
                         f"({list(input.shape)}) is deprecated. Please ensure they have the same size.")


def _check_constant(tensor, name: str, op: str):
    if tensor is not None and tensor.requires_grad:
        raise RuntimeError(f"The function '{op}' is not differentiable with respect to argument '{name}'. This input "
                           f"cannot have requires_grad True.")


@cast_policy.fp32
def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction: str = "mean"):
    reduction = resolve_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    _check_same_shape(input, target)
    _check_constant(weight, "weight", "binary_cross_entropy")
    target = target.to(input.dtype)
    inputs = (input, target) if weight is None else (input, target, weight.to(input.dtype))
    return _loss.BinaryCrossEntropy.apply(*inputs, reduction=reduction)


@cast_policy.fp32
def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction: str = "mean", pos_weight=None):
    reduction = resolve_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    _check_same_shape(input, target)
    _check_constant(weight, "weight", "binary_cross_entropy_with_logits")
    _check_constant(pos_weight, "pos_weight", "binary_cross_entropy_with_logits")
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


@cast_policy.fp32
def huber_loss(input, target, reduction: str = "mean", delta: float = 1.0, weight=None):
    _check_reduction(reduction)
    reject_complex_loss("huber", input, target)
    if delta <= 0:
        raise RuntimeError(f"huber_loss does not support non-positive values for delta, got {delta}")
    if weight is not None:
        raise NotImplementedError("huber_loss: the weight argument is not supported")
    _warn_if_broadcast(input, target)
    return _loss.HuberLoss.apply(*_same_float(input, target), delta=float(delta), reduction=reduction)


@cast_policy.fp32
def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction: str = "mean", beta: float = 1.0):
    reduction = resolve_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    reject_complex_loss("smooth_l1", input, target)
    if beta < 0:
        raise RuntimeError(f"smooth_l1_loss does not support negative values for beta, got {beta}")
    _warn_if_broadcast(input, target)
    if beta == 0:  # the quadratic part vanishes: plain L1
        return _reduce((input - target).abs(), reduction)
    return _loss.HuberLoss.apply(*_same_float(input, target), delta=float(beta), scale=1.0 / beta,
                                 reduction=reduction)


def _same_float(input, target):
    from trainer.ops._operands import promote

    return promote(input, target, min_category_float=True)


@cast_policy.fp32
def kl_div(input, target, size_average=None, reduce=None, reduction: str = "mean", log_target: bool = False):
    """KL divergence of ``target`` from ``input`` (log-probabilities); ``batchmean`` is the mathematical one."""
    if size_average is not None or reduce is not None:
        loss = _loss.KLDivLoss.apply(*_same_float(input, target), log_target=log_target,
                                     reduction=legacy_get_string(size_average, reduce))
        # as in PyTorch, reduction='batchmean' still divides the legacy reduction by the batch size
        return loss / input.shape[0] if reduction == "batchmean" and input.ndim else loss
    if reduction not in (*_loss.REDUCTIONS, "batchmean"):
        raise ValueError(f"{reduction} is not a valid value for reduction; expected one of "
                         f"{(*_loss.REDUCTIONS, 'batchmean')}")
    if reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the support size."
                      "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
                      "'mean' will be changed to behave the same as 'batchmean' in the next major release.",
                      stacklevel=2)
    return _loss.KLDivLoss.apply(*_same_float(input, target), log_target=log_target, reduction=reduction)


@cast_policy.fp32
def margin_ranking_loss(input1, input2, target, margin: float = 0.0, size_average=None, reduce=None,
                        reduction: str = "mean"):
    """``max(0, -target * (input1 - input2) + margin)``, ``target`` holding 1 or -1."""
    reduction = resolve_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if not input1.ndim == input2.ndim == target.ndim:
        raise RuntimeError(f"margin_ranking_loss : All input tensors should have same dimension but got sizes: "
                           f"input1: {list(input1.shape)}, input2: {list(input2.shape)}, target: "
                           f"{list(target.shape)} ")
    return _reduce((-target * (input1 - input2) + margin).clamp(min=0), reduction)


_COSINE_EPSILON = 1e-12


@cast_policy.fp32
def cosine_embedding_loss(input1, input2, target, margin: float = 0.0, size_average=None, reduce=None,
                          reduction: str = "mean"):
    """``1 - cos(input1, input2)`` where ``target == 1``, ``max(0, cos - margin)`` where ``target == -1``."""
    reduction = resolve_reduction(size_average, reduce, reduction)
    from trainer.ops.compare import where

    _check_reduction(reduction)
    if input1.ndim not in (1, 2) or input1.shape != input2.shape:
        raise RuntimeError(f"cosine_embedding_loss: expected two 1D or 2D inputs of the same shape, got "
                           f"{list(input1.shape)} and {list(input2.shape)}")
    if target.ndim != input1.ndim - 1:
        raise RuntimeError(f"{target.ndim}D target tensor expects {target.ndim + 1}D input tensors, but found inputs "
                           f"with sizes {list(input1.shape)} and {list(input2.shape)}.")
    dim = input1.ndim - 1
    dot = (input1 * input2).sum(dim)
    squared_norms = ((input1 * input1).sum(dim) + _COSINE_EPSILON) * ((input2 * input2).sum(dim) + _COSINE_EPSILON)
    cos = dot / squared_norms.sqrt()
    zeros = cos * 0
    loss = where(target == 1, 1 - cos, zeros) + where(target == -1, (cos - margin).clamp(min=0), zeros)
    return _reduce(loss, reduction)


@cast_policy.fp32
def triplet_margin_loss(anchor, positive, negative, margin: float = 1.0, p: float = 2, eps: float = 1e-6,
                        swap: bool = False, size_average=None, reduce=None, reduction: str = "mean"):
    """``max(0, d(anchor, positive) - d(anchor, negative) + margin)`` with ``d`` the pairwise ``p``-distance."""
    reduction = resolve_reduction(size_average, reduce, reduction)
    from trainer.ops.compare import minimum

    _check_reduction(reduction)
    if not anchor.ndim == positive.ndim == negative.ndim or anchor.ndim not in (1, 2):
        raise RuntimeError(f"The anchor, positive, and negative tensors are expected to have the same number of "
                           f"dimensions (1D or 2D), but got: anchor {anchor.ndim}D, positive {positive.ndim}D, and "
                           f"negative {negative.ndim}D inputs")
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    dist_pos = pairwise_distance(anchor, positive, p, eps)
    dist_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        dist_neg = minimum(dist_neg, pairwise_distance(positive, negative, p, eps))
    return _reduce((margin + dist_pos - dist_neg).clamp(min=0), reduction)


# ---------------------------------------------------------------- shrinkage, RMSNorm, bilinear and more losses
def softshrink(input, lambd: float = 0.5):
    """``x - lambd`` above ``lambd``, ``x + lambd`` below ``-lambd``, 0 between."""
    if lambd < 0:
        raise RuntimeError(f"lambda must be greater or equal to 0, but found to be {lambd}.")
    from trainer.ops.compare import where

    return where(input > lambd, input - lambd, where(input < -lambd, input + lambd, 0.0))


def hardshrink(input, lambd: float = 0.5):
    """``x`` where ``|x| > lambd``, 0 elsewhere."""
    return input.masked_fill(input.abs() <= lambd, 0.0)


def tanhshrink(input):
    return input - input.tanh()


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """``x / sqrt(mean(x^2) + eps)`` over the trailing ``normalized_shape`` dims, times ``weight``; ``eps``
    defaults to the dtype's machine epsilon, as in PyTorch."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if tuple(input.shape[input.ndim - len(shape):]) != shape:
        raise RuntimeError(f"Given normalized_shape={list(shape)}, expected input with shape [*, "
                           f"{', '.join(map(str, shape))}], but got input of size{list(input.shape)}")
    if eps is None:
        # the eps of the type PyTorch computes in: float32 for bfloat16 and float16 inputs
        eps = float(array_finfo(dtypes.promote_types(input.dtype, dtypes.float32).np).eps)
    dims = tuple(range(input.ndim - len(shape), input.ndim))
    out = input * ((input * input).mean(dims, keepdim=True) + eps).rsqrt()
    return out if weight is None else out * weight


@cast_policy.autocast_excluded
def bilinear(input1, input2, weight, bias=None):
    """``y_k = x1^T W_k x2 + b_k`` over the last dim of both inputs; ``weight`` is ``(out, in1, in2)``."""
    if input1.shape[:-1] != input2.shape[:-1]:
        raise RuntimeError(f"bilinear(): input batch dimensions do not match: got {list(input1.shape[:-1])} and "
                           f"{list(input2.shape[:-1])}")
    if weight.ndim != 3 or weight.shape[1] != input1.shape[-1] or weight.shape[2] != input2.shape[-1]:
        raise RuntimeError(f"bilinear(): weight {list(weight.shape)} does not fit inputs with "
                           f"{input1.shape[-1]} and {input2.shape[-1]} features: expected (out, in1, in2)")
    from trainer.ops.linalg import einsum

    out = einsum("...i,kij,...j->...k", input1, weight, input2)
    return out if bias is None else out + bias


@cast_policy.fp32
def soft_margin_loss(input, target, size_average=None, reduce=None, reduction: str = "mean"):
    """``log(1 + exp(-target * input))``, ``target`` holding 1 or -1."""
    reduction = resolve_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    return _reduce(softplus(-target * input), reduction)


@cast_policy.fp32
def hinge_embedding_loss(input, target, margin: float = 1.0, size_average=None, reduce=None,
                         reduction: str = "mean"):
    """``input`` where ``target`` is 1, ``max(0, margin - input)`` where it is -1."""
    reduction = resolve_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    from trainer.ops.compare import where

    below_margin = (margin - input).clamp(min=0)
    loss = where(target != 1, below_margin, 0.0) + where(target != -1, input, 0.0)
    return _reduce(loss, reduction)


@cast_policy.fp32
def poisson_nll_loss(input, target, log_input: bool = True, full: bool = False, size_average=None,
                     eps: float = 1e-8, reduce=None, reduction: str = "mean"):
    """The negative log-likelihood of ``target`` under a Poisson of rate ``exp(input)`` (``input`` itself without
    ``log_input``); ``full`` adds Stirling's approximation of ``log(target!)`` where ``target > 1``."""
    reduction = resolve_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    loss = input.exp() - target * input if log_input else input - target * (input + eps).log()
    if full:
        safe = target.masked_fill(target <= 1, 1.0)
        stirling = safe * safe.log() - safe + 0.5 * (2 * math.pi * safe).log()
        loss = loss + stirling.masked_fill(target <= 1, 0.0)
    return _reduce(loss, reduction)


def gaussian_nll_loss(input, target, var, full: bool = False, eps: float = 1e-6, reduction: str = "mean"):
    """``0.5 * (log(var) + (input - target)^2 / var)`` (plus ``0.5 * log(2 pi)`` with ``full``); ``var`` is
    clamped at ``eps`` for stability, the gradient passing through the clamp as in PyTorch."""
    _check_reduction(reduction)
    if tuple(var.shape) != tuple(input.shape):
        if tuple(input.shape[:-1]) == tuple(var.shape):
            var = var.unsqueeze(-1)  # one variance per sample: homoscedastic over the last dim
        elif not (tuple(input.shape[:-1]) == tuple(var.shape[:-1]) and var.shape[-1] == 1):
            raise ValueError("var is of incorrect size")
    if (var < 0).any():
        raise ValueError("var has negative entry/entries")
    var = var + (var.clamp(min=eps) - var).detach()
    loss = 0.5 * (var.log() + (input - target) ** 2 / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None,
                                reduction: str = "mean"):
    """Per-class logistic losses of ``input`` ``(N, C)`` against 0/1 ``target``, averaged over the classes."""
    reduction = resolve_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    loss = -(target * logsigmoid(input) + (1 - target) * logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    return _reduce(loss.sum(-1) / input.shape[-1], reduction)

