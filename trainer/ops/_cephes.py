"""What the Cephes-derived functions of ``torch.special`` (``bessel_j0/j1/y0/y1``, ``airy_ai``) share: Horner's rule
on their coefficient tables, and one elementwise op that runs a formula in float64 and rounds to the input's
dtype. As in PyTorch these functions are not differentiable: their outputs never require grad.
"""

from __future__ import annotations

import numpy as np

from trainer.autograd import grad_mode
from trainer.autograd.op import Function
from trainer.backend import xp_of
from trainer.ops._operands import promote, quiet_fp_errors
from trainer.tensor import Tensor

_FORMULAS = {}


def polevl(x, coefficients):
    """The polynomial with ``coefficients`` (highest degree first) at ``x``, by Horner's rule in the order PyTorch
    evaluates it, so that the rounding matches too."""
    total = 0.0
    for c in coefficients:
        total = total * x + c
    return total


class CephesFunction(Function):
    """One of the registered formulas, elementwise, in float64."""

    @staticmethod
    def forward(ctx, x, *, function):
        xp = xp_of(x)
        with quiet_fp_errors(xp):
            return _FORMULAS[function](xp, x.astype(np.float64)).astype(x.dtype, copy=False)


def cephes_function(name: str, formula):
    """``torch.special.<name>(input)`` for ``formula(xp, x)`` on a float64 array."""
    _FORMULAS[name] = formula

    def special(input):  # noqa: A002 - PyTorch's name
        if not isinstance(input, Tensor):
            raise TypeError(f"special_{name}(): argument 'input' (position 1) must be Tensor, not "
                            f"{type(input).__name__}")
        (x,) = promote(input, min_category_float=True)
        with grad_mode.no_grad():
            return CephesFunction.apply(x, function=name)

    special.__name__ = special.__qualname__ = name
    special.__doc__ = f"``torch.special.{name}(input)``: not differentiable, as in PyTorch."
    return special
