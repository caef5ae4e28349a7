"""Pooling forms composed from the pooling ops, as in ``torch.nn.functional``: power-average pooling
(``lp_pool1d``/``2d``/``3d``) and the ``*_with_indices`` names, which always return the indices as well.

``lp_pool`` is PyTorch's own composition, kept so that values and gradients agree exactly: the average of
``x ** p`` over each window times the window size, ``sign(s) * relu(|s|)`` of that sum ``s``, then its ``1/p``
power; an infinite ``p`` is the max of ``|x|`` (and ``-inf`` the min). It exports through the pieces' lowerings.
"""

from __future__ import annotations

import math

from trainer.ops import pool
from trainer.ops._operands import int_tuple

_MAX_POOL = {1: pool.max_pool1d, 2: pool.max_pool2d, 3: pool.max_pool3d}
_AVG_POOL = {1: pool.avg_pool1d, 2: pool.avg_pool2d, 3: pool.avg_pool3d}


def _lp_pool(n, input, norm_type, kernel_size, stride, ceil_mode):
    if norm_type == math.inf:
        return _MAX_POOL[n](input.abs(), kernel_size, stride, 0, 1, ceil_mode)
    if norm_type == -math.inf:
        return -_MAX_POOL[n](-input.abs(), kernel_size, stride, 0, 1, ceil_mode)
    window = math.prod(int_tuple(kernel_size, n, "kernel_size"))
    out = _AVG_POOL[n](input.pow(norm_type), kernel_size, stride, 0, ceil_mode)
    return (out.sign() * out.abs().relu()).mul(window).pow(1.0 / norm_type)


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """``torch.nn.functional.lp_pool1d``: ``(sum over each window of x ** p) ** (1 / p)`` along the last dim."""
    return _lp_pool(1, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """``torch.nn.functional.lp_pool2d``: the power-average over each window of the last two dims."""
    return _lp_pool(2, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """``torch.nn.functional.lp_pool3d``: the power-average over each window of the last three dims."""
    return _lp_pool(3, input, norm_type, kernel_size, stride, ceil_mode)


# ``return_indices`` is accepted and ignored, as in PyTorch: these names always return (values, indices)


def max_pool1d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=False):
    return pool.max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices=True)


def max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=False):
    return pool.max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices=True)


def max_pool3d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=False):
    return pool.max_pool3d(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices=True)


def adaptive_max_pool1d_with_indices(input, output_size, return_indices=False):
    return pool.adaptive_max_pool1d(input, output_size, return_indices=True)


def adaptive_max_pool2d_with_indices(input, output_size, return_indices=False):
    return pool.adaptive_max_pool2d(input, output_size, return_indices=True)


def adaptive_max_pool3d_with_indices(input, output_size, return_indices=False):
    return pool.adaptive_max_pool3d(input, output_size, return_indices=True)
