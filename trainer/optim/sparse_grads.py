"""Optimizers meeting sparse gradients (``nn.Embedding(sparse=True)``): PyTorch's refusal by the optimizers that
need dense ones, and SGD's update from a sparse gradient."""

from __future__ import annotations

from trainer.backend import xp_of
from trainer.ops.indexing import _scatter_add


def require_sparse_grad_support(optimizer) -> None:
    """Raise PyTorch's error unless ``optimizer`` (whose class says so with ``accepts_sparse_grads``) can use a
    sparse gradient."""
    if getattr(type(optimizer), "accepts_sparse_grads", False):
        return
    from trainer.optim.adam import Adam  # AdamW shares Adam's check, and its message, in PyTorch

    if isinstance(optimizer, Adam):
        raise RuntimeError("Adam does not support sparse gradients, please consider SparseAdam instead")
    raise RuntimeError(f"{type(optimizer).__name__} does not support sparse gradients")


def sgd_sparse_update(optimizer, param, grad, group: dict) -> None:
    """SGD from a sparse gradient storage, as PyTorch's SGD treats one: weight decay is refused (its dense term
    cannot be added to a sparse gradient); with momentum, PyTorch's sparse buffer holds the same numbers as a dense
    one, so the dense rule runs on the densified gradient; without, only the rows in the gradient change."""
    if group["weight_decay"] != 0:
        raise RuntimeError("add(sparse, dense) is not supported. Use add(dense, sparse) instead.")
    if group["momentum"] != 0:
        optimizer._update(param, grad.to_dense(), group)
        return
    scale = group["lr"] if group["maximize"] else -group["lr"]
    data = param._data
    _scatter_add(xp_of(data), data, tuple(grad.indices), (grad.values * scale).astype(data.dtype, copy=False))


def adagrad_sparse_update(state: dict, param, grad, group: dict, step: float) -> None:
    """Adagrad from a sparse gradient storage, as PyTorch's: weight decay is refused; each row the (coalesced)
    gradient holds adds its squares to the running sum and steps by its values over the root of that sum."""
    if group["weight_decay"] != 0:
        raise RuntimeError("weight_decay option is not compatible with sparse gradients")
    grad = grad.coalesce()[0]  # the update is not linear in the gradient: each row once
    values = -grad.values if group["maximize"] else grad.values
    rows = tuple(grad.indices)
    data, state_sum = param._data, state["sum"]._data
    xp = xp_of(data)
    _scatter_add(xp, state_sum, rows, values * values)
    std = xp.sqrt(state_sum[rows]) + group["eps"]
    decayed_lr = group["lr"] / (1 + (step - 1) * group["lr_decay"])
    _scatter_add(xp, data, rows, (values / std * -decayed_lr).astype(data.dtype, copy=False))
