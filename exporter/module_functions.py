"""``export_modules_as_functions``: the nodes of chosen modules become calls of ONNX local functions, as
``torch.onnx.export`` writes them.

Each selected module's nodes (those traced inside it, found by the module path their names start with) are replaced by
one node that calls a function named after the module's class, in a domain named after its Python module
(``__main__.Block``). The function's inputs are the values its nodes read from outside (the module's input,
its parameters and constants, as PyTorch passes parameters in); its outputs, the values read outside or returned by
the model. Instances whose nodes are the same share one function; one that differs (another configuration) gets a
function of its own (``Block_1``). Modules nested in selected modules become calls inside their parent's function.
"""

from __future__ import annotations

import onnx
from onnx import helper

from exporter.errors import ExportError
from exporter.tracing_gaps import _inputs_of as values_read


def selected_paths(model, modules) -> dict[str, type]:
    """``{module path: class}`` of the modules ``export_modules_as_functions`` picks (True: every one but the root)."""
    chosen = None
    if modules is not True:
        chosen = set(modules) if isinstance(modules, (set, frozenset, list, tuple)) else None
        if chosen is None or not all(isinstance(t, type) for t in chosen):
            raise ExportError(f"export_modules_as_functions={modules!r} must be a bool or a set of nn.Module classes")
    return {path: type(module) for path, module in model.named_modules()
            if path and (chosen is None or type(module) in chosen)}


def as_functions(nodes: list, outputs: list[str], paths: dict[str, type], opset_imports: list) -> tuple[list, list]:
    """The graph's nodes with each selected module's replaced by a function call, and the functions."""
    functions: dict[bytes, onnx.FunctionProto] = {}
    names_taken: dict[tuple, int] = {}
    for path in sorted(paths, key=lambda p: -p.count(".")):  # innermost first: a parent's function calls them
        members = [n for n in nodes if _in_module(n, path)]
        if not members:
            continue
        if any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for n in members for a in n.attribute):
            raise ExportError(f"module '{path}' ({paths[path].__name__}) holds control flow (a Loop, Scan or If "
                              "node), which export_modules_as_functions cannot move into a function; leave its class "
                              "out of export_modules_as_functions")
        member_ids = {id(n) for n in members}
        outside = [n for n in nodes if id(n) not in member_ids]
        inputs, results = _interface(members, outside, outputs)
        _refuse_cycle(outside, inputs, results, path)
        function = _shared(functions, names_taken, paths[path], _function_body(members, inputs, results, opset_imports))
        call = helper.make_node(function.name, inputs, results, name=f"{path}/{function.name}",
                                domain=function.domain)
        last = max(i for i, n in enumerate(nodes) if id(n) in member_ids)
        nodes = [*(n for n in nodes[:last] if id(n) not in member_ids), call, *nodes[last + 1:]]
    return nodes, list(functions.values())


def _in_module(node, path: str) -> bool:
    scope = node.name.rpartition("/")[0]
    return scope == path or scope.startswith(path + ".")


def _shared(functions: dict, names_taken: dict, cls: type, body: onnx.FunctionProto) -> onnx.FunctionProto:
    """The function an instance calls: an equal body of the same class already made, else ``body``, named."""
    key = (cls, body.SerializeToString())
    if key not in functions:
        count = names_taken.get((cls.__module__, cls.__name__), 0)
        names_taken[(cls.__module__, cls.__name__)] = count + 1
        body.name = cls.__name__ if count == 0 else f"{cls.__name__}_{count}"
        body.domain = cls.__module__
        functions[key] = body
    return functions[key]


def _interface(members: list, outside: list, outputs: list[str]) -> tuple[list[str], list[str]]:
    """What the members read from outside (in order of first use) and what they produce that is used outside."""
    produced = [out for n in members for out in n.output if out]
    inner = set(produced)
    inputs = list(dict.fromkeys(name for n in members for name in values_read(n) if name not in inner))
    read_outside = {name for n in outside for name in values_read(n)} | set(outputs)
    return inputs, [name for name in produced if name in read_outside]


def _refuse_cycle(outside, inputs, results, path) -> None:
    """A module called twice with an outside computation between the calls cannot be one function call."""
    reached, pending = set(results), list(results)
    while pending:
        value = pending.pop()
        for node in outside:
            if value in values_read(node):
                for out in node.output:
                    if out not in reached:
                        reached.add(out)
                        pending.append(out)
    if reached & set(inputs):
        raise ExportError(f"module '{path}' is called more than once with other computation between the calls: its "
                          "nodes cannot form one function call. Leave its class out of export_modules_as_functions")


def _function_body(members, inputs, results, opset_imports) -> onnx.FunctionProto:
    """The members as a function, its values renamed in order (so that equal instances give equal bodies)."""
    names = {name: f"input_{i}" for i, name in enumerate(inputs)}
    body = []
    for i, node in enumerate(members):
        copy = onnx.NodeProto()
        copy.CopyFrom(node)
        copy.name = f"{node.op_type}_{i}"
        for j, name in enumerate(copy.input):
            copy.input[j] = names.get(name, name)
        for j, name in enumerate(copy.output):
            if name:
                names[name] = copy.output[j] = f"{node.op_type}_{i}_output_{j}"
        body.append(copy)
    domains = {n.domain for n in body} - {"", "ai.onnx"}
    imports = [o for o in opset_imports if o.domain in ("", "ai.onnx")]
    imports += [helper.make_opsetid(d, next((o.version for o in opset_imports if o.domain == d), 1))
                for d in sorted(domains)]
    return helper.make_function("", "", [names[n] for n in inputs], [names[n] for n in results], body, imports)
