"""``ASGD``: SGD with a decaying step size that also keeps a running average of the iterates (``ax``), which
averaging starts to move once ``t0`` steps have passed."""

from __future__ import annotations

import numpy as np

from trainer.backend import xp_of
from trainer.dtypes import get_default_dtype
from trainer.optim._inplace import advance_step, effective_grad, zeros_state
from trainer.optim.complex_params import as_real, grad_as_real
from trainer.optim.optimizer import Optimizer, _require_non_negative
from trainer.tensor import Tensor


class ASGD(Optimizer):
    def __init__(self, params, lr: float = 1e-2, lambd: float = 1e-4, alpha: float = 0.75, t0: float = 1e6,
                 weight_decay: float = 0, foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False, capturable: bool = False):
        defaults = {"lr": lr, "lambd": lambd, "alpha": alpha, "t0": t0, "weight_decay": weight_decay,
                    "foreach": foreach, "maximize": maximize, "differentiable": differentiable,
                    "capturable": capturable}
        super().__init__(params, defaults)

    def _check_hyperparameters(self, group: dict) -> None:
        _require_non_negative(group, "lr", "learning rate")
        _require_non_negative(group, "weight_decay", "weight_decay value")

    def _update(self, param: Tensor, grad, group: dict) -> None:
        data = as_real(param._data)  # complex: as PyTorch, the real view of it and its state
        xp = xp_of(data)
        grad = grad_as_real(xp, grad)
        state = self.state[param]
        if "eta" not in state:
            # PyTorch keeps eta and mu as scalars of the default dtype and reads them back as Python floats.
            state["eta"] = Tensor._wrap(np.array(group["lr"], get_default_dtype().np))
            state["mu"] = Tensor._wrap(np.ones((), get_default_dtype().np))
        ax = as_real(zeros_state(state, "ax", param._data))
        step = advance_step(state)
        grad = effective_grad(xp, grad, data, group["weight_decay"], group["maximize"])
        eta, mu = float(state["eta"]._data), float(state["mu"]._data)
        lr, lambd = group["lr"], group["lambd"]

        data *= 1 - lambd * eta
        data -= eta * grad
        if mu != 1:
            ax += (data - ax) * mu
        else:
            ax[...] = data
        # New values pass through the default dtype, as PyTorch's torch.as_tensor(float) before copy_().
        default = get_default_dtype().np
        state["eta"]._data[...] = default.type(lr / ((1 + lambd * lr * step) ** group["alpha"]))
        state["mu"]._data[...] = default.type(1 / max(1, step - group["t0"]))
