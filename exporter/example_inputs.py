"""The example inputs of an export as ``torch.onnx.export`` takes them, and ``dynamic_shapes`` read as dynamic axes.

``args`` is one tensor or a tuple of them whose last element may be a dict of keyword inputs (PyTorch's legacy
convention; ``kwargs=`` is appended as that dict). Keyword inputs become graph inputs after the positional ones, in
the order of ``forward``'s parameters, each named by its keyword unless ``input_names`` names it. ``dynamic_shapes``
(``torch.export``'s form: per input a dict ``{axis: Dim or name}`` or a per-axis tuple, keyed by ``forward``'s
parameter names or given in input order) is turned into the ``dynamic_axes`` form the exporter works with.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

from exporter.errors import ExportError
from trainer.export.dynamic_shapes import DimHint
from trainer.tensor import Tensor


@dataclass
class ExampleInputs:
    args: tuple  # positional tensors, passed positionally
    kwargs: dict  # keyword inputs (None values included: they are passed, not exported), in forward's order
    names: list  # one graph input name per tensor of args, then per tensor value of kwargs
    parameter_names: list  # the forward parameter each graph input is passed to (None where unknown: *args)

    @property
    def tensors(self) -> list:
        return [*self.args, *(t for t in self.kwargs.values() if t is not None)]

    def by_name(self) -> dict:
        return dict(zip(self.names, self.tensors))


def example_inputs(model, args, kwargs, input_names) -> ExampleInputs:
    args = (args,) if isinstance(args, Tensor) else args
    if not isinstance(args, (tuple, list)):
        raise ExportError(f"args is a {type(args).__name__}; export traces with example tensors: pass a trainer "
                          "Tensor or a tuple of them (its last element may be a dict of keyword inputs)")
    args = tuple(args)
    if kwargs is not None:
        if not isinstance(kwargs, dict):
            raise ExportError(f"kwargs must be a dict of keyword inputs, got a {type(kwargs).__name__}")
        args = (*args, kwargs)
    keywords = {}
    if args and isinstance(args[-1], dict):
        args, keywords = args[:-1], args[-1]
    args = positional_tensors(args)
    for key, value in keywords.items():
        if value is not None and not isinstance(value, Tensor):
            raise ExportError(f"the keyword input {key!r} is a {type(value).__name__}; keyword inputs must be "
                              "trainer Tensors (or None)")
    positional, parameters = _forward_parameters(model)
    order = {name: i for i, name in enumerate(parameters)}
    keywords = dict(sorted(keywords.items(), key=lambda item: order.get(item[0], len(order))))
    exported = [key for key, value in keywords.items() if value is not None]
    passed_to = [*(positional[i] if i < len(positional) else None for i in range(len(args))), *exported]
    return ExampleInputs(args, keywords, _names(input_names, len(args), exported), passed_to)


def positional_tensors(args) -> tuple:
    """``args`` (a tensor, or a tuple or list of them) as a tuple, checked."""
    args = args if isinstance(args, (tuple, list)) else (args,)
    for i, a in enumerate(args):
        if not isinstance(a, Tensor):
            raise ExportError(f"args[{i}] is a {type(a).__name__}; export traces with example tensors: pass a "
                              "trainer Tensor or a tuple of them")
    return tuple(args)


def _forward_parameters(model) -> tuple[list[str], list[str]]:
    """The names of ``forward``'s parameters that take a positional value, and of all that take one value each
    (not ``*args``/``**kwargs``)."""
    try:
        signature = inspect.signature(model.forward if hasattr(model, "forward") else model)
    except (TypeError, ValueError):
        return [], []
    kind = inspect.Parameter
    positional = [p.name for p in signature.parameters.values()
                  if p.kind in (kind.POSITIONAL_ONLY, kind.POSITIONAL_OR_KEYWORD)]
    keyword_only = [p.name for p in signature.parameters.values() if p.kind is kind.KEYWORD_ONLY]
    return positional, positional + keyword_only


def _names(names, positional: int, keywords: list[str]) -> list[str]:
    defaults = ["input"] if positional == 1 else [f"input_{i}" for i in range(positional)]
    if names is None:
        names = defaults + keywords
    else:
        names = list(names)
        if len(names) == positional:
            names += keywords
        elif len(names) != positional + len(keywords):
            raise ExportError(f"input_names={names} must give {positional} names (one per positional input) or "
                              f"{positional + len(keywords)} (one per positional and keyword input {keywords})")
    if len(set(names)) != len(names):
        raise ExportError(f"the graph inputs would be named {names}: input names must be distinct")
    return names


# ----------------------------------------------------------------- dynamic_shapes
def dynamic_axes_of(dynamic_shapes, inputs: ExampleInputs) -> dict:
    """``dynamic_axes`` (``{input name: {axis: dim name}}``) from ``torch.export``-style ``dynamic_shapes``."""
    if isinstance(dynamic_shapes, dict):
        known = [p for p in inputs.parameter_names if p is not None]
        for key in dynamic_shapes:
            if key not in known:
                raise ExportError(f"dynamic_shapes names {key!r}, which is not one of the model's exported inputs "
                                  f"by forward's parameter names ({known})")
        specs = [dynamic_shapes.get(p) if p is not None else None for p in inputs.parameter_names]
    elif isinstance(dynamic_shapes, (tuple, list)):
        if len(dynamic_shapes) != len(inputs.names):
            raise ExportError(f"dynamic_shapes gives {len(dynamic_shapes)} entries for the model's "
                              f"{len(inputs.names)} inputs {inputs.names}: give one per input (None for a static one)")
        specs = list(dynamic_shapes)
    else:
        raise ExportError(f"dynamic_shapes must be a dict keyed by forward's parameter names or a tuple with one entry "
                          f"per input, got a {type(dynamic_shapes).__name__}")
    axes = {}
    for name, tensor, spec in zip(inputs.names, inputs.tensors, specs):
        dims = _dynamic_dims(name, tensor.ndim, spec)
        if dims:
            axes[name] = dims
    return axes


def _dynamic_dims(name: str, rank: int, spec) -> dict[int, str]:
    if spec is None:
        return {}
    if isinstance(spec, (tuple, list)):
        if len(spec) != rank:
            raise ExportError(f"dynamic_shapes gives {len(spec)} axes for input {name!r}, which has {rank} dims")
        spec = dict(enumerate(spec))
    if not isinstance(spec, dict):
        raise ExportError(f"dynamic_shapes for input {name!r} must be a dict {{axis: Dim}}, a tuple with one entry per "
                          f"axis, or None; got a {type(spec).__name__}")
    dims = {}
    for axis, dim in spec.items():
        if not isinstance(axis, int) or not -rank <= axis < rank:
            raise ExportError(f"dynamic_shapes[{name!r}] has axis {axis!r}, but {name} has {rank} dims")
        dim_name = _dim_name(dim, f"{name}_dynamic_axes_{len(dims) + 1}")
        if dim_name is not None:
            dims[axis % rank] = dim_name
    return dims


def _dim_name(dim, automatic: str) -> str | None:
    """The name of a dynamic axis: a ``Dim``'s (trainer's or torch's), a string, or one made up for ``Dim.AUTO`` /
    ``Dim.DYNAMIC``; None for a static axis."""
    if dim is None or dim is DimHint.STATIC:
        return None
    if dim in (DimHint.AUTO, DimHint.DYNAMIC):
        return automatic
    if isinstance(dim, str):
        return dim
    name = getattr(dim, "__name__", None)
    if isinstance(name, str):
        return name
    raise ExportError(f"a dynamic_shapes entry is {dim!r}; expected a Dim, a dim name, Dim.AUTO, Dim.DYNAMIC, "
                      "Dim.STATIC or None")
