"""``functional_call``: run a module with some of its parameters and buffers replaced by given tensors, for that
call only (``torch.func.functional_call``); gradients flow to the tensors passed in."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

from trainer.nn.modules.module import Module
from trainer.tensor import Tensor

__all__ = ["functional_call"]

_MISSING = object()  # a name the module did not have before the call


def _untie_named_tensors_map(module: Module, parameters_and_buffers: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """``parameters_and_buffers`` with every name tied to a given one (one tensor registered under several
    names, as shared embeddings are) given the same tensor."""
    all_named = dict(module.named_parameters(remove_duplicate=False))
    all_named.update(module.named_buffers(remove_duplicate=False))
    names_by_tensor: dict[int, set[str]] = {}
    for name, tensor in all_named.items():
        names_by_tensor.setdefault(id(tensor), set()).add(name)
    tied = {name: names for names in names_by_tensor.values() if len(names) > 1 for name in names}
    given_tied = [name for name in parameters_and_buffers if name in tied]
    for name in given_tied:
        names = tied[name]
        values = {id(parameters_and_buffers[n]) for n in names if n in parameters_and_buffers}
        if len(values) > 1:
            raise ValueError(f"functional_call got multiple values for keys {sorted(names)}, which are tied. "
                             "Consider using tie_weights=False")
    untied = dict(parameters_and_buffers)
    for name in given_tied:
        for tied_name in tied[name]:
            untied[tied_name] = parameters_and_buffers[name]
    return untied


def _swap_tensor(module: Module, path: str, value: Any) -> Any:
    """Put ``value`` (``_MISSING``: nothing) at the dotted ``path`` and return what was there."""
    prefix, _, name = path.rpartition(".")
    owner = module.get_submodule(prefix)
    if value is not _MISSING and value is not None and not isinstance(value, Tensor):
        raise TypeError(f"{value} is not an instance of trainer.Tensor")
    for registry in (owner._parameters, owner._buffers):
        if name in registry:
            previous = registry[name]
            if value is _MISSING:
                del registry[name]
            else:
                registry[name] = value
            return previous
    previous = getattr(owner, name, _MISSING)
    if previous is not _MISSING and previous is not None and not isinstance(previous, Tensor):
        raise TypeError(f"attribute `{name}`: {previous} is not an instance of trainer.Tensor")
    if value is not _MISSING:
        setattr(owner, name, value)  # a parametrized tensor's setter runs its right_inverse, as in PyTorch
    elif hasattr(owner, name):
        delattr(owner, name)
    return previous


@contextlib.contextmanager
def _reparametrize_module(module: Module, parameters_and_buffers: Mapping[str, Tensor], tie_weights: bool = False,
                          strict: bool = False) -> Iterator[None]:
    given = parameters_and_buffers
    if tie_weights:
        parameters_and_buffers = _untie_named_tensors_map(module, parameters_and_buffers)
    if strict:
        valid = {name for name, _ in module.named_parameters(remove_duplicate=False)}
        valid |= {name for name, _ in module.named_buffers(remove_duplicate=False)}
        missing, unexpected = sorted(valid - set(parameters_and_buffers)), sorted(set(parameters_and_buffers) - valid)
        errors = []
        if unexpected:
            errors.append(f"Unexpected key(s): {', '.join(map(repr, unexpected))}.")
        if missing:
            errors.append(f"Missing key(s): {', '.join(map(repr, missing))}.")
        if errors:
            raise RuntimeError(f"Error(s) in reparametrizing for {module._get_name()}:\n\t" + "\n\t".join(errors))
    originals: dict[str, Any] = {}
    try:
        for name, tensor in parameters_and_buffers.items():
            originals[name] = _swap_tensor(module, name, tensor)
        yield
    finally:
        current = {name: _swap_tensor(module, name, original) for name, original in reversed(originals.items())}
        # a forward that rebinds a buffer (rather than updating it in place) hands the new tensor back, as PyTorch
        if isinstance(given, dict):
            given.update({name: current[name] for name in given if name in current})


def functional_call(module: Module, parameters_and_buffers: Mapping[str, Tensor] | tuple[Mapping[str, Tensor], ...],
                    args: Any = None, kwargs: dict[str, Any] | None = None, *, tie_weights: bool = True,
                    strict: bool = False) -> Any:
    """``module(*args, **kwargs)`` with the named parameters and buffers replaced by ``parameters_and_buffers``
    (a dict, or a tuple of dicts with distinct keys); the module is left as it was afterwards. With
    ``tie_weights``, replacing one of several tied names replaces them all; ``strict`` requires every parameter
    and buffer and no other name."""
    if isinstance(parameters_and_buffers, (list, tuple)):
        if not all(isinstance(d, dict) for d in parameters_and_buffers):
            raise ValueError("Expected all elements of parameter_and_buffer_dicts to be dictionaries")
        merged: dict[str, Tensor] = {}
        for mapping in parameters_and_buffers:
            repeated = sorted(set(merged) & set(mapping))
            if repeated:
                raise ValueError(f"{repeated} appeared in multiple dictionaries; behavior of functional call is "
                                 "ambiguous")
            merged.update(mapping)
        parameters_and_buffers = merged
    elif not isinstance(parameters_and_buffers, Mapping):
        raise ValueError("Expected parameter_and_buffer_dicts to be a dict, or a list/tuple of dicts, but got "
                         f"{type(parameters_and_buffers)}")
    if kwargs is None:
        kwargs = {}
    if args is None:
        args = ()
    elif not isinstance(args, tuple):
        args = (args,)
    with _reparametrize_module(module, parameters_and_buffers, tie_weights=tie_weights, strict=strict):
        return module(*args, **kwargs)
