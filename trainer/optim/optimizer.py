"""``Optimizer``: parameter groups, per-parameter state, ``zero_grad``, ``step`` and state dicts, as in PyTorch.

Subclasses supply the update rule for one parameter (``_update``) and the checks on a group's
hyperparameters (``_check_hyperparameters``); everything else lives here once.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from itertools import chain

import numpy as np

from trainer.autograd.grad_mode import enable_grad, no_grad
from trainer.backend import CPU, to_device
from trainer.optim.implementation_flags import check_implementation_flags, check_param_for_flags
from trainer.optim.sparse_grads import require_sparse_grad_support
from trainer.tensor import Tensor


class Optimizer:
    """The base of every optimizer. PyTorch's ``foreach``, ``fused`` and ``capturable`` pick implementations with the
    same maths there; trainer has one, and keeps them as flags in ``defaults`` and ``param_groups`` with PyTorch's
    checks (see ``trainer.optim.implementation_flags``)."""

    def __init__(self, params, defaults: dict):
        self.defaults = defaults
        self.state: defaultdict[Tensor, dict] = defaultdict(dict)
        self.param_groups: list[dict] = []
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of Tensors or dicts, "
                            f"but got {type(params).__name__}; wrap a single tensor in a list")
        param_groups = _ordered(params)
        if not param_groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters; options it leaves out take the optimizer's defaults."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError("param_group must have a 'params' entry listing its tensors")
        group = dict(param_group)
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else _ordered(params)
        for param in params:
            if not isinstance(param, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but one of the params is {type(param).__name__}")
            if not (param.is_leaf or param.retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor; optimize the leaf it was computed from, or "
                                 "detach it and call requires_grad_()")
        if len({id(p) for p in params}) != len(params):
            raise ValueError("optimizer contains a parameter group with duplicate parameters")
        in_other_groups = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in in_other_groups for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        group["params"] = params
        for name, default in self.defaults.items():
            group.setdefault(name, default)
        check_implementation_flags(group)
        self._check_hyperparameters(group)
        self.param_groups.append(group)

    def _check_hyperparameters(self, group: dict) -> None:
        """Raise ``ValueError`` for a group's invalid options; the base class has none to check."""

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drop every gradient (the default), or with ``set_to_none=False`` zero it in place."""
        for param in chain.from_iterable(g["params"] for g in self.param_groups):
            grad = param.grad
            if grad is None:
                continue
            if set_to_none:
                param.grad = None
            else:
                grad.detach_()
                grad.zero_()

    def step(self, closure=None):
        """Update every parameter that has a gradient; ``closure`` re-evaluates the loss first and is returned."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with no_grad():
            for group in self.param_groups:
                for param in group["params"]:
                    if param.grad is None:
                        continue
                    if param.grad.is_sparse:
                        require_sparse_grad_support(self)
                    check_param_for_flags(param, group)
                    self._update(param, param.grad._data, group)
                    param._version_counter.value += 1
        return loss

    def _update(self, param: Tensor, grad, group: dict) -> None:
        """Apply the update rule to ``param._data`` in place, given its gradient array and its group."""
        raise NotImplementedError(f"{type(self).__name__} must implement _update() or override step()")

    # ----------------------------------------------------------------- state dicts
    def state_dict(self) -> dict:
        """``{'state': {index: {...}}, 'param_groups': [{..., 'params': [index, ...]}]}``, indexed as PyTorch does.

        State tensors are returned by reference, as in PyTorch; ``load_state_dict`` copies them.
        """
        index_of: dict[int, int] = {}
        param_groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = [index_of.setdefault(id(p), len(index_of)) for p in group["params"]]
            param_groups.append(packed)
        state = {index_of[id(p)]: dict(s) for p, s in self.state.items()}
        return {"state": state, "param_groups": param_groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore groups' options and per-parameter state, copied onto each parameter's device and dtype."""
        if not isinstance(state_dict, dict) or not {"state", "param_groups"} <= state_dict.keys():
            raise ValueError("expected an optimizer state dict with 'state' and 'param_groups' entries, as returned "
                             "by Optimizer.state_dict()")
        saved_groups = copy.deepcopy(state_dict["param_groups"])
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"loaded state dict has a different number of parameter groups: it has "
                             f"{len(saved_groups)}, this optimizer has {len(self.param_groups)}")
        for i, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(f"loaded state dict contains a parameter group that doesn't match the size of "
                                 f"optimizer's group: group {i} has {len(saved['params'])} parameters in the state "
                                 f"dict and {len(group['params'])} in the optimizer")
        param_of = dict(zip(chain.from_iterable(g["params"] for g in saved_groups),
                            chain.from_iterable(g["params"] for g in self.param_groups)))
        state: defaultdict[Tensor, dict] = defaultdict(dict)
        for index, param_state in state_dict["state"].items():
            if index not in param_of:
                raise ValueError(f"loaded state dict has state for parameter {index!r}, which none of its "
                                 f"parameter groups lists")
            param = param_of[index]
            state[param] = {key: _copy_for_param(value, param, key) for key, value in param_state.items()}
        for group, saved in zip(self.param_groups, saved_groups):
            saved["params"] = group["params"]
            for name, default in self.defaults.items():  # state dicts from older versions may lack newer options
                saved.setdefault(name, default)
        self.state, self.param_groups = state, saved_groups

    def __repr__(self):
        groups = ["".join([f"\nParameter Group {i}\n"]
                          + [f"    {key}: {group[key]}\n" for key in sorted(group) if key != "params"])
                  for i, group in enumerate(self.param_groups)]
        return f"{type(self).__name__} (" + "".join(groups) + ")"  # PyTorch's: a blank line between groups


def _ordered(params) -> list:
    """``params`` as a list, refusing sets: state dicts index parameters by their order."""
    if isinstance(params, (set, frozenset)):
        raise TypeError("optimizer parameters need to be organized in ordered collections, but the ordering "
                        "of tensors in sets will change between runs. Please use a list instead.")
    return list(params)


def _copy_for_param(value, param: Tensor, key: str):
    """A copy of one state value that ``param``'s updates can own: floating tensors take its device and dtype.

    ``step`` stays a float32 CPU scalar, as PyTorch keeps it, and is made a tensor when saved as a number. So does
    NAdam's ``mu_product`` (PyTorch casts it to the parameter's dtype), so that a resumed run rounds it as the
    uninterrupted one does.
    """
    if key in ("step", "mu_product"):
        array = value._data if isinstance(value, Tensor) else np.asarray(value, np.float32)
        return Tensor._wrap(np.array(to_device(array, CPU), np.float32))
    if isinstance(value, Tensor):
        array = to_device(value._data, param.device)
        dtype = param._data.dtype if value.is_floating_point() else array.dtype
        return Tensor._wrap(array.astype(dtype, copy=True))
    return copy.deepcopy(value)


def _require_non_negative(group: dict, key: str, what: str) -> None:
    """PyTorch's check and message for an option that must be >= 0 (NaN fails it too)."""
    if not 0.0 <= group[key]:
        raise ValueError(f"Invalid {what}: {group[key]}")
