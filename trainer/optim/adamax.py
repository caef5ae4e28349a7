"""``Adamax``: Adam with the second moment replaced by an exponentially weighted infinity norm."""

from __future__ import annotations

from trainer.backend import xp_of
from trainer.optim._inplace import advance_step, effective_grad, lerp_, zeros_state
from trainer.optim.adam import AdamFamily
from trainer.optim.complex_params import as_real, grad_as_real
from trainer.tensor import Tensor


class Adamax(AdamFamily):
    def __init__(self, params, lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, foreach: bool | None = None, *, maximize: bool = False,
                 differentiable: bool = False, capturable: bool = False):
        defaults = {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay, "foreach": foreach,
                    "maximize": maximize, "differentiable": differentiable, "capturable": capturable}
        super().__init__(params, defaults)

    def _update(self, param: Tensor, grad, group: dict) -> None:
        data = as_real(param._data)  # complex: as PyTorch, the real view of it and its state
        xp = xp_of(data)
        grad = grad_as_real(xp, grad)
        state = self.state[param]
        step = advance_step(state)
        exp_avg = as_real(zeros_state(state, "exp_avg", param._data))
        exp_inf = as_real(zeros_state(state, "exp_inf", param._data))
        beta1, beta2 = group["betas"]
        grad = effective_grad(xp, grad, data, group["weight_decay"], group["maximize"])

        scratch = xp.empty_like(data)
        lerp_(xp, exp_avg, grad, 1 - beta1, scratch)
        exp_inf *= beta2
        xp.abs(grad, out=scratch)
        scratch += group["eps"]
        xp.maximum(exp_inf, scratch, out=exp_inf)
        xp.divide(exp_avg, exp_inf, out=scratch)
        scratch *= group["lr"] / (1 - beta1**step)
        data -= scratch
