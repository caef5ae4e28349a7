"""``export(mod, args)``: trace a module into an ``ExportedProgram`` whose parameters, buffers and constants are
inputs of the graph (lifted, named ``p_*``, ``b_*``, ``c_*`` as torch.export names them)."""

from __future__ import annotations

import builtins
import inspect
import re
from typing import Any

import trainer
from trainer.export.dynamic_shapes import DynamicDim, resolve_dynamic_shapes, root_ranges
from trainer.export.errors import UserError
from trainer.export.exported_program import ExportedProgram
from trainer.export.graph_signature import (
    ConstantArgument,
    ExportGraphSignature,
    InputKind,
    InputSpec,
    TensorArgument,
    user_output_specs,
)
from trainer.export.tracing import ExportTracer
from trainer.fx import Graph, GraphModule
from trainer.fx.node import Node, map_aggregate, map_arg
from trainer.nn import Module


def export(mod: Module, args: tuple, kwargs: dict | None = None, *, dynamic_shapes: Any = None, strict: bool = False,
           preserve_module_call_signature: tuple[str, ...] = ()) -> ExportedProgram:
    """Trace ``mod(*args, **kwargs)`` into an ``ExportedProgram`` (``torch.export.export``).

    ``forward``'s Python runs once on the example inputs, as torch's non-strict mode does (``strict`` is accepted
    for compatibility and traces the same way). Tensor inputs are graph inputs; other inputs are specialized to
    their example values (the program asserts them). ``dynamic_shapes`` (per input: a dict from axis to ``Dim``,
    ``Dim.AUTO``/``DYNAMIC``/``STATIC`` or an int, or one entry per axis) marks sizes that may vary; each dynamic
    size is checked by running the program once more at another size, so a program that fixes it is refused
    (``Dim.AUTO`` falls back to static instead).
    """
    if not isinstance(mod, Module):
        raise ValueError(f"Expected `mod` to be an instance of `trainer.nn.Module`, got {type(mod)}.")
    if not isinstance(args, tuple):
        raise UserError(f"Expecting `args` to be a tuple of example positional inputs, got {type(args)}")
    if kwargs is not None and not isinstance(kwargs, dict):
        raise UserError(f"Expecting `kwargs` to be a dict of example keyword inputs, got {type(kwargs)}")
    if preserve_module_call_signature:
        raise NotImplementedError("preserve_module_call_signature serves torch.export.unflatten, which trainer.export "
                                  "does not provide; export the submodule itself instead")
    kwargs = dict(kwargs or {})
    inputs, passed = _bind_inputs(mod, args, kwargs)
    input_dims = resolve_dynamic_shapes({name: inputs[name] for name in passed}, dynamic_shapes)
    graph, constants, branches = _trace(mod, inputs)
    program = _lift(mod, graph, constants, branches, {name: inputs[name] for name in passed}, input_dims,
                    (args, kwargs))
    return _keep_dynamic_dims(program, inputs, input_dims)


def _bind_inputs(mod: Module, args: tuple, kwargs: dict) -> tuple[dict[str, Any], list[str]]:
    """Every parameter of ``forward`` with its example value (defaults filled in), and the names the caller passed."""
    sig = inspect.signature(type(mod).forward)
    for param in sig.parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise UserError(f"export traces forward's named parameters; {type(mod).__name__}.forward takes "
                            f"{param}, wrap the module in one whose forward names each input")
    try:
        bound = sig.bind(mod, *args, **kwargs)
    except TypeError as exc:
        raise UserError(f"the example inputs do not fit {type(mod).__name__}.forward{sig}: {exc}") from exc
    passed = list(bound.arguments)[1:]
    bound.apply_defaults()
    inputs = dict(list(bound.arguments.items())[1:])
    for name, value in inputs.items():
        if not isinstance(value, trainer.Tensor) and _holds_tensor(value):
            raise UserError(f"input {name!r} is a {type(value).__name__} holding tensors; export takes tensors "
                            "as separate arguments of forward")
    return inputs, passed


def _holds_tensor(value: Any) -> bool:
    found: list[trainer.Tensor] = []
    map_aggregate(value, lambda v: found.append(v) if isinstance(v, trainer.Tensor) else None)
    return bool(found)


