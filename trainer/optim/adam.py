"""``Adam`` and ``AdamW``: one update rule; AdamW is Adam with weight decay decoupled from the gradient."""

from __future__ import annotations

from trainer.backend import xp_of
from trainer.optim._inplace import advance_step, effective_grad, ema_square_, lerp_, zeros_state
from trainer.optim.complex_params import as_real, grad_as_real
from trainer.optim.optimizer import Optimizer, _require_non_negative
from trainer.tensor import Tensor


class AdamFamily(Optimizer):
    """The base of Adam and its relatives (Adamax, NAdam, RAdam): PyTorch's checks of the options they share."""

    def _check_hyperparameters(self, group: dict) -> None:
        _require_non_negative(group, "lr", "learning rate")
        _require_non_negative(group, "eps", "epsilon value")
        for i, beta in enumerate(group["betas"]):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"Invalid beta parameter at index {i}: {beta}")
        _require_non_negative(group, "weight_decay", "weight_decay value")


def grad_after_weight_decay(xp, grad, data, group: dict):
    """``effective_grad`` for a group with a ``decoupled_weight_decay`` option, as Adam and its relatives have.

    Decoupled (AdamW's way), the decay shrinks ``data`` in place by ``lr * weight_decay`` and the gradient gets
    none of it; otherwise it is the usual L2 term added to the gradient.
    """
    weight_decay, decoupled = group["weight_decay"], group["decoupled_weight_decay"]
    if decoupled and weight_decay != 0:
        data *= 1 - group["lr"] * weight_decay
    return effective_grad(xp, grad, data, 0 if decoupled else weight_decay, group["maximize"])


class Adam(AdamFamily):
    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, amsgrad: bool = False, *, foreach: bool | None = None,
                 maximize: bool = False, capturable: bool = False, differentiable: bool = False,
                 fused: bool | None = None, decoupled_weight_decay: bool = False):
        defaults = {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay, "amsgrad": amsgrad,
                    "maximize": maximize, "foreach": foreach, "capturable": capturable,
                    "differentiable": differentiable, "fused": fused, "decoupled_weight_decay": decoupled_weight_decay}
        super().__init__(params, defaults)

    def _update(self, param: Tensor, grad, group: dict) -> None:
        xp = xp_of(param._data)
        data, grad = as_real(param._data), grad_as_real(xp, grad)  # complex: as PyTorch, the real view
        state = self.state[param]
        step = advance_step(state)
        exp_avg = as_real(zeros_state(state, "exp_avg", param._data))
        exp_avg_sq = as_real(zeros_state(state, "exp_avg_sq", param._data))
        lr, eps = group["lr"], group["eps"]
        beta1, beta2 = group["betas"]
        grad = grad_after_weight_decay(xp, grad, data, group)

        scratch = xp.empty_like(data)
        lerp_(xp, exp_avg, grad, 1 - beta1, scratch)
        ema_square_(xp, exp_avg_sq, grad, beta2, scratch)
        if group["amsgrad"]:
            second_moment = as_real(zeros_state(state, "max_exp_avg_sq", param._data))
            xp.maximum(second_moment, exp_avg_sq, out=second_moment)
        else:
            second_moment = exp_avg_sq

        # data -= lr / (1 - beta1^t) * exp_avg / (sqrt(second_moment) / sqrt(1 - beta2^t) + eps)
        xp.sqrt(second_moment, out=scratch)
        scratch /= (1 - beta2**step) ** 0.5
        scratch += eps
        xp.divide(exp_avg, scratch, out=scratch)
        scratch *= lr / (1 - beta1**step)
        data -= scratch


class AdamW(Adam):
    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *, maximize: bool = False,
                 foreach: bool | None = None, capturable: bool = False, differentiable: bool = False,
                 fused: bool | None = None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach, maximize=maximize,
                         capturable=capturable, differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict(state_dict)
        for group in self.param_groups:  # an Adam state dict loaded into AdamW still decays AdamW's way
            group["decoupled_weight_decay"] = True
