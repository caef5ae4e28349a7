"""Weight normalization (Salimans & Kingma, 2016) as PyTorch's legacy hook API: ``weight_norm`` replaces a
parameter by ``<name>_g`` (magnitude) and ``<name>_v`` (direction) and recomputes ``<name>`` before each forward;
plus ``norm_except_dim`` and ``weight_norm_of`` (``torch._weight_norm``), which the parametrization shares."""

from __future__ import annotations

import warnings
from typing import Any, TypeVar

from trainer.linalg import vector_norm
from trainer.nn.modules.module import Module
from trainer.nn.parameter import Parameter, UninitializedParameter
from trainer.ops._operands import normalize_dim
from trainer.tensor import Tensor

__all__ = ["WeightNorm", "weight_norm", "remove_weight_norm"]


def norm_except_dim(v: Tensor, pow: float = 2, dim: int = 0) -> Tensor:  # noqa: A002 - PyTorch's name
    """``torch.norm_except_dim``: the ``pow``-norm over every dim but ``dim``, keeping them as size 1; the norm of
    the whole tensor (0-d) for ``dim == -1``."""
    if dim == -1:
        return vector_norm(v, pow)
    dim = normalize_dim(dim, v.ndim)
    others = tuple(d for d in range(v.ndim) if d != dim)
    return vector_norm(v, pow, dim=others, keepdim=True) if others else v.abs()


def weight_norm_of(v: Tensor, g: Tensor, dim: int = 0) -> Tensor:
    """``torch._weight_norm``: ``v`` rescaled to the magnitude ``g`` along ``dim``."""
    return v * (g / norm_except_dim(v, 2, dim))


class WeightNorm:
    """The forward pre-hook that recomputes ``module.<name>`` from ``<name>_g`` and ``<name>_v``."""

    name: str
    dim: int

    def __init__(self, name: str, dim: int | None) -> None:
        self.name = name
        self.dim = -1 if dim is None else dim

    def compute_weight(self, module: Module) -> Tensor:
        return weight_norm_of(getattr(module, self.name + "_v"), getattr(module, self.name + "_g"), self.dim)

    @staticmethod
    def apply(module: Module, name: str, dim: int | None) -> WeightNorm:
        warnings.warn("`trainer.nn.utils.weight_norm` is deprecated in favor of "
                      "`trainer.nn.utils.parametrizations.weight_norm`.", FutureWarning, stacklevel=3)
        for hook in module._forward_pre_hooks.values():
            if isinstance(hook, WeightNorm) and hook.name == name:
                raise RuntimeError(f"Cannot register two weight_norm hooks on the same parameter {name}")
        fn = WeightNorm(name, dim)
        weight = getattr(module, name)
        if isinstance(weight, UninitializedParameter):
            raise ValueError("The module passed to `WeightNorm` can't have uninitialized parameters. Make sure to "
                             "run the dummy forward before applying weight normalization")
        # as in PyTorch: g and v registered after the other parameters, `name` kept as a plain attribute
        del module._parameters[name]
        module.register_parameter(name + "_g", Parameter(norm_except_dim(weight, 2, fn.dim).detach()))
        module.register_parameter(name + "_v", Parameter(weight.detach()))
        setattr(module, name, fn.compute_weight(module))
        module.register_forward_pre_hook(fn)
        return fn

    def remove(self, module: Module) -> None:
        weight = self.compute_weight(module)
        delattr(module, self.name)
        del module._parameters[self.name + "_g"]
        del module._parameters[self.name + "_v"]
        setattr(module, self.name, Parameter(weight.detach()))

    def __call__(self, module: Module, inputs: Any) -> None:
        setattr(module, self.name, self.compute_weight(module))


T_module = TypeVar("T_module", bound=Module)


def weight_norm(module: T_module, name: str = "weight", dim: int | None = 0) -> T_module:
    """Split ``module.<name>`` into ``<name>_g`` and ``<name>_v`` (``dim=None``: one magnitude for the whole
    tensor)."""
    WeightNorm.apply(module, name, dim)
    return module


def remove_weight_norm(module: T_module, name: str = "weight") -> T_module:
    """Fold ``<name>_g`` and ``<name>_v`` back into one parameter ``<name>``."""
    for key, hook in module._forward_pre_hooks.items():
        if isinstance(hook, WeightNorm) and hook.name == name:
            hook.remove(module)
            del module._forward_pre_hooks[key]
            return module
    raise ValueError(f"weight_norm of '{name}' not found in {module}")