def _trace(mod: Module, inputs: dict[str, Any]) -> tuple[Graph, dict[str, trainer.Tensor], dict[str, Module]]:
    """The traced graph (reading state through ``get_attr``) and the tensor constants it reads that are not
    parameters or buffers: plain tensor attributes by their path, tensors made in ``forward`` as
    ``lifted_tensor_<i>``; and the branches of ``cond`` calls, traced into submodules (``true_graph_0``)."""
    concrete = {name: value for name, value in inputs.items() if not isinstance(value, trainer.Tensor)}
    examples = {name: value.detach().clone() for name, value in inputs.items() if isinstance(value, trainer.Tensor)}
    examples.update({f"{name}_1": value for name, value in concrete.items()})  # trainer.fx's concrete placeholders
    attributes = {id(value): f"{prefix}{'.' if prefix else ''}{key}" for prefix, m in mod.named_modules()
                  for key, value in vars(m).items() if isinstance(value, trainer.Tensor)}
    tracer = ExportTracer(examples, attributes)
    before = set(vars(mod))
    try:
        graph = tracer.trace(mod, concrete_args=concrete or None)
    finally:
        made = {key: vars(mod)[key] for key in set(vars(mod)) - before if key.startswith("_tensor_constant")}
        for key in made:
            delattr(mod, key)
    state = {name for name, _ in (*mod.named_parameters(), *mod.named_buffers())}
    paths = set(attributes.values())
    constants: dict[str, trainer.Tensor] = {}
    for node in graph.nodes:
        if node.op != "get_attr" or node.target in state or node.target in tracer.branch_modules:
            continue
        if node.target in made:
            value = made[node.target]
            node.target = f"lifted_tensor_{sum(1 for t in constants if t.startswith('lifted_tensor_'))}"
        elif node.target in paths:
            value = tracer.state_copies[node.target]
        else:
            raise UserError(f"forward passes the submodule {node.target!r} itself as a value; export lifts only "
                            "parameters, buffers and tensors")
        constants.setdefault(node.target, value)
    return graph, constants, tracer.branch_modules


def _placeholder_name(prefix: str, target: str) -> str:
    """``p_fc1_weight`` for parameter ``fc1.weight``, spelled as torch.export spells it (a leading ``self_``, which
    its tracer would have added, is dropped: ``self_attn.in_proj_weight`` gives ``p_attn_in_proj_weight``)."""
    return f"{prefix}_{re.sub(r'[^a-zA-Z0-9]', '_', target.removeprefix('self_'))}"


def _lift(mod: Module, traced: Graph, constants: dict[str, trainer.Tensor], branches: dict[str, Module],
          inputs: dict[str, Any], input_dims: dict[str, tuple], example_inputs: tuple) -> ExportedProgram:
    """The traced graph with one placeholder per parameter, buffer and constant in front of the user inputs (those
    the caller passed: a parameter left at its default is specialized to it, and the checks of it are dropped)."""
    graph = Graph()
    non_persistent = {f"{prefix}{'.' if prefix else ''}{key}" for prefix, m in mod.named_modules()
                      for key in m._non_persistent_buffers_set}
    specs: list[InputSpec] = []
    by_target: dict[str, Node] = {}
    state: list[tuple[str, InputKind, str, Any]] = [
        *(("p", InputKind.PARAMETER, n, v) for n, v in mod.named_parameters()),
        *(("b", InputKind.BUFFER, n, v) for n, v in mod.named_buffers()),
        *(("c", InputKind.CONSTANT_TENSOR, n, v) for n, v in constants.items())]
    for prefix, kind, target, value in state:
        node = graph.placeholder(_placeholder_name(prefix, target))
        node.meta["val"] = value
        by_target[target] = node
        persistent = (target not in non_persistent) if kind is InputKind.BUFFER else None
        specs.append(InputSpec(kind, TensorArgument(node.name), target, persistent))
    env: dict[Node, Node] = {}
    concrete_names = {f"{n}_1": n for n, v in inputs.items() if not isinstance(v, trainer.Tensor)}
    defaulted: set[Node] = set()
    for node in traced.nodes:
        name = concrete_names.get(node.target, node.target) if node.op == "placeholder" else None
        if node.op == "placeholder" and name not in inputs or any(n in defaulted for n in node.all_input_nodes):
            defaulted.add(node)
        elif node.op == "placeholder":
            env[node] = graph.placeholder(name, default_value=node.args[0] if node.args else inspect.Signature.empty)
            if hasattr(builtins, name):  # torch names the input `input` too; only the generated code renames it
                env[node].name = name
            env[node].meta = dict(node.meta)
            value = inputs[name]
            arg = TensorArgument(env[node].name) if isinstance(value, trainer.Tensor) else ConstantArgument(name,
                                                                                                            value)
            specs.append(InputSpec(InputKind.USER_INPUT, arg, None))
        elif node.op == "get_attr" and node.target in branches:
            env[node] = graph.node_copy(node)
        elif node.op == "get_attr":
            env[node] = by_target[node.target]
        elif node.op == "output":
            graph.output(map_arg(node.args[0], lambda n: env[n]))
        else:
            env[node] = graph.node_copy(node, lambda n: env[n])
    _drop_unused_size_queries(graph)
    gm = GraphModule(branches, graph)
    state_dict = {n: v for n, v in (*mod.named_parameters(), *mod.named_buffers()) if n not in non_persistent}
    all_constants = {**{n: v for n, v in mod.named_buffers() if n in non_persistent}, **constants}
    ranges = root_ranges(input_dims)
    signature = ExportGraphSignature(specs, user_output_specs(graph))
    return ExportedProgram(gm, signature, state_dict, ranges, all_constants, example_inputs, input_dims,
                           training=mod.training)


