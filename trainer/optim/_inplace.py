"""In-place array routines that the update rules share, written once against ``xp`` (NumPy or CuPy).

Each works on raw arrays (``tensor._data``) and writes into existing buffers with ``out=`` or an in-place
operator, so an optimizer step allocates at most a scratch array or two and its state never grows.
"""

from __future__ import annotations

import numpy as np

from trainer.backend import xp_of
from trainer.tensor import Tensor


def effective_grad(xp, grad, param, weight_decay: float, maximize: bool):
    """The gradient the update follows: negated under ``maximize``, plus the L2 term ``weight_decay * param``.

    Returns ``grad`` itself when neither applies, so callers must only read the result: gradients may be
    shared with other tensors and are never written to.
    """
    if weight_decay == 0:
        return xp.negative(grad) if maximize else grad
    out = xp.multiply(param, weight_decay)
    if maximize:
        out -= grad
    else:
        out += grad
    return out


def lerp_(xp, start, end, weight: float, scratch) -> None:
    """``start += weight * (end - start)`` in place, in the form PyTorch's ``lerp_`` uses for ``weight``."""
    xp.subtract(end, start, out=scratch)
    if abs(weight) < 0.5:
        scratch *= weight
        start += scratch
    else:  # PyTorch switches form here so that weight == 1 lands exactly on ``end``
        scratch *= 1 - weight
        xp.subtract(end, scratch, out=start)


def zeros_state(state: dict, key: str, like):
    """The array of ``state[key]``, created as zeros shaped like ``like`` on first use."""
    if key not in state:
        state[key] = Tensor._wrap(xp_of(like).zeros_like(like))
    return state[key]._data


def advance_step(state: dict) -> float:
    """Count one more step in ``state['step']``, a float32 scalar tensor on the CPU as in PyTorch."""
    if "step" not in state:
        state["step"] = Tensor._wrap(np.zeros((), np.float32))
    counter = state["step"]._data
    counter += 1
    return float(counter)


def ema_square_(xp, average, values, decay: float, scratch) -> None:
    """``average = decay * average + (1 - decay) * values**2`` in place: the running mean of squares."""
    average *= decay
    xp.multiply(values, values, out=scratch)
    scratch *= 1 - decay
    average += scratch
