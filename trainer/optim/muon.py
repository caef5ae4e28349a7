"""``Muon`` (Keller Jordan, 2024) with PyTorch's semantics (``torch.optim.Muon``, PyTorch 2.9+).

Muon keeps SGD-style momentum for each 2-D parameter and steps along the momentum's orthogonalisation: a few
quintic Newton-Schulz iterations push every singular value of the (Nesterov) momentum towards one, so a step moves
all directions of the matrix by a similar amount. The learning rate is scaled by the matrix's shape
(``adjust_lr_fn``) so that updates of rectangular matrices have a comparable RMS; weight decay is decoupled and
uses the unscaled learning rate.

PyTorch runs the Newton-Schulz iterations in bfloat16, a dtype trainer does not have; trainer runs them in the
parameter's own dtype, so its steps are the exact-arithmetic version of PyTorch's (they agree with PyTorch's to
bfloat16's precision, about 1e-2 relative).
"""

from __future__ import annotations

import math

from trainer.backend import xp_of
from trainer.optim._inplace import lerp_, zeros_state
from trainer.optim.optimizer import Optimizer
from trainer.tensor import Tensor

# The quintic's coefficients and step count from Keller Jordan's post (https://kellerjordan.github.io/posts/muon/)
DEFAULT_NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)
DEFAULT_NS_STEPS = 5
EPS = 1e-7
ADJUST_LR_FNS = ("original", "match_rms_adamw")


class Muon(Optimizer):
    def __init__(self, params, lr: float = 1e-3, weight_decay: float = 0.1, momentum: float = 0.95,
                 nesterov: bool = True, ns_coefficients: tuple[float, float, float] = DEFAULT_NS_COEFFICIENTS,
                 eps: float = EPS, ns_steps: int = DEFAULT_NS_STEPS, adjust_lr_fn: str | None = None):
        defaults = {"lr": lr, "weight_decay": weight_decay, "momentum": momentum, "nesterov": nesterov,
                    "ns_coefficients": ns_coefficients, "eps": eps, "ns_steps": ns_steps,
                    "adjust_lr_fn": adjust_lr_fn}
        super().__init__(params, defaults)
        # as in PyTorch, only the parameters given here are checked: other shapes fail at the step instead
        for group in self.param_groups:
            for param in group["params"]:
                if param.ndim != 2:
                    raise ValueError(f"Muon only supports 2D parameters whereas we found a parameter with size: "
                                     f"{param.size()}")

    def _check_hyperparameters(self, group: dict) -> None:
        if not 0.0 <= group["lr"]:
            raise ValueError(f"Learning rate should be >= 0 but is: {group['lr']}")
        if not 0.0 <= group["momentum"]:
            raise ValueError(f"momentum should be >= 0 but is: {group['momentum']}")
        if not 0.0 <= group["weight_decay"]:
            raise ValueError(f"weight decay should be >= 0 but is: {group['weight_decay']}")
        adjust_lr_fn = group["adjust_lr_fn"]
        if adjust_lr_fn is not None and adjust_lr_fn not in ADJUST_LR_FNS:
            raise ValueError(f"Adjust learning rate function {adjust_lr_fn} is not supported; expected None or one "
                             f"of {', '.join(map(repr, ADJUST_LR_FNS))}")

    def _update(self, param: Tensor, grad, group: dict) -> None:
        data = param._data
        if grad.ndim != 2:
            raise ValueError(f"Param gradient must be a 2D matrix, but got one of shape {tuple(grad.shape)}")
        xp = xp_of(data)
        momentum, lr = group["momentum"], group["lr"]
        buffer = zeros_state(self.state[param], "momentum_buffer", data)
        lerp_(xp, buffer, grad, 1 - momentum, xp.empty_like(buffer))
        if group["nesterov"]:
            direction = xp.array(grad, dtype=data.dtype, copy=True)
            lerp_(xp, direction, buffer, momentum, xp.empty_like(direction))
        else:
            direction = buffer
        update = zeropower_via_newton_schulz(direction, group["ns_coefficients"], group["ns_steps"], group["eps"])
        data *= 1 - lr * group["weight_decay"]
        update *= -adjusted_lr(lr, group["adjust_lr_fn"], data.shape)
        data += update


def zeropower_via_newton_schulz(matrix, ns_coefficients, ns_steps: int, eps: float):
    """A new array near ``matrix``'s orthogonal factor U V^T (of its SVD U S V^T), by quintic Newton-Schulz steps.

    The coefficients maximise the slope at zero rather than converge, so singular values end up spread around one
    (roughly within 0.5 to 1.5); PyTorch and the Muon paper accept that for fewer steps.
    """
    if ns_steps >= 100:
        raise ValueError(f"Number of steps must be less than 100 for computational efficiency, but got {ns_steps}")
    if matrix.ndim != 2:
        raise ValueError(f"Input tensor gradient must be a 2D matrix, but got one of shape {tuple(matrix.shape)}")
    if len(ns_coefficients) != 3:
        raise ValueError(f"Coefficients must be a tuple of exactly 3 values, but got {len(ns_coefficients)}")
    xp = xp_of(matrix)
    a, b, c = ns_coefficients
    tall = matrix.shape[0] > matrix.shape[1]
    ortho = matrix.T if tall else matrix  # iterate on the wide side: its Gram matrix is the smaller one
    # the Frobenius norm bounds the spectral norm, so dividing by it puts every singular value at most 1
    ortho = ortho / max(float(xp.linalg.norm(ortho)), eps)
    for _ in range(ns_steps):
        gram = ortho @ ortho.T
        polynomial = b * gram + c * (gram @ gram)
        ortho = a * ortho + polynomial @ ortho
    return ortho.T if tall else ortho


def adjusted_lr(lr: float, adjust_lr_fn: str | None, shape) -> float:
    """``lr`` scaled for a ``shape[0]`` x ``shape[1]`` matrix: Keller Jordan's ``sqrt(max(1, A / B))`` (the default,
    ``"original"``) or Moonshot's ``0.2 * sqrt(max(A, B))`` (``"match_rms_adamw"``), which matches AdamW's RMS."""
    rows, cols = shape[:2]
    if adjust_lr_fn is None or adjust_lr_fn == "original":
        return lr * math.sqrt(max(1, rows / cols))
    if adjust_lr_fn == "match_rms_adamw":
        return lr * 0.2 * math.sqrt(max(rows, cols))
    return lr
