"""``Rprop``: each coordinate moves by its own step size, grown while its gradient keeps its sign and shrunk
when the sign flips; only the gradient's sign is used."""

from __future__ import annotations

from trainer.backend import xp_of
from trainer.optim._inplace import advance_step, zeros_state
from trainer.optim.complex_params import as_real, grad_as_real
from trainer.optim.optimizer import Optimizer, _require_non_negative
from trainer.tensor import Tensor


class Rprop(Optimizer):
    def __init__(self, params, lr: float = 1e-2, etas: tuple[float, float] = (0.5, 1.2),
                 step_sizes: tuple[float, float] = (1e-6, 50), *, capturable: bool = False,
                 foreach: bool | None = None, maximize: bool = False, differentiable: bool = False):
        defaults = {"lr": lr, "etas": etas, "step_sizes": step_sizes, "foreach": foreach, "maximize": maximize,
                    "differentiable": differentiable, "capturable": capturable}
        super().__init__(params, defaults)

    def _check_hyperparameters(self, group: dict) -> None:
        _require_non_negative(group, "lr", "learning rate")
        eta_minus, eta_plus = group["etas"]
        if not 0.0 < eta_minus < 1.0 < eta_plus:
            raise ValueError(f"Invalid eta values: {eta_minus}, {eta_plus}")

    def _update(self, param: Tensor, grad, group: dict) -> None:
        data = as_real(param._data)  # complex: as PyTorch, the real view of it and its state
        xp = xp_of(data)
        grad = grad_as_real(xp, grad)
        state = self.state[param]
        advance_step(state)
        prev = as_real(zeros_state(state, "prev", param._data))
        if "step_size" not in state:
            lr = group["lr"]  # complex: in both parts of the real view, as PyTorch
            lr = complex(lr, lr) if param._data.dtype.kind == "c" else lr
            state["step_size"] = Tensor._wrap(xp.full_like(param._data, lr))
        step_size = as_real(state["step_size"]._data)
        eta_minus, eta_plus = group["etas"]
        if group["maximize"]:
            grad = xp.negative(grad)

        agreement = xp.sign(grad * prev)  # NaN stays NaN, as in PyTorch
        one = data.dtype.type(1)
        step_size *= xp.where(agreement > 0, one * eta_plus,
                              xp.where(agreement < 0, one * eta_minus, xp.where(agreement == 0, one, agreement)))
        xp.clip(step_size, *group["step_sizes"], out=step_size)
        # After a sign flip the coordinate rests for one step, and the next step compares against zero.
        flipped = agreement < 0
        grad = xp.where(flipped, data.dtype.type(0), grad)
        data -= xp.sign(grad) * step_size
        prev[...] = grad

