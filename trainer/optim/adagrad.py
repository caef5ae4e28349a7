"""``Adagrad``: per-coordinate steps scaled by the root of the running sum of squared gradients."""

from __future__ import annotations

import numpy as np

from trainer.backend import xp_of
from trainer.optim._inplace import advance_step, effective_grad
from trainer.optim.complex_params import as_real, grad_as_real
from trainer.optim.optimizer import Optimizer, _require_non_negative
from trainer.optim.sparse_grads import adagrad_sparse_update
from trainer.sparse_coo_array import is_sparse_array
from trainer.tensor import Tensor


class Adagrad(Optimizer):
    accepts_sparse_grads = True  # without weight decay, as in PyTorch

    def __init__(self, params, lr: float = 1e-2, lr_decay: float = 0, weight_decay: float = 0,
                 initial_accumulator_value: float = 0, eps: float = 1e-10, foreach: bool | None = None, *,
                 maximize: bool = False, differentiable: bool = False, fused: bool | None = None):
        defaults = {"lr": lr, "lr_decay": lr_decay, "eps": eps, "weight_decay": weight_decay,
                    "initial_accumulator_value": initial_accumulator_value, "foreach": foreach, "maximize": maximize,
                    "differentiable": differentiable, "fused": fused}
        super().__init__(params, defaults)
        for group in self.param_groups:  # PyTorch creates the state up front, so a fresh state dict already has it
            for param in group["params"]:
                self._init_state(param, group)

    def _check_hyperparameters(self, group: dict) -> None:
        _require_non_negative(group, "lr", "learning rate")
        _require_non_negative(group, "lr_decay", "lr_decay value")
        _require_non_negative(group, "weight_decay", "weight_decay value")
        _require_non_negative(group, "initial_accumulator_value", "initial_accumulator_value value")
        _require_non_negative(group, "eps", "epsilon value")

    def _init_state(self, param: Tensor, group: dict) -> dict:
        state = self.state[param]
        if "sum" not in state:
            state["step"] = Tensor._wrap(np.zeros((), np.float32))
            value = group["initial_accumulator_value"]  # complex: in both parts of the real view, as PyTorch
            value = complex(value, value) if param._data.dtype.kind == "c" else value
            state["sum"] = Tensor._wrap(xp_of(param._data).full_like(param._data, value))
        return state

    def _update(self, param: Tensor, grad, group: dict) -> None:
        if is_sparse_array(grad):  # PyTorch's sparse branch works on the parameter itself, even a complex one
            state = self._init_state(param, group)
            return adagrad_sparse_update(state, param, grad, group, advance_step(state))
        data = as_real(param._data)  # complex: as PyTorch, the real view of it and its state
        xp = xp_of(data)
        grad = grad_as_real(xp, grad)
        state = self._init_state(param, group)
        step = advance_step(state)
        state_sum = as_real(state["sum"]._data)
        grad = effective_grad(xp, grad, data, group["weight_decay"], group["maximize"])
        decayed_lr = group["lr"] / (1 + (step - 1) * group["lr_decay"])

        scratch = xp.empty_like(data)  # 0-d operands give NumPy scalars unless written into an array
        xp.multiply(grad, grad, out=scratch)
        state_sum += scratch
        xp.sqrt(state_sum, out=scratch)
        scratch += group["eps"]
        xp.divide(grad, scratch, out=scratch)
        scratch *= decayed_lr
        data -= scratch
