"""``SGD``: stochastic gradient descent with optional momentum (heavy-ball or Nesterov) and weight decay."""

from __future__ import annotations

from trainer.backend import xp_of
from trainer.optim._inplace import effective_grad
from trainer.optim.optimizer import Optimizer, _require_non_negative
from trainer.optim.sparse_grads import sgd_sparse_update
from trainer.sparse_coo_array import is_sparse_array
from trainer.tensor import Tensor


class SGD(Optimizer):
    accepts_sparse_grads = True  # without weight decay, as in PyTorch
    def __init__(self, params, lr: float = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False, *, maximize: bool = False,
                 foreach: bool | None = None, differentiable: bool = False, fused: bool | None = None):
        defaults = {"lr": lr, "momentum": momentum, "dampening": dampening, "weight_decay": weight_decay,
                    "nesterov": nesterov, "maximize": maximize, "foreach": foreach, "differentiable": differentiable,
                    "fused": fused}
        super().__init__(params, defaults)

    def _check_hyperparameters(self, group: dict) -> None:
        _require_non_negative(group, "lr", "learning rate")
        _require_non_negative(group, "momentum", "momentum value")
        _require_non_negative(group, "weight_decay", "weight_decay value")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")

    def _update(self, param: Tensor, grad, group: dict) -> None:
        if is_sparse_array(grad):
            return sgd_sparse_update(self, param, grad, group)
        data = param._data
        xp = xp_of(data)
        momentum, dampening = group["momentum"], group["dampening"]
        direction = effective_grad(xp, grad, data, group["weight_decay"], group["maximize"])
        if momentum != 0:
            state = self.state[param]
            if state.get("momentum_buffer") is None:  # the first step seeds the buffer with the gradient itself
                buffer = xp.array(direction, dtype=data.dtype, copy=True)
                state["momentum_buffer"] = Tensor._wrap(buffer)
            else:
                buffer = state["momentum_buffer"]._data
                buffer *= momentum
                buffer += direction if dampening == 0 else (1 - dampening) * direction
            direction = direction + momentum * buffer if group["nesterov"] else buffer
        data -= group["lr"] * direction
