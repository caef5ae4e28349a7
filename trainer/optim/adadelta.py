"""``Adadelta``: steps sized by the ratio of running RMS of past updates to running RMS of gradients."""

from __future__ import annotations

from trainer.backend import xp_of
from trainer.optim._inplace import advance_step, effective_grad, ema_square_, zeros_state
from trainer.optim.complex_params import as_real, grad_as_real
from trainer.optim.optimizer import Optimizer, _require_non_negative
from trainer.tensor import Tensor


class Adadelta(Optimizer):
    def __init__(self, params, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6, weight_decay: float = 0,
                 foreach: bool | None = None, *, capturable: bool = False, maximize: bool = False,
                 differentiable: bool = False):
        defaults = {"lr": lr, "rho": rho, "eps": eps, "weight_decay": weight_decay, "maximize": maximize,
                    "capturable": capturable, "foreach": foreach, "differentiable": differentiable}
        super().__init__(params, defaults)

    def _check_hyperparameters(self, group: dict) -> None:
        _require_non_negative(group, "lr", "learning rate")
        if not 0.0 <= group["rho"] <= 1.0:
            raise ValueError(f"Invalid rho value: {group['rho']}")
        _require_non_negative(group, "eps", "epsilon value")
        _require_non_negative(group, "weight_decay", "weight_decay value")

    def _update(self, param: Tensor, grad, group: dict) -> None:
        data = as_real(param._data)  # complex: as PyTorch, the real view of it and its state
        xp = xp_of(data)
        grad = grad_as_real(xp, grad)
        state = self.state[param]
        advance_step(state)
        square_avg = as_real(zeros_state(state, "square_avg", param._data))
        acc_delta = as_real(zeros_state(state, "acc_delta", param._data))
        rho, eps = group["rho"], group["eps"]
        grad = effective_grad(xp, grad, data, group["weight_decay"], group["maximize"])

        scratch, delta = xp.empty_like(data), xp.empty_like(data)
        ema_square_(xp, square_avg, grad, rho, scratch)
        # delta = sqrt(acc_delta + eps) / sqrt(square_avg + eps) * grad
        xp.add(square_avg, eps, out=scratch)
        xp.sqrt(scratch, out=scratch)
        xp.add(acc_delta, eps, out=delta)
        xp.sqrt(delta, out=delta)
        delta /= scratch
        delta *= grad
        ema_square_(xp, acc_delta, delta, rho, scratch)
        delta *= group["lr"]
        data -= delta
