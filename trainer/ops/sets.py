"""Membership and runs: ``isin`` and ``unique_consecutive``.

Neither has a derivative. ``isin`` gives booleans; ``unique_consecutive`` keeps the input's dtype and, as in
PyTorch, its values stay on the graph with a backward that refuses to run.
"""

from __future__ import annotations

import math

import numpy as np

from trainer.autograd.op import Function
from trainer.backend import to_device, xp_of
from trainer.ops._operands import normalize_dim
from trainer.tensor import Tensor


class IsIn(Function):
    @staticmethod
    def forward(ctx, elements, test_elements, invert):
        return xp_of(elements).isin(elements, test_elements, invert=invert)


class UniqueConsecutive(Function):
    """The first element (or slice along ``dim``) of each run of equal ones; the run each element belongs to
    (``inverse``) and each run's length (``counts``) on request."""

    @staticmethod
    def forward(ctx, a, return_inverse, return_counts, dim):
        xp = xp_of(a)
        moved = a.reshape(-1) if dim is None else xp.moveaxis(a, dim, 0)
        rows = moved.reshape(moved.shape[0], math.prod(moved.shape[1:]))
        starts = xp.ones(moved.shape[0], bool)
        # NaN differs from NaN, so each NaN starts a run of its own, as in PyTorch
        starts[1:] = (rows[1:] != rows[:-1]).any(axis=1)
        values = moved[starts] if dim is None else xp.moveaxis(moved[starts], 0, dim)
        outputs = (values,)
        if return_inverse:
            inverse = xp.cumsum(starts) - 1
            outputs += ((inverse.reshape(a.shape) if dim is None else inverse).astype(xp.int64, copy=False),)
        if return_counts:
            edges = xp.concatenate([xp.flatnonzero(starts), xp.asarray([moved.shape[0]])])
            outputs += (xp.diff(edges).astype(xp.int64, copy=False),)
        return outputs if len(outputs) > 1 else values

    @staticmethod
    def backward(ctx, *grads):
        raise NotImplementedError("the derivative for 'unique_consecutive' is not implemented.")


def isin(elements, test_elements, *, assume_unique=False, invert=False):
    """Whether each element of ``elements`` occurs in ``test_elements`` (either may be a number).
    ``assume_unique`` is a speed hint in PyTorch that never changes the result, so it changes nothing here."""
    if not isinstance(elements, Tensor) and not isinstance(test_elements, Tensor):
        raise TypeError("isin() expects elements or test_elements to be a Tensor, got "
                        f"{type(elements).__name__} and {type(test_elements).__name__}")
    like = elements if isinstance(elements, Tensor) else test_elements
    elements, test_elements = (t if isinstance(t, Tensor) else Tensor._wrap(to_device(np.asarray(t), like.device))
                               for t in (elements, test_elements))
    return IsIn.apply(elements, test_elements, invert=bool(invert))


def unique_consecutive(input, return_inverse=False, return_counts=False, dim=None):  # noqa: A002 - PyTorch's name
    """The input with each run of equal consecutive elements (or slices along ``dim``) reduced to one."""
    if dim is not None:
        dim = normalize_dim(dim, input.ndim)
    return UniqueConsecutive.apply(input, return_inverse=bool(return_inverse), return_counts=bool(return_counts),
                                   dim=dim)
