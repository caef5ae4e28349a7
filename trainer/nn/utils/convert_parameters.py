"""``parameters_to_vector`` and ``vector_to_parameters``: all parameters as one flat vector, and back."""

from __future__ import annotations

from collections.abc import Iterable

from trainer.ops.join import cat
from trainer.tensor import Tensor

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def parameters_to_vector(parameters: Tensor | Iterable[Tensor]) -> Tensor:
    """The parameters flattened and concatenated, in order, into one vector (differentiable, like ``cat``)."""
    parameters = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    _check_same_device(parameters)
    return cat([param.view(-1) for param in parameters])


def vector_to_parameters(vec: Tensor, parameters: Tensor | Iterable[Tensor]) -> None:
    """Make the parameters, in order, views of consecutive slices of ``vec`` (their data is replaced, not copied)."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected torch.Tensor, but got: {type(vec).__name__}")
    parameters = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    _check_same_device(parameters)
    needed = sum(param.numel() for param in parameters)
    if vec.numel() < needed:
        raise RuntimeError(f"vector_to_parameters: vec has {vec.numel()} elements but the parameters need {needed}")
    pointer = 0
    for param in parameters:
        count = param.numel()
        param.data = vec[pointer:pointer + count].view_as(param).data
        pointer += count


def _check_same_device(parameters: list[Tensor]) -> None:
    devices = {str(param.device) for param in parameters}
    if len(devices) > 1:
        raise TypeError("Found two parameters on different devices, this is currently not supported.")
