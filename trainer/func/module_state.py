"""``torch.func.stack_module_state``: the parameters and buffers of several models of one class stacked, for
running an ensemble with ``vmap`` over ``functional_call``."""

from __future__ import annotations

import trainer


def stack_module_state(models) -> tuple[dict, dict]:
    """``(params, buffers)``: for each name, the models' tensors stacked along a new first dimension. Stacked
    parameters are new leaves that require grad (when the models' do), so an optimizer can train them."""
    if len(models) == 0:
        raise RuntimeError("stack_module_state: Expected at least one model, got 0.")
    if not (all(m.training for m in models) or all(not m.training for m in models)):
        raise RuntimeError("stack_module_state: Expected all models to have the same training/eval mode.")
    first_type = type(models[0])
    if not all(type(m) is first_type for m in models):
        raise RuntimeError("stack_module_state: Expected all models to be of the same class.")
    all_params = [dict(model.named_parameters()) for model in models]
    params = {name: _stacked_leaf([p[name] for p in all_params], name) for name in all_params[0]}
    all_buffers = [dict(model.named_buffers()) for model in models]
    buffers = {name: _stacked_leaf([b[name] for b in all_buffers], name) for name in all_buffers[0]}
    return params, buffers


def _stacked_leaf(tensors: list, name: str):
    requires_grad = [t.requires_grad for t in tensors]
    if any(requires_grad) and not all(requires_grad):
        raise RuntimeError(f"Expected {name} from each model to have the same .requires_grad")
    stacked = trainer.stack(tensors)
    return stacked.detach().requires_grad_() if all(requires_grad) else stacked
