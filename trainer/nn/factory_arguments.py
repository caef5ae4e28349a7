"""``nn.factory_kwargs(kwargs)``: the factory keywords (``device``, ``dtype``, ``memory_format``) a module's
``**kwargs`` carry, checked and gathered into one dict, as PyTorch's helper for module constructors does. A nested
``factory_kwargs`` dict lets a caller give a factory keyword whose name the constructor already uses."""

from __future__ import annotations

_SIMPLE_KEYS = frozenset({"device", "dtype", "memory_format"})


def factory_kwargs(kwargs):
    if kwargs is None:
        return {}
    expected = _SIMPLE_KEYS | {"factory_kwargs"}
    if not kwargs.keys() <= expected:
        raise TypeError(f"unexpected kwargs {kwargs.keys() - expected}")
    gathered = dict(kwargs.get("factory_kwargs", {}))  # a copy: the caller's dicts stay as they were
    for key in _SIMPLE_KEYS:
        if key in kwargs:
            if key in gathered:
                raise TypeError(f"{key} specified twice, in **kwargs and in factory_kwargs")
            gathered[key] = kwargs[key]
    return gathered
