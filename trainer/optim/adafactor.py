"""``Adafactor`` (Shazeer & Stern, 2018) with PyTorch's semantics (``torch.optim.Adafactor``, PyTorch 2.5+).

The second moment of a parameter with two or more dims is kept factored along its last two dims: a running mean
of the squared gradient over each row (``row_var``) and over each column (``col_var``), whose normalised outer
product estimates the full matrix. Vectors and scalars keep it whole (``variance``). The step size is relative:
``min(lr, 1 / sqrt(t))`` times the parameter's RMS (at least ``eps[1]``), and the update's own RMS is clipped
to ``d``. ``lr`` also scales the (decoupled) weight decay.
"""

from __future__ import annotations

from trainer.backend import xp_of
from trainer.optim._inplace import advance_step, lerp_
from trainer.optim.optimizer import Optimizer
from trainer.tensor import Tensor
from trainer.type_info import array_finfo


class Adafactor(Optimizer):
    def __init__(self, params, lr: float = 1e-2, beta2_decay: float = -0.8,
                 eps: tuple[float | None, float] = (None, 1e-3), d: float = 1.0, weight_decay: float = 0.0, *,
                 foreach: bool | None = None, maximize: bool = False):
        # ``foreach`` is kept for PyTorch's API and state dicts; trainer has one implementation, whose update is
        # the same either way
        defaults = {"lr": lr, "beta2_decay": beta2_decay, "eps": eps, "d": d, "weight_decay": weight_decay,
                    "foreach": foreach, "maximize": maximize}
        super().__init__(params, defaults)

    def _check_hyperparameters(self, group: dict) -> None:
        eps1, eps2 = group["eps"]
        if not 0.0 <= group["lr"]:
            raise ValueError(f"Learning rate should be >= 0 but is: {group['lr']}")
        if not 0.0 >= group["beta2_decay"]:
            raise ValueError(f"beta2_decay should be <= 0 but is: {group['beta2_decay']}")
        if eps1 is not None and not 0.0 <= eps1:
            raise ValueError(f"epsilon1 should be >= 0 but is: {eps1}")
        if not 0.0 <= eps2:
            raise ValueError(f"epsilon2 should be >= 0 but is: {eps2}")
        if not 1.0 <= group["d"]:
            raise ValueError(f"Clipping threshold d should be >= 1 but is: {group['d']}")
        if not 0.0 <= group["weight_decay"]:
            raise ValueError(f"weight_decay should be >= 0 but is: {group['weight_decay']}")

    def _update(self, param: Tensor, grad, group: dict) -> None:
        data = param._data
        xp = xp_of(data)
        state = self.state[param]
        factored = data.ndim > 1
        step = advance_step(state)
        if step == 1:
            if factored:
                state["row_var"] = Tensor._wrap(xp.zeros(data.shape[:-1] + (1,), dtype=data.dtype))
                state["col_var"] = Tensor._wrap(xp.zeros(data.shape[:-2] + (1, data.shape[-1]), dtype=data.dtype))
            else:
                state["variance"] = Tensor._wrap(xp.zeros_like(data))
        lr, d, weight_decay = group["lr"], group["d"], group["weight_decay"]
        eps1, eps2 = group["eps"]
        if eps1 is None:
            eps1 = float(array_finfo(data.dtype).eps)
        if group["maximize"]:
            grad = xp.negative(grad)

        beta2_weight = step ** group["beta2_decay"]  # 1 - beta2_t: the weight of the new squared gradient
        rho = min(lr, 1 / step**0.5)
        alpha = max(eps2, _rms(xp, data)) * rho
        if weight_decay != 0:
            data *= 1 - lr * weight_decay

        squared = xp.multiply(grad, grad)
        if factored:
            row_var, col_var = state["row_var"]._data, state["col_var"]._data
            lerp_(xp, row_var, squared.mean(axis=-1, keepdims=True), beta2_weight, xp.empty_like(row_var))
            lerp_(xp, col_var, squared.mean(axis=-2, keepdims=True), beta2_weight, xp.empty_like(col_var))
            estimate = xp.matmul(row_var, col_var)
            estimate /= xp.maximum(row_var.mean(axis=-2, keepdims=True), eps1)
        else:
            variance = state["variance"]._data
            lerp_(xp, variance, squared, beta2_weight, xp.empty_like(variance))
            estimate = variance.copy()

        # eps1 is squared because the square root comes after: the floor keeps eps1's magnitude
        update = xp.maximum(estimate, eps1 * eps1, out=estimate)
        xp.sqrt(update, out=update)
        xp.divide(1, update, out=update)
        update *= grad
        denom = max(1.0, _rms(xp, update) / d)
        update *= -alpha / denom
        data += update


def _rms(xp, array) -> float:
    """The root mean square of ``array``'s entries, as PyTorch computes it: ``norm(2) / sqrt(numel)``."""
    return float(xp.linalg.norm(array.reshape(-1))) / array.size**0.5
