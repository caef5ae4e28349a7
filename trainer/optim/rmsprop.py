"""``RMSprop``: steps scaled by a running root-mean-square of gradients, optionally centred and with momentum."""

from __future__ import annotations

from trainer.backend import xp_of
from trainer.optim._inplace import advance_step, effective_grad, ema_square_, lerp_, zeros_state
from trainer.optim.complex_params import as_real, grad_as_real
from trainer.optim.optimizer import Optimizer, _require_non_negative
from trainer.tensor import Tensor


class RMSprop(Optimizer):
    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8, weight_decay: float = 0,
                 momentum: float = 0, centered: bool = False, capturable: bool = False, foreach: bool | None = None,
                 maximize: bool = False, differentiable: bool = False):
        defaults = {"lr": lr, "momentum": momentum, "alpha": alpha, "eps": eps, "centered": centered,
                    "weight_decay": weight_decay, "capturable": capturable, "foreach": foreach, "maximize": maximize,
                    "differentiable": differentiable}
        super().__init__(params, defaults)

    def _check_hyperparameters(self, group: dict) -> None:
        _require_non_negative(group, "lr", "learning rate")
        _require_non_negative(group, "eps", "epsilon value")
        _require_non_negative(group, "momentum", "momentum value")
        _require_non_negative(group, "weight_decay", "weight_decay value")
        _require_non_negative(group, "alpha", "alpha value")

    def _update(self, param: Tensor, grad, group: dict) -> None:
        data = as_real(param._data)  # complex: as PyTorch, the real view of it and its state
        xp = xp_of(data)
        grad = grad_as_real(xp, grad)
        state = self.state[param]
        advance_step(state)
        lr, alpha, momentum, centered = group["lr"], group["alpha"], group["momentum"], group["centered"]
        square_avg = as_real(zeros_state(state, "square_avg", param._data))
        buffer = as_real(zeros_state(state, "momentum_buffer", param._data)) if momentum > 0 else None
        grad_avg = as_real(zeros_state(state, "grad_avg", param._data)) if centered else None
        grad = effective_grad(xp, grad, data, group["weight_decay"], group["maximize"])

        scratch = xp.empty_like(data)
        ema_square_(xp, square_avg, grad, alpha, scratch)
        if centered:  # the RMS of the gradient's deviation from its running mean
            lerp_(xp, grad_avg, grad, 1 - alpha, scratch)
            xp.multiply(grad_avg, grad_avg, out=scratch)
            xp.subtract(square_avg, scratch, out=scratch)
            xp.sqrt(scratch, out=scratch)
        else:
            xp.sqrt(square_avg, out=scratch)
        scratch += group["eps"]
        xp.divide(grad, scratch, out=scratch)
        if buffer is not None:
            buffer *= momentum
            buffer += scratch
            xp.multiply(buffer, lr, out=scratch)
        else:
            scratch *= lr
        data -= scratch
