"""Operator schemas as ``torch.library`` writes them: ``"foo.overload(Tensor(a!) x, *, float s=1.0) -> Tensor"``.

``parse_schema`` reads one into a ``FunctionSchema`` (what ``trainer.library`` binds calls against) and
``infer_schema`` writes one from a function's type hints, with PyTorch's rules and error messages.
"""

from __future__ import annotations

import collections.abc
import inspect
import re
import typing
from dataclasses import dataclass

from trainer.backend import device
from trainer.dtypes import dtype
from trainer.tensor import Tensor

# the type names PyTorch's schema parser accepts (the ones trainer can bind values to)
_BASE_TYPES = ("Tensor", "SymInt", "int", "float", "SymFloat", "bool", "SymBool", "str", "Scalar", "ScalarType",
               "Device", "Layout", "MemoryFormat", "Generator", "Any")
_NAME = r"[A-Za-z_]\w*"
_TYPE = re.compile(rf"(?P<base>{_NAME})(?:\((?P<alias>[^)]*)\))?(?P<suffix>(?:\[\d*\]|\?)*)$")
_HEADER = re.compile(rf"(?P<name>{_NAME})(?:\.(?P<overload>{_NAME}))?\((?P<args>.*)\)\s*->\s*(?P<returns>.+)$",
                     re.DOTALL)


@dataclass(frozen=True)
class Argument:
    name: str
    type: str  # without the alias annotation: "Tensor[]", "SymInt?"
    default: str | None  # as written in the schema; None: required
    kwarg_only: bool
    is_write: bool  # annotated "(a!)": the operator changes it in place

    @property
    def is_tensor_like(self) -> bool:
        return self.type.startswith("Tensor")


@dataclass(frozen=True)
class FunctionSchema:
    """One operator overload's signature; ``str()`` gives it back as ``"ns::name.overload(...) -> ..."``."""

    name: str  # "ns::name"
    overload_name: str  # "" for the default overload
    arguments: tuple[Argument, ...]
    returns: tuple[str, ...]
    text: str  # the argument list and returns, as written: "(Tensor x) -> Tensor"

    def __str__(self) -> str:
        overload = f".{self.overload_name}" if self.overload_name else ""
        return f"{self.name}{overload}{self.text}"

    @property
    def is_mutable(self) -> bool:
        return any(a.is_write for a in self.arguments)


def _fail(message: str, schema: str, column: int = 0) -> RuntimeError:
    return RuntimeError(f"{message} here:\n{schema}\n{' ' * column}~ <--- HERE")


def _split_top_level(text: str) -> list[str]:
    """``text`` cut at the commas outside brackets and quotes."""
    parts, depth, quote, start = [], 0, None, 0
    for i, ch in enumerate(text):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def _parse_type(text: str, schema: str) -> tuple[str, bool]:
    """``(type without alias, is_write)`` of a type as written, e.g. ``"Tensor(a!)[]"``."""
    match = _TYPE.match(text)
    if match is None or match["base"] not in _BASE_TYPES:
        column = schema.find(text)
        raise RuntimeError(
            "\nunknown type specifier. Common valid schema types include Tensor, SymInt, int, float, bool, Scalar; "
            f"for a full list, please see https://github.com/pytorch/pytorch/blob/main/aten/src/ATen/native/"
            f"README.md#func :\n{schema}\n{' ' * max(column, 0)}{'~' * len(text)} <--- HERE\n")
    return match["base"] + match["suffix"], "!" in (match["alias"] or "")


def parse_schema(schema: str) -> FunctionSchema:
    """``"name.overload(args) -> returns"`` read as PyTorch's ``torch._C.parse_schema`` reads it (with the name
    given, without its namespace)."""
    header = _HEADER.match(schema.strip())
    if header is None:
        found = schema.strip()[:1] or "end of input"
        raise _fail(f"expected ident but found '{found}'", schema)
    arguments, kwarg_only, seen = [], False, set()
    for part in _split_top_level(header["args"]):
        if part == "*":
            kwarg_only = True
            continue
        type_text, _, rest = part.rpartition(" ")
        name, _, default = rest.partition("=")
        if not type_text or not re.fullmatch(_NAME, name):
            raise _fail(f"expected an argument as 'Type name' but found '{part}'", schema, schema.find(part))
        if name in seen:
            raise RuntimeError(f"Argument '{name}' appears more than once in schema {schema}")
        seen.add(name)
        arg_type, is_write = _parse_type(type_text.strip(), schema)
        arguments.append(Argument(name, arg_type, default or None, kwarg_only, is_write))
    returns_text = header["returns"].strip()
    if returns_text.startswith("(") and returns_text.endswith(")"):
        returns = _split_top_level(returns_text[1:-1])
    else:
        returns = [returns_text]
    return_types = tuple(_parse_type(r.split(" ")[0], schema)[0] for r in returns)
    return FunctionSchema(header["name"], header["overload"] or "", tuple(arguments), return_types,
                          schema.strip()[header.start("args") - 1:])


Number = typing.Union[int, float, bool]  # noqa: UP007 - torch.types.Number, which annotations spell this way


def _with_derived_types(base, schema_type: str, lists: bool, optional_items: bool, optional_list: bool) -> list:
    def sequences(item):
        return (typing.Sequence[item], typing.List[item],  # noqa: UP006 - each spelling a hint may use
                collections.abc.Sequence[item], list[item])

    result = [(base, schema_type), (typing.Optional[base], f"{schema_type}?")]  # noqa: UP045
    if lists:
        result += [(s, f"{schema_type}[]") for s in sequences(base)]
    if optional_items:
        result += [(s, f"{schema_type}?[]") for s in sequences(typing.Optional[base])]  # noqa: UP045
    if optional_list:
        result += [(typing.Optional[s], f"{schema_type}[]?") for s in sequences(base)]  # noqa: UP045
    return result


