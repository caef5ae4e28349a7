"""The ``torch.*`` forms of functional ops (``torch.conv2d``, ``torch.dropout``, ``torch.layer_norm``, ...).

Each takes the positional arguments of PyTorch's top-level function, which for several ops differ from
``nn.functional``'s: ``dropout(input, p, train)``, ``batch_norm(input, weight, bias, running_mean, running_var,
training, momentum, eps, cudnn_enabled)``, ``embedding(weight, indices)``, losses with an integer ``reduction``
(0 none, 1 mean, 2 sum). ``cudnn_enabled`` flags are accepted and have no effect (see ``trainer.backends``).
"""

from __future__ import annotations

from trainer import dtypes
from trainer.creation import ones_like
from trainer.nn import functional as F
from trainer.nn.functional import (  # noqa: F401 - re-exported under torch's names
    adaptive_avg_pool1d,
    avg_pool1d,
    bilinear,
    celu_,
    conv1d,
    conv2d,
    conv3d,
    conv_transpose1d,
    conv_transpose2d,
    conv_transpose3d,
    cosine_similarity,
    hardshrink,
    pairwise_distance,
    pixel_shuffle,
    pixel_unshuffle,
    prelu,
    selu_,
    threshold_,
)
from trainer.ops.activation import _channel_dropout
from trainer.ops.arithmetic import sub
from trainer.ops.compare import where
from trainer.ops.rrelu import rrelu_  # noqa: F401

_REDUCTIONS = {0: "none", 1: "mean", 2: "sum"}
_INTERPOLATION_MODES = {0: "bilinear", 1: "nearest", 2: "bicubic"}
_PADDING_MODES = {0: "zeros", 1: "border", 2: "reflection"}


def _enum(table: dict, value, what: str) -> str:
    if value not in table:
        raise ValueError(f"{what} must be one of {sorted(table)} ({', '.join(table.values())}), got {value!r}")
    return table[value]


def _reduction(value) -> str:
    return _enum(_REDUCTIONS, value, "reduction")


# ----------------------------------------------------------------- pooling
def max_pool1d(input, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
    return F.max_pool1d(input, kernel_size, stride or None, padding, dilation, ceil_mode)


def max_pool2d(input, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
    return F.max_pool2d(input, kernel_size, stride or None, padding, dilation, ceil_mode)


def max_pool3d(input, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
    return F.max_pool3d(input, kernel_size, stride or None, padding, dilation, ceil_mode)


def max_pool1d_with_indices(input, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
    return F.max_pool1d(input, kernel_size, stride or None, padding, dilation, ceil_mode, return_indices=True)


def adaptive_max_pool1d(input, output_size):
    """The pooled values and their indices, as ``torch.adaptive_max_pool1d`` returns both."""
    return F.adaptive_max_pool1d(input, output_size, return_indices=True)


# ----------------------------------------------------------------- normalisation
def batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps, cudnn_enabled):
    return F.batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)


def instance_norm(input, weight, bias, running_mean, running_var, use_input_stats, momentum, eps, cudnn_enabled):
    return F.instance_norm(input, running_mean, running_var, weight, bias, use_input_stats, momentum, eps)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-05, cudnn_enable=True):
    return F.layer_norm(input, normalized_shape, weight, bias, eps)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-05, cudnn_enabled=True):
    return F.group_norm(input, num_groups, weight, bias, eps)


def rms_norm(input, normalized_shape, weight=None, eps=None):
    return F.rms_norm(input, normalized_shape, weight, eps)


# ----------------------------------------------------------------- embedding
def embedding(weight, indices, padding_idx=-1, scale_grad_by_freq=False, sparse=False):
    """``torch.embedding``: weight first, and ``padding_idx=-1`` meaning none (the internal op's convention)."""
    return F.embedding(indices, weight, None if padding_idx == -1 else padding_idx,
                       scale_grad_by_freq=scale_grad_by_freq, sparse=sparse)


# ----------------------------------------------------------------- dropout: (input, p, train)
def dropout(input, p, train):
    return F.dropout(input, p, train)


