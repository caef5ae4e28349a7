"""``trainer.fx.Graph``: the ordered list of ``Node``s of a traced program, and the Python code generated from it."""

from __future__ import annotations

import builtins
import copy
import inspect
import keyword
import math
import operator
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import trainer
from trainer.assertions import _assert
from trainer.fx.node import Node, map_arg

_illegal_names = {k: object() for k in keyword.kwlist}
_illegal_names.update(builtins.__dict__)  # a generated name must not shadow a builtin
_illegal_names.update({"inf": math.inf, "nan": math.nan, "trainer": trainer, "operator": operator})
_snake_case_sub = re.compile(r"(?<=[a-z])([A-Z])")
_illegal_char_regex = re.compile("[^0-9a-zA-Z_]+")
_name_regex = re.compile(r"^([a-zA-Z_][0-9a-zA-Z_]*?)(?:_(\d+))?$")
_identifier_regex = re.compile(r"^[a-zA-Z_][0-9a-zA-Z_]*$")

# calls that dead-code elimination keeps although nothing reads their result
side_effectful_functions: set[Callable] = {_assert}

# operator functions the code shows as Python syntax, as torch.fx does
magic_methods = {
    "add": "{} + {}", "sub": "{} - {}", "mul": "{} * {}", "floordiv": "{} // {}", "truediv": "{} / {}",
    "mod": "{} % {}", "pow": "{} ** {}", "lshift": "{} << {}", "rshift": "{} >> {}",
    "and_": "{} & {}", "or_": "{} | {}", "xor": "{} ^ {}", "getitem": "{}[{}]", "matmul": "{} @ {}",
}
reflectable_magic_methods = dict(magic_methods)
del reflectable_magic_methods["getitem"]
comparison_methods = {"eq": "{} == {}", "ne": "{} != {}", "lt": "{} < {}", "gt": "{} > {}", "le": "{} <= {}",
                      "ge": "{} >= {}"}
unary_methods = {"neg": "-{}", "pos": "+{}", "invert": "~{}"}
_inline_operators = {**magic_methods, **comparison_methods, **unary_methods}


def _snake_case(s: str) -> str:
    return _snake_case_sub.sub(r"_\1", s).lower()


class _Namespace:
    """Unique Python names for the nodes (and globals) of a graph: ``relu``, ``relu_1``, ... as torch.fx makes them."""

    def __init__(self) -> None:
        self._obj_to_name: dict[Any, str] = {}
        self._used_names: set[str] = set()
        self._base_count: dict[str, int] = {}

    def create_name(self, candidate: str, obj: Any) -> str:
        if obj is not None and obj in self._obj_to_name:
            return self._obj_to_name[obj]
        match = _name_regex.match(candidate)
        if match is None:
            candidate = _illegal_char_regex.sub("_", candidate) or "_unnamed"
            if candidate[0].isdigit():
                candidate = f"_{candidate}"
            match = _name_regex.match(candidate)
        base, num = match.group(1, 2)
        if num is None or candidate in self._used_names:
            num = self._base_count.get(base, 0)
            if _illegal_names.get(candidate, obj) is not obj:
                num += 1
                candidate = f"{base}_{num}"
        else:
            num = int(num)
        while candidate in self._used_names:
            num += 1
            candidate = f"{base}_{num}"
        self._used_names.add(candidate)
        self._base_count[base] = num
        if obj is not None:
            self._obj_to_name[obj] = candidate
        return candidate


@dataclass
class PythonCode:
    """The generated ``forward`` source and the globals it needs (``Graph.python_code``)."""

    src: str
    globals: dict[str, Any]


class _InsertPoint:
    """``with graph.inserting_before(n):`` puts new nodes at that point. Inside it trainer's functions and Tensor
    operators record a node when given a Proxy (torch.fx gets this from ``__torch_function__``, which trainer lacks),
    so that a module or function called on ``Proxy(node)`` is inlined there."""

    def __init__(self, graph: Graph, new_insert: Callable[[Node], None]):
        self.graph = graph
        self.orig_insert, graph._insert = graph._insert, new_insert

    def __enter__(self) -> None:
        from trainer.fx._patching import Patcher

        self._patcher = Patcher()
        self._patcher.patch_trainer_functions()
        self._patcher.patch_tensor_operators()

    def __exit__(self, *exc) -> None:
        self._patcher.__exit__(*exc)
        self.graph._insert = self.orig_insert