SUPPORTED_PARAM_TYPES = dict(
    pair
    for row in ((Tensor, "Tensor", True, True, False), (int, "SymInt", True, False, True),
                (float, "float", True, False, True), (bool, "bool", True, False, True),
                (str, "str", False, False, False), (Number, "Scalar", True, False, False),
                (dtype, "ScalarType", False, False, False),
                (device, "Device", False, False, False))
    for pair in _with_derived_types(*row)
)
SUPPORTED_RETURN_TYPES = {Tensor: "Tensor", typing.List[Tensor]: "Tensor[]", list[Tensor]: "Tensor[]",  # noqa: UP006
                          int: "SymInt", float: "float", bool: "bool", Number: "Scalar"}

# names a string annotation may use without importing them, as PyTorch allows
_ANNOTATION_NAMES = {"Tensor": Tensor, "device": device, "dtype": dtype, "Optional": typing.Optional,
                     "List": typing.List, "Sequence": typing.Sequence, "Union": typing.Union}  # noqa: UP006


def _default_text(value, name: str, error):
    if value is None or isinstance(value, (int, float, bool)):
        return str(value)
    if isinstance(value, (str, device)):
        return f'"{value}"'
    if isinstance(value, dtype):
        return str(value).removeprefix("trainer.").removeprefix("torch.")
    error(f"Parameter {name} has an unsupported default value type {type(value)}.")


def _return_text(annotation, error) -> str:
    if annotation is None:
        return "()"
    if annotation is inspect.Parameter.empty:
        error("No return type annotation was provided. Please add one.")
    if typing.get_origin(annotation) is not tuple:
        if annotation not in SUPPORTED_RETURN_TYPES:
            error(f"Return has unsupported type {annotation}. The valid types are: {SUPPORTED_RETURN_TYPES}.")
        return SUPPORTED_RETURN_TYPES[annotation]
    items = typing.get_args(annotation)
    for item in items:
        if item not in SUPPORTED_RETURN_TYPES:
            error(f"Return has unsupported type {annotation}. The valid types are: {SUPPORTED_RETURN_TYPES}.")
    joined = ", ".join(SUPPORTED_RETURN_TYPES[item] for item in items)
    return f"(({joined}))" if len(items) == 1 else f"({joined})"


def infer_schema(prototype_function, /, *, mutates_args, op_name: str | None = None) -> str:
    """``torch.library.infer_schema``: the schema of ``prototype_function`` from its type hints, e.g.
    ``"(Tensor x, float y) -> Tensor"`` (``"name(...) -> ..."`` with ``op_name``). ``mutates_args`` names the
    Tensor arguments the function changes in place, or is ``"unknown"`` (all of them)."""
    sig = inspect.signature(prototype_function)
    names = {**_ANNOTATION_NAMES, **prototype_function.__globals__}

    def error(what):
        raise ValueError(f"infer_schema(func): {what} Got func with signature {sig})")

    def resolve(annotation):
        if not isinstance(annotation, str):
            return annotation
        try:
            return eval(annotation, names)  # noqa: S307 - a string annotation names a type in the function's module
        except Exception as e:  # noqa: BLE001 - any failure means the string is not a type
            error(f"Unsupported type annotation {annotation}. It is not a type. ({type(e).__name__}: {e})")

    if type(mutates_args) is str:
        if mutates_args != "unknown":
            raise ValueError("mutates_args must either be a sequence of the names of the arguments that are mutated "
                             "or the string 'unknown'. ")
    else:
        mutates_args = tuple(mutates_args)
    params, seen, kwarg_only = [], set(), False
    for idx, (name, param) in enumerate(sig.parameters.items()):
        if param.kind not in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY):
            error("We do not support positional-only args, varargs, or varkwargs.")
        if param.kind == inspect.Parameter.KEYWORD_ONLY and not kwarg_only:
            params.append("*")
            kwarg_only = True
        if param.annotation is inspect.Parameter.empty:
            error(f"Parameter {name} must have a type annotation.")
        annotation = resolve(param.annotation)
        schema_type = SUPPORTED_PARAM_TYPES.get(annotation)
        if schema_type is None:
            hint = ("We do not support Tuple inputs in schema. As a workaround, please try to use List instead. "
                    if typing.get_origin(annotation) is tuple else "")
            error(f"Parameter {name} has unsupported type {param.annotation}. {hint}"
                  f"The valid types are: {SUPPORTED_PARAM_TYPES.keys()}.")
        mutated = mutates_args == "unknown" and schema_type.startswith("Tensor")
        if mutates_args != "unknown" and name in mutates_args:
            if not schema_type.startswith("Tensor"):
                error(f"Parameter {name} is in mutable_args but only Tensors or collections of Tensors can be "
                      "mutated")
            mutated = True
        if mutated:
            schema_type = f"Tensor(a{idx}!){schema_type[len('Tensor'):]}"
        seen.add(name)
        if param.default is inspect.Parameter.empty:
            params.append(f"{schema_type} {name}")
        else:
            params.append(f"{schema_type} {name}={_default_text(param.default, name, error)}")
    if mutates_args != "unknown":
        not_seen = set(mutates_args) - seen
        if not_seen:
            error(f"{not_seen} in mutates_args were not found in the custom op's signature. mutates_args should "
                  "contain the names of all args that the custom op mutates, or just the string 'unknown' if you "
                  "don't know.")
    returns = _return_text(resolve(sig.return_annotation), error)
    return f"{op_name or ''}({', '.join(params)}) -> {returns}"
