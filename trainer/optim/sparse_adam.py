"""``SparseAdam``: PyTorch's masked Adam for dense parameters with sparse gradients (``nn.Embedding(sparse=True)``):
only the rows a gradient holds update their moments and their values."""

from __future__ import annotations

import math

from trainer.backend import xp_of
from trainer.optim.optimizer import Optimizer
from trainer.sparse_coo_array import is_sparse_array
from trainer.tensor import Tensor


class SparseAdam(Optimizer):
    accepts_sparse_grads = True

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 maximize: bool = False):
        if not 0.0 < lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 < eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        for i, beta in enumerate(betas):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"Invalid beta parameter at index {i}: {beta}")
        super().__init__(params, {"lr": lr, "betas": tuple(betas), "eps": eps, "maximize": maximize})
        for kind, problem in (("is_sparse", "Sparse params at indices {}: SparseAdam requires dense parameter "
                                            "tensors"),
                              ("is_complex", "Complex params at indices {}: SparseAdam does not support complex "
                                             "parameters")):
            found = [[g, p] for g, group in enumerate(self.param_groups) for p, param in enumerate(group["params"])
                     if (param.is_sparse if kind == "is_sparse" else param.is_complex())]
            if found:
                raise ValueError(problem.format(found))

    def _update(self, param: Tensor, grad, group: dict) -> None:
        if not is_sparse_array(grad):
            raise RuntimeError("SparseAdam does not support dense gradients, please consider Adam instead")
        data = param._data
        xp = xp_of(data)
        state = self.state[param]
        if not state:
            state["step"] = 0
            state["exp_avg"] = Tensor._wrap(xp.zeros_like(data))
            state["exp_avg_sq"] = Tensor._wrap(xp.zeros_like(data))
        state["step"] += 1
        grad = grad.coalesce()[0]  # the update is not linear in the gradient: each row once
        if grad.nnz == 0:
            return
        values = -grad.values if group["maximize"] else grad.values
        rows = tuple(grad.indices)
        beta1, beta2 = group["betas"]
        exp_avg, exp_avg_sq = state["exp_avg"]._data, state["exp_avg_sq"]._data
        # old <- b * old + (1 - b) * new, as old += (1 - b) * (new - old), on the gradient's rows only
        old_avg = exp_avg[rows]
        avg_update = (values - old_avg) * (1 - beta1)
        exp_avg[rows] += avg_update
        old_avg_sq = exp_avg_sq[rows]
        avg_sq_update = (values ** 2 - old_avg_sq) * (1 - beta2)
        exp_avg_sq[rows] += avg_sq_update
        numer = avg_update + old_avg
        denom = xp.sqrt(avg_sq_update + old_avg_sq) + group["eps"]
        step = state["step"]
        step_size = group["lr"] * math.sqrt(1 - beta2 ** step) / (1 - beta1 ** step)
        data[rows] += (-step_size * (numer / denom)).astype(data.dtype, copy=False)