def feature_dropout(input, p, train):
    """Dropout of whole channels (dim 1) of an input with at least 2 dims."""
    if input.ndim < 2:
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    return _channel_dropout(input, p, train, None, channel_axis=1)


def alpha_dropout(input, p, train):
    return F.alpha_dropout(input, p, train)


def feature_alpha_dropout(input, p, train):
    return F.feature_alpha_dropout(input, p, train)


def dropout_(input, p, train):
    return F._in_place(input, dropout(input, p, train), True)


def feature_dropout_(input, p, train):
    return F._in_place(input, feature_dropout(input, p, train), True)


def alpha_dropout_(input, p, train):
    return F.alpha_dropout(input, p, train, inplace=True)


def feature_alpha_dropout_(input, p, train):
    return F.feature_alpha_dropout(input, p, train, inplace=True)


# ----------------------------------------------------------------- activations
def selu(input):
    return F.selu(input)


def celu(input, alpha=1.0):
    return F.celu(input, alpha)


def rrelu(input, lower=0.125, upper=1.0 / 3, training=False):
    return F.rrelu(input, lower, upper, training)


def threshold(input, threshold, value):
    return F.threshold(input, threshold, value)


# ----------------------------------------------------------------- losses: integer reductions
def kl_div(input, target, reduction=1, *, log_target=False):
    return F.kl_div(input, target, reduction=_reduction(reduction), log_target=log_target)


def binary_cross_entropy_with_logits(input, target, weight=None, pos_weight=None, reduction=1):
    return F.binary_cross_entropy_with_logits(input, target, weight, reduction=_reduction(reduction),
                                              pos_weight=pos_weight)


def cosine_embedding_loss(input1, input2, target, margin=0.0, reduction=1):
    return F.cosine_embedding_loss(input1, input2, target, margin, reduction=_reduction(reduction))


def hinge_embedding_loss(input, target, margin=1.0, reduction=1):
    return F.hinge_embedding_loss(input, target, margin, reduction=_reduction(reduction))


def margin_ranking_loss(input1, input2, target, margin=0.0, reduction=1):
    return F.margin_ranking_loss(input1, input2, target, margin, reduction=_reduction(reduction))


def poisson_nll_loss(input, target, log_input, full, eps, reduction):
    return F.poisson_nll_loss(input, target, log_input, full, eps=eps, reduction=_reduction(reduction))


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2.0, eps=1e-06, swap=False, reduction=1):
    return F.triplet_margin_loss(anchor, positive, negative, margin, p, eps, swap, reduction=_reduction(reduction))


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction=1, zero_infinity=False):
    return F.ctc_loss(log_probs, targets, input_lengths, target_lengths, blank, _reduction(reduction), zero_infinity)


# ----------------------------------------------------------------- padding and grids
def constant_pad_nd(input, pad, value=0):
    return F.pad(input, tuple(pad), "constant", value)


def affine_grid_generator(theta, size, align_corners):
    return F.affine_grid(theta, list(size), align_corners)


def grid_sampler(input, grid, interpolation_mode, padding_mode, align_corners):
    return F.grid_sample(input, grid, _enum(_INTERPOLATION_MODES, interpolation_mode, "interpolation_mode"),
                         _enum(_PADDING_MODES, padding_mode, "padding_mode"), align_corners)


# ----------------------------------------------------------------- arithmetic and tensor state
def rsub(input, other, alpha=1):
    """``other - alpha * input``: subtraction with the operands reversed."""
    return sub(other, input, alpha=alpha)


def detach_(input):
    return input.detach_()


def fill(input, value):
    """A new tensor of ``input``'s shape, dtype and device holding ``value`` (differentiable in a tensor
    ``value``, as PyTorch's)."""
    everywhere = ones_like(input, dtype=dtypes.bool)
    return where(everywhere, value, input).to(input.dtype)


def fill_(input, value):
    return input.fill_(value)


def zero_(input):
    return input.zero_()
