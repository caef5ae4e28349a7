"""Overload resolution for ``torch._foreach_*``: which of an op's signatures a call matches, and PyTorch's
``TypeError`` messages when none does.

PyTorch binds these functions through its C++ argument parser, whose overloads are told apart by argument type
(``_foreach_mul(list, 2)`` is the Scalar form, ``_foreach_mul(list, [1, 2])`` the ScalarList form, ...). A
signature is written as PyTorch prints it in ``native_functions.yaml`` terms, e.g.
``"TensorList self, TensorList other, *, Scalar alpha=1"``; overloads are tried in the order given (PyTorch's
order: it decides, e.g., whether a 0-dim tensor is taken as a Scalar or as a Tensor).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

from trainer.dtypes import dtype as dtype_class
from trainer.memory_formats import memory_format as memory_format_class
from trainer.tensor import Tensor

_REQUIRED = object()

# how PyTorch's messages name each parameter type
_SHOWN = {"TensorList": "tuple of Tensors", "Tensor": "Tensor", "Scalar": "Number", "ScalarList": "tuple of Scalars",
          "bool": "bool", "ScalarType?": "torch.dtype", "MemoryFormat?": "torch.memory_format"}
_DEFAULTS = {"1": 1, "2": 2, "False": False, "None": None}


@dataclass(frozen=True)
class Param:
    type: str
    name: str
    default: object = _REQUIRED
    keyword_only: bool = False

    def shown(self) -> str:
        default = "" if self.default is _REQUIRED else f" = {self.default}"
        return f"{_SHOWN[self.type]} {self.name}{default}"


@dataclass(frozen=True)
class Signature:
    form: str  # the implementation's name for this overload ("scalar", "tensor_list", ...)
    params: tuple[Param, ...]

    @classmethod
    def parse(cls, form: str, text: str) -> Signature:
        params, keyword_only = [], False
        for item in text.split(", "):
            if item == "*":
                keyword_only = True
                continue
            type_, name = item.split(" ")
            name, _, default = name.partition("=")
            params.append(Param(type_, name, _DEFAULTS[default] if default else _REQUIRED, keyword_only))
        return cls(form, tuple(params))

    def shown(self) -> str:
        parts, starred = [], False
        for p in self.params:
            if p.keyword_only and not starred:
                parts.append("*")
                starred = True
            parts.append(p.shown())
        return f"({', '.join(parts)})"

    def positional(self) -> tuple[Param, ...]:
        return tuple(p for p in self.params if not p.keyword_only)


def is_scalar(value) -> bool:
    """A PyTorch ``Scalar`` argument: a Python (or NumPy) number, or a 0-dim tensor that records no gradient."""
    if isinstance(value, Tensor):
        return value.ndim == 0 and not value.requires_grad
    return isinstance(value, numbers.Number)


def _is_tensor_list(value) -> bool:
    return isinstance(value, (list, tuple)) and all(isinstance(v, Tensor) for v in value)


def _is_scalar_list(value) -> bool:
    # numbers only: unlike a single Scalar, a list element may not be a tensor
    return isinstance(value, (list, tuple)) and all(isinstance(v, numbers.Number) for v in value)


_MATCHES = {
    "TensorList": _is_tensor_list,
    "Tensor": lambda v: isinstance(v, Tensor),
    "Scalar": is_scalar,
    "ScalarList": _is_scalar_list,
    "bool": lambda v: isinstance(v, bool),
    "ScalarType?": lambda v: v is None or isinstance(v, dtype_class),
    "MemoryFormat?": lambda v: v is None or isinstance(v, memory_format_class),
}


class Overloads:
    """The signatures of one ``_foreach_*`` function, tried in order."""

    def __init__(self, name: str, signatures: list[tuple[str, str]]):
        self.name = name
        self.signatures = [Signature.parse(form, text) for form, text in signatures]

    def bind(self, args: tuple, kwargs: dict) -> tuple[str, dict]:
        """The first signature ``args``/``kwargs`` match, as ``(form, {name: value})``; PyTorch's TypeError if none."""
        for signature in self.signatures:
            bound = _bind(signature, args, kwargs)
            if bound is not None:
                return signature.form, bound
        self._raise_list_element_error(args)
        if len(self.signatures) == 1:
            _raise_single_signature_error(self.name, self.signatures[0], args, kwargs)
        got = ", ".join([type(a).__name__ for a in args] + [f"{k}={type(v).__name__}" for k, v in kwargs.items()])
        expected = "\n".join(f" * {s.shown()}" for s in self.signatures)
        raise TypeError(f"{self.name}() received an invalid combination of arguments - got ({got}), but expected one "
                        f"of:\n{expected}\n")

    def _raise_list_element_error(self, args: tuple) -> None:
        """A positional list where a tensor list may go, holding something else: PyTorch names the first element at
        fault."""
        for position, value in enumerate(args):
            if not isinstance(value, (list, tuple)) or _is_tensor_list(value):
                continue
            types = {s.positional()[position].type for s in self.signatures if position < len(s.positional())}
            if "TensorList" in types and not ("ScalarList" in types and _is_scalar_list(value)):
                index, element = next((i, v) for i, v in enumerate(value) if not isinstance(v, Tensor))
                raise TypeError(f"expected Tensor as element {index} in argument {position}, but got "
                                f"{type(element).__name__}")


def _bind(signature: Signature, args: tuple, kwargs: dict) -> dict | None:
    positional = signature.positional()
    if len(args) > len(positional):
        return None
    names = {p.name for p in signature.params}
    if any(k not in names for k in kwargs):
        return None
    bound = {}
    for i, p in enumerate(signature.params):
        if i < len(args):
            if p.name in kwargs:
                return None
            value = args[i]
        elif p.name in kwargs:
            value = kwargs[p.name]
        elif p.default is not _REQUIRED:
            bound[p.name] = p.default
            continue
        else:
            return None
        if not _MATCHES[p.type](value):
            return None
        bound[p.name] = value
    return bound


def _raise_single_signature_error(name: str, signature: Signature, args: tuple, kwargs: dict) -> None:
    """PyTorch's messages for a function with one signature: the argument at fault, by name and position."""
    positional = signature.positional()
    if len(args) > len(positional):
        raise TypeError(f"{name}() takes {len(positional)} positional argument{'s' * (len(positional) != 1)} but "
                        f"{len(args)} were given")
    for k in kwargs:
        if k not in {p.name for p in signature.params}:
            raise TypeError(f"{name}() got an unexpected keyword argument '{k}'")
    for i, p in enumerate(signature.params):
        given_positionally = i < len(args)
        if not given_positionally and p.name not in kwargs:
            if p.default is _REQUIRED:
                raise TypeError(f'{name}() missing 1 required positional argument: "{p.name}"')
            continue
        value = args[i] if given_positionally else kwargs[p.name]
        if not _MATCHES[p.type](value):
            where = f" (position {i + 1})" if given_positionally else ""
            raise TypeError(f"{name}(): argument '{p.name}'{where} must be {_SHOWN[p.type]}, not "
                            f"{type(value).__name__}")