def _drop_unused_size_queries(graph: Graph) -> None:
    """Erase the unread non-tensor values (``x.dim() != 4``) that Python control flow consumed while tracing;
    unread tensors stay, as an in-place op's result is unread too."""
    for node in reversed(graph.nodes):
        if (node.op in ("call_function", "call_method") and not node.users and not node.is_impure()
                and "val" in node.meta and not isinstance(node.meta["val"], trainer.Tensor)):
            graph.erase_node(node)


def _resized(tensor: trainer.Tensor, axis: int, size: int) -> trainer.Tensor:
    """``tensor`` with ``size`` entries along ``axis``, repeating its own data so the values stay plausible."""
    old = tensor.shape[axis]
    if old == 0:
        shape = list(tensor.shape)
        shape[axis] = size
        return trainer.zeros(shape, dtype=tensor.dtype, device=tensor.device)
    return trainer.index_select(tensor, axis, trainer.arange(size, device=tensor.device) % old)


def _keep_dynamic_dims(program: ExportedProgram, inputs: dict[str, Any], input_dims: dict[str, tuple]) -> (
        ExportedProgram):
    """Run the program once per dynamic dimension at another size within its range: a program that only runs at
    the example size specialized it, which ``Dim.AUTO`` accepts (the size turns static) and a ``Dim`` refuses."""
    # one probe per root Dim: the sizes derived from it (dx + 1) move with it
    names = dict.fromkeys(d.root for dims in input_dims.values() for d in dims if isinstance(d, DynamicDim))
    for dim_name in names:
        where = [(name, axis, d) for name, dims in input_dims.items() for axis, d in enumerate(dims)
                 if isinstance(d, DynamicDim) and d.root == dim_name]
        name, axis, dim = where[0]
        size = (inputs[name].shape[axis] - dim.offset) // dim.coefficient
        root_range = program.range_constraints[dim_name]
        probe = size + 1 if size + 1 <= root_range.upper else size - 1
        if probe < root_range.lower or any(d.coefficient * probe + d.offset < 0 for _, _, d in where):
            continue
        probe_inputs = dict(inputs)
        for input_name, input_axis, d in where:
            probe_inputs[input_name] = _resized(probe_inputs[input_name], input_axis, d.coefficient * probe + d.offset)
        failure = program.run_lifted(probe_inputs)
        if failure is None:
            continue
        if not all(d.auto for _, _, d in where):
            raise UserError(
                f"Constraints violated ({dim_name})! You marked {dim_name} as dynamic but your code specialized it "
                f"to be a constant ({size}): with {name}.size()[{axis}] = {dim.coefficient * probe + dim.offset} "
                f"the program fails with {type(failure).__name__}: {failure}. If you're using Dim.DYNAMIC, replace "
                f"it with either Dim.STATIC or Dim.AUTO.\nSuggested fixes:\n  {dim_name} = {size}")
        for input_name, input_axis, _ in where:  # input_dims is the program's own: its guards turn static too
            dims = list(input_dims[input_name])
            dims[input_axis] = inputs[input_name].shape[input_axis]
            input_dims[input_name] = tuple(dims)
        for derived in {dim_name, *(d.name for _, _, d in where)}:
            del program.range_constraints[derived]
    return program