class _NodeList:
    """``graph.nodes``: iterates the linked list, so nodes erased during the loop do not stop it."""

    def __init__(self, graph: Graph, direction: str = "_next"):
        self.graph, self.direction = graph, direction

    def __len__(self) -> int:
        return self.graph._len

    def __iter__(self) -> Iterator[Node]:
        root = self.graph._root
        cur = getattr(root, self.direction)
        while cur is not root:
            if not cur._erased:
                yield cur
            cur = getattr(cur, self.direction)

    def __reversed__(self) -> Iterator[Node]:
        return iter(_NodeList(self.graph, "_prev" if self.direction == "_next" else "_next"))


class Graph:
    """A program as a list of ``Node``s: placeholders (inputs), operations, and one ``output``."""

    def __init__(self, owning_module=None):
        self._root = Node(self, "", "root", "", (), {})
        self._len = 0
        self._graph_namespace = _Namespace()
        self._insert = self._root.prepend
        self.owning_module = owning_module

    @property
    def nodes(self) -> _NodeList:
        return _NodeList(self)

    # ----------------------------------------------------------------- building
    def create_node(self, op: str, target: Any, args: tuple | None = None, kwargs: dict | None = None,
                    name: str | None = None, type_expr: Any = None) -> Node:
        """Add a node at the current insertion point (the end, unless inside ``inserting_before/after``)."""
        # a trainer function read while the namespaces are patched (in a trace or an insertion point) is its recording
        # wrapper: the node calls the function itself
        target = getattr(target, "__fx_original__", target)
        candidate = name if name is not None else self._target_to_str(target)
        name = self._graph_namespace.create_name(candidate, None)
        node = Node(self, name, op, target, tuple(args or ()), dict(kwargs or {}), type_expr)
        self._insert(node)
        self._len += 1
        return node

    @staticmethod
    def _target_to_str(target: Any) -> str:
        if callable(target):
            op = target.__name__
        else:
            op = target
            if op.startswith("__") and op.endswith("__"):
                op = op[2:-2]
        return _snake_case(op)

    def placeholder(self, name: str, type_expr: Any = None, default_value: Any = inspect.Signature.empty) -> Node:
        args = () if default_value is inspect.Signature.empty else (default_value,)
        return self.create_node("placeholder", name, args=args, type_expr=type_expr)

    def get_attr(self, qualified_name: str, type_expr: Any = None) -> Node:
        return self.create_node("get_attr", qualified_name, type_expr=type_expr)

    def call_module(self, module_name: str, args: tuple | None = None, kwargs: dict | None = None,
                    type_expr: Any = None) -> Node:
        return self.create_node("call_module", module_name, args, kwargs, type_expr=type_expr)

    def call_method(self, method_name: str, args: tuple | None = None, kwargs: dict | None = None,
                    type_expr: Any = None) -> Node:
        return self.create_node("call_method", method_name, args, kwargs, type_expr=type_expr)

    def call_function(self, the_function: Callable, args: tuple | None = None, kwargs: dict | None = None,
                      type_expr: Any = None) -> Node:
        return self.create_node("call_function", the_function, args, kwargs, type_expr=type_expr)

    def output(self, result: Any, type_expr: Any = None) -> Node:
        return self.create_node("output", "output", (result,), type_expr=type_expr)

    def inserting_before(self, n: Node | None = None) -> _InsertPoint:
        if n is None:
            return self.inserting_after(self._root)
        if n.graph is not self:
            raise ValueError("Node to insert before is not in graph.")
        return _InsertPoint(self, n.prepend)

    def inserting_after(self, n: Node | None = None) -> _InsertPoint:
        if n is None:
            return self.inserting_before(self._root)
        if n.graph is not self:
            raise ValueError("Node to insert after is not in graph.")
        return _InsertPoint(self, n.append)

    def erase_node(self, to_erase: Node) -> None:
        """Remove a node that nothing reads any more."""
        if len(to_erase.users) > 0:
            raise RuntimeError(f"Tried to erase Node {to_erase} but it still had {len(to_erase.users)} users in "
                               f"the graph: {to_erase.users}!")
        if to_erase.graph is not self:
            raise RuntimeError(f"Attempting to remove {to_erase} from wrong graph!")
        if to_erase._erased:
            return
        to_erase._remove_from_list()
        to_erase._erased = True
        self._len -= 1
        to_erase._update_args_kwargs((), {})

    def node_copy(self, node: Node, arg_transform: Callable[[Node], Any] = lambda x: x) -> Node:
        """Copy ``node`` (from any graph) into this one; ``arg_transform`` maps its input nodes to this graph's."""
        args = map_arg(node.args, arg_transform)
        kwargs = map_arg(node.kwargs, arg_transform)
        result = self.create_node(node.op, node.target, args, kwargs, node.name, node.type)
        result.meta = copy.copy(node.meta)
        return result

    def graph_copy(self, g: Graph, val_map: dict[Node, Node], return_output_node: bool = False) -> Any:
        """Copy all nodes of ``g`` but its output into this graph, filling ``val_map``; returns what ``g`` outputs
        (mapped), or the output node itself with ``return_output_node``."""
        for node in g.nodes:
            if node in val_map:
                continue
            if node.op == "output":
                rv = map_arg(node.args[0], lambda n: val_map[n])
                return (rv, node) if return_output_node else rv
            val_map[node] = self.node_copy(node, lambda n: val_map[n])
        return None

    def __deepcopy__(self, memo: dict) -> Graph:
        memo = memo if memo else {}
        g = Graph()
        output_vals = g.graph_copy(self, val_map=memo, return_output_node=True)
        if output_vals is not None:
            rv, old_output = output_vals
            g.output(rv, type_expr=old_output.type).meta = copy.copy(old_output.meta)
        return g

    # ----------------------------------------------------------------- passes
    def eliminate_dead_code(self) -> bool:
        """Erase nodes nothing reads (keeping impure ones); returns whether the graph changed."""
        self.lint()
        changed = False
        for node in reversed(self.nodes):
            if not node.is_impure() and len(node.users) == 0:
                self.erase_node(node)
                changed = True
        return changed

    def lint(self) -> None:
        """Check that every node reads only earlier nodes of this graph, names are unique, and that module and
        attribute targets exist on the owning module."""
        seen: set[Node] = set()
        names: set[str] = set()
        for node in self.nodes:
            if node.graph is not self:
                raise RuntimeError(f"Node '{node}' does not belong to this Graph!")
            for arg in node.all_input_nodes:
                if arg.graph is not self:
                    raise RuntimeError(f"Argument '{arg}' of Node '{node}' does not belong to this Graph, "
                                       "but was used as an argument!")
                if arg not in seen:
                    raise RuntimeError(f"Argument '{arg}' of Node '{node}' was used before it has been defined! "
                                       "Please check that Nodes in the graph are topologically ordered")
            if node.name in names:
                raise RuntimeError(f"Node redefined name {node.name}!")
            seen.add(node)
            names.add(node.name)
        if self.owning_module is None:
            return
        for node in self.nodes:
            if node.op in ("get_attr", "call_module"):
                module, *path = self.owning_module, *node.target.split(".")
                for i, atom in enumerate(path):
                    if not hasattr(module, atom):
                        raise RuntimeError(f"Node {node} target {node.target} references nonexistent attribute "
                                           f"{atom} of {'.'.join(path[:i]) or 'the root module'}")
                    module = getattr(module, atom)
                if node.op == "call_module" and not isinstance(module, trainer.nn.Module):
                    raise RuntimeError(f"Node {node} target {node.target} {atom} is not a Module")

    def print_tabular(self) -> None:
        """Print the nodes as a table (opcode, name, target, args, kwargs); uses ``tabulate`` when installed."""
        # the raw target, args and kwargs, as torch.fx prints them (a Node shows as its name)
        rows = [[n.op, n.name, n.target, n.args, n.kwargs] for n in self.nodes]
        headers = ["opcode", "name", "target", "args", "kwargs"]
        try:
            from tabulate import tabulate
        except ImportError:
            widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
            lines = [headers, ["-" * w for w in widths], *rows]
            print("\n".join("  ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
                            for line in lines))
            return
        print(tabulate(rows, headers=headers))

    def __str__(self) -> str:
        return "\n".join(["graph():", *("    " + node.format_node() for node in self.nodes)])

    # ----------------------------------------------------------------- code generation
    def python_code(self, root_module: str = "self") -> PythonCode:
        """The source of ``forward`` and the globals it runs with, as torch.fx writes it: one assignment per node,
        and ``x = None`` after the last use of a value so memory is freed early."""
        namespace = _Namespace()
        globals_: dict[str, Any] = {"trainer": trainer, "operator": operator, "inf": math.inf, "nan": math.nan}

        def add_global(name_hint: str, obj: Any) -> str:
            from trainer.fx._patching import public_name

            public = public_name(obj)
            if public is not None:
                return public
            if getattr(builtins, name_hint, None) is obj:
                return name_hint
            name = namespace.create_name(name_hint, obj)
            globals_[name] = obj
            return name

        for node in self.nodes:
            namespace.create_name(node.name, node)

        last_use: dict[Node, Node] = {}
        for node in reversed(self.nodes):
            for inp in node.all_input_nodes:
                last_use.setdefault(inp, node)
        frees: dict[Node, list[Node]] = {}
        for value, user in last_use.items():
            frees.setdefault(user, []).append(value)

        def fmt(arg: Any) -> str:
            if isinstance(arg, Node):
                return arg.name
            if isinstance(arg, tuple) and not hasattr(arg, "_fields"):
                items = ", ".join(fmt(a) for a in arg)
                return f"({items},)" if len(arg) == 1 else f"({items})"
            if isinstance(arg, list):
                return "[" + ", ".join(fmt(a) for a in arg) + "]"
            if isinstance(arg, dict):
                return "{" + ", ".join(f"{k!r}: {fmt(v)}" for k, v in arg.items()) + "}"
            if isinstance(arg, slice):
                return f"slice({fmt(arg.start)}, {fmt(arg.stop)}, {fmt(arg.step)})"
            if isinstance(arg, trainer.dtype):
                return str(arg)  # reads "trainer.float32"
            if isinstance(arg, trainer.device):
                return f"trainer.device({str(arg)!r})"
            if isinstance(arg, float) and not math.isfinite(arg):
                return repr(arg)
            if callable(arg) and not isinstance(arg, type | trainer.Tensor):
                return add_global(getattr(arg, "__name__", "fn"), arg)
            if isinstance(arg, type):
                return add_global(arg.__name__, arg)
            return repr(arg)

        def call_args(args: tuple, kwargs: dict) -> str:
            return ", ".join([*(fmt(a) for a in args), *(f"{k} = {fmt(v)}" for k, v in kwargs.items())])

        signature: list[str] = []
        body: list[str] = []
        wrapped_fns: dict[str, None] = {}  # wrap()-ped functions: the code wraps them again, for re-tracing
        for node in self.nodes:
            if node.op == "placeholder":
                signature.append(node.target + (f" = {fmt(node.args[0])}" if node.args else ""))
                if node.name != node.target.lstrip("*"):
                    body.append(f"{node.name} = {node.target.lstrip('*')}")
                continue
            if node.op == "get_attr":
                body.append(f"{node.name} = {_format_target(root_module, node.target)}")
            elif node.op == "call_module":
                body.append(f"{node.name} = {_format_target(root_module, node.target)}"
                            f"({call_args(node.args, node.kwargs)})")
            elif node.op == "call_method":
                receiver, *rest = node.args
                body.append(f"{node.name} = {_format_target(fmt(receiver), node.target)}"
                            f"({call_args(tuple(rest), node.kwargs)})")
            elif node.op == "call_function":
                body.append(f"{node.name} = {self._format_call(node, fmt, call_args, add_global, wrapped_fns)}")
            else:
                body.append(f"return {fmt(node.args[0])}")
                continue
            to_free = [v.name for v in frees.get(node, [])]
            if not node.users:
                to_free.append(node.name)
            if to_free:
                body[-1] += ";  " + " = ".join(to_free) + " = None"
        if not any(n.op == "output" for n in self.nodes):
            body.append("pass")
        # spelled as torch.fx spells its own: torch.fx._symbolic_trace.wrap
        wrap_stmts = "\n".join(f'trainer.fx._symbolic_trace.wrap("{name}")' for name in wrapped_fns)
        src = f"\n{wrap_stmts}\n\ndef forward({', '.join([root_module, *signature])}):\n" + "".join(
            f"    {line}\n" for line in body) + "    "
        return PythonCode(src, globals_)

    @staticmethod
    def _format_call(node: Node, fmt, call_args, add_global, wrapped_fns: dict[str, None]) -> str:
        target, args, kwargs = node.target, node.args, node.kwargs
        name = getattr(target, "__name__", "")
        if getattr(operator, name, None) is target and name in _inline_operators and not kwargs:
            template = _inline_operators[name]
            if template.count("{}") == len(args):
                return template.format(*(fmt(a) for a in args))
        if target is builtins.getattr and len(args) == 2 and isinstance(args[1], str) and \
                _identifier_regex.match(args[1]) and not kwargs:
            return f"{fmt(args[0])}.{args[1]}"
        qualified = name if getattr(builtins, name, None) is target else \
            f"{getattr(target, '__module__', None) or ''}.{getattr(target, '__qualname__', name)}".lstrip(".")
        global_name = add_global(qualified or "fn", target)
        if node.meta.get("is_wrapped", False):
            wrapped_fns.setdefault(global_name)
        return f"{global_name}({call_args(args, kwargs)})"


def _format_target(base: str, target: str) -> str:
    """``self.layer1`` or, for path atoms that are not identifiers (``layer1.0``), ``getattr(self.layer1, "0")``."""
    result = base
    for atom in target.split("."):
        result = f"{result}.{atom}" if _identifier_regex.match(atom) and not keyword.iskeyword(atom) else \
            f'getattr({result}, "{atom}")'
    return result
