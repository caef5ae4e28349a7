"""``RAdam``: Adam whose adaptive step is switched on, and rectified, once its variance estimate is reliable."""

from __future__ import annotations

from trainer.backend import xp_of
from trainer.optim._inplace import advance_step, ema_square_, lerp_, zeros_state
from trainer.optim.adam import AdamFamily, grad_after_weight_decay
from trainer.optim.complex_params import as_real, grad_as_real
from trainer.tensor import Tensor


class RAdam(AdamFamily):
    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, decoupled_weight_decay: bool = False, *, foreach: bool | None = None,
                 maximize: bool = False, capturable: bool = False, differentiable: bool = False):
        defaults = {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay, "maximize": maximize,
                    "foreach": foreach, "capturable": capturable, "decoupled_weight_decay": decoupled_weight_decay,
                    "differentiable": differentiable}
        super().__init__(params, defaults)

    def _update(self, param: Tensor, grad, group: dict) -> None:
        data = as_real(param._data)  # complex: as PyTorch, the real view of it and its state
        xp = xp_of(data)
        grad = grad_as_real(xp, grad)
        state = self.state[param]
        step = advance_step(state)
        exp_avg = as_real(zeros_state(state, "exp_avg", param._data))
        exp_avg_sq = as_real(zeros_state(state, "exp_avg_sq", param._data))
        lr = group["lr"]
        beta1, beta2 = group["betas"]
        grad = grad_after_weight_decay(xp, grad, data, group)

        scratch = xp.empty_like(data)
        lerp_(xp, exp_avg, grad, 1 - beta1, scratch)
        ema_square_(xp, exp_avg_sq, grad, beta2, scratch)

        bias_correction1 = 1 - beta1**step
        bias_correction2 = 1 - beta2**step
        step_size = xp.empty_like(data)
        xp.divide(exp_avg, bias_correction1, out=step_size)
        step_size *= lr
        # the length of the approximated simple moving average; its variance is tractable only above 4
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * beta2**step / bias_correction2
        if rho_t > 5.0:
            rect = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
            xp.sqrt(exp_avg_sq, out=scratch)
            scratch += group["eps"]
            xp.divide(bias_correction2**0.5, scratch, out=scratch)
            step_size *= scratch
            step_size *= rect
        data -= step_size
