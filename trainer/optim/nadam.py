"""``NAdam``: Adam with Nesterov momentum, its momentum warmed up by ``momentum_decay`` (Dozat, 2016)."""

from __future__ import annotations

import numpy as np

from trainer.backend import xp_of
from trainer.optim._inplace import advance_step, ema_square_, lerp_, zeros_state
from trainer.optim.adam import AdamFamily, grad_after_weight_decay
from trainer.optim.complex_params import as_real, grad_as_real
from trainer.optim.optimizer import _require_non_negative
from trainer.tensor import Tensor


class NAdam(AdamFamily):
    def __init__(self, params, lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, momentum_decay: float = 4e-3, decoupled_weight_decay: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False):
        defaults = {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay,
                    "momentum_decay": momentum_decay, "decoupled_weight_decay": decoupled_weight_decay,
                    "maximize": maximize, "foreach": foreach, "capturable": capturable,
                    "differentiable": differentiable}
        super().__init__(params, defaults)

    def _check_hyperparameters(self, group: dict) -> None:
        super()._check_hyperparameters(group)
        _require_non_negative(group, "momentum_decay", "momentum_decay value")

    def _update(self, param: Tensor, grad, group: dict) -> None:
        data = as_real(param._data)  # complex: as PyTorch, the real view of it and its state
        xp = xp_of(data)
        grad = grad_as_real(xp, grad)
        state = self.state[param]
        step = advance_step(state)
        if "mu_product" not in state:  # a float32 CPU scalar like ``step``, so its rounding matches PyTorch's
            state["mu_product"] = Tensor._wrap(np.ones((), np.float32))
        exp_avg = as_real(zeros_state(state, "exp_avg", param._data))
        exp_avg_sq = as_real(zeros_state(state, "exp_avg_sq", param._data))
        lr, momentum_decay = group["lr"], group["momentum_decay"]
        beta1, beta2 = group["betas"]
        grad = grad_after_weight_decay(xp, grad, data, group)

        mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * momentum_decay))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * momentum_decay))
        mu_product_array = state["mu_product"]._data
        mu_product_array *= mu
        mu_product = float(mu_product_array)

        scratch = xp.empty_like(data)
        lerp_(xp, exp_avg, grad, 1 - beta1, scratch)
        ema_square_(xp, exp_avg_sq, grad, beta2, scratch)

        denom = xp.empty_like(data)
        xp.divide(exp_avg_sq, 1 - beta2**step, out=denom)
        xp.sqrt(denom, out=denom)
        denom += group["eps"]
        # data -= lr * ((1 - mu) / (1 - mu_product) * grad + mu_next / (1 - mu_product * mu_next) * exp_avg) / denom
        xp.divide(grad, denom, out=scratch)
        scratch *= lr * (1.0 - mu) / (1.0 - mu_product)
        data -= scratch
        xp.divide(exp_avg, denom, out=scratch)
        scratch *= lr * mu_next / (1.0 - mu_product * mu_next)
        data -= scratch
